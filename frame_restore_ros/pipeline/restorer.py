"""The per-frame pipeline: detect -> choose reference -> infer -> composite -> outputs.

Rules (DESIGN.md section 6): a clean frame becomes the reference and is returned as the very same
array (same bytes, no copy); a damaged frame with a usable reference is repaired in its failed
pixels only; in every other case the input is passed through unchanged with a status saying why.
An exception inside inference never escapes: it becomes a pass-through with status ``error``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from frame_restore_ros.backends.base import RestorationBackend
from frame_restore_ros.detection.detector import DetectorConfig, FailureDetector
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.pipeline.alignment import ALIGN_MODES
from frame_restore_ros.pipeline.change_gate import DEFAULT_TAU
from frame_restore_ros.pipeline.compositing import restore_with_uncertainty, to_model_size
from frame_restore_ros.pipeline.reference import ReferenceTracker, TrackerConfig
from frame_restore_ros.pipeline.reference_inputs import (
    ReferenceInputs,
    aligned_inputs,
    prepare_reference,
)

log = logging.getLogger(__name__)


class Status(str, Enum):
    CLEAN = "clean"
    REPAIRED = "repaired"
    NO_REFERENCE = "passthrough_no_reference"
    STALE_REFERENCE = "passthrough_stale_reference"
    WHOLE_FRAME = "passthrough_whole_frame"
    NO_BACKEND = "passthrough_no_backend"
    ERROR = "error"

    @property
    def passthrough(self) -> bool:
        return self is not Status.REPAIRED


@dataclass
class RestorerConfig:
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    feather_px: int = 24
    uncertainty: bool = False  # needs a backend with infer_with_uncertainty
    detail_transfer: bool = True  # add the reference's full-resolution detail (compositing.py)
    change_tau: float | None = DEFAULT_TAU  # change-gated compositing (change_gate.py); None: off
    align: str = "ecc"  # warp the reference onto the frame first (alignment.py); "none": off

    def __post_init__(self) -> None:
        if self.align not in ALIGN_MODES:
            raise ValueError(f"align must be one of {ALIGN_MODES}, got {self.align!r}")
        if self.feather_px < 0:
            raise ValueError(f"feather_px must be >= 0, got {self.feather_px}")
        if self.change_tau is not None and self.change_tau <= 0:
            raise ValueError(f"change_tau must be > 0 grey levels or None, got {self.change_tau}")


@dataclass
class RestoreResult:
    """Everything one frame produced.

    Attributes:
        frame: (H, W, 3) uint8 output; the input object itself on every pass-through.
        mask: (H, W) bool failed pixels.
        labels: (H, W) uint8 FailureKind per pixel.
        status: what was done; ``reason`` says why in words.
        timings_ms: per stage (detect, restore, total).
        uncertainty: (H, W) float32 std on the 0-255 scale when enabled and repaired, else None.
    """

    frame: np.ndarray
    mask: np.ndarray
    labels: np.ndarray
    status: Status
    reason: str
    failed_ratio: float
    counts: dict[str, int]
    reference_age_frames: int | None
    reference_age_seconds: float | None
    timings_ms: dict[str, float]
    uncertainty: np.ndarray | None = None


def validate_frame(frame: object) -> np.ndarray:
    """Return ``frame`` if it is an (H, W, 3) uint8 image; else raise ValueError naming why."""
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"frame must be a numpy array, got {type(frame).__name__}")
    if frame.size == 0:
        raise ValueError(f"frame is empty (shape {frame.shape})")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8 BGR, got dtype {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must have shape (H, W, 3), got {frame.shape}")
    return frame


class Restorer:
    """One camera's restoration state: detector history, reference, backend."""

    def __init__(
        self, backend: RestorationBackend | None, config: RestorerConfig | None = None
    ) -> None:
        self.config = config or RestorerConfig()
        self.backend = backend
        self.detector = FailureDetector(self.config.detector)
        self.tracker = ReferenceTracker(self.config.tracker)
        self._reference_inputs: tuple[int, ReferenceInputs] | None = None  # (version, inputs)

    def reset(self, reason: str = "requested") -> None:
        self.detector.reset()
        self.tracker.reset(reason)

    def invalidate_reference_cache(self) -> None:
        """Forget the converted reference (after a backend or detail-mode change)."""
        self._reference_inputs = None

    def _prepared_reference(self, reference: np.ndarray) -> ReferenceInputs:
        """Return the reference prepared for the model, computed once per reference frame."""
        assert self.backend is not None
        version, size = self.tracker.version, self.backend.input_size
        cached = self._reference_inputs
        if cached is None or cached[0] != version or cached[1].size != size:
            config = self.config
            prepared = prepare_reference(
                reference, size, config.detail_transfer, config.align == "ecc"
            )
            self._reference_inputs = cached = (version, prepared)
        return cached[1]

    def prepare_reference(self) -> None:
        """Convert the current reference for the model now, if that is still to be done.

        ``process`` does it on the first damaged frame after a new reference otherwise. Callers
        with idle time after a clean frame (the node, once it published the frame; the replay)
        call this then, so the next damaged frame does not pay for it (~5 ms at 720p).
        """
        if self.backend is not None and self.tracker.frame is not None:
            self._prepared_reference(self.tracker.frame)

    def process(self, frame: np.ndarray, stamp: float) -> RestoreResult:
        """Process one frame with header time ``stamp`` (s); raise ValueError on bad input."""
        start = time.perf_counter()
        validate_frame(frame)
        if self.tracker.observe(frame, stamp):
            self.detector.reset()
        detection = self.detector.detect(frame)
        detected = time.perf_counter()
        timings = {"detect": (detected - start) * 1000}

        def result(
            output: np.ndarray, status: Status, reason: str, uncertainty: np.ndarray | None = None
        ) -> RestoreResult:
            timings["total"] = (time.perf_counter() - start) * 1000
            age_frames, age_seconds = self.tracker.age(stamp)
            return RestoreResult(
                frame=output,
                mask=detection.mask,
                labels=detection.labels,
                status=status,
                reason=reason,
                failed_ratio=detection.failed_ratio,
                counts=detection.counts,
                reference_age_frames=age_frames,
                reference_age_seconds=age_seconds,
                timings_ms=timings,
                uncertainty=uncertainty,
            )

        if detection.failed_ratio == 0.0:
            self.tracker.offer(frame, stamp, 0.0)
            return result(frame, Status.CLEAN, "no failure detected")
        if detection.whole_frame:
            return result(
                frame, Status.WHOLE_FRAME, "the whole frame failed: nothing to repair from"
            )
        reference, why_not = self.tracker.lookup(stamp)
        if reference is None or self.backend is None:
            # Nothing to repair with: still let a nearly clean frame become the reference.
            self.tracker.offer(frame, stamp, detection.failed_ratio)
            if self.backend is None:
                return result(frame, Status.NO_BACKEND, "no inference backend loaded")
            status = Status.NO_REFERENCE if "no clean" in why_not else Status.STALE_REFERENCE
            return result(frame, status, why_not)
        try:
            prepared = self._prepared_reference(reference.frame)
            small = to_model_size(frame, detection.mask, self.backend.input_size)
            model_input, detail, _ = aligned_inputs(
                prepared, reference.frame, frame, ~detection.mask
            )
            restored, uncertainty = restore_with_uncertainty(
                self.backend,
                reference.frame,
                frame,
                detection.mask,
                self.config.feather_px,
                self.config.uncertainty,
                model_input,
                detail,
                self.config.change_tau,
                small,
            )
        except Exception as exc:  # the stream must go on: report, pass the frame through
            log.warning("restoration failed, passing the frame through: %s", exc, exc_info=True)
            return result(frame, Status.ERROR, f"inference failed: {type(exc).__name__}: {exc}")
        timings["restore"] = (time.perf_counter() - detected) * 1000
        self.tracker.offer(restored, stamp, detection.failed_ratio)
        kinds = ", ".join(f"{k} {v}" for k, v in detection.counts.items())
        return result(restored, Status.REPAIRED, f"repaired {kinds} px", uncertainty)


__all__ = [
    "FailureKind",
    "RestoreResult",
    "Restorer",
    "RestorerConfig",
    "Status",
    "validate_frame",
]

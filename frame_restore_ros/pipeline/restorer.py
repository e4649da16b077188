"""The per-frame pipeline of one camera: detect -> reference -> repair -> outputs.

Rules (docs/architecture.md): a clean frame becomes the reference and is returned as the very
same array (same bytes, no copy); a damaged frame with a usable reference is repaired in its
failed pixels only (``repair.RepairPipeline``); in every other case the input is passed through
unchanged with a status saying why. An exception inside inference never escapes: it becomes a
pass-through with status ``error``.
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
from frame_restore_ros.pipeline.reference import ReferenceTracker, TrackerConfig, Unavailable
from frame_restore_ros.pipeline.repair import RepairOptions, RepairPipeline

log = logging.getLogger(__name__)


class Status(str, Enum):
    """What the restorer did with a frame (the value is what diagnostics and reports show)."""

    CLEAN = "clean"
    REPAIRED = "repaired"
    NO_REFERENCE = "passthrough_no_reference"
    STALE_REFERENCE = "passthrough_stale_reference"
    WHOLE_FRAME = "passthrough_whole_frame"
    NO_BACKEND = "passthrough_no_backend"
    RESTORE_OFF = "passthrough_restore_off"
    ERROR = "error"

    @property
    def passthrough(self) -> bool:
        return self is not Status.REPAIRED


_UNAVAILABLE_STATUS = {
    Unavailable.NONE_YET: Status.NO_REFERENCE,
    Unavailable.TOO_OLD: Status.STALE_REFERENCE,
}


@dataclass(frozen=True)
class RestorerConfig:
    """Everything that configures one camera's restorer: detection, reference, repair."""

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    repair: RepairOptions = field(default_factory=RepairOptions)


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
    """One camera's restoration state: detector history, reference, repair pipeline."""

    def __init__(
        self, backend: RestorationBackend | None, config: RestorerConfig | None = None
    ) -> None:
        self.config = config or RestorerConfig()
        self.detector = FailureDetector(self.config.detector)
        self.tracker = ReferenceTracker(self.config.tracker)
        self.pipeline = (
            RepairPipeline(backend, self.config.repair) if backend is not None else None
        )

    @property
    def backend(self) -> RestorationBackend | None:
        return None if self.pipeline is None else self.pipeline.backend

    def reset(self) -> None:
        """Forget the detector's history and the reference."""
        self.detector.reset()
        self.tracker.reset()

    def reconfigure(self, config: RestorerConfig, backend: RestorationBackend | None) -> None:
        """Apply a new configuration and backend, keeping the reference.

        The detector restarts (loses its history) only if its own settings changed; the
        prepared reference is dropped if the backend or the repair options changed.
        """
        if config.detector != self.config.detector:
            self.detector = FailureDetector(config.detector)
        self.tracker.config = config.tracker
        if backend is None:
            self.pipeline = None
        elif (
            self.pipeline is None
            or backend is not self.pipeline.backend
            or config.repair != self.pipeline.options
        ):
            self.pipeline = RepairPipeline(backend, config.repair)
        self.config = config

    def prepare_reference(self) -> None:
        """Prepare the current reference for the model now, if that is still to be done.

        ``process`` does it on the first damaged frame after a new reference otherwise. Callers
        with idle time after a clean frame (the node, once it published the frame; the replay)
        call this then, so the next damaged frame does not pay for it (~5 ms at 720p).
        """
        if self.pipeline is not None and self.tracker.frame is not None:
            self.pipeline.prepare(self.tracker.frame, self.tracker.version)

    def process(self, frame: np.ndarray, stamp: float, restore: bool = True) -> RestoreResult:
        """Process one frame with header time ``stamp`` (s); raise ValueError on bad input.

        ``restore=False`` detects and tracks the reference as usual but passes every damaged
        frame through (status ``RESTORE_OFF``).
        """
        start = time.perf_counter()
        validate_frame(frame)
        if self.tracker.observe(frame, stamp) is not None:
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
        lookup = self.tracker.lookup(stamp)
        if lookup.reference is None or self.pipeline is None or not restore:
            # Nothing to repair with: still let a nearly clean frame become the reference.
            self.tracker.offer(frame, stamp, detection.failed_ratio)
            if not restore:
                return result(frame, Status.RESTORE_OFF, "restoration is switched off")
            if self.pipeline is None:
                return result(frame, Status.NO_BACKEND, "no inference backend loaded")
            assert lookup.unavailable is not None
            return result(frame, _UNAVAILABLE_STATUS[lookup.unavailable], lookup.reason)
        try:
            repair = self.pipeline.repair(
                lookup.reference.frame, frame, detection.mask, key=self.tracker.version
            )
        except Exception as exc:  # the stream must go on: report, pass the frame through
            log.warning("restoration failed, passing the frame through: %s", exc, exc_info=True)
            return result(frame, Status.ERROR, f"inference failed: {type(exc).__name__}: {exc}")
        timings["restore"] = (time.perf_counter() - detected) * 1000
        self.tracker.offer(repair.frame, stamp, detection.failed_ratio)
        kinds = ", ".join(f"{k} {v}" for k, v in detection.counts.items())
        return result(repair.frame, Status.REPAIRED, f"repaired {kinds} px", repair.uncertainty)


__all__ = [
    "FailureKind",
    "RestoreResult",
    "Restorer",
    "RestorerConfig",
    "Status",
    "validate_frame",
]

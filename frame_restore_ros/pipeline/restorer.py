"""The per-frame pipeline of one camera: detect -> reference -> repair -> outputs.

Rules (docs/architecture.md): a clean frame refreshes the whole reference mosaic
(``reference.py``) and is returned as the very same array (same bytes, no copy); a damaged frame
is repaired (``repair.RepairPipeline``, the mosaic as reference) in the failed pixels whose own
region of the mosaic is fresh, and its other failed pixels pass through, counted in
``unrepaired_pixels``; when no failed pixel is repairable the input is passed through unchanged
with a status saying why. An exception inside inference never escapes: it becomes a pass-through
with status ``error``, the exception returned (``RestoreResult.error``) for the caller to log at
its own rate (the node: once per ``log_throttle_s``); the restorer does not log it. Every frame
but a whole-frame loss then updates the mosaic with its good pixels. A scene cut that finds part
of the frame failed drops the reference first: the failed pixels pass through (``no_reference``)
until their regions show the new scene.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from enum import Enum

import cv2
import numpy as np

from frame_restore_ros.backends.base import RestorationBackend
from frame_restore_ros.detection.detector import DetectorConfig, FailureDetector
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.pipeline.reference import (
    Lookup,
    ReferenceTracker,
    ResetCause,
    TrackerConfig,
    Unavailable,
)
from frame_restore_ros.pipeline.repair import RepairOptions, RepairPipeline
from frame_restore_ros.pipeline.temporal_blend import RepairBlender

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
    REPEATED_FRAME = "passthrough_repeated_frame"  # the driver sent the previous frame again
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
        reference_age_frames, reference_age_seconds: age of the reference content under the
            failed pixels (the oldest region a repair drew on; 0 for a clean frame, which is
            the reference); None when there is none.
        timings_ms: per stage (detect, restore, total).
        uncertainty: (H, W) float32 std on the 0-255 scale when enabled and repaired, else None.
        unrepaired_pixels: failed pixels of a ``repaired`` frame passed through because their
            region of the reference is too old or was never good (``reason`` says which).
        repaired: (H, W) bool, the pixels a ``repaired`` frame holds new values for (the failed
            pixels less the unrepaired ones); None on every other status.
        error: the exception behind status ``error`` (``reason`` names it), with its traceback;
            else None.
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
    unrepaired_pixels: int = 0
    repaired: np.ndarray | None = None
    error: Exception | None = None


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
        self.blender = RepairBlender(self.config.repair.temporal_blend)

    @property
    def backend(self) -> RestorationBackend | None:
        return None if self.pipeline is None else self.pipeline.backend

    def reset(self) -> None:
        """Forget the detector's history, the reference and the previous repair."""
        self.detector.reset()
        self.tracker.reset()
        self.blender.forget()

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
        if config.repair.temporal_blend != self.blender.weight:
            self.blender = RepairBlender(config.repair.temporal_blend)
        self.config = config

    def prepare_reference(self) -> None:
        """Prepare the current reference mosaic for the model now, if that is still to be done.

        The mosaic changes with every frame's good pixels; ``process`` prepares it on the next
        damaged frame otherwise. Callers with idle time after a frame (the node, once it
        published the frame; the replay) call this then, so the next damaged frame does not pay
        for it (~5 ms at 720p). It is prepared at most once per frame (the tracker's version).
        The reference prepared before the current one is the moment the carried motion
        (``RepairOptions.motion_prior``) is measured against: without a call after every frame
        it is older than the frame before the reference, or missing.
        """
        if self.pipeline is not None and self.tracker.frame is not None:
            self.pipeline.prepare(self.tracker.frame, self.tracker.version, self.tracker.moment)

    def process(self, frame: np.ndarray, stamp: float, restore: bool = True) -> RestoreResult:
        """Process one frame with header time ``stamp`` (s); raise ValueError on bad input.

        ``restore=False`` detects and tracks the reference as usual but passes every damaged
        frame through (status ``RESTORE_OFF``).
        """
        start = time.perf_counter()
        validate_frame(frame)
        if self.tracker.observe(frame, stamp) is not None:
            self.detector.reset()
            self.blender.forget()
        detection = self.detector.detect(frame, stamp)
        detected = time.perf_counter()
        timings = {"detect": (detected - start) * 1000}

        def result(
            output: np.ndarray,
            status: Status,
            reason: str,
            lookup: Lookup | None = None,
            uncertainty: np.ndarray | None = None,
            unrepaired: int = 0,
            repaired: np.ndarray | None = None,
            error: Exception | None = None,
        ) -> RestoreResult:
            timings["total"] = (time.perf_counter() - start) * 1000
            if lookup is None:
                age_frames, age_seconds = self.tracker.age(stamp)
            elif lookup.reference is not None:
                age_frames = lookup.reference.age_frames
                age_seconds = lookup.reference.age_seconds
            else:
                age_frames, age_seconds = lookup.age_frames, lookup.age_seconds
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
                unrepaired_pixels=unrepaired,
                repaired=repaired,
                error=error,
            )

        failed = detection.mask
        if detection.failed_ratio == 0.0 or detection.whole_frame:
            self.blender.forget()  # no repair to continue from (set again below when repaired)
        elif getattr(detection, "scene_cut", False):
            # The view changed at once (a camera switch, a stream restart) while part of it
            # failed: the reference under the failure shows the scene before the cut, and a
            # repair from it would paste that scene into this one. Pass the failure through
            # until its regions show the new scene.
            reason = f"scene cut with {100 * detection.failed_ratio:.1f} % of the frame failed"
            self.tracker.reset(ResetCause.SCENE_CUT, reason)
            self.blender.forget()
        if getattr(detection, "repeated_frame", False):
            # Stale content, not failed pixels: publish it unchanged, and keep it out of the
            # reference (its regions would look fresh while showing the previous moment).
            return result(frame, Status.REPEATED_FRAME, "the frame repeats the previous one")
        if detection.failed_ratio == 0.0:
            self.tracker.update(frame, stamp)
            return result(frame, Status.CLEAN, "no failure detected")
        if detection.whole_frame:
            return result(
                frame, Status.WHOLE_FRAME, "the whole frame failed: nothing to repair from"
            )
        lookup = self.tracker.lookup(stamp, failed)
        reference = lookup.reference
        if reference is None or self.pipeline is None or not restore:
            self.blender.forget()
            self.tracker.update(frame, stamp, failed)  # its good pixels still refresh the mosaic
            if not restore:
                return result(frame, Status.RESTORE_OFF, "restoration is switched off", lookup)
            if self.pipeline is None:
                return result(frame, Status.NO_BACKEND, "no inference backend loaded", lookup)
            assert lookup.unavailable is not None
            return result(frame, _UNAVAILABLE_STATUS[lookup.unavailable], lookup.reason, lookup)
        try:
            # The whole failed mask goes in: alignment, gate and model must not trust the
            # unrepairable pixels either; they get the input's bytes back below.
            key, motion = self.tracker.version, None
            if self.pipeline.carries_motion:
                # The moment before the reference, if it was prepared (the node's idle time).
                self.pipeline.prepare(reference.frame, key, self.tracker.moment)
                motion = self.pipeline.carried_motion(key, stamp)
            repair = self.pipeline.repair(reference.frame, frame, failed, key=key, motion=motion)
        except Exception as exc:  # the stream must go on: pass the frame through, say why
            # Not logged here (every frame would log it): the caller logs ``error`` at its rate.
            log.debug("restoration failed, passing the frame through: %s", exc)
            self.blender.forget()
            self.tracker.update(frame, stamp, failed)
            reason = f"inference failed: {type(exc).__name__}: {exc}"
            return result(frame, Status.ERROR, reason, lookup, error=exc)
        timings["restore"] = (time.perf_counter() - detected) * 1000
        output, uncertainty, repaired = repair.frame, repair.uncertainty, reference.repairable
        assert repaired is not None
        kinds = ", ".join(f"{k} {v}" for k, v in detection.counts.items())
        reason = f"repaired {kinds} px"
        if reference.unrepairable:
            kept = (failed & ~repaired).view(np.uint8)
            cv2.copyTo(frame, kept, output)  # passed through: not invented
            if uncertainty is not None:
                uncertainty[kept > 0] = 0.0
            reason += f"; {reference.unrepairable} px passed through: {lookup.reason}"
        output = self.blender.blend(output, repaired)
        self.tracker.update(output, stamp, failed, repaired, repair.followed, repair.enclosed)
        return result(
            output, Status.REPAIRED, reason, lookup, uncertainty, reference.unrepairable, repaired
        )


__all__ = [
    "FailureKind",
    "RestoreResult",
    "Restorer",
    "RestorerConfig",
    "Status",
    "validate_frame",
]

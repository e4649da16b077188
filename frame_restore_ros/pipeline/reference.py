"""Clean-reference tracking per camera: the newest frame whose failure ratio is low enough.

The tracker holds at most one frame per camera (a private copy), so memory stays flat however
long the stream runs. Its age is tracked in frames and in header-stamp seconds; it resets on a
resolution change and when time goes backwards (bag loop, sim-time restart).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum

import numpy as np


class ResetCause(str, Enum):
    """Why the tracker dropped its reference."""

    REQUESTED = "requested"
    RESOLUTION_CHANGE = "resolution_change"
    CLOCK_JUMP = "clock_jump"  # header time went backwards (bag loop, sim-time restart)


class Unavailable(str, Enum):
    """Why no reference can be used for a frame."""

    NONE_YET = "no_reference"  # no clean frame since the start or the last reset
    TOO_OLD = "stale_reference"  # older than max_age_frames or max_age_s


@dataclass
class TrackerConfig:
    """When a frame may serve as reference, and how long it stays usable."""

    max_failed_ratio: float = 0.01
    max_age_frames: int = 30
    max_age_s: float = 1.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_failed_ratio < 1.0:
            raise ValueError(f"max_failed_ratio must be in [0, 1), got {self.max_failed_ratio}")
        if self.max_age_frames < 1:
            raise ValueError(f"max_age_frames must be >= 1, got {self.max_age_frames}")
        if self.max_age_s <= 0:
            raise ValueError(f"max_age_s must be > 0, got {self.max_age_s}")


@dataclass(frozen=True)
class Reference:
    """A usable reference: the frame (H, W, 3) uint8 and how old it is."""

    frame: np.ndarray
    age_frames: int
    age_seconds: float


@dataclass(frozen=True)
class Lookup:
    """The answer of :meth:`ReferenceTracker.lookup`: a reference, or why there is none."""

    reference: Reference | None
    unavailable: Unavailable | None = None
    reason: str = ""


@dataclass(frozen=True)
class Reset:
    """A reset of the tracker: its cause and the details in words."""

    cause: ResetCause
    reason: str


class ReferenceTracker:
    """Keeps the last clean frame of one camera."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._frame: np.ndarray | None = None
        self._index = -1
        self._stamp = 0.0
        self._count = 0
        self._last_stamp: float | None = None
        self.resets: Counter[ResetCause] = Counter()
        self.last_reset: Reset | None = None
        self.version = 0  # changes whenever the reference frame does

    def reset(self, cause: ResetCause = ResetCause.REQUESTED, reason: str = "requested") -> None:
        """Drop the reference (resolution change, clock jump, reset request)."""
        self._frame = None
        self._last_stamp = None
        self.version += 1
        self.resets[cause] += 1
        self.last_reset = Reset(cause, reason)

    def observe(self, frame: np.ndarray, stamp: float) -> Reset | None:
        """Register that ``frame`` arrived at header time ``stamp``; reset when needed.

        Returns the reset, or None when the history is kept. Call before :meth:`lookup`.
        """
        reset = None
        if self._frame is not None and self._frame.shape != frame.shape:
            reason = f"resolution changed {self._frame.shape[:2]} -> {frame.shape[:2]}"
            reset = Reset(ResetCause.RESOLUTION_CHANGE, reason)
        elif self._last_stamp is not None and stamp < self._last_stamp:
            reason = f"time went backwards {self._last_stamp:.3f} -> {stamp:.3f} s"
            reset = Reset(ResetCause.CLOCK_JUMP, reason)
        if reset is not None:
            self.reset(reset.cause, reset.reason)
        self._last_stamp = stamp
        self._count += 1
        return reset

    def lookup(self, stamp: float) -> Lookup:
        """Return the reference usable for a frame at ``stamp``, or why there is none."""
        if self._frame is None:
            return Lookup(None, Unavailable.NONE_YET, "no clean reference yet")
        age_frames = self._count - 1 - self._index
        age_seconds = stamp - self._stamp
        max_frames, max_seconds = self.config.max_age_frames, self.config.max_age_s
        if age_frames > max_frames:
            reason = f"reference is {age_frames} frames old (max {max_frames})"
            return Lookup(None, Unavailable.TOO_OLD, reason)
        if age_seconds > max_seconds:
            reason = f"reference is {age_seconds:.2f} s old (max {max_seconds:.2f} s)"
            return Lookup(None, Unavailable.TOO_OLD, reason)
        return Lookup(Reference(self._frame, age_frames, age_seconds))

    def offer(self, frame: np.ndarray, stamp: float, failed_ratio: float) -> bool:
        """Make ``frame`` the reference if it is clean enough. Returns whether it was taken."""
        if failed_ratio > self.config.max_failed_ratio:
            return False
        if self._frame is not None and self._frame.shape == frame.shape:
            np.copyto(self._frame, frame)  # reuse the buffer: no allocation per frame
        else:
            self._frame = frame.copy()
        self._index = self._count - 1
        self._stamp = stamp
        self.version += 1
        return True

    @property
    def frame(self) -> np.ndarray | None:
        """Return the reference image: the tracker's own buffer, not to be modified; or None."""
        return self._frame

    def age(self, stamp: float) -> tuple[int | None, float | None]:
        """(frames, seconds) since the reference, or (None, None) without one."""
        if self._frame is None:
            return None, None
        return self._count - 1 - self._index, stamp - self._stamp

"""Clean-reference tracking per camera: the newest frame whose failure ratio is low enough.

The tracker holds at most one frame per camera (a private copy), so memory stays flat however
long the stream runs. Its age is tracked in frames and in header-stamp seconds; it resets on a
resolution change and when time goes backwards (bag loop, sim-time restart).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class TrackerConfig:
    """When a frame may serve as reference, and how long it stays usable."""

    max_failure_ratio: float = 0.01
    max_age_frames: int = 30
    max_age_seconds: float = 1.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_failure_ratio < 1.0:
            raise ValueError(f"max_failure_ratio must be in [0, 1), got {self.max_failure_ratio}")
        if self.max_age_frames < 1:
            raise ValueError(f"max_age_frames must be >= 1, got {self.max_age_frames}")
        if self.max_age_seconds <= 0:
            raise ValueError(f"max_age_seconds must be > 0, got {self.max_age_seconds}")


@dataclass(frozen=True)
class Reference:
    """A usable reference: the frame (H, W, 3) uint8 and how old it is."""

    frame: np.ndarray
    age_frames: int
    age_seconds: float


class ReferenceTracker:
    """Keeps the last clean frame of one camera."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._frame: np.ndarray | None = None
        self._index = -1
        self._stamp = 0.0
        self._count = 0
        self._last_stamp: float | None = None
        self.resets = 0
        self.last_reset_reason = ""
        self.version = 0  # changes whenever the reference frame does

    def reset(self, reason: str = "requested") -> None:
        """Drop the reference (resolution change, clock jump, reset request)."""
        self._frame = None
        self._last_stamp = None
        self.version += 1
        self.resets += 1
        self.last_reset_reason = reason

    def observe(self, frame: np.ndarray, stamp: float) -> str:
        """Register that ``frame`` arrived at header time ``stamp``; reset when needed.

        Returns the reset reason, or "" when the history is kept. Call before :meth:`lookup`.
        """
        reason = ""
        if self._frame is not None and self._frame.shape != frame.shape:
            reason = f"resolution changed {self._frame.shape[:2]} -> {frame.shape[:2]}"
        elif self._last_stamp is not None and stamp < self._last_stamp:
            reason = f"time went backwards {self._last_stamp:.3f} -> {stamp:.3f} s"
        if reason:
            self.reset(reason)
        self._last_stamp = stamp
        self._count += 1
        return reason

    def lookup(self, stamp: float) -> tuple[Reference | None, str]:
        """Return the reference usable for a frame at ``stamp``, or (None, why not)."""
        if self._frame is None:
            return None, "no clean reference yet"
        age_frames = self._count - 1 - self._index
        age_seconds = stamp - self._stamp
        reference = Reference(self._frame, age_frames, age_seconds)
        if age_frames > self.config.max_age_frames:
            return None, f"reference is {age_frames} frames old (max {self.config.max_age_frames})"
        if age_seconds > self.config.max_age_seconds:
            return None, (
                f"reference is {age_seconds:.2f} s old (max {self.config.max_age_seconds:.2f} s)"
            )
        return reference, ""

    def offer(self, frame: np.ndarray, stamp: float, failure_ratio: float) -> bool:
        """Make ``frame`` the reference if it is clean enough. Returns whether it was taken."""
        if failure_ratio > self.config.max_failure_ratio:
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

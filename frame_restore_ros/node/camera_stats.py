"""Per-camera counters: totals since start and a window since the last diagnostics report."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from frame_restore_ros.pipeline.restorer import Status

LATENCY_WINDOW = 1000  # most recent frames kept for latency percentiles


class DropCause(str, Enum):
    """Why the node dropped a frame before restoring it (``dropped.<value>`` in diagnostics)."""

    SUPERSEDED = "superseded"  # a newer frame arrived while it waited
    STALE = "stale"  # its header stamp was older than max_input_age_s when its turn came


@dataclass
class WindowCounts:
    """What happened since the last report."""

    frames: int = 0
    status: Counter[Status] = field(default_factory=Counter)
    bad_messages: Counter[str] = field(default_factory=Counter)  # by ImageDecodeError kind
    dropped: Counter[DropCause] = field(default_factory=Counter)
    failed_ratio_sum: float = 0.0
    failed_pixels: Counter[str] = field(default_factory=Counter)  # by FailureKind name
    pixels: int = 0
    unrepaired_pixels: int = 0  # failed pixels of repaired frames passed through (stale there)
    unrepaired_frames: int = 0


class CameraStats:
    """Counters of one camera, safe to update from its worker and read from the timer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.totals = WindowCounts()
        self.window = WindowCounts()
        self.latency_ms: deque[float] = deque(maxlen=LATENCY_WINDOW)  # restorer, per frame
        self.overhead_ms: deque[float] = deque(maxlen=LATENCY_WINDOW)  # node conversion
        self.last_arrival: float | None = None  # monotonic s
        self.first_arrival: float | None = None
        self.received = 0
        self.encoding = ""
        self.resolution = ""
        self.reference_age_frames: int | None = None
        self.reference_age_s: float | None = None
        self.last_status: Status | None = None
        self.last_reason = ""

    def arrived(self, now: float) -> None:
        with self._lock:
            self.received += 1
            self.last_arrival = now
            if self.first_arrival is None:
                self.first_arrival = now

    def bad_message(self, kind: str) -> None:
        with self._lock:
            for counts in (self.totals, self.window):
                counts.bad_messages[kind] += 1

    def dropped(self, cause: DropCause) -> None:
        with self._lock:
            for counts in (self.totals, self.window):
                counts.dropped[cause] += 1

    def frame(
        self,
        status: Status | str,
        reason: str,
        failed_ratio: float,
        counts: dict[str, int],
        pixels: int,
        latency_ms: float,
        overhead_ms: float,
        reference_age: tuple[int | None, float | None],
        unrepaired_pixels: int = 0,
    ) -> None:
        status = Status(status)  # the member, also when given its value
        with self._lock:
            for window in (self.totals, self.window):
                window.frames += 1
                window.status[status] += 1
                window.failed_ratio_sum += failed_ratio
                window.failed_pixels.update(counts)
                window.pixels += pixels
                window.unrepaired_pixels += unrepaired_pixels
                window.unrepaired_frames += unrepaired_pixels > 0
            self.latency_ms.append(latency_ms)
            self.overhead_ms.append(overhead_ms)
            self.last_status, self.last_reason = status, reason
            self.reference_age_frames, self.reference_age_s = reference_age

    def take_window(self) -> tuple[WindowCounts, list[float], list[float]]:
        """Return and restart the window, with the recent latencies."""
        with self._lock:
            window, self.window = self.window, WindowCounts()
            return window, list(self.latency_ms), list(self.overhead_ms)


def percentile(values: list[float], q: float) -> float:
    """``q``-th percentile, NaN for no values."""
    return float(np.percentile(values, q)) if values else float("nan")

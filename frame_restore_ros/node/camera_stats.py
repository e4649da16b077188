"""Per-camera counters: totals since start and a window since the last diagnostics report."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from frame_restore_ros.pipeline.reference import ResetCause
from frame_restore_ros.pipeline.restorer import Status

LATENCY_WINDOW = 1000  # most recent frames kept for latency percentiles
RESET_RECENT_FRAMES = 10  # most recent frames kept to tell repeated reference resets
MAX_TEXT_CHARS = 300  # a reason kept for diagnostics (an encoding name may be any length)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 3] + "..."


class DropCause(str, Enum):
    """Why the node dropped a frame before restoring it (``dropped.<value>`` in diagnostics).

    With ``overload_policy: passthrough`` the frame is still republished unchanged.
    """

    SUPERSEDED = "superseded"  # a newer frame arrived while it waited
    STALE = "stale"  # its header stamp was older than max_input_age_s when its turn came
    STALLED = "stalled"  # passed through: the restoration in progress outlasted the hold


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
    resets: Counter[ResetCause] = field(default_factory=Counter)  # of the reference tracker
    exceptions: int = 0  # frames passed through because the node's own code raised
    overtaken: int = 0  # restored too late: passed through as received, outputs not published


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
        self.last_error = ""  # the reason of the last frame whose restoration failed
        self.last_bad_message = ""  # "kind: text" of the last message passed through as bad
        self.last_exception = ""  # "stage: type: text" of the last exception
        self.last_reset = ""  # details of the last reference reset
        self.incompatible_qos = ""  # why a publisher of the topic cannot reach the node, if one
        self.reset_reasons: dict[ResetCause, str] = {}  # details of the last one of each cause
        # per recent frame: the cause of its reference reset (requested ones left out), or None
        self.recent_resets: deque[ResetCause | None] = deque(maxlen=RESET_RECENT_FRAMES)

    def arrived(self, now: float) -> None:
        with self._lock:
            self.received += 1
            self.last_arrival = now
            if self.first_arrival is None:
                self.first_arrival = now

    def bad_message(self, kind: str, text: str = "") -> None:
        with self._lock:
            for counts in (self.totals, self.window):
                counts.bad_messages[kind] += 1
            self.last_bad_message = _clip(f"{kind}: {text}" if text else kind)

    def exception(self, stage: str, error: BaseException) -> None:
        """Count a frame passed through because ``stage`` of the node's path raised ``error``."""
        with self._lock:
            for counts in (self.totals, self.window):
                counts.exceptions += 1
            self.last_exception = _clip(f"{stage}: {type(error).__name__}: {error}")

    def record_resets(self, new: Counter[ResetCause], reason: str) -> None:
        """Record the reference resets of one restored frame (``new``: by cause, often none)."""
        with self._lock:
            for counts in (self.totals, self.window):
                counts.resets.update(new)
            causes = [cause for cause in new if cause is not ResetCause.REQUESTED]
            self.recent_resets.append(causes[-1] if causes else None)
            if new:
                self.last_reset = _clip(reason)
                self.reset_reasons.update(dict.fromkeys(new, self.last_reset))

    def repeated_resets(self) -> Counter[ResetCause]:
        """Return the resets by cause among the last RESET_RECENT_FRAMES frames."""
        with self._lock:
            return Counter(cause for cause in self.recent_resets if cause is not None)

    def overtaken(self) -> None:
        with self._lock:
            for counts in (self.totals, self.window):
                counts.overtaken += 1

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
            if status is Status.ERROR:
                self.last_error = reason
            self.reference_age_frames, self.reference_age_s = reference_age

    def take_window(self) -> tuple[WindowCounts, list[float], list[float]]:
        """Return and restart the window, with the recent latencies."""
        with self._lock:
            window, self.window = self.window, WindowCounts()
            return window, list(self.latency_ms), list(self.overhead_ms)


def percentile(values: list[float], q: float) -> float:
    """``q``-th percentile, NaN for no values."""
    return float(np.percentile(values, q)) if values else float("nan")

"""A one-frame mailbox per camera: the newest frame waits, older ones are superseded.

Images must not queue behind a slow restoration: when a frame arrives while the previous one is
still waiting, the waiting one is handed back to the caller (to drop or pass through, per
``overload_policy``) and counted.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class PendingFrame:
    """A received message and when it arrived (monotonic seconds)."""

    message: object
    arrived: float


class LatestFrameSlot:
    """Thread-safe holder of at most one pending frame."""

    def __init__(self) -> None:
        self._pending: PendingFrame | None = None
        self._ready = threading.Condition()
        self._closed = False

    def put(self, message: object, arrived: float | None = None) -> PendingFrame | None:
        """Store ``message``; return the frame it superseded, if one was waiting."""
        frame = PendingFrame(message, time.monotonic() if arrived is None else arrived)
        with self._ready:
            superseded, self._pending = self._pending, frame
            self._ready.notify()
        return superseded

    def take(self, timeout: float | None = None) -> PendingFrame | None:
        """Wait up to ``timeout`` s for a frame; return it (emptying the slot) or None."""
        with self._ready:
            if self._pending is None and not self._closed:
                self._ready.wait(timeout)
            frame, self._pending = self._pending, None
            return frame

    def close(self) -> None:
        """Wake any waiting taker (shutdown)."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

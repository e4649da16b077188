"""A one-frame mailbox per camera: the newest frame waits, older ones are superseded.

Images must not queue behind a slow restoration: when a frame arrives while the previous one is
still waiting, the waiting one is handed back to the caller (to drop or pass through, per
``overload_policy``) and counted.

Outputs leave in the order the frames arrived, and every output goes through the slot
(:meth:`LatestFrameSlot.publish`, :meth:`LatestFrameSlot.flush`). A superseded frame to pass
through is queued; it leaves as soon as no older frame is being restored: at once, or right after
the outputs of the frame being restored. If that restoration takes longer than the hold, or the
queue reaches ``max_queued`` frames, the frame being restored is overtaken: it leaves as received
(passed through, in its place: every frame still leaves once), then the frames queued behind it,
at the next flush (the next frame's callback, or the node's flush timer when the stream pauses);
its restored outputs are not published when they come. The stream is not held up behind a
stalled restoration, loses no frame to it, and never goes back in time.

Past the hold, the frame waiting in the slot is passed through too, whatever the policy (the
drop policy is for a busy worker, not a stalled one): a hung backend never stops the stream.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: A superseded frame passed through waits about this long (s) at most for the restoration in
#: progress (plus the time to the next flush): 10-25 restorations on a 2-core CPU (40-90 ms,
#: docs/backends.md), so a slow frame on a busy machine is waited for and no frame is lost; a
#: longer one (a stalled backend) is overtaken. The node's ``stall_timeout_s`` sets it.
PASSTHROUGH_HOLD_S = 1.0
#: Frames queued behind a restoration at most, by default; the node uses its outputs' history
#: depth, so that the burst after a slow restoration never exceeds what its writers keep.
MAX_QUEUED = 5


@dataclass(frozen=True)
class PendingFrame:
    """A received message, when it arrived (monotonic seconds), its place in arrival order."""

    message: object
    arrived: float
    seq: int = 0


class LatestFrameSlot:
    """Thread-safe holder of at most one pending frame, and the order its outputs leave in.

    Locks: ``_publishing`` (held while publishing, so one camera's outputs never interleave) is
    taken before ``_ready`` (the slot's state), never the other way round.
    """

    def __init__(self, hold_s: float = PASSTHROUGH_HOLD_S, max_queued: int = MAX_QUEUED) -> None:
        self.hold_s = hold_s
        self.max_queued = max_queued
        self._pending: PendingFrame | None = None
        self._ready = threading.Condition()
        self._closed = False
        self._arrivals = 0
        self._working: PendingFrame | None = None  # taken by the worker, outputs not yet out
        self._working_since = 0.0
        self._queued: list[PendingFrame] = []  # superseded frames to pass through, in order
        self._publishing = threading.Lock()
        self._published = 0  # seq of the newest frame whose outputs were published

    def put(
        self, message: object, arrived: float | None = None, pass_through: bool = False
    ) -> PendingFrame | None:
        """Store ``message``; return the frame it superseded, if one was waiting.

        With ``pass_through`` the superseded frame is queued to be published unchanged
        (:meth:`flush`).
        """
        with self._ready:
            self._arrivals += 1
            when = time.monotonic() if arrived is None else arrived
            frame = PendingFrame(message, when, self._arrivals)
            superseded, self._pending = self._pending, frame
            if superseded is not None and pass_through:
                self._queued.append(superseded)
            self._ready.notify()
        return superseded

    def take(self, timeout: float | None = None) -> PendingFrame | None:
        """Wait up to ``timeout`` s for a frame; return it (emptying the slot) or None.

        The frame is then the one being restored until :meth:`finish`.
        """
        with self._ready:
            if self._pending is None and not self._closed:
                self._ready.wait(timeout)
            frame, self._pending = self._pending, None
            if frame is not None:
                self._working, self._working_since = frame, time.monotonic()
            return frame

    def publish(
        self,
        seq: int,
        publish_outputs: Callable[[], None],
        publish_frame: Callable[[PendingFrame], None],
    ) -> bool:
        """Publish the outputs of frame ``seq``, after the queued frames older than it.

        Returns False, publishing none of its outputs, when the frame already left as received
        (the restoration was overtaken).
        """
        with self._publishing:
            self._drain(publish_frame, seq)
            if seq <= self._published:
                return False
            publish_outputs()
            self._published = seq
            return True

    def flush(
        self,
        publish_frame: Callable[[PendingFrame], None],
        on_stalled: Callable[[], None] | None = None,
    ) -> None:
        """Publish the queued frames no restoration in progress is older than.

        Past the hold, or with ``max_queued`` frames queued, the frame being restored is
        overtaken: it is published as received first, then the queued frames. Past the hold,
        the frame waiting in the slot is queued and published too (the restoration stalled):
        ``on_stalled`` is called for it first, before anything is published.

        Returns at once when nothing is queued (the drop policy): a callback never waits for
        the worker's publishing then.
        """
        with self._ready:
            stalled = self._pending is not None and self._stalled()
            if stalled:
                self._queued.append(self._pending)
                self._pending = None
            nothing_queued = not self._queued
        if stalled and on_stalled is not None:
            on_stalled()
        if nothing_queued:
            return
        with self._publishing:
            with self._ready:
                working = self._working
                waiting = (
                    working is not None
                    and time.monotonic() - self._working_since < self.hold_s
                    and len(self._queued) < self.max_queued
                )
            self._drain(publish_frame, working.seq if waiting else math.inf)

    def restoring_s(self, now: float | None = None) -> float | None:
        """Seconds the frame being restored has been in restoration; None when none is."""
        with self._ready:
            if self._working is None:
                return None
            return (time.monotonic() if now is None else now) - self._working_since

    def _stalled(self) -> bool:
        """Whether the restoration in progress outlasted the hold (``_ready`` held)."""
        return self._working is not None and time.monotonic() - self._working_since >= self.hold_s

    def finish(self, publish_frame: Callable[[PendingFrame], None]) -> None:
        """Publish the frames queued behind the restored frame (its outputs out, or dropped)."""
        with self._ready:
            self._working = None
        self.flush(publish_frame)

    def _drain(self, publish_frame: Callable[[PendingFrame], None], below: float) -> None:
        """Publish the queued frames older than ``below``, in order (``_publishing`` held).

        A frame being restored that is older than a queued frame to publish leaves first, as
        received (overtaken). If publishing one raises, it and the frames after it stay queued
        for the next flush.
        """
        while True:
            with self._ready:
                if not self._queued or self._queued[0].seq >= below:
                    return
                frame, working = self._queued[0], self._working
            if working is not None and self._published < working.seq < frame.seq:
                publish_frame(working)  # overtaken: in its place, unrestored
                self._published = working.seq
            if frame.seq > self._published:
                publish_frame(frame)
                self._published = frame.seq
            with self._ready:
                self._queued.pop(0)

    def close(self) -> None:
        """Wake any waiting taker (shutdown)."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

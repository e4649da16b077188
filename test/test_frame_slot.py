"""The camera's one-frame slot: arrival order of every output, the pass-through queue's bounds."""

from __future__ import annotations

import threading
import time

import pytest

from frame_restore_ros.node.frame_slot import LatestFrameSlot


def queue_behind_a_restoration(slot: LatestFrameSlot, count: int) -> list[str]:
    """Frame "m0" is being restored while ``count`` more arrive: all but the last are queued."""
    slot.put("m0")
    assert slot.take(0).message == "m0"
    messages = [f"m{i}" for i in range(1, count + 1)]
    for message in messages:
        slot.put(message, pass_through=True)
    return messages


def test_an_empty_queue_never_waits_for_the_workers_publishing():
    """Under the drop policy nothing is queued: the image callback's flush must not wait for
    the worker's (possibly long) publish (review: 180 ms waits, frames lost in DDS meanwhile)."""
    slot = LatestFrameSlot()
    published = []
    with slot._publishing:  # the worker is publishing a big frame
        flusher = threading.Thread(target=slot.flush, args=(published.append,))
        flusher.start()
        flusher.join(timeout=1.0)
        assert not flusher.is_alive()
    assert published == []


def test_a_publish_that_raises_keeps_the_rest_queued_in_order():
    slot = LatestFrameSlot(hold_s=0.0)
    queue_behind_a_restoration(slot, 4)  # m1, m2, m3 queued, m4 pending (queued: stalled)
    calls = []

    def failing(frame) -> None:
        calls.append(frame.message)
        raise RuntimeError("publisher's context was shut down")

    with pytest.raises(RuntimeError):
        slot.flush(failing)
    assert calls == ["m0"]  # the overtaken frame goes first, as received
    published = []
    slot.flush(lambda frame: published.append(frame.message))
    assert published == ["m0", "m1", "m2", "m3", "m4"]  # nothing lost, nothing out of order


def test_the_queue_is_bounded_by_max_queued_as_by_the_hold():
    """A queue as long as the outputs' history lets the frames go (the burst after a slow
    restoration would otherwise exceed what the writers keep); the restoration is overtaken:
    its frame leaves first, as received, and its restored outputs are refused."""
    slot = LatestFrameSlot(hold_s=60.0, max_queued=3)
    published = []
    queue_behind_a_restoration(slot, 3)  # m1, m2 queued
    slot.flush(lambda frame: published.append(frame.message))
    assert published == []  # within the hold and the bound: they wait for m0
    slot.put("m4", pass_through=True)  # m3 queued: three
    slot.flush(lambda frame: published.append(frame.message))
    assert published == ["m0", "m1", "m2", "m3"]
    assert not slot.publish(1, lambda: published.append("m0 restored"), published.append)
    assert published == ["m0", "m1", "m2", "m3"]


def test_the_hold_lets_the_queue_go_without_another_frame():
    """What the node's flush timer relies on: once the hold is over, a flush with no new frame
    publishes the queue."""
    slot = LatestFrameSlot(hold_s=60.0)
    published = []
    queue_behind_a_restoration(slot, 2)  # m1 queued, m2 pending
    slot.flush(lambda frame: published.append(frame.message))
    assert published == []
    slot.hold_s = 0.0  # the hold is over (no wall-clock race), and no frame follows
    slot.flush(lambda frame: published.append(frame.message))
    assert published == ["m0", "m1", "m2"]  # m2 too: the restoration stalled


def test_a_frame_restored_within_the_hold_is_not_passed_through():
    """Only a restoration that outlasts the hold is overtaken: one that ends in time publishes
    its outputs, then the queue, and its frame never leaves twice."""
    slot = LatestFrameSlot(hold_s=60.0)
    published = []
    queue_behind_a_restoration(slot, 2)  # m1 queued, m2 pending
    slot.flush(lambda frame: published.append(frame.message))
    assert slot.publish(1, lambda: published.append("m0 restored"), published.append)
    slot.finish(lambda frame: published.append(frame.message))
    assert published == ["m0 restored", "m1"]


def test_a_stalled_restoration_lets_the_waiting_frame_pass_under_either_policy():
    """A hung backend never stops the stream: past the hold the frame waiting in the slot is
    passed through even under the drop policy (nothing queued), after the stalled frame itself,
    and the worker's late outputs are refused. Within the hold it waits for the worker."""
    slot = LatestFrameSlot(hold_s=60.0)
    published = []
    slot.put("m0")
    stalled = []

    def flush() -> None:
        slot.flush(lambda frame: published.append(frame.message), lambda: stalled.append(1))

    assert slot.take(0).message == "m0" and slot.restoring_s() >= 0.0
    slot.put("m1")  # the drop policy: nothing queued
    flush()
    assert published == [] and stalled == []  # within the hold the worker will take it
    time.sleep(0.01)
    assert slot.restoring_s() >= 0.01
    slot.hold_s = 0.005  # the restoration has now run past the hold
    flush()
    assert published == ["m0", "m1"] and len(stalled) == 1
    assert slot.take(0) is None  # it left: the worker never restores it too
    slot.put("m2")
    flush()  # still stalled
    assert published == ["m0", "m1", "m2"] and len(stalled) == 2
    assert not slot.publish(1, lambda: published.append("m0 restored"), published.append)
    slot.finish(published.append)
    assert slot.restoring_s() is None
    slot.put("m3")
    flush()
    assert slot.take(0).message == "m3" and published == ["m0", "m1", "m2"]
    assert len(stalled) == 2

"""The node across processes over real ROS 2 DDS, as a user runs it.

One scenario (the module fixture ``run``): the node's console script with ``--params-file`` as one
process (hold backend, two cameras: raw bgr8 and JPEG); a publisher process streaming bikes.mp4
on both, with injected dead blocks on every 5th frame and one raw message a row short; and, in
this process, a recorder of ``T/restored``, ``T/failure_mask`` and ``/diagnostics`` that also sets
parameters through the node's parameter service while frames flow: one accepted, two rejected (a
bad value, weights that do not load) and a model swap to torch-cpu with the bundled weights.
The tests below check what was recorded; the last ones stop a node with SIGINT and SIGTERM.

Each run uses a ROS domain of its own (from the pid) and localhost discovery only. Skipped, with
the reason, where rclpy is not importable.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "rclpy", reason="needs a ROS 2 installation (source /opt/ros/$ROS_DISTRO/setup.bash)"
)
pytestmark = pytest.mark.rclpy

from frame_restore_ros.bench import live_processes  # noqa: E402
from frame_restore_ros.bench.live_publisher import (  # noqa: E402
    CameraStream,
    PlannedFrame,
    StreamPlan,
    planned_frames,
)
from frame_restore_ros.bench.live_recorder import LiveRecorder, Received, Status  # noqa: E402
from frame_restore_ros.codec.image_codec import (  # noqa: E402
    decode_compressed,
    encode_compressed,
    read_native,
)

RAW, JPEG = CameraStream("/front/image_raw"), CameraStream("/rear/image", "compressed")
MALFORMED = 25
PLAN = StreamPlan(
    cameras=(RAW, JPEG),
    frames=70,
    # 5 Hz: three processes share two cores, and Fast DDS then hands the node raw 640x272 frames
    # in bursts, which supersede each other. At 10 Hz about half the frames were superseded even
    # before the swap, so the damaged frames the detector saw right after their predecessor
    # varied 1-6 per run (5 runs; the assertions below need 3) and CI failed; at 5 Hz, 7-12 of 13
    # (4 runs). The stream takes 14 s.
    rate_hz=5.0,
    distinct=70,
    damage="dead:2",
    damage_every=5,
    first_damaged=8,
    malformed=(MALFORMED,),
    frame_id="front_optical",
    depth=30,  # the publishers' history too: a reliable writer overwrites unacknowledged samples
)
PARAMETERS = {
    "backend": "hold",
    # reliable with a history deep enough that DDS never replaces a sample before the callback
    # took it: on two cores shared by the three processes, the node's image callbacks were
    # measured 1.3 and 1.8 s apart once, 1-3 s after the swap to torch-cpu (10 Hz: a depth of
    # 10 then lost 2 frames in 3 of 7 full-suite runs on one VM); 30 holds 3 s, and the
    # outputs then keep 30 too (the catch-up after a stall is a burst of republished frames)
    "qos": {"reliability": "reliable", "depth": 30},
    "overload_policy": "passthrough",  # a frame superseded under load is still republished
    "diagnostics": {"period_s": 0.5},
    "align": "none",
}
SWAP_AT, CHANGE_AT = 35, 15  # raw frames received before the model swap / the other changes
TIMEOUT_S = 60.0


@dataclass
class Run:
    """What one scenario recorded."""

    sent: dict[str, list[list[int]]]  # topic -> [index, stamp_ns] per sent frame
    restored: dict[str, list[Received]]
    masks: dict[str, list[Received]]
    statuses: list[Status]
    changes: dict[str, list[tuple[bool, str]]]  # what each set_parameters call answered
    swap_stamp_ns: int  # the newest stamp received when the swap was answered
    frames: dict[int, PlannedFrame]
    exit_code: int
    stop_s: float
    node_log: str

    def index(self, topic: str) -> dict[int, int]:
        """Stamp (ns) -> frame index of ``topic``'s sent frames."""
        return {stamp: index for index, stamp in self.sent[topic]}

    def camera_statuses(self, camera: str) -> list[Status]:
        return [s for s in self.statuses if s.name.endswith(f": {camera}")]


def _stream(tmp: Path) -> Run:
    domain = live_processes.domain_for(os.getpid())
    env = live_processes.ros_environment(domain)
    params = live_processes.write_parameters(tmp / "params.yaml", PLAN, PARAMETERS)
    node = live_processes.start_node(params, env, tmp / "node.log")
    publisher = None
    try:
        with LiveRecorder(domain, PLAN.cameras, keep_messages=True, environment=env) as rec:
            assert rec.wait_for_node(TIMEOUT_S), f"node did not come up:\n{node.output()}"
            publisher = live_processes.start_publisher(
                PLAN, tmp / "sent.json", env, tmp / "publisher.log"
            )
            changes = {}
            assert rec.wait_until(lambda: rec.count(RAW.topic) >= CHANGE_AT, TIMEOUT_S)
            changes["feather_px"] = rec.set_parameters({"feather_px": 8})
            changes["align"] = rec.set_parameters({"align": "orb"})
            changes["weights"] = rec.set_parameters({"weights": str(tmp / "missing.safetensors")})
            assert rec.wait_until(lambda: rec.count(RAW.topic) >= SWAP_AT, TIMEOUT_S)
            changes["backend"] = rec.set_parameters({"backend": "torch-cpu"}, TIMEOUT_S)
            swap_stamp = max(r.stamp_ns for r in rec.restored[RAW.topic])
            assert publisher.popen.wait(TIMEOUT_S) == 0, publisher.output()
            sent = json.loads((tmp / "sent.json").read_text())["sent"]
            rec.wait_until(
                lambda: all(rec.count(t) >= len(s) for t, s in sent.items()), TIMEOUT_S / 2
            )
            totals = len(sent[RAW.topic])

            def counted() -> bool:
                status = rec.latest(": camera0")
                values = status.values if status else {}
                return sum(int(values.get(k, 0)) for k in _RECEIVED) >= totals

            assert rec.wait_until(counted, 15.0), "the node's counters missed frames sent"
            time.sleep(0.6)  # one more period: the window that holds the last frames
            exit_code, stop_s = node.stop(signal.SIGINT)
            recorded = (rec.restored, rec.masks, list(rec.statuses))
    finally:
        for process in (publisher, node):
            if process is not None:
                process.stop(signal.SIGKILL)
    frames = {f.index: f for f in planned_frames(PLAN, PLAN.frames)}
    return Run(sent, *recorded, changes, swap_stamp, frames, exit_code, stop_s, node.output())


_RECEIVED = ("frames.total", "dropped.total", "bad_messages.total", "exceptions.total")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    return _stream(tmp_path_factory.mktemp("node_processes"))


def test_every_published_frame_arrives_once_with_its_stamp_and_frame_id(run):
    for topic, sent in run.sent.items():
        assert len(sent) == PLAN.frames
        stamps = [r.stamp_ns for r in run.restored[topic]]
        assert sorted(stamps) == sorted(stamp for _, stamp in sent), topic
        # ... and in the order they were sent (passthrough once let a superseded frame leave
        # before the older one being restored)
        assert stamps == [stamp for _, stamp in sent], topic
        assert {r.frame_id for r in run.restored[topic]} == {PLAN.frame_id}


def test_raw_camera_good_pixels_are_bit_exact_and_repairs_stay_in_failed_pixels(run):
    """Outside the node's published failure mask every byte is the input's.

    bikes.mp4 has clipped sky that the detector rightly calls saturated, so undamaged frames
    may be repaired too, inside their mask.
    """
    index = run.index(RAW.topic)
    masks = {m.stamp_ns: read_native(m.message) > 0 for m in run.masks[RAW.topic]}
    detected = {index[stamp] for stamp in masks}  # superseded frames publish no mask
    changed_frames = repaired_damage = 0
    found: list[float] = []
    for received in run.restored[RAW.topic]:
        i = index[received.stamp_ns]
        if i == MALFORMED:
            continue
        sent, out = run.frames[i], read_native(received.message)
        changed = (out != sent.bgr).any(axis=2)
        if not changed.any():
            continue
        changed_frames += 1
        failed = masks[received.stamp_ns]
        assert not (changed & ~failed).any(), f"frame {i}: a good pixel changed"
        if sent.mask is not None:
            repaired_damage += 1
            if i - 1 in detected:
                found.append(failed[sent.mask].mean())
                assert found[-1] > 0.25, f"frame {i}: injected failure not detected"
    # Only frames whose previous frame the detector saw are scored: under load (torch-cpu after
    # the swap, on two shared cores) the node passes superseded frames through undetected
    # (frame_slot.py), and a dead block seen 0.4 s or more after the detector's last frame of
    # this moving scene can be taken for scene that moved (docs/detection.md, "Gaps in the
    # history"). Replaying this plan with 60 % of the frames after the swap skipped (40
    # patterns): every damaged frame after a seen one found at 1.00; 9 of the 69 after skipped
    # frames found at 0.
    assert len(found) >= 3, f"only {len(found)} damaged frames followed a detected one"
    assert np.mean(found) > 0.85, f"injected failures found {np.mean(found):.2f} on average"
    damaged = sum(PLAN.damaged(i) for i in range(PLAN.frames))
    assert repaired_damage >= damaged // 2, f"{repaired_damage} of {damaged} damaged repaired"
    reported = sum(int(s.values["status.repaired"]) for s in run.camera_statuses("camera0"))
    assert reported >= changed_frames  # a repair may reproduce the input (clipped sky)


def test_jpeg_camera_passes_clean_frames_as_received_and_reencodes_repairs(run):
    index = run.index(JPEG.topic)
    masks = {m.stamp_ns: read_native(m.message) > 0 for m in run.masks[JPEG.topic]}
    repaired = 0
    for received in run.restored[JPEG.topic]:
        sent = run.frames[index[received.stamp_ns]]
        sent_bytes = encode_compressed(sent.bgr, "jpeg", PLAN.jpeg_quality)
        data = bytes(received.message.data)
        if data == sent_bytes:
            continue  # clean, or passed through: republished as received
        repaired += 1
        good = ~masks[received.stamp_ns]
        error = np.abs(
            decode_compressed("jpeg", data).bgr.astype(int)
            - decode_compressed("jpeg", sent_bytes).bgr.astype(int)
        )[good]
        # a second JPEG generation: mean well under a gray level, rare pixels up to ~30
        assert error.mean() < 1.0 and error.max() <= 32, "good pixels moved beyond JPEG loss"
    statuses = run.camera_statuses("camera1")
    reported = sum(int(s.values["status.repaired"]) for s in statuses)
    # a frame whose restoration was overtaken (a slow one on a loaded machine) counts as
    # repaired but left as received (frame_slot.py)
    overtaken = sum(int(s.values["overtaken"]) for s in statuses)
    assert repaired > 0 and reported - overtaken <= repaired <= reported


def test_diagnostics_count_every_frame_and_the_malformed_one(run):
    raw = run.camera_statuses("camera0")[-1].values
    jpeg = run.camera_statuses("camera1")[-1].values
    assert sum(int(raw[k]) for k in _RECEIVED) == PLAN.frames
    assert sum(int(jpeg[k]) for k in _RECEIVED) == PLAN.frames
    assert jpeg["bad_messages.total"] == "0"
    warned = "message passed through unchanged: data has" in run.node_log
    if raw["bad_messages.total"] == "0":
        # Superseded before its turn (Fast DDS hands frames over in bursts on a loaded machine;
        # CI, once): republished unread, as every superseded frame, and counted there. Counting
        # a bad message is checked deterministically in test_node_rclpy.py.
        assert int(raw["dropped.total"]) >= 1
        assert not warned
    else:
        assert raw["bad_messages.total"] == "1" and warned
        (window,) = [
            s
            for s in run.camera_statuses("camera0")
            if s.values.get("bad_messages.bad_size") == "1"
        ]
        assert window.level >= 1  # WARN at least
        if window.level == 1:
            assert "1 bad messages passed through (bad_size 1)" in window.message
    stamp = next(stamp for i, stamp in run.sent[RAW.topic] if i == MALFORMED)
    (malformed,) = [r for r in run.restored[RAW.topic] if r.stamp_ns == stamp]
    expected = run.frames[MALFORMED].bgr
    assert bytes(malformed.message.data) == expected.tobytes()[: -expected.shape[1] * 3]


def test_parameter_service_accepts_and_rejects_while_frames_flow(run):
    assert run.changes["feather_px"] == [(True, "")]
    ((ok, reason),) = run.changes["align"]
    assert not ok and "align must be one of" in reason
    ((ok, reason),) = run.changes["weights"]
    assert not ok and "new model did not load" in reason and "still running hold" in reason
    assert "parameters changed: feather_px=8" in run.node_log


def test_model_swap_under_load_loses_no_frame(run):
    assert run.changes["backend"] == [(True, "")]
    models = [s for s in run.statuses if s.name.endswith(": model")]
    assert models[0].values["backend"] == "hold" and models[-1].values["backend"] == "torch-cpu"
    after = [r for r in run.restored[RAW.topic] if r.stamp_ns > run.swap_stamp_ns]
    sent_after = [s for _, s in run.sent[RAW.topic] if s > run.swap_stamp_ns]
    assert sent_after and len(after) == len(sent_after)
    index = run.index(RAW.topic)
    by_torch = [
        r for r in after if (read_native(r.message) != run.frames[index[r.stamp_ns]].bgr).any()
    ]
    # Under load a warming torch-cpu supersedes frames, which pass through undetected; a damaged
    # frame after a superseded one may look like moved scene ("Gaps in the history"). A damaged
    # frame the node processed right after one it processed must be repaired by the new model.
    detected = {index[m.stamp_ns] for m in run.masks[RAW.topic]}
    repairable = [
        r
        for r in after
        if run.frames[index[r.stamp_ns]].mask is not None
        and {index[r.stamp_ns], index[r.stamp_ns] - 1} <= detected
    ]
    assert any(index[r.stamp_ns] in detected for r in after), "no frame processed after the swap"
    missed = {index[r.stamp_ns] for r in repairable} - {index[r.stamp_ns] for r in by_torch}
    assert not missed, f"damaged frames {sorted(missed)} processed after the swap, not repaired"
    last = run.camera_statuses("camera0")[-1].values
    assert last["backend"] == "torch-cpu"


def test_sigint_stops_the_streaming_node_cleanly(run):
    assert run.exit_code == 0 and run.stop_s < 5.0, run.node_log
    assert "Traceback" not in run.node_log


def test_sigterm_stops_the_node_cleanly(tmp_path):
    domain = live_processes.domain_for(os.getpid() + 1)
    env = live_processes.ros_environment(domain)
    plan = StreamPlan(cameras=(RAW,), frames=1, rate_hz=1.0)
    params = live_processes.write_parameters(tmp_path / "params.yaml", plan, PARAMETERS)
    node = live_processes.start_node(params, env, tmp_path / "node.log")
    try:
        with LiveRecorder(domain, plan.cameras, environment=env) as rec:
            assert rec.wait_for_node(TIMEOUT_S), node.output()
            exit_code, stop_s = node.stop(signal.SIGTERM)
    finally:
        node.stop(signal.SIGKILL)
    assert exit_code in (0, 128 + signal.SIGTERM) and stop_s < 5.0, node.output()
    assert "Traceback" not in node.output()

"""The node's transport-free core, fed real ROS 2 messages (rosbags' typestore) as CDR bytes.

Every input is built as a ROS 2 message, serialized to CDR and deserialized, as a subscription
would deliver it; every output is serialized and read back, as a subscriber would see it.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fakes import CopyBackend

from frame_restore_ros.codec.image_codec import (
    bgr_to_native,
    element_mask,
    encode_compressed,
    native_to_fields,
    read_native,
)
from frame_restore_ros.codec.messages import (
    COMPRESSED_TYPE,
    IMAGE_TYPE,
    OUTPUT_TYPESTORE,
    CompressedImage,
    Image,
    make_header,
    stamp_seconds,
)
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.node.camera_stats import DropCause
from frame_restore_ros.node.core import NodeCore
from frame_restore_ros.node.diagnostics import Level
from frame_restore_ros.node.message_factory import RosbagsMessageFactory
from frame_restore_ros.node.model_holder import build_backend
from frame_restore_ros.node.parameters import NodeSettings, ParameterError
from frame_restore_ros.pipeline.restorer import Status
from frame_restore_ros.synthetic import corruption

DIAGNOSTIC_ARRAY = "diagnostic_msgs/msg/DiagnosticArray"
FRAME_DT_NS = 40_000_000


@pytest.fixture(scope="module")
def frames(bikes_frames) -> list[np.ndarray]:
    """bikes.mp4 frames 17-39: clean to the detector (see test_restorer.py)."""
    return bikes_frames[17:]


def wire(message: object, msgtype: str) -> object:
    """Serialize to CDR and back, as DDS delivers a message."""
    cdr = OUTPUT_TYPESTORE.serialize_cdr(message, msgtype)
    return OUTPUT_TYPESTORE.deserialize_cdr(bytes(cdr), msgtype)


def image_message(
    bgr: np.ndarray,
    encoding: str = "bgr8",
    index: int = 0,
    frame_id: str = "cam",
    pad: int = 0,
    bigendian: bool = False,
) -> object:
    """Build a received sensor_msgs/Image of ``bgr`` in ``encoding``, rows padded by ``pad``."""
    fields = native_to_fields(bgr_to_native(bgr, encoding), encoding, bigendian)
    if pad:
        rows = fields["data"].reshape(fields["height"], -1)
        padded = np.concatenate([rows, np.full((rows.shape[0], pad), 7, np.uint8)], axis=1)
        fields["data"], fields["step"] = padded.reshape(-1), rows.shape[1] + pad
    header = make_header(1_000_000_000 + index * FRAME_DT_NS, frame_id)
    return wire(Image(header=header, **fields), IMAGE_TYPE)


def compressed_message(bgr: np.ndarray, index: int = 0, fmt: str = "png") -> object:
    data = np.frombuffer(encode_compressed(bgr, fmt), np.uint8)
    header = make_header(1_000_000_000 + index * FRAME_DT_NS, "cam")
    return wire(CompressedImage(header=header, format=fmt, data=data), COMPRESSED_TYPE)


def damage(frame: np.ndarray, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Add a dead block (the detector's most common class); return (damaged, truth mask)."""
    corrupted = corruption.blocks(frame, np.random.default_rng(seed), FailureKind.DEAD, 2)
    return corrupted.damaged, corrupted.mask


def make_core(**overrides: object) -> NodeCore:
    values = {"backend": "hold", "align": "none", **overrides}
    return NodeCore(NodeSettings.build(values), RosbagsMessageFactory())


def run(core: NodeCore, camera: str, message: object, clock_now: float | None = None) -> dict:
    """Receive and process one message; return {output: message} (after a CDR round trip)."""
    core.receive(camera, message)
    pending = core.next_frame(camera, timeout=0)
    assert pending is not None and pending.message is message
    out = {}
    for publication in core.process(camera, pending, clock_now):
        assert publication.camera == camera
        out[publication.output] = publication.message
    return out


def warm(core: NodeCore, camera: str, frames: list[np.ndarray], encoding: str = "bgr8") -> int:
    for index, frame in enumerate(frames[:4]):
        message = image_message(frame, encoding, index)
        assert run(core, camera, message)["restored"] is message
    return 4


# --- runtime parameter changes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"feather_px": 200}, "feather_px must be <= 128"),
        ({"feather_px": 2.0}, "feather_px is of type integer, got float"),
        ({"change_tau": 5}, "change_tau is a double"),
        ({"change_tau": float("nan")}, "change_tau must be finite"),
        ({"align": "orb"}, "align must be one of none, ecc"),
        ({"restore": 1}, "restore is of type bool"),
        ({"qos.depth": 5}, "qos.depth is read-only"),
        ({"camera.transport": "compressed"}, "camera.transport is read-only"),
        ({"camera.defect_mask": "/etc/map.png"}, "camera.defect_mask is read-only"),
        ({"nonexistent": 1}, "unknown parameter 'nonexistent'"),
        ({"weights": "/no/such/file.safetensors"}, "new model did not load"),
        ({"backend": "tensorrt"}, "new model did not load"),
    ],
)
def test_bad_runtime_change_is_rejected_with_a_reason_and_old_values_kept(changes, reason):
    core = make_core()
    before = dict(core.settings.values)
    backend = core.models.backend
    ok, why = core.update_parameters(changes)
    assert not ok and reason in why
    assert dict(core.settings.values) == before and core.models.backend is backend


def test_good_runtime_change_applies_without_losing_the_reference(frames):
    core = make_core()
    warm(core, "camera", frames)
    tracker = core.cameras["camera"].restorer.tracker
    version = tracker.version
    changes = {"feather_px": 8, "change_tau": 0.0, "reference.max_age_s": 3.0}
    ok, why = core.update_parameters(changes)
    assert ok, why
    config = core.cameras["camera"].restorer.config
    assert config.repair.feather_px == 8 and config.repair.change_tau is None
    assert tracker.config.max_age_s == 3.0 and tracker.version == version  # reference kept
    damaged, _ = damage(frames[4])
    assert run(core, "camera", image_message(damaged, index=4))["restored"] is not None
    assert core.cameras["camera"].stats.last_status is Status.REPAIRED


@pytest.mark.parametrize("encoding", ["bgr8", "rgb8", "mono8"])
def test_restoring_never_writes_into_the_received_message(frames, encoding):
    """The restorer reads the message's own bytes (no copy); an overtaken frame is published
    as that very message while the worker still restores it, so its bytes must stay as
    received (rclpy's uint8[] data is a writable array.array)."""
    import array

    core = make_core()
    warm(core, "camera", frames, encoding)
    damaged, _ = damage(frames[4])
    message = image_message(damaged, encoding, index=4)
    message.data = array.array("B", bytes(message.data))  # as rclpy delivers it
    before = bytes(message.data)
    out = run(core, "camera", message)
    assert core.cameras["camera"].stats.last_status is Status.REPAIRED
    assert out["restored"] is not message and bytes(message.data) == before


# --- model swap -------------------------------------------------------------------------


def test_model_loads_beside_the_old_one_and_swaps_only_when_loaded(frames):
    requests = []

    def loader(request):
        requests.append(request)
        if request.weights == "broken.safetensors":
            raise ValueError("header is not valid JSON")
        return build_backend(request)

    core = NodeCore(
        NodeSettings.build({"backend": "hold", "align": "none"}), RosbagsMessageFactory(), loader
    )
    old = core.models.backend
    ok, why = core.update_parameters({"weights": "broken.safetensors"})
    assert not ok and "header is not valid JSON" in why and "still running hold" in why
    assert core.models.backend is old and core.cameras["camera"].restorer.backend is old
    report = core.diagnostics()[0]
    assert report.level == Level.WARN and "last reload failed" in report.message

    ok, why = core.update_parameters({"backend": "torch-cpu"})  # bundled weights, real model
    assert ok, why
    new = core.models.backend
    assert new is not old and new.name == "torch-cpu"
    assert core.cameras["camera"].restorer.backend is new
    assert [r.backend for r in requests] == ["hold", "hold", "torch-cpu"]
    warm(core, "camera", frames)
    damaged, truth = damage(frames[4])
    out = run(core, "camera", image_message(damaged, index=4))
    assert core.cameras["camera"].stats.last_status is Status.REPAIRED
    restored = read_native(out["restored"])
    assert np.array_equal(restored[~truth], damaged[~truth])
    assert core.diagnostics()[0].level == Level.OK


def test_no_model_at_start_passes_frames_through_and_reports_error(frames):
    def loader(request):
        raise FileNotFoundError("weights file /x does not exist")

    core = NodeCore(NodeSettings.build({"align": "none"}), RosbagsMessageFactory(), loader)
    warm(core, "camera", frames)
    message = image_message(damage(frames[4])[0], index=4)
    assert run(core, "camera", message)["restored"] is message
    reports = core.diagnostics()
    model, camera = reports
    assert model.level == Level.ERROR and "weights file /x does not exist" in model.message
    assert camera.level == Level.ERROR and camera.value("status.passthrough_no_backend") == "1"


# --- frames: encodings, headers, good bytes ------------------------------------------------


def test_clean_frame_is_republished_as_the_very_same_message(frames):
    core = make_core()
    message = image_message(frames[0], "bgr8", 0, "front_optical")
    out = run(core, "camera", message)
    assert out["restored"] is message
    mask = wire(out["failure_mask"], IMAGE_TYPE)
    assert mask.encoding == "mono8" and mask.header.frame_id == "front_optical"
    assert mask.header.stamp == message.header.stamp and not read_native(mask).any()


@pytest.mark.parametrize(
    "encoding", ["bgr8", "rgb8", "mono8", "mono16", "bgra8", "rgb16", "bayer_rggb8", "yuv422"]
)
def test_repaired_frame_keeps_header_encoding_and_every_good_byte(frames, encoding):
    core = make_core()
    index = warm(core, "camera", frames, encoding)
    damaged, truth = damage(frames[index])
    message = image_message(damaged, encoding, index, "cam_a", pad=6)
    out = run(core, "camera", message)
    assert core.cameras["camera"].stats.last_status is Status.REPAIRED
    restored = wire(out["restored"], IMAGE_TYPE)
    assert restored.encoding == encoding and restored.header.frame_id == "cam_a"
    assert restored.header.stamp == message.header.stamp
    assert (restored.height, restored.width) == (message.height, message.width)
    before, after = read_native(message), read_native(restored)
    failed = read_native(wire(out["failure_mask"], IMAGE_TYPE)) > 0
    good = ~np.broadcast_to(element_mask(failed, encoding), before.shape)
    assert np.array_equal(after[good], before[good])  # every byte of a good pixel
    assert (failed & truth).sum() > 0.9 * truth.sum()
    assert not np.array_equal(after, before)  # the failed block was written


def test_compressed_input_is_repaired_in_its_own_format(frames):
    core = make_core(**{"camera.transport": "compressed"})
    for index in range(4):
        message = compressed_message(frames[index], index)
        assert run(core, "camera", message)["restored"] is message
    damaged, truth = damage(frames[4])
    message = compressed_message(damaged, 4)
    out = run(core, "camera", message)
    restored = wire(out["restored"], COMPRESSED_TYPE)
    assert restored.format == "png" and restored.header.stamp == message.header.stamp
    import cv2

    decoded = cv2.imdecode(restored.data, cv2.IMREAD_COLOR)
    assert np.array_equal(decoded[~truth], damaged[~truth])  # PNG: lossless
    assert np.abs(decoded[truth].astype(int) - frames[4][truth].astype(int)).mean() < 40


@pytest.mark.parametrize("repaired_format", ["same", "png"])
def test_jpeg_camera_repaired_frames_in_the_chosen_format(frames, repaired_format):
    import cv2

    core = make_core(
        **{"camera.transport": "compressed", "camera.repaired_format": repaired_format}
    )
    for index in range(4):
        message = compressed_message(frames[index], index, "jpeg")
        assert run(core, "camera", message)["restored"] is message  # as received
    damaged, truth = damage(frames[4])
    message = compressed_message(damaged, 4, "jpeg")
    published = run(core, "camera", message)
    restored = wire(published["restored"], COMPRESSED_TYPE)
    received = cv2.imdecode(message.data, cv2.IMREAD_COLOR)  # what the node decoded
    out = cv2.imdecode(restored.data, cv2.IMREAD_COLOR)
    failed = read_native(wire(published["failure_mask"], IMAGE_TYPE)) > 0
    assert core.cameras["camera"].stats.last_status is Status.REPAIRED
    difference = np.abs(out.astype(int) - received)[~failed]
    if repaired_format == "png":
        assert restored.format == "png" and difference.max() == 0  # every good pixel exact
    else:
        assert restored.format == "jpeg" and 0 < difference.max() <= 16  # the codec's loss
        assert difference.mean() < 1.0
    assert restored.header.stamp == message.header.stamp


def test_uncertainty_is_published_as_32fc1_when_enabled(frames):
    core = make_core(backend="torch-cpu", publish_uncertainty=True, uncertainty_samples=2)
    index = warm(core, "camera", frames)
    out = run(core, "camera", image_message(damage(frames[index])[0], index=index))
    std = wire(out["uncertainty"], IMAGE_TYPE)
    assert std.encoding == "32FC1" and (std.height, std.width) == frames[0].shape[:2]
    values = np.frombuffer(bytes(std.data), "<f4").reshape(std.height, std.width)
    assert np.isfinite(values).all() and values.max() > 0


# --- cameras, drops, bad input ---------------------------------------------------------------


def test_cameras_are_isolated(frames):
    core = make_core(cameras=["front", "rear"])
    warm(core, "front", frames)
    small = [f[::2, ::2].copy() for f in frames]
    damaged, _ = damage(frames[4])
    out_front = run(core, "front", image_message(damaged, index=4))
    warm(core, "rear", small)  # its own first frames: the detector's warm-up and reference
    rear_damaged = image_message(damage(small[4])[0], index=4)
    run(core, "rear", rear_damaged)
    front, rear = core.cameras["front"].stats, core.cameras["rear"].stats
    assert front.last_status is Status.REPAIRED and out_front["restored"].width == 640
    assert rear.last_status is Status.REPAIRED, rear.last_reason  # its own reference
    assert front.resolution == "640x272" and rear.resolution == "320x136"
    assert front.totals.frames == 5 and rear.totals.frames == 5
    reports = {r.hardware_id: r for r in core.diagnostics()[1:]}
    assert reports["front"].value("frames") == "5" and reports["rear"].value("frames") == "5"


def test_resolution_change_resets_the_reference_and_starts_again(frames):
    core = make_core()
    warm(core, "camera", frames)
    small = [frame[::2, ::2].copy() for frame in frames[5:10]]
    first = image_message(small[0], index=5)
    assert run(core, "camera", first)["restored"] is first  # clean: the new reference
    tracker = core.cameras["camera"].restorer.tracker
    assert tracker.last_reset.cause.value == "resolution_change"
    assert tracker.frame.shape == small[0].shape
    # The detector starts again too: onsets wait for its warm-up (onset_warmup_frames).
    for index, frame in enumerate(small[1:4], start=6):
        message = image_message(frame, index=index)
        assert run(core, "camera", message)["restored"] is message
    damaged = image_message(damage(small[4])[0], index=9)
    out = run(core, "camera", damaged)
    assert core.cameras["camera"].stats.last_status is Status.REPAIRED
    assert out["restored"].width == small[4].shape[1]


def test_newest_frame_wins_and_superseded_frames_are_counted(frames):
    core = make_core()
    messages = [image_message(frames[i], index=i) for i in range(3)]
    published: list = []
    for message in messages:
        deliver(core, "camera", message, published)
    assert published == []  # drop policy: nothing published
    pending = core.next_frame("camera", timeout=0)
    assert pending.message is messages[2] and core.next_frame("camera", timeout=0) is None
    assert core.cameras["camera"].stats.totals.dropped[DropCause.SUPERSEDED] == 2
    core.finish("camera", published.extend)
    assert published == []

    core.update_parameters({"overload_policy": "passthrough"})
    deliver(core, "camera", messages[0], published)
    deliver(core, "camera", messages[1], published)  # no frame is being restored: at once
    assert [(p.output, p.message) for p in published] == [("restored", messages[0])]


def deliver(core: NodeCore, camera: str, message: object, published: list) -> None:
    """What the node's image callback does: receive, publish the passed-through frames due."""
    core.receive(camera, message)
    core.flush(camera, published.extend)


def worker_round(core: NodeCore, camera: str, published: list, frame=None) -> None:
    """What the node's worker does for one frame: process it, publish, publish what followed."""
    frame = frame or core.next_frame(camera, timeout=0)
    core.publish(camera, core.process(camera, frame), published.extend)
    core.finish(camera, published.extend)


def restored_stamps(published: list) -> list[float]:
    return [stamp_seconds(p.message.header) for p in published if p.output == "restored"]


def test_passed_through_frames_wait_behind_the_frame_being_restored(frames):
    """overload_policy passthrough: outputs leave in arrival order, none lost (hostile pass:
    a superseded frame published from the callback overtook the older one being restored)."""
    core = make_core(overload_policy="passthrough")
    messages = [image_message(frames[i], index=i) for i in range(6)]
    published: list = []
    deliver(core, "camera", messages[0], published)
    taken = core.next_frame("camera", timeout=0)  # the worker restores frame 0 ...
    for message in messages[1:4]:  # ... while 1, 2 and 3 arrive: 1 and 2 are superseded
        deliver(core, "camera", message, published)
    assert published == []  # queued behind frame 0, not published ahead of it
    worker_round(core, "camera", published, taken)
    assert restored_stamps(published) == [1.0 + i * FRAME_DT_NS / 1e9 for i in range(3)]
    # Frame 3 waits; 4 supersedes it before the worker takes it, and the worker then takes 4:
    # 3 must still leave before 4's outputs.
    deliver(core, "camera", messages[4], published)
    worker_round(core, "camera", published)
    deliver(core, "camera", messages[5], published)
    worker_round(core, "camera", published)
    stamps = restored_stamps(published)
    assert stamps == sorted(stamps) and len(stamps) == 6
    assert core.cameras["camera"].stats.totals.dropped[DropCause.SUPERSEDED] == 3


def restore_first_while_two_arrive(core: NodeCore, messages: list, published: list) -> object:
    """Frame 0 is taken by the worker, then frames 1 and 2 arrive; return frame 0's slot entry."""
    deliver(core, "camera", messages[0], published)
    taken = core.next_frame("camera", timeout=0)
    deliver(core, "camera", messages[1], published)
    deliver(core, "camera", messages[2], published)
    return taken


def test_an_overtaken_restoration_is_passed_through_not_lost(frames):
    """Overtaken (here: the queue behind it full; past the hold alike), the frame being
    restored leaves as received, before the frame queued behind it; its restored outputs,
    late, are not published (CI: it was lost entirely)."""
    core = make_core(overload_policy="passthrough")
    core.slots["camera"].max_queued = 1  # one frame behind it fills the queue
    messages = [image_message(frames[i], index=i) for i in range(3)]
    published: list = []
    taken = restore_first_while_two_arrive(core, messages, published)
    # frame 0 overtaken: the very message received, then frame 1, passed through at once
    assert [p.message for p in published] == [messages[0], messages[1]]
    assert {p.output for p in published} == {"restored"}
    worker_round(core, "camera", published, taken)
    assert [p.message for p in published] == [messages[0], messages[1]]  # not published twice
    assert core.cameras["camera"].stats.totals.overtaken == 1
    report = core.diagnostics()[1]
    assert "1 frames passed through unrestored: their restoration outlasted" in report.message
    assert report.value("overtaken.total") == "1" and report.value("dropped.total") == "1"
    worker_round(core, "camera", published)  # frame 2, restored as usual
    assert restored_stamps(published) == [stamp_seconds(m.header) for m in messages]


def test_a_stalled_restoration_never_stops_the_stream_under_the_drop_policy(frames):
    """The default policy drops frames a busy worker cannot take; a stalled one (a hung
    backend) must not stop the stream: past the hold the waiting frames pass through, counted
    ``dropped.stalled``, and the camera's diagnostics say ERROR, restoration stalled."""
    core = make_core()  # overload_policy drop
    core.slots["camera"].hold_s = 0.0
    messages = [image_message(frames[i], index=i) for i in range(4)]
    published: list = []
    taken = restore_first_while_two_arrive(core, messages, published)
    assert [p.message for p in published] == messages[:3]  # the stalled one first, as received
    report = core.diagnostics()[1]
    assert report.level == Level.ERROR and "restoration stalled: one frame" in report.message
    assert report.value("dropped.stalled") == "2" and float(report.value("restoring_s")) >= 0
    worker_round(core, "camera", published, taken)  # the backend returns, too late
    assert [p.message for p in published] == messages[:3]
    assert core.cameras["camera"].stats.totals.overtaken == 1
    deliver(core, "camera", messages[3], published)
    worker_round(core, "camera", published)  # restored as usual again
    assert restored_stamps(published) == [stamp_seconds(m.header) for m in messages]
    report = core.diagnostics()[1]
    assert report.value("restoring_s") == "none" and "stalled" not in report.message


def test_stall_timeout_sets_every_cameras_hold_at_start_and_at_run_time():
    core = make_core(cameras=["front", "rear"], stall_timeout_s=2.5)
    assert {slot.hold_s for slot in core.slots.values()} == {2.5}
    ok, why = core.update_parameters({"stall_timeout_s": 0.2})
    assert ok, why
    assert {slot.hold_s for slot in core.slots.values()} == {0.2}
    ok, why = core.update_parameters({"stall_timeout_s": 0.0})  # below its range
    assert not ok and "stall_timeout_s" in why
    assert {slot.hold_s for slot in core.slots.values()} == {0.2}


def test_frames_older_than_max_input_age_are_dropped(frames):
    core = make_core(max_input_age_s=0.1)
    message = image_message(frames[0], index=0)  # stamp 1.0 s
    assert run(core, "camera", message, clock_now=1.05)["restored"] is message
    core.receive("camera", message)
    assert core.process("camera", core.next_frame("camera", 0), clock_now=2.0) == []
    assert core.cameras["camera"].stats.totals.dropped[DropCause.STALE] == 1
    report = core.diagnostics()[1]
    assert report.level == Level.WARN and "1 frames dropped (stale 1)" in report.message


def bad_messages(frames) -> dict[str, object]:
    good = image_message(frames[0])
    short = Image(
        header=good.header, height=272, width=640, encoding="bgr8", is_bigendian=0,
        step=1920, data=np.zeros(100, np.uint8),
    )  # fmt: skip
    unknown = Image(
        header=good.header, height=2, width=2, encoding="nv12", is_bigendian=0, step=2,
        data=np.zeros(4, np.uint8),
    )  # fmt: skip
    empty = Image(
        header=good.header, height=0, width=0, encoding="bgr8", is_bigendian=0, step=0,
        data=np.zeros(0, np.uint8),
    )  # fmt: skip
    return {
        "bad_size": wire(short, IMAGE_TYPE),
        "unsupported_encoding": wire(unknown, IMAGE_TYPE),
        "zero_size": wire(empty, IMAGE_TYPE),
    }


def test_bad_messages_are_republished_unchanged_counted_and_logged_rate_limited(frames, caplog):
    core = make_core()
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        for message in bad_messages(frames).values():
            assert run(core, "camera", message) == {"restored": message}
    counts = core.cameras["camera"].stats.totals.bad_messages
    assert counts == {"bad_size": 6, "unsupported_encoding": 3}  # zero size is a bad size
    warnings = [r.getMessage() for r in caplog.records if "passed through unchanged" in r.message]
    assert len(warnings) == 2  # one per kind within log_throttle_s
    assert any("data has 100 bytes but step x height" in w for w in warnings)
    assert any("unsupported encoding 'nv12'" in w for w in warnings)
    report = core.diagnostics()[1]
    assert report.level >= Level.WARN and report.value("bad_messages.bad_size") == "6"
    good = image_message(frames[0])
    assert run(core, "camera", good)["restored"] is good  # still running


def test_undecodable_compressed_and_headerless_messages_pass_through(frames):
    core = make_core(**{"camera.transport": "compressed"})
    header = make_header(1, "cam")
    junk = wire(
        CompressedImage(header=header, format="jpeg", data=np.arange(50, dtype=np.uint8)),
        COMPRESSED_TYPE,
    )
    assert run(core, "camera", junk) == {"restored": junk}

    odd = SimpleNamespace(format="png", data=encode_compressed(frames[0], "png"))  # no header
    assert run(core, "camera", odd) == {"restored": odd}
    assert core.cameras["camera"].stats.totals.bad_messages == {"undecodable": 1, "malformed": 1}


def test_restore_off_detects_and_passes_everything_through(frames):
    core = make_core(restore=False)
    warm(core, "camera", frames)
    message = image_message(damage(frames[4])[0], index=4)
    out = run(core, "camera", message)
    assert out["restored"] is message and read_native(out["failure_mask"]).any()
    assert core.cameras["camera"].stats.last_status is Status.RESTORE_OFF


# --- diagnostics -------------------------------------------------------------------------------


def test_diagnostics_levels_and_content(frames, tmp_path):
    core = make_core(cameras=["front", "rear"])
    idle = {r.hardware_id: r for r in core.diagnostics(now=0.0)}
    assert idle["front"].level == Level.STALE and "no frame yet on front/image_raw" in (
        idle["front"].message
    )
    warm(core, "front", frames)
    damaged, _ = damage(frames[4])
    run(core, "front", image_message(damaged, index=4))
    reports = core.diagnostics()
    model, front, rear = reports
    assert model.level == Level.OK and model.name == "frame_restore: model"
    assert model.value("backend") == "hold"
    assert front.name == "frame_restore: front" and front.level == Level.OK, front.message
    assert front.message == "5 frames, 1 repaired"
    assert front.value("status.repaired") == "1" and front.value("status.clean") == "4"
    assert float(front.value("failed_ratio.dead")) > 0
    assert front.value("reference_age.frames") == "1" and front.value("backend") == "hold"
    assert float(front.value("latency_ms.p50")) > 0 and front.value("encoding") == "bgr8"
    assert rear.level == Level.STALE

    # damaged before any clean frame (a defect map makes a first-frame failure one): WARN
    defects = tmp_path / "defects.npy"
    np.save(defects, (damaged != frames[4]).any(axis=2))
    fresh = make_core(**{"camera.defect_mask": str(defects)})
    run(fresh, "camera", image_message(damaged, index=0))
    report = fresh.diagnostics()[1]
    assert report.level == Level.WARN and "1 damaged frames passed through" in report.message

    array = wire(
        RosbagsMessageFactory().diagnostic_array(5_000_000_000, reports), DIAGNOSTIC_ARRAY
    )
    assert array.header.stamp.sec == 5 and [s.name for s in array.status] == [
        "frame_restore: model", "frame_restore: front", "frame_restore: rear",
    ]  # fmt: skip
    assert array.status[2].level == Level.STALE
    assert {kv.key for kv in array.status[1].values} >= {
        "failed_ratio.mean", "reference_age.s", "latency_ms.p99", "dropped.total", "backend",
    }  # fmt: skip


def test_defect_mask_fails_its_pixels_in_every_frame_of_its_camera(frames, tmp_path: Path):
    defects = np.zeros(frames[0].shape[:2], bool)
    defects[100:106, 200:210] = True
    path = tmp_path / "front.npy"
    np.save(path, defects)
    core = make_core(cameras=["front", "rear"], **{"front.defect_mask": str(path)})
    front = run(core, "front", image_message(frames[0]))
    rear = run(core, "rear", image_message(frames[0]))
    failed = read_native(front["failure_mask"]) > 0
    assert failed[defects].all() and not read_native(rear["failure_mask"]).any()
    assert core.cameras["front"].stats.last_status is Status.NO_REFERENCE  # nothing to copy yet
    repaired = run(core, "front", image_message(frames[1], index=1))["restored"]
    assert core.cameras["front"].stats.last_status is Status.REPAIRED
    assert read_native(repaired).shape == frames[1].shape
    reports = {r.hardware_id: r for r in core.diagnostics()[1:]}
    assert reports["front"].value("defect_mask") == str(path)
    assert reports["front"].value("defect_mask.pixels") == "60"
    assert float(reports["front"].value("failed_ratio.external")) > 0
    assert reports["rear"].value("defect_mask") == "none"
    assert reports["rear"].value("defect_mask.pixels") == "0"
    small = image_message(frames[2][::2, ::2].copy(), index=2)  # another sensor resolution
    assert run(core, "front", small)["restored"] is small


def test_defect_mask_that_no_longer_loads_stops_the_node_before_the_model_loads(tmp_path):
    path = tmp_path / "front.npy"
    np.save(path, np.ones((4, 4), bool))
    settings = NodeSettings.build({"backend": "hold", "camera.defect_mask": str(path)})
    path.unlink()  # validated, then gone when the node starts
    requests = []
    with pytest.raises(ParameterError, match=r"camera\.defect_mask: defect mask .*front\.npy"):
        NodeCore(settings, RosbagsMessageFactory(), loader=requests.append)
    assert requests == []


def test_whole_frame_failure_is_an_error(frames):
    core = make_core()
    warm(core, "camera", frames)
    black = np.zeros_like(frames[0])
    message = image_message(black, index=4)
    assert run(core, "camera", message)["restored"] is message
    report = core.diagnostics()[1]
    assert report.level == Level.ERROR and "whole frame failed" in report.message


def test_worker_wait_returns_none_when_closed():
    core = make_core()
    core.close()
    assert core.next_frame("camera", timeout=5) is None


def test_idle_step_prepares_the_new_reference(frames):
    settings = NodeSettings.build({"backend": "torch-cpu", "align": "none"})
    core = NodeCore(settings, RosbagsMessageFactory(), loader=lambda request: CopyBackend())
    assert run(core, "camera", image_message(frames[0]))  # clean: becomes the reference
    restorer = core.cameras["camera"].restorer
    assert restorer.pipeline._cached is None
    core.idle("camera")
    assert restorer.pipeline._cached[0] == restorer.tracker.version
    core.update_parameters({"restore": False})
    restorer.pipeline.invalidate()
    core.idle("camera")  # restoration off: no work
    assert restorer.pipeline._cached is None


def test_a_repeated_frame_is_published_unchanged_and_reported(frames):
    core = make_core()
    warm(core, "camera", frames)
    again = image_message(frames[3], index=4)  # the driver sends frame 3 once more
    assert run(core, "camera", again)["restored"] is again
    stats = core.cameras["camera"].stats
    assert stats.last_status is Status.REPEATED_FRAME
    report = core.diagnostics()[1]
    assert report.level == Level.WARN and "1 frames repeated the previous one" in report.message
    assert report.value("status.passthrough_repeated_frame") == "1"


def test_a_failed_restoration_is_reported_with_its_own_reason():
    """The ERROR named the last frame's reason ("no failure detected" after a clean frame),
    not the failure's (recheck over DDS)."""
    from frame_restore_ros.node.camera_stats import CameraStats
    from frame_restore_ros.node.diagnostics import CameraInfo, ModelState, camera_report

    stats = CameraStats()
    stats.arrived(0.0)
    stats.frame(
        Status.ERROR, "inference failed: RuntimeError: CUDA error", 0.1, {}, 100, 5, 1, (1, 0.04)
    )
    stats.frame(Status.CLEAN, "no failure detected", 0.0, {}, 100, 5.0, 0.5, (1, 0.04))
    info = CameraInfo("front", "/front/image_raw", "", 0)
    report = camera_report(
        "frame_restore", info, stats, ModelState("hold", "", ""), True, 5.0, 0.5, 0.1, 1.0
    )
    assert report.level == Level.ERROR
    assert "restoration failed on 1 frames: inference failed: RuntimeError: CUDA error" in (
        report.message
    )


def test_failed_pixels_passed_through_in_repaired_frames_are_a_warning():
    from frame_restore_ros.node.camera_stats import CameraStats
    from frame_restore_ros.node.diagnostics import CameraInfo, ModelState, camera_report

    stats = CameraStats()
    stats.arrived(0.0)
    stats.frame(Status.REPAIRED, "repaired", 0.05, {"dead": 500}, 10_000, 5.0, 0.5, (1, 0.04), 120)
    info = CameraInfo("front", "/front/image_raw", "", 0)
    model = ModelState("hold", "bundled", "")
    report = camera_report("frame_restore", info, stats, model, True, 5.0, 0.5, 0.1, 1.0)
    assert report.level == Level.WARN and "120 failed px of 1 repaired frames" in report.message
    assert report.value("unrepaired_pixels") == "120"


def test_passthrough_under_load_publishes_every_frame_once_in_arrival_order(frames):
    """The node's two threads, raced: a callback thread delivering frames faster than a
    worker thread restores them. Every frame leaves once (restored or passed through), in the
    order it arrived."""
    core = make_core(overload_policy="passthrough")
    small = [np.ascontiguousarray(f[:64, :96]) for f in frames[:4]]
    messages = [image_message(small[i % 4], index=i) for i in range(120)]
    published: list = []
    lock = threading.Lock()

    def publish(publications: list) -> None:
        with lock:
            published.extend(publications)

    def worker() -> None:
        rng = np.random.default_rng(0)
        while not done.is_set() or core.slots["camera"]._pending is not None:
            frame = core.next_frame("camera", timeout=0.01)
            if frame is None:
                continue
            outputs = core.process("camera", frame)
            time.sleep(float(rng.uniform(0.0, 0.004)))  # restorations of uneven length
            core.publish("camera", outputs, publish)
            core.finish("camera", publish)

    done = threading.Event()
    thread = threading.Thread(target=worker)
    thread.start()
    rng = np.random.default_rng(1)
    for message in messages:
        core.receive("camera", message)
        core.flush("camera", publish)
        time.sleep(float(rng.uniform(0.0, 0.002)))
    done.set()
    thread.join(timeout=30)
    stamps = restored_stamps(published)
    assert stamps == sorted(set(stamps))  # each at most once, in arrival order
    stats = core.cameras["camera"].stats.totals
    # every frame left, also those whose restoration was overtaken (the queue behind it reached
    # the outputs' depth, max(5, qos.depth)): passed through as received, never published late
    assert len(stamps) == len(messages)
    assert stats.dropped[DropCause.SUPERSEDED] > 10

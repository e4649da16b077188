"""The node's transport-free core, fed real ROS 2 messages (rosbags' typestore) as CDR bytes.

Every input is built as a ROS 2 message, serialized to CDR and deserialized, as a subscription
would deliver it; every output is serialized and read back, as a subscriber would see it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fakes import CopyBackend

from frame_restore_ros.bag.bag_io import COMPRESSED_TYPE, IMAGE_TYPE, OUTPUT_TYPESTORE
from frame_restore_ros.codec.image_codec import (
    bgr_to_native,
    element_mask,
    encode_compressed,
    native_to_fields,
    read_native,
)
from frame_restore_ros.codec.messages import CompressedImage, Image, make_header
from frame_restore_ros.evaluation.detection_scores import INJECTORS
from frame_restore_ros.node import diagnostics as diag
from frame_restore_ros.node.core import NodeCore
from frame_restore_ros.node.message_factory import RosbagsMessageFactory
from frame_restore_ros.node.model_holder import build_backend
from frame_restore_ros.node.parameters import (
    NODE_PARAMETERS,
    NodeSettings,
    ParameterError,
    all_specs,
    load_settings,
    markdown_table,
    read_parameter_file,
)
from frame_restore_ros.pipeline.restorer import Status

ROOT = Path(__file__).resolve().parents[1]
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
    bgr: np.ndarray, encoding: str = "bgr8", index: int = 0, frame_id: str = "cam", pad: int = 0
) -> object:
    """Build a received sensor_msgs/Image of ``bgr`` in ``encoding``, rows padded by ``pad``."""
    fields = native_to_fields(bgr_to_native(bgr, encoding), encoding)
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
    _, inject = INJECTORS["dead"]
    corrupted = inject(frame, np.random.default_rng(seed))
    return corrupted.damaged, corrupted.mask


def make_core(**overrides: object) -> NodeCore:
    values = {"backend": "hold", "align": "none", **overrides}
    return NodeCore(NodeSettings.build(values), RosbagsMessageFactory())


def run(core: NodeCore, camera: str, message: object, clock_now: float | None = None) -> dict:
    """Receive and process one message; return {output: message} (after a CDR round trip)."""
    assert core.receive(camera, message) == []
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


# --- parameters ---------------------------------------------------------------------------


def test_default_parameter_file_lists_every_parameter_at_its_default():
    path = ROOT / "config" / "frame_restore.yaml"
    values = read_parameter_file(path)
    assert set(values) == set(all_specs(["camera"]))
    assert load_settings(path).values == NodeSettings.build().values


def test_multi_camera_example_loads():
    settings = load_settings(ROOT / "config" / "multi_camera_example.yaml")
    assert settings.cameras == ["front", "left", "rear"]
    assert settings["rear.transport"] == "compressed"
    assert settings["front.input_topic"] == "/sensing/camera/front/image_raw"
    assert settings["left.transport"] == "raw" and settings["overload_policy"] == "passthrough"


def test_parameter_file_errors_name_the_problem(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("frame_restore:\n  ros__parameters:\n    change_tau: 24\n    feather_px: -3\n")
    with pytest.raises(ParameterError) as error:
        load_settings(path)
    assert "change_tau is a double: write 24.0" in str(error.value)
    assert "feather_px must be >= 0" in str(error.value)
    path.write_text("other_node:\n  ros__parameters:\n    feather_px: 3\n")
    with pytest.raises(ParameterError, match="no section for node frame_restore"):
        load_settings(path)
    path.write_text("/**:\n  ros__parameters:\n    fether_px: 3\n")
    with pytest.raises(ParameterError, match="unknown parameter 'fether_px'"):
        load_settings(path)
    path.write_text("/**: [unclosed\n")
    with pytest.raises(ParameterError, match="cannot read parameter file"):
        load_settings(path)
    path.write_text("/perception/frame_restore:\n  ros__parameters:\n    feather_px: 3\n")
    assert load_settings(path)["feather_px"] == 3  # namespaced section


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
    assert core.cameras["camera"].stats.last_status == Status.REPAIRED.value


def test_camera_names_are_validated():
    for names, text in (([], "at least one"), (["a", "a"], "repeat"), (["9x"], "letters")):
        with pytest.raises(ParameterError, match=text):
            NodeSettings.build({"cameras": names})
    with pytest.raises(ParameterError, match="clashes"):
        NodeSettings.build({"cameras": ["backend"]})


def test_readme_parameter_table_is_the_generated_one():
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_every_parameter_has_a_description_and_ranges_hold_their_default():
    for spec in (*NODE_PARAMETERS, *all_specs(["front"]).values()):
        assert len(spec.description) > 20, spec.name
        assert spec.validate(spec.default) is None, spec.name


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
    assert report.level == diag.WARN and "last reload failed" in report.message

    ok, why = core.update_parameters({"backend": "torch-cpu"})  # bundled weights, real model
    assert ok, why
    new = core.models.backend
    assert new is not old and new.name == "torch-cpu"
    assert core.cameras["camera"].restorer.backend is new
    assert [r.backend for r in requests] == ["hold", "hold", "torch-cpu"]
    warm(core, "camera", frames)
    damaged, truth = damage(frames[4])
    out = run(core, "camera", image_message(damaged, index=4))
    assert core.cameras["camera"].stats.last_status == Status.REPAIRED.value
    restored = read_native(out["restored"])
    assert np.array_equal(restored[~truth], damaged[~truth])
    assert core.diagnostics()[0].level == diag.OK


def test_no_model_at_start_passes_frames_through_and_reports_error(frames):
    def loader(request):
        raise FileNotFoundError("weights file /x does not exist")

    core = NodeCore(NodeSettings.build({"align": "none"}), RosbagsMessageFactory(), loader)
    warm(core, "camera", frames)
    message = image_message(damage(frames[4])[0], index=4)
    assert run(core, "camera", message)["restored"] is message
    reports = core.diagnostics()
    model, camera = reports
    assert model.level == diag.ERROR and "weights file /x does not exist" in model.message
    assert camera.level == diag.ERROR and camera.value("status.passthrough_no_backend") == "1"


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
    assert core.cameras["camera"].stats.last_status == Status.REPAIRED.value
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
    assert core.cameras["camera"].stats.last_status == Status.REPAIRED.value
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
    rear_message = image_message(small[0], index=0)
    assert run(core, "rear", rear_message)["restored"] is rear_message  # its own first frame
    rear_damaged = image_message(damage(small[1])[0], index=1)
    run(core, "rear", rear_damaged)
    front, rear = core.cameras["front"].stats, core.cameras["rear"].stats
    assert front.last_status == Status.REPAIRED.value and out_front["restored"].width == 640
    assert rear.last_status == Status.REPAIRED.value, rear.last_reason  # its own reference
    assert front.resolution == "640x272" and rear.resolution == "320x136"
    assert front.totals.frames == 5 and rear.totals.frames == 2
    reports = {r.hardware_id: r for r in core.diagnostics()[1:]}
    assert reports["front"].value("frames") == "5" and reports["rear"].value("frames") == "2"


def test_resolution_change_resets_the_reference_and_passes_through(frames):
    core = make_core()
    warm(core, "camera", frames)
    small = image_message(damage(frames[5][::2, ::2].copy())[0], index=5)
    assert run(core, "camera", small)["restored"] is small
    assert core.cameras["camera"].stats.last_status == Status.NO_REFERENCE.value


def test_newest_frame_wins_and_superseded_frames_are_counted(frames):
    core = make_core()
    messages = [image_message(frames[i], index=i) for i in range(3)]
    assert core.receive("camera", messages[0]) == []
    assert core.receive("camera", messages[1]) == []  # drop policy: nothing published
    assert core.receive("camera", messages[2]) == []
    pending = core.next_frame("camera", timeout=0)
    assert pending.message is messages[2] and core.next_frame("camera", timeout=0) is None
    assert core.cameras["camera"].stats.totals.dropped["superseded"] == 2

    core.update_parameters({"overload_policy": "passthrough"})
    core.receive("camera", messages[0])
    published = core.receive("camera", messages[1])
    assert [(p.output, p.message) for p in published] == [("restored", messages[0])]


def test_frames_older_than_max_input_age_are_dropped(frames):
    core = make_core(max_input_age_s=0.1)
    message = image_message(frames[0], index=0)  # stamp 1.0 s
    assert run(core, "camera", message, clock_now=1.05)["restored"] is message
    core.receive("camera", message)
    assert core.process("camera", core.next_frame("camera", 0), clock_now=2.0) == []
    assert core.cameras["camera"].stats.totals.dropped["stale"] == 1
    report = core.diagnostics()[1]
    assert report.level == diag.WARN and "1 frames dropped (stale 1)" in report.message


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
    assert report.level >= diag.WARN and report.value("bad_messages.bad_size") == "6"
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
    assert core.cameras["camera"].stats.last_status == "passthrough_restore_off"


# --- diagnostics -------------------------------------------------------------------------------


def test_diagnostics_levels_and_content(frames):
    core = make_core(cameras=["front", "rear"])
    idle = {r.hardware_id: r for r in core.diagnostics(now=0.0)}
    assert idle["front"].level == diag.STALE and "no frame yet on front/image_raw" in (
        idle["front"].message
    )
    warm(core, "front", frames)
    damaged, _ = damage(frames[4])
    run(core, "front", image_message(damaged, index=4))
    reports = core.diagnostics()
    model, front, rear = reports
    assert model.level == diag.OK and model.name == "frame_restore: model"
    assert model.value("backend") == "hold"
    assert front.name == "frame_restore: front" and front.level == diag.OK, front.message
    assert front.message == "5 frames, 1 repaired"
    assert front.value("status.repaired") == "1" and front.value("status.clean") == "4"
    assert float(front.value("failed_ratio.dead")) > 0
    assert front.value("reference_age.frames") == "1" and front.value("backend") == "hold"
    assert float(front.value("latency_ms.p50")) > 0 and front.value("encoding") == "bgr8"
    assert rear.level == diag.STALE

    fresh = make_core()  # damaged before any clean frame: WARN, no reference
    run(fresh, "camera", image_message(damaged, index=0))
    report = fresh.diagnostics()[1]
    assert report.level == diag.WARN and "1 damaged frames passed through" in report.message

    array = wire(
        RosbagsMessageFactory().diagnostic_array(5_000_000_000, reports), DIAGNOSTIC_ARRAY
    )
    assert array.header.stamp.sec == 5 and [s.name for s in array.status] == [
        "frame_restore: model", "frame_restore: front", "frame_restore: rear",
    ]  # fmt: skip
    assert array.status[2].level == diag.STALE
    assert {kv.key for kv in array.status[1].values} >= {
        "failed_ratio.mean", "reference_age.s", "latency_ms.p99", "dropped.total", "backend",
    }  # fmt: skip


def test_whole_frame_failure_is_an_error(frames):
    core = make_core()
    warm(core, "camera", frames)
    black = np.zeros_like(frames[0])
    message = image_message(black, index=4)
    assert run(core, "camera", message)["restored"] is message
    report = core.diagnostics()[1]
    assert report.level == diag.ERROR and "whole frame failed" in report.message


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

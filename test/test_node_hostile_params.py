"""Hostile ``weights`` and ``engine_cache_dir`` values: refused naming the parameter, any backend.

The hostile-input review of the node, findings 4 (a junk or single-frame MAE weight file accepted
while the backend is hold, an MAE loaded by torch-cpu) and 5 (a device named "does not exist"; a
file as the engine cache accepted until a switch to an ONNX backend).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest
from fakes import READ_ALARM_S, stdout_in_child
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from frame_restore_ros.backends.onnx_cache import cache_dir_problem
from frame_restore_ros.backends.selection import load_backend
from frame_restore_ros.cli.main import main
from frame_restore_ros.model import (
    CheckpointError,
    SiamMCVAE,
    SingleFrameMAE,
    preset,
    read_metadata,
)
from frame_restore_ros.model.bundled import default_weights_path
from frame_restore_ros.model.checkpoint import save_checkpoint
from frame_restore_ros.node.core import NodeCore
from frame_restore_ros.node.message_factory import RosbagsMessageFactory
from frame_restore_ros.node.model_holder import BackendRequest, build_backend
from frame_restore_ros.node.parameters import NodeSettings, ParameterError

MAE_SMALL = default_weights_path("mae_small.safetensors")


@pytest.fixture(scope="module")
def junk(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """Weight files no model backend loads: {case: (path, words of the reason)}."""
    folder = tmp_path_factory.mktemp("junk")
    (folder / "text.safetensors").write_text("this is not a weight file\n" * 10)
    (folder / "empty.safetensors").write_bytes(b"")
    (folder / "random.safetensors").write_bytes(os.urandom(4096))
    (folder / "huge_header_len.safetensors").write_bytes(b"\xff" * 8 + b"{}")
    (folder / "a_dir.safetensors").mkdir()
    mae = save_checkpoint(
        SingleFrameMAE(preset("tiny").replace(architecture="mae")), folder / "mae.safetensors"
    )
    unreadable = "not a readable safetensors file"
    return {
        "text": (folder / "text.safetensors", unreadable),
        "empty": (folder / "empty.safetensors", unreadable),
        "random": (folder / "random.safetensors", unreadable),
        "huge header length": (folder / "huge_header_len.safetensors", unreadable),
        "missing": (folder / "missing.safetensors", "no such weight file"),
        "folder": (folder / "a_dir.safetensors", "is a directory"),
        "device": (Path("/dev/zero"), "not a regular file"),
        "tiny MAE": (mae, "holds a single-frame MAE (architecture mae), not a SiamMCVAE"),
        "bundled MAE": (MAE_SMALL, "holds a single-frame MAE (architecture mae), not a SiamMCVAE"),
    }


def hold_core(**overrides: object) -> NodeCore:
    values = {"backend": "hold", "align": "none", **overrides}
    return NodeCore(NodeSettings.build(values), RosbagsMessageFactory())


# --- weights, finding 4 ---------------------------------------------------------------------


def test_hold_backend_refuses_a_weights_file_no_model_would_load(junk):
    for case, (path, words) in junk.items():
        with pytest.raises(ParameterError) as caught:
            build_backend(BackendRequest("hold", str(path), "fp16", 0, ""))
        assert str(caught.value).startswith(f"weights: {path}"), case
        assert words in str(caught.value), case


def test_torch_cpu_refuses_a_single_frame_mae(junk):
    for case in ("tiny MAE", "bundled MAE"):
        path, words = junk[case]
        with pytest.raises(ParameterError, match=re.escape(words)):
            build_backend(BackendRequest("torch-cpu", str(path), "fp16", 0, ""))


def test_tensors_that_do_not_load_name_the_parameter(tmp_path):
    """Past the header check, the model loader's reason is named as the parameter's too."""
    good = save_checkpoint(SiamMCVAE(preset("tiny")), tmp_path / "good.safetensors")
    with safe_open(str(good), "pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(good))
    tensors.pop(sorted(tensors)[0])
    short = str(tmp_path / "short.safetensors")
    save_file(tensors, short, metadata=metadata)
    with pytest.raises(ParameterError, match="^weights: .*short.safetensors: tensors do not"):
        build_backend(BackendRequest("torch-cpu", short, "fp16", 0, ""))


def test_node_passes_the_reference_architecture_to_the_loader(monkeypatch, junk):
    """A file whose header passed the check is still loaded with architecture siammcvae."""
    from frame_restore_ros.backends import selection

    seen = {}

    def fake_load_backend(*args, **kwargs):
        seen.update(kwargs)
        return load_backend("hold")

    monkeypatch.setattr(selection, "load_backend", fake_load_backend)
    build_backend(BackendRequest("torch-cpu", "", "fp16", 0, ""))
    assert seen["architecture"] == "siammcvae"


def test_runtime_weights_change_under_hold_is_rejected_and_old_value_kept(junk):
    core = hold_core()
    backend = core.models.backend
    for case in ("text", "device", "bundled MAE"):
        path, words = junk[case]
        ok, why = core.update_parameters({"weights": str(path)})
        assert not ok and f"weights: {path}" in why and words in why, case
        assert "still running hold" in why
        assert core.settings["weights"] == "" and core.models.backend is backend
        assert core.models.state().weights != str(path)  # not listed as the running weights


def test_bad_weights_at_start_are_reported_not_listed_as_running(junk):
    path, words = junk["text"]
    core = hold_core(weights=str(path))
    assert core.models.backend is None  # frames pass through, as with any model that fails
    state = core.models.state()
    assert state.weights == "" and f"weights: {path}" in state.error and words in state.error
    model = core.diagnostics()[0]
    assert str(path) in model.message and model.value("weights") != str(path)


def test_good_weights_still_accepted_under_hold():
    core = hold_core()
    ok, why = core.update_parameters({"weights": str(default_weights_path())})
    assert ok, why


# --- regular files and the engine cache, finding 5 ---------------------------------------


def test_a_device_is_named_not_a_regular_file():
    with pytest.raises(CheckpointError, match="/dev/zero: not a regular file"):
        read_metadata("/dev/zero")
    with pytest.raises(CheckpointError, match="/dev/zero: not a regular file"):
        load_backend("hold", "/dev/zero")


def test_a_pipe_as_weights_does_not_block(tmp_path):
    """Opening a pipe waits for a writer (holding the GIL): check in a child with a timeout."""
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    code = (
        "import signal, sys\n"
        "from frame_restore_ros.model import CheckpointError, read_metadata\n"
        f"signal.alarm({READ_ALARM_S})\n"
        "try:\n"
        "    read_metadata(sys.argv[1])\n"
        "except CheckpointError as exc:\n"
        "    print(exc)\n"
    )
    assert f"{fifo}: not a regular file" in stdout_in_child(code, fifo, "read_metadata")


def test_cache_dir_problem_names_files_in_the_way_and_creates_nothing(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "with_onnx_file").mkdir()
    (tmp_path / "with_onnx_file" / "onnx").write_text("x")
    assert cache_dir_problem(tmp_path / "file") == f"{tmp_path / 'file'} is not a folder"
    assert "is not a folder" in cache_dir_problem(tmp_path / "with_onnx_file")
    assert cache_dir_problem(tmp_path / "file" / "sub") == (
        f"cannot create {tmp_path / 'file' / 'sub'}: {tmp_path / 'file'} is not a folder"
    )
    assert cache_dir_problem(Path("/proc/forbidden")).startswith(
        "cannot write in /proc/forbidden: no file can be created in /proc ("
    )
    assert cache_dir_problem(tmp_path / "new" / "cache") is None
    assert not (tmp_path / "new").exists()
    assert cache_dir_problem(tmp_path) is None


def test_bad_engine_cache_dir_is_rejected_whatever_the_backend(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParameterError, match=f"engine_cache_dir: {tmp_path / 'file'} is not a"):
        build_backend(BackendRequest("hold", "", "fp16", 0, str(tmp_path / "file")))
    core = hold_core()
    for bad in (str(tmp_path / "file"), "/proc/forbidden"):
        ok, why = core.update_parameters({"engine_cache_dir": bad})
        assert not ok and "engine_cache_dir: " in why and "still running hold" in why
        assert core.settings["engine_cache_dir"] == ""
    ok, why = core.update_parameters({"engine_cache_dir": str(tmp_path / "cache")})
    assert ok, why


def test_node_params_check_refuses_an_mae_and_a_bad_cache(tmp_path, caplog):
    (tmp_path / "file").write_text("x")
    path = tmp_path / "p.yaml"
    for line, words in (
        (f"weights: '{MAE_SMALL}'", f"weights: {MAE_SMALL}: holds a single-frame MAE"),
        (f"engine_cache_dir: '{tmp_path / 'file'}'", "engine_cache_dir: "),
    ):
        path.write_text(f"/**:\n  ros__parameters:\n    {line}\n")
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert main(["node-params", "--check", str(path)]) == 2
        assert f"{path}: {words}" in caplog.text


# --- output topics: one list, the table's (topic-name review) ---------------------------------


@pytest.fixture()
def ros(monkeypatch):
    """rclpy on this machine only, in a domain of its own (as test_node_rclpy.py)."""
    rclpy = pytest.importorskip("rclpy", reason="needs rclpy (ROS 2 Jazzy's wheels or a ROS 2)")
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    rclpy.init(domain_id=100 + os.getpid() % 100)
    yield
    rclpy.try_shutdown()


@pytest.mark.rclpy
def test_node_publishes_exactly_the_output_topics_of_the_table(ros):
    """The node takes its outputs from parameters.OUTPUT_TOPICS, which the topic check knows."""
    from rclpy.parameter import Parameter

    from frame_restore_ros.node import parameters, ros_node

    assert ros_node.OUTPUT_TOPICS is parameters.OUTPUT_TOPICS  # no second list to drift
    overrides = {"backend": "hold", "cameras": ["front", "rear"], "rear.transport": "compressed"}
    node = ros_node.FrameRestoreNode(
        namespace="/car", parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()]
    )
    try:
        published = dict(node.get_publisher_names_and_types_by_node(node.get_name(), "/car"))
    finally:
        node.destroy_node()
    for camera, kind in (("front", "Image"), ("rear", "CompressedImage")):
        base = f"/car/{camera}/image_raw"
        outputs = {topic for topic in published if topic.startswith(base + "/")}
        assert outputs == {f"{base}/{output}" for output in parameters.OUTPUT_TOPICS}
        for output in parameters.OUTPUT_TOPICS:
            wanted = kind if output == "restored" else "Image"
            assert published[f"{base}/{output}"] == [f"sensor_msgs/msg/{wanted}"], output


# --- topic names for the node's real name and namespace -------------------------------------

LONG_NAMESPACE = "/long_namespace_here"
PRIVATE_TOPIC = "~/" + "a" * 214  # fits /frame_restore in "/" and "/ns", not in LONG_NAMESPACE


def start_node(topic: str, **kwargs: object):
    """Start the rclpy node on hold with ``camera.input_topic`` ``topic`` (empty: the default)."""
    from rclpy.parameter import Parameter

    from frame_restore_ros.node.ros_node import FrameRestoreNode

    overrides = {"backend": "hold", "camera.input_topic": topic}
    params = [Parameter(k, value=v) for k, v in overrides.items()]
    return FrameRestoreNode(parameter_overrides=params, **kwargs)


@pytest.mark.rclpy
@pytest.mark.parametrize(
    ("topic", "kwargs", "words"),
    [
        (
            PRIVATE_TOPIC,
            {"namespace": LONG_NAMESPACE},
            "once resolved to '/long_namespace_here/frame_restore/aaa",
        ),
        (  # a node name that leaves its services room, not the outputs of this topic
            "{node}/" + "x" * 20,
            {"cli_args": ["--ros-args", "-r", f"__node:={'n' * 215}"]},
            "the output topic '/nnnn",
        ),
        (  # remapped: the input fits, its outputs do not
            "",
            {"cli_args": ["--ros-args", "-r", f"camera/image_raw:=/{'b' * 240}"]},
            "rclpy refuses 'camera/image_raw' for its output '/bbbb",
        ),
        (  # remapped: the input itself does not resolve
            "",
            {"cli_args": ["--ros-args", "-r", f"camera/image_raw:=/{'b' * 250}"]},
            "rclpy refuses 'camera/image_raw' in namespace '/' (after any remapping): failed to "
            "resolve name: topic length should not exceed",
        ),
    ],
    ids=["namespace", "node name", "remapped outputs", "remapped input"],
)
def test_a_topic_the_real_node_cannot_use_is_a_parameter_error(ros, topic, kwargs, words):
    """Not rclpy's InvalidTopicNameException (or RCLError): the parameter, in one line."""
    with pytest.raises(ParameterError) as caught:
        start_node(topic, **kwargs)
    assert str(caught.value).startswith("camera.input_topic")
    assert words in str(caught.value) and "\n" not in str(caught.value)
    from frame_restore_ros.node.ros_node import _RosLogHandler

    handlers = logging.getLogger("frame_restore_ros").handlers  # the refused node let go
    assert not [h for h in handlers if isinstance(h, _RosLogHandler)]


@pytest.mark.rclpy
def test_the_private_topic_still_starts_where_it_fits(ros):
    node = start_node(PRIVATE_TOPIC, namespace="/ns")
    try:
        assert node.core.topics["camera"] == "/ns/frame_restore/" + "a" * 214
    finally:
        node.destroy_node()


@pytest.mark.rclpy
def test_main_exits_2_naming_the_input_topic(monkeypatch, caplog):
    """``ros2 run ... --ros-args -r __ns:=...``: exit 2 and one line, no traceback."""
    pytest.importorskip("rclpy", reason="needs rclpy (ROS 2 Jazzy's wheels or a ROS 2)")
    from frame_restore_ros.node.ros_node import main as node_main

    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    monkeypatch.setenv("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))
    args = ["frame_restore", "--ros-args", "-r", f"__ns:={LONG_NAMESPACE}"]
    args += ["-p", "backend:=hold", "-p", f"camera.input_topic:={PRIVATE_TOPIC}"]
    with caplog.at_level(logging.ERROR):
        assert node_main(args) == 2
    assert "invalid parameters: camera.input_topic: '~/aaa" in caplog.text
    assert "once resolved to '/long_namespace_here/frame_restore/aaa" in caplog.text
    assert "InvalidTopicNameException" not in caplog.text and "Traceback" not in caplog.text


@pytest.mark.rclpy
def test_two_cameras_whose_topics_resolve_alike_are_refused(ros):
    """``x`` and ``/ns/x`` differ as written (the parameter check passes them) but are one topic
    in namespace /ns: both cameras would publish to /ns/x/restored. The node names the clash."""
    from rclpy.parameter import Parameter

    from frame_restore_ros.node.ros_node import FrameRestoreNode

    overrides = {
        "backend": "hold",
        "cameras": ["front", "rear"],
        "front.input_topic": "x",
        "rear.input_topic": "/ns/x",
    }
    params = [Parameter(k, value=v) for k, v in overrides.items()]
    with pytest.raises(ParameterError) as caught:
        FrameRestoreNode(namespace="/ns", parameter_overrides=params)
    message = str(caught.value)
    assert message.startswith("rear.input_topic: '/ns/x' resolves to '/ns/x'")
    assert "camera front reads too (as 'x'" in message and "\n" not in message
    node = FrameRestoreNode(namespace="/other", parameter_overrides=params)  # two topics there
    try:
        assert node.core.topics == {"front": "/other/x", "rear": "/ns/x"}
    finally:
        node.destroy_node()

"""The rclpy node in a ROS 2 environment: topics, headers, bad input, parameters, diagnostics.

Skipped, with the reason, where rclpy is not installed (the core behind it is tested without ROS
in test_node_core.py).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

rclpy = pytest.importorskip(
    "rclpy", reason="needs a ROS 2 installation (source /opt/ros/$ROS_DISTRO/setup.bash)"
)
pytestmark = pytest.mark.rclpy

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from frame_restore_ros.codec.image_codec import read_native  # noqa: E402
from frame_restore_ros.node.ros_node import FrameRestoreNode, uint8_array  # noqa: E402
from frame_restore_ros.synthetic.injection import InjectionItem  # noqa: E402


@pytest.fixture()
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


def to_msg(frame: np.ndarray, index: int, encoding: str = "bgr8") -> Image:
    msg = Image()
    msg.header.stamp.sec = 100 + index // 25
    msg.header.stamp.nanosec = (index % 25) * 40_000_000
    msg.header.frame_id = "front_optical"
    msg.height, msg.width = frame.shape[:2]
    msg.encoding = encoding
    msg.step = frame.shape[1] * 3
    msg.data = uint8_array(np.ascontiguousarray(frame))
    return msg


class Harness:
    """The node plus a test node that publishes input and collects outputs."""

    def __init__(self, overrides: dict[str, object]) -> None:
        params = [Parameter(k, value=v) for k, v in {"backend": "hold", **overrides}.items()]
        self.node = FrameRestoreNode(parameter_overrides=params)
        self.peer = rclpy.create_node("frame_restore_test_peer")
        self.input = self.peer.create_publisher(Image, "/camera/image_raw", 10)
        self.restored: list[Image] = []
        self.masks: list[Image] = []
        self.diagnostics: list[DiagnosticArray] = []
        self.peer.create_subscription(
            Image, "/camera/image_raw/restored", self.restored.append, 10
        )
        self.peer.create_subscription(
            Image, "/camera/image_raw/failure_mask", self.masks.append, 10
        )
        self.peer.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 10)
        self.executor = MultiThreadedExecutor(num_threads=4)
        self.executor.add_node(self.node)
        self.executor.add_node(self.peer)

    def spin_until(self, condition, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)
            if condition():
                return True
        return False

    def send(self, msg: Image) -> None:
        count = len(self.restored)
        self.input.publish(msg)
        assert self.spin_until(lambda: len(self.restored) > count), "no output"

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.peer.destroy_node()


@pytest.fixture()
def harness(ros):
    made = []

    def make(**overrides):
        made.append(Harness(overrides))
        made[-1].spin_until(lambda: made[-1].input.get_subscription_count() > 0)
        return made[-1]

    yield make
    for h in made:
        h.close()


def test_subscription_uses_sensor_data_qos(harness):
    h = harness()
    infos = h.peer.get_subscriptions_info_by_topic("/camera/image_raw")
    assert infos and infos[0].qos_profile.reliability == qos_profile_sensor_data.reliability


def test_clean_and_repaired_frames_keep_header_and_good_pixels(harness, bikes_frames):
    h = harness(align="none")
    frames = bikes_frames[17:]
    for index in range(4):
        h.send(to_msg(frames[index], index))
    damaged = InjectionItem("dead", 2).apply(frames[4], np.random.default_rng(1))
    h.send(to_msg(damaged.damaged, 4))
    assert h.spin_until(lambda: len(h.masks) >= 5)
    out = h.restored[-1]
    assert out.header.frame_id == "front_optical" and out.header.stamp.nanosec == 160_000_000
    restored = read_native(out)
    good = ~damaged.mask
    assert np.array_equal(restored[good], damaged.damaged[good])
    assert not np.array_equal(restored, damaged.damaged)
    assert read_native(h.masks[-1]).any()


def test_bad_message_is_republished_unchanged_and_node_keeps_running(harness, bikes_frames):
    h = harness()
    bad = to_msg(bikes_frames[20], 0)
    bad.step = 5  # shorter than a row
    h.send(bad)
    assert h.restored[-1].step == 5 and bytes(h.restored[-1].data) == bytes(bad.data)
    h.send(to_msg(bikes_frames[21], 1))
    assert h.node.core.cameras["camera"].stats.totals.bad_messages["bad_size"] == 1


def test_parameter_changes_are_validated_at_run_time(harness):
    h = harness()
    result = h.node.set_parameters([Parameter("align", value="orb")])[0]
    assert not result.successful and "align must be one of" in result.reason
    assert h.node.get_parameter("align").value == "ecc"
    result = h.node.set_parameters([Parameter("feather_px", value=8)])[0]
    assert result.successful and h.node.core.settings["feather_px"] == 8
    result = h.node.set_parameters([Parameter("qos.depth", value=3)])[0]
    assert not result.successful  # read-only


def test_diagnostics_are_published(harness, bikes_frames):
    h = harness(**{"diagnostics.period_s": 0.2})
    h.send(to_msg(bikes_frames[20], 0))
    assert h.spin_until(lambda: len(h.diagnostics) >= 2)
    names = [s.name for s in h.diagnostics[-1].status]
    assert "frame_restore: camera" in names and "frame_restore: model" in names

"""launch_testing: frame_restore.launch.py starts the node, remaps a camera, and it republishes.

Runs under ``colcon test`` in a ROS 2 workspace; skipped, with the reason, elsewhere.
"""

from __future__ import annotations

import time
import unittest
from pathlib import Path

import pytest

pytest.importorskip(
    "launch_testing", reason="needs ROS 2 launch_testing (source /opt/ros/$ROS_DISTRO/setup.bash)"
)
pytestmark = pytest.mark.rclpy

import launch  # noqa: E402
import launch_testing.actions  # noqa: E402
import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from frame_restore_ros.node.message_factory import uint8_array  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.launch_test
def generate_test_description():
    include = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(ROOT / "launch" / "frame_restore.launch.py")),
        launch_arguments={
            "params_file": str(ROOT / "config" / "frame_restore.yaml"),
            "camera_topics": "camera=/launch_test/image_raw",
        }.items(),
    )
    return launch.LaunchDescription([include, launch_testing.actions.ReadyToTest()])


class TestLaunchedNode(unittest.TestCase):
    def test_republishes_on_the_remapped_topic(self):
        rclpy.init()
        node = rclpy.create_node("launch_test_peer")
        received = []
        node.create_subscription(Image, "/launch_test/image_raw/restored", received.append, 10)
        publisher = node.create_publisher(Image, "/launch_test/image_raw", 10)
        msg = Image(height=64, width=64, encoding="bgr8", step=192)
        msg.data = uint8_array(np.random.default_rng(0).integers(0, 255, 64 * 64 * 3, np.uint8))
        deadline = time.monotonic() + 60  # the first start may export the ONNX model
        try:
            while not received and time.monotonic() < deadline:
                publisher.publish(msg)
                rclpy.spin_once(node, timeout_sec=0.5)
        finally:
            node.destroy_node()
            rclpy.shutdown()
        self.assertTrue(received, "no message on /launch_test/image_raw/restored")
        self.assertEqual(received[0].width, 64)

"""Console entry point ``frame_restore`` (``ros2 run frame_restore_ros frame_restore``).

Kept apart from :mod:`frame_restore_ros.node.ros_node` so that, without ROS, the command says what
is missing instead of printing an import traceback.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Start the node, or explain that ROS 2 is not sourced."""
    try:
        from frame_restore_ros.node.ros_node import main as node_main
    except ImportError as exc:
        sys.stderr.write(
            f"frame_restore: the ROS 2 node needs rclpy and the sensor_msgs, diagnostic_msgs and "
            f"rcl_interfaces Python packages ({exc}). Source your ROS 2 setup "
            f"(source /opt/ros/$ROS_DISTRO/setup.bash). Without ROS, `frame-restore replay` "
            f"runs the same core on bags.\n"
        )
        return 2
    return node_main()


if __name__ == "__main__":
    sys.exit(main())

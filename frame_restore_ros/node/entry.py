"""Console entry point ``frame_restore`` (``ros2 run frame_restore_ros frame_restore``).

Kept apart from :mod:`frame_restore_ros.node.ros_node` so that a missing dependency is named
(which module, and how to get it) instead of an import traceback.
"""

from __future__ import annotations

import sys

#: Top-level modules of the ROS 2 client library and message packages the node needs.
ROS_MODULES = frozenset(
    {
        "rclpy",
        "rcl_interfaces",
        "builtin_interfaces",
        "std_msgs",
        "sensor_msgs",
        "diagnostic_msgs",
    }
)


def missing_module_help(exc: ImportError) -> str:
    """Say which module failed to import and how to provide it."""
    name = exc.name or str(exc)
    top = name.split(".")[0]
    if top in ROS_MODULES:
        how = (
            "source your ROS 2 setup (source /opt/ros/$ROS_DISTRO/setup.bash), or in a plain venv "
            "pip install ros-jazzy-rclpy ros-jazzy-sensor-msgs ros-jazzy-diagnostic-msgs "
            "ros-jazzy-rmw-fastrtps-cpp (README: running the node from a venv)"
        )
    else:
        how = (
            "install the package's Python dependencies into the Python that runs the node "
            "(pip install torch first, then pip install -e . or the list in README.md, "
            '"In a ROS 2 workspace")'
        )
    return f"frame_restore: cannot import {name!r} ({exc}); {how}.\n"


def main() -> int:
    """Start the node, or name the module that is missing."""
    try:
        from frame_restore_ros.node.ros_node import main as node_main
    except ImportError as exc:
        sys.stderr.write(missing_module_help(exc))
        return 2
    except KeyboardInterrupt:  # Ctrl-C while Python imports torch and rclpy (~1 s): no ROS yet
        return 0
    return node_main()


if __name__ == "__main__":
    sys.exit(main())

"""The transport-free core of the ``frame_restore`` node (no ROS import).

The rclpy adapter (``node.ros_node``) only converts and publishes messages; everything
that decides (per-camera state, drop policy, parameter validation, model swaps, diagnostics) is
here and is tested with rosbags' ROS 2 message types serialized to CDR and back.
"""

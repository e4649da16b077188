"""Image and video reading and conversion (ROS-free)."""

"""frame_restore_ros: repair failed camera regions from the last clean frame with SiamMCVAE.

The core (everything except the ``node`` adapters) imports no ROS, cv_bridge or TensorRT module.
"""

__version__ = "0.1.0"

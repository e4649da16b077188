"""Build and serialize the sensor_msgs this package writes (rosbags message classes, CDR)."""

from __future__ import annotations

import numpy as np
from rosbags.typesys import Stores, get_typestore

from frame_restore_ros.codec.image_codec import native_to_fields

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
#: Message definitions for the messages this package writes (unchanged from Humble to Jazzy).
OUTPUT_TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)
_TYPES = OUTPUT_TYPESTORE.types
Image = _TYPES[IMAGE_TYPE]
CompressedImage = _TYPES[COMPRESSED_TYPE]
Header = _TYPES["std_msgs/msg/Header"]
Time = _TYPES["builtin_interfaces/msg/Time"]


def copy_header(header: object) -> object:
    """Return a ROS 2 Header with the same stamp and frame_id (ROS 1 headers lose only ``seq``)."""
    stamp = header.stamp
    return Header(
        stamp=Time(sec=int(stamp.sec), nanosec=int(stamp.nanosec)), frame_id=header.frame_id
    )


def stamp_seconds(header: object) -> float:
    """Return the header stamp in seconds."""
    return int(header.stamp.sec) + int(header.stamp.nanosec) * 1e-9


def make_header(stamp_ns: int, frame_id: str) -> object:
    """Return a ROS 2 Header stamped ``stamp_ns`` (ns since the epoch)."""
    return Header(
        stamp=Time(sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000)),
        frame_id=frame_id,
    )


def image_cdr(header: object, native: np.ndarray, encoding: str) -> bytes:
    """Serialize a sensor_msgs/Image of ``native`` pixels (see image_codec.read_native)."""
    message = Image(header=copy_header(header), **native_to_fields(native, encoding))
    return bytes(OUTPUT_TYPESTORE.serialize_cdr(message, IMAGE_TYPE))


def compressed_cdr(header: object, fmt: str, data: bytes) -> bytes:
    """Serialize a sensor_msgs/CompressedImage."""
    message = CompressedImage(
        header=copy_header(header), format=fmt, data=np.frombuffer(data, dtype=np.uint8)
    )
    return bytes(OUTPUT_TYPESTORE.serialize_cdr(message, COMPRESSED_TYPE))

"""Building the messages the node publishes, behind a small interface.

The core builds outputs through a :class:`MessageFactory`: rosbags' ROS 2 message classes here
(tests, benchmarks, bag tools), rclpy's generated classes in the node (``node.py``). Headers are
passed through as the input's own header object: stamps always come from the input.
"""

from __future__ import annotations

import array
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from frame_restore_ros.codec.messages import (
    OUTPUT_TYPESTORE,
    CompressedImage,
    Image,
    make_header,
)
from frame_restore_ros.node.diagnostics import DiagnosticReport

_TYPES = OUTPUT_TYPESTORE.types
DiagnosticArray = _TYPES["diagnostic_msgs/msg/DiagnosticArray"]
DiagnosticStatus = _TYPES["diagnostic_msgs/msg/DiagnosticStatus"]
KeyValue = _TYPES["diagnostic_msgs/msg/KeyValue"]


def uint8_array(data: object) -> array.array:
    """Copy a bytes-like object into the ``array.array('B')`` rclpy keeps uint8[] fields in.

    Assigning bytes or a numpy array instead makes rclpy check every element in Python (seconds
    for a 1080p image); this is one memcpy.
    """
    out = array.array("B")
    out.frombytes(data)
    return out


class MessageFactory(Protocol):
    """Makes sensor_msgs and diagnostic_msgs objects of one ROS client library."""

    def image(self, header: object, fields: dict[str, object]) -> object:
        """sensor_msgs/Image with ``header`` and the fields of ``image_codec.native_to_fields``."""
        ...

    def compressed(self, header: object, fmt: str, data: bytes) -> object:
        """sensor_msgs/CompressedImage."""
        ...

    def diagnostic_array(self, stamp_ns: int, reports: Sequence[DiagnosticReport]) -> object:
        """diagnostic_msgs/DiagnosticArray stamped ``stamp_ns`` (node clock)."""
        ...


class RosbagsMessageFactory:
    """rosbags' ROS 2 (Humble) message classes; serialize with ``OUTPUT_TYPESTORE``."""

    def image(self, header: object, fields: dict[str, object]) -> object:
        return Image(header=header, **fields)

    def compressed(self, header: object, fmt: str, data: bytes) -> object:
        return CompressedImage(header=header, format=fmt, data=np.frombuffer(data, np.uint8))

    def diagnostic_array(self, stamp_ns: int, reports: Sequence[DiagnosticReport]) -> object:
        return DiagnosticArray(
            header=make_header(stamp_ns, ""),
            status=[
                DiagnosticStatus(
                    level=r.level,
                    name=r.name,
                    message=r.message,
                    hardware_id=r.hardware_id,
                    values=[KeyValue(key=k, value=v) for k, v in r.values],
                )
                for r in reports
            ],
        )

"""What the node adds around the restorer: message conversion and publishing, per frame.

``frame-restore bench node`` feeds real frames as received ROS 2 messages through
:class:`NodeCore`: bigbuckbunny.mp4 from frame 10, scaled to the asked size, plus 0-2 gray levels
of sensor noise (without it the scaled video has bit-identical static blocks that the frozen-block
detector rightly flags), every other frame with a dead block. Each frame's time is split into the
restorer (detection, reference, inference, compositing) and the node's own work around it:
decoding the message, writing repaired pixels back into the input encoding, building the output
messages (repaired image, mask) the way the rclpy adapter does (one copy into ``array.array``),
and serializing them to CDR as a publish does (rosbags' serializer stands in for rmw's, which is
C; the DDS transport itself is not part of the node and not timed).
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import cv2
import numpy as np
from tqdm import tqdm

from frame_restore_ros.codec.image_codec import (
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    bgr_to_native,
    native_to_fields,
)
from frame_restore_ros.codec.messages import IMAGE_TYPE, OUTPUT_TYPESTORE, Image, make_header
from frame_restore_ros.detection.detector import MIN_FRAME_SIDE
from frame_restore_ros.media.video import read_frames, sample_video_path
from frame_restore_ros.node.core import NodeCore
from frame_restore_ros.node.message_factory import RosbagsMessageFactory, uint8_array
from frame_restore_ros.node.parameters import NodeSettings
from frame_restore_ros.synthetic.injection import InjectionItem

# Every other timed frame is damaged: 2 timed frames give a clean and a repaired one.
NODE_MIN_FRAMES = 2


def frame_size_problem(width: int, height: int) -> str | None:
    """Why the node would refuse ``width`` x ``height`` frames (its own bounds), or None."""
    if min(width, height) < MIN_FRAME_SIDE:
        return f"at least {MIN_FRAME_SIDE}x{MIN_FRAME_SIDE} (the node's smallest frame)"
    if max(width, height) > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        return (
            f"at most {MAX_IMAGE_SIDE} px a side and {MAX_IMAGE_PIXELS / 1e6:.1f} Mpx (the "
            "node's MAX_IMAGE_SIDE, MAX_IMAGE_PIXELS)"
        )
    return None


class _RclpyLikeFactory(RosbagsMessageFactory):
    """Builds messages with the copies the rclpy adapter makes (``uint8_array``)."""

    def image(self, header: object, fields: dict[str, object]) -> object:
        return SimpleNamespace(header=header, **{**fields, "data": uint8_array(fields["data"])})


def _rosbags_publish(message: object) -> None:
    if isinstance(message, SimpleNamespace):  # back to a rosbags Image for the serializer
        data = np.frombuffer(message.data, np.uint8)
        message = Image(**{**vars(message), "data": data})
    OUTPUT_TYPESTORE.serialize_cdr(message, IMAGE_TYPE)


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "mean_ms": round(float(np.mean(values)), 3),
    }


def run_node_overhead_benchmark(
    width: int = 1920,
    height: int = 1080,
    encoding: str = "bgr8",
    frames: int = 120,
    warmup: int = 8,
    progress: bool = True,
) -> dict[str, object]:
    """Time the node's work around the restorer for clean and repaired frames.

    Returns per kind ("clean", "repaired") p50/p99/mean of: ``conversion_ms`` (decode, merge,
    output messages), ``publish_ms`` (CDR serialization of every published message) and their
    sum ``node_overhead_ms``, plus the restorer's own time for scale. Raises ValueError for a
    size the node refuses (:func:`frame_size_problem`) or fewer than :data:`NODE_MIN_FRAMES`.
    """
    problem = frame_size_problem(width, height)
    if problem:
        raise ValueError(f"frame size must be {problem}, got {width}x{height}")
    if frames < NODE_MIN_FRAMES:
        raise ValueError(f"frames must be >= {NODE_MIN_FRAMES}, got {frames}")
    source = read_frames(sample_video_path("bigbuckbunny.mp4"), max_frames=40)[10:]
    scenes = [cv2.resize(f, (width, height), interpolation=cv2.INTER_LINEAR) for f in source]
    settings = NodeSettings.build({"backend": "hold", "align": "none"})
    core = NodeCore(settings, _RclpyLikeFactory())
    rng = np.random.default_rng(0)
    dead = InjectionItem("dead", 2)  # two dead blocks
    timings: dict[str, dict[str, list[float]]] = {
        kind: {"conversion": [], "publish": [], "restorer": []} for kind in ("clean", "repaired")
    }
    for index in tqdm(range(frames + warmup), desc="node overhead", disable=not progress):
        scene = cv2.add(scenes[index % len(scenes)], rng.integers(0, 3, scenes[0].shape, np.uint8))
        damaged = index >= 4 and index % 2 == 0
        frame = dead.apply(scene, rng).damaged if damaged else scene
        fields = native_to_fields(bgr_to_native(frame, encoding), encoding)
        header = make_header(1_000_000_000 + index * 40_000_000, "camera")
        message = Image(header=header, **fields)
        start = time.perf_counter()
        core.receive("camera", message)
        publications = core.process("camera", core.next_frame("camera", 0))
        processed = time.perf_counter()
        for publication in publications:
            _rosbags_publish(publication.message)
        published = time.perf_counter()
        stats = core.cameras["camera"].stats
        restorer_ms = stats.latency_ms[-1]
        kind = stats.last_status
        if kind not in timings or index < warmup:
            continue  # a pass-through (the first frames have no reference): not timed
        timings[kind]["conversion"].append((processed - start) * 1000 - restorer_ms)
        timings[kind]["publish"].append((published - processed) * 1000)
        timings[kind]["restorer"].append(restorer_ms)
    result: dict[str, object] = {
        "resolution": f"{width}x{height}",
        "encoding": encoding,
        "frames": frames,
        "publish_stand_in": "rosbags serialize_cdr (no rclpy here)",
    }
    for kind, parts in timings.items():
        if not parts["conversion"]:
            continue
        total = [c + p for c, p in zip(parts["conversion"], parts["publish"], strict=True)]
        result[kind] = {
            "count": len(total),
            "conversion_ms": _stats(parts["conversion"]),
            "publish_ms": _stats(parts["publish"]),
            "node_overhead_ms": _stats(total),
            "restorer_ms": _stats(parts["restorer"]),
        }
    return result

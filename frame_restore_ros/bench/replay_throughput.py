"""Bag I/O throughput alone, to set beside the whole replay (``frame-restore bench --replay``)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from frame_restore_ros.bag.bag_io import COMPRESSED_TYPE, AtomicBagWriter, BagReader
from frame_restore_ros.codec.image_codec import decode_compressed, decode_image, encode_compressed
from frame_restore_ros.codec.messages import compressed_cdr, image_cdr


def bag_io_throughput(bag: Path, storage: str = "mcap") -> dict[str, float]:
    """Copy ``bag`` as replay does, minus the restorer.

    Every message is copied; each image message is also deserialized, decoded, re-encoded in its
    own encoding, serialized and written. Returns frames, seconds, frames/s and input MB/s.
    """
    frames, megabytes = 0, 0.0
    with tempfile.TemporaryDirectory() as scratch, BagReader(bag) as reader:
        start = time.perf_counter()
        with AtomicBagWriter(Path(scratch) / "copy", storage) as writer:
            for spec in reader.topic_specs():
                writer.add_topic(spec)
            cameras = set(reader.image_topics())
            for topic in cameras:
                writer.add_output_topic(f"{topic}/restored", reader.topics[topic])
            for message in reader.messages():
                writer.write(message.topic, message.timestamp, message.cdr)
                megabytes += len(message.cdr) / 1e6
                if message.topic not in cameras:
                    continue
                msg = reader.deserialize(message)
                if message.msgtype == COMPRESSED_TYPE:
                    decoded = decode_compressed(msg.format, msg.data)
                    payload = encode_compressed(decoded.bgr, msg.format)
                    cdr = compressed_cdr(msg.header, msg.format, payload)
                else:
                    decoded = decode_image(msg)
                    cdr = image_cdr(msg.header, decoded.native, decoded.encoding)
                writer.write(f"{message.topic}/restored", message.timestamp, cdr)
                frames += 1
        seconds = time.perf_counter() - start
    return {
        "frames": frames,
        "seconds": round(seconds, 3),
        "frames_per_second": round(frames / seconds, 1),
        "input_megabytes_per_second": round(megabytes / seconds, 1),
    }

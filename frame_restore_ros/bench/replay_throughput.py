"""Frames/s on one bag: bag I/O alone vs the whole replay (``frame-restore bench replay``)."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from frame_restore_ros.bag.bag_io import AtomicBagWriter, BagReader
from frame_restore_ros.codec.image_codec import decode_compressed, decode_image, encode_compressed
from frame_restore_ros.codec.messages import COMPRESSED_TYPE, compressed_cdr, image_cdr

log = logging.getLogger(__name__)


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


def replay_throughput(
    bag: Path,
    inject: str,
    backend: str = "auto",
    precision: str = "fp16",
    progress: bool = True,
) -> dict[str, object]:
    """Frames/s of bag I/O alone and of the whole replay (scoring off) on ``bag``.

    Half the frames are damaged with ``inject`` (a ``--inject`` SPEC); the model is the bundled
    default on ``backend`` (``backends.selection.load_backend``, ``hold`` included).
    """
    from frame_restore_ros.backends.selection import load_backend
    from frame_restore_ros.bag.replay import ReplayOptions, replay
    from frame_restore_ros.synthetic.injection import InjectionSpec

    spec = InjectionSpec.parse(inject, rate=0.5)  # a bad SPEC fails before any work
    io_only = bag_io_throughput(bag)
    log.info("bag I/O alone: %s", io_only)
    options = ReplayOptions(inject=spec, score=False, strips=0, progress=progress)
    with tempfile.TemporaryDirectory() as scratch:
        loaded = load_backend(backend, precision=precision, cache_dir=Path(scratch))
        result = replay(bag, Path(scratch) / "out", loaded.backend, options)
    frames = sum(c.frames for c in result.cameras.values())
    restorer_ms = sorted(ms for c in result.cameras.values() for ms in c.restorer_ms)
    return {
        "bag": str(bag),
        "bag_io_alone": io_only,
        "whole_pipeline": {
            "frames": frames,
            "seconds": round(result.wall_seconds, 3),
            "frames_per_second": round(frames / result.wall_seconds, 1),
            "stage_seconds": {k: round(v, 3) for k, v in result.stage_seconds.items()},
            "restorer_ms_p50": round(restorer_ms[len(restorer_ms) // 2], 1),
        },
        "inject": inject,
        "backend": result.backend,
    }

"""Make a ROS 2 bag of camera images from a video file or an image folder (``make-bag``)."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from frame_restore_ros.bag.bag_io import AtomicBagWriter
from frame_restore_ros.codec.image_codec import (
    SUPPORTED_ENCODINGS,
    bgr_to_native,
    encode_compressed,
    odd_width_problem,
)
from frame_restore_ros.codec.messages import (
    COMPRESSED_TYPE,
    IMAGE_TYPE,
    compressed_cdr,
    image_cdr,
    make_header,
)
from frame_restore_ros.detection.detector import MIN_FRAME_SIDE
from frame_restore_ros.media.video import iter_frames, video_fps

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".pgm")
COMPRESSED_FORMATS = ("jpeg", "png")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # one token of a ROS 2 topic name
#: The latest stamp a ROS 2 header holds: builtin_interfaces/Time has int32 seconds.
MAX_STAMP_NS = 2**31 * 10**9 - 1
MAX_RATE_HZ = 1e9  # a period of at least 1 ns
#: Encodings a CompressedImage can carry (JPEG: the 8-bit ones); bgr8 keeps the plain format.
COMPRESSED_ENCODINGS = ("bgr8", "rgb8", "mono8", "mono16", "bgr16", "rgb16")
#: A video that yields less than this fraction of the frames its container declares is "short".
SHORT_VIDEO_FRACTION = 0.9


def topic_name_problem(topic: str) -> str | None:
    """Return why ``topic`` is not a fully qualified ROS 2 topic name, or None.

    The rules of design.ros2.org "Topic and Service Names", without the
    substitutions a bag cannot hold: ``/``-separated tokens of letters, digits and underscores,
    none empty (``//``, a trailing ``/``) or starting with a digit, no ``__``.
    """
    bad = next(
        (t for t in topic.removeprefix("/").split("/") if not _TOKEN.fullmatch(t) or "__" in t),
        None,
    )
    if bad is None:
        return None
    what = "an empty token" if not bad else f"the token {bad!r}"
    return (
        f"topic {topic!r} is not a valid ROS 2 topic name ({what}): a topic name is /-separated "
        "tokens of letters, digits and underscores, none empty or starting with a digit, with no "
        "repeated underscore (__) and no trailing /"
    )


@dataclass
class CameraSource:
    """One camera of the bag: where its frames come from and how they are published."""

    path: Path
    topic: str
    frame_id: str = "camera"
    encoding: str = "bgr8"
    compressed: str | None = None  # "jpeg" or "png": publish sensor_msgs/CompressedImage

    def __post_init__(self) -> None:
        if self.compressed is not None and self.compressed not in COMPRESSED_FORMATS:
            raise ValueError(f"compressed format must be jpeg or png, got {self.compressed!r}")
        if self.compressed is not None:
            allowed = (
                COMPRESSED_ENCODINGS[:3] if self.compressed == "jpeg" else COMPRESSED_ENCODINGS
            )
            if self.encoding not in allowed:
                raise ValueError(
                    f"encoding {self.encoding!r} cannot be {self.compressed}-compressed; "
                    "choose from " + ", ".join(allowed)
                )
        if self.compressed is None and self.encoding not in SUPPORTED_ENCODINGS:
            raise ValueError(
                f"unsupported encoding {self.encoding!r}; choose from "
                + ", ".join(SUPPORTED_ENCODINGS)
            )
        if not self.topic.startswith("/"):
            self.topic = "/" + self.topic
        if problem := topic_name_problem(self.topic):
            raise ValueError(problem)

    @property
    def format(self) -> str:
        """The CompressedImage ``format``: "png", or "mono16; png compressed mono16" style."""
        assert self.compressed is not None
        if self.encoding == "bgr8":
            return self.compressed
        target = "mono" if self.encoding.startswith("mono") else "bgr"
        depth = "16" if self.encoding.endswith("16") else "8"
        return f"{self.encoding}; {self.compressed} compressed {target}{depth}"


def image_files(folder: Path) -> list[Path]:
    """Return the images of a folder that make-bag reads, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def iter_source(path: Path, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """BGR uint8 frames of a video file or of the images in a folder (sorted by name)."""
    path = Path(path)
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {path}")
        for file in files[:max_frames]:
            frame = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if frame is None:
                raise ValueError(f"cannot read image {file}")
            yield frame
        return
    yield from iter_frames(path, max_frames=max_frames)


def declared_frames(path: Path) -> int:
    """Frames a video's container declares (OpenCV's frame count), 0 if unknown or a folder."""
    if Path(path).is_dir():
        return 0
    capture = cv2.VideoCapture(str(path))
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    capture.release()
    return int(count) if math.isfinite(count) and count > 0 else 0


def source_length(path: Path, max_frames: int | None) -> int | None:
    if Path(path).is_dir():
        count = len(image_files(path))
    else:
        count = declared_frames(path)
    if not count:
        return max_frames
    return min(count, max_frames) if max_frames else count


def frame_name(source: CameraSource, index: int) -> str:
    """Name frame ``index`` of a source: its image file, or the video and the frame number."""
    if Path(source.path).is_dir():
        return str(image_files(source.path)[index])
    return f"{source.path} frame {index}"


def check_width(source: CameraSource, frame: np.ndarray, index: int) -> None:
    """Raise ValueError if ``source.encoding`` cannot hold the frame's width (odd 4:2:2)."""
    if problem := odd_width_problem(frame.shape[1], source.encoding):
        raise ValueError(
            f"{frame_name(source, index)}: {problem}; crop or resize the input to an even "
            "width, or choose another --encoding"
        )


def warn_short_videos(
    sources: list[CameraSource], counts: dict[str, int], max_frames: int | None
) -> dict[str, dict[str, int]]:
    """Warn about videos that yielded far fewer frames than their container declares.

    Returns topic -> {"read", "declared"} of each such video (a truncated or damaged file).
    """
    short = {}
    for source in sources:
        declared = declared_frames(source.path)
        expected = min(declared, max_frames) if max_frames else declared
        read = counts[source.topic]
        if read < SHORT_VIDEO_FRACTION * expected:
            short[source.topic] = {"read": read, "declared": declared}
            log.warning(
                "%s: read %d frames, but the video's container declares %d: the file is "
                "probably truncated or damaged; the bag holds the %d frames that decoded",
                source.path,
                read,
                declared,
                read,
            )
    return short


def check_rate(rate: float, what: str = "--rate") -> None:
    """Raise ValueError unless ``rate`` (Hz) is finite, > 0 and gives a period of >= 1 ns."""
    if not (math.isfinite(rate) and 0 < rate <= MAX_RATE_HZ):
        raise ValueError(
            f"{what} must be a finite frame rate in (0, {MAX_RATE_HZ:g}] Hz, got {rate}"
        )


def check_start(start_ns: int) -> None:
    """Raise ValueError unless ``start_ns`` is a ROS 2 time (0 .. int32 seconds)."""
    if not 0 <= start_ns <= MAX_STAMP_NS:
        raise ValueError(
            f"--start must be in [0, {MAX_STAMP_NS // 10**9}] Unix seconds (ROS 2 time has int32 "
            f"seconds), got {start_ns / 1e9:g}"
        )


def check_last_stamp(start_ns: int, period_ns: int, frames: int) -> None:
    """Raise ValueError if frame ``frames - 1`` would be stamped past the last ROS 2 time."""
    last = start_ns + (frames - 1) * period_ns
    if last > MAX_STAMP_NS:
        raise ValueError(
            f"frame {frames - 1} would be stamped {last / 1e9:.3f} s, past the last ROS 2 time "
            f"({MAX_STAMP_NS // 10**9} s: int32 seconds); lower --start or raise --rate"
        )


def make_bag(
    sources: list[CameraSource],
    output: Path,
    rate_hz: float | None = None,
    start_ns: int = 1_700_000_000_000_000_000,
    max_frames: int | None = None,
    storage: str = "mcap",
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Write ``output``: frame i of each camera stamped ``start + i / rate`` (header and record).

    ``rate_hz`` defaults to the first video's frame rate (10 Hz for image folders). Cameras
    are interleaved in stamp order, as a recorder would store them. Returns a summary dict.
    """
    if not sources:
        raise ValueError("make-bag needs at least one input")
    for source in sources:
        if not Path(source.path).exists():
            raise ValueError(f"input {source.path} does not exist")
    if len({s.topic for s in sources}) != len(sources):
        raise ValueError("each input needs its own --topic")
    check_start(start_ns)
    first = sources[0].path
    if rate_hz is not None:
        check_rate(rate_hz, "--rate")
        rate = float(rate_hz)
    else:
        rate = 10.0 if Path(first).is_dir() else video_fps(first)
        check_rate(rate, f"the frame rate of {first} (give --rate)")
    period_ns = int(round(1e9 / rate))
    lengths = [source_length(s.path, max_frames) for s in sources]
    longest = max((n for n in lengths if n), default=1)
    check_last_stamp(start_ns, period_ns, longest)
    total = sum(n for n in lengths if n) or None
    counts = dict.fromkeys((s.topic for s in sources), 0)
    too_small = dict.fromkeys((s.topic for s in sources), 0)
    inputs = tuple(Path(s.path) for s in sources)
    cameras = list(sources)
    with AtomicBagWriter(output, storage, overwrite, inputs) as writer:
        for source in sources:
            writer.add_output_topic(
                source.topic, COMPRESSED_TYPE if source.compressed else IMAGE_TYPE
            )
        streams = [iter_source(s.path, max_frames) for s in sources]
        bar = tqdm(total=total, desc="make-bag", unit="frame", disable=not progress)
        index = 0
        while streams:
            stamp = start_ns + index * period_ns
            for source, stream in list(zip(sources, streams, strict=True)):
                frame = next(stream, None)
                if frame is None:
                    position = streams.index(stream)
                    streams.pop(position)
                    sources = sources[:position] + sources[position + 1 :]
                    continue
                check_last_stamp(start_ns, period_ns, index + 1)  # a length may be unknown
                if min(frame.shape[:2]) < MIN_FRAME_SIDE:
                    too_small[source.topic] += 1
                    log.warning(
                        "%s frame %d (%s, t=%.3fs) is %dx%d, smaller than %dx%d: written as it "
                        "is, but replay and the node will skip it",
                        source.path,
                        index,
                        source.topic,
                        stamp / 1e9,
                        frame.shape[1],
                        frame.shape[0],
                        MIN_FRAME_SIDE,
                        MIN_FRAME_SIDE,
                    )
                header = make_header(stamp, source.frame_id)
                if source.compressed:
                    data = encode_compressed(frame, source.format)
                    cdr = compressed_cdr(header, source.format, data)
                else:
                    check_width(source, frame, index)
                    native = bgr_to_native(frame, source.encoding)
                    cdr = image_cdr(header, native, source.encoding)
                writer.write(source.topic, stamp, cdr)
                counts[source.topic] += 1
                bar.update()
            index += 1
        bar.close()
    log.info("bag %s: %s at %.2f Hz", output, counts, rate)
    short = warn_short_videos(cameras, counts, max_frames)
    if any(too_small.values()):
        log.warning(
            "frames smaller than %dx%d per topic: %s", MIN_FRAME_SIDE, MIN_FRAME_SIDE, too_small
        )
    return {
        "output": str(output),
        "rate_hz": rate,
        "storage": storage,
        "frames": counts,
        "too_small": too_small,
        **({"short_videos": short} if short else {}),
    }

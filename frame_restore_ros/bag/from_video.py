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
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    SUPPORTED_ENCODINGS,
    bgr_to_native,
    compressed_target,
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
from frame_restore_ros.media.video import declared_frames, iter_frames, short_video, video_fps

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".pgm")
COMPRESSED_FORMATS = ("jpeg", "png")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # one token of a ROS 2 topic name
#: The latest stamp a ROS 2 header holds: builtin_interfaces/Time has int32 seconds.
MAX_STAMP_NS = 2**31 * 10**9 - 1
MAX_RATE_HZ = 1e9  # a period of at least 1 ns
#: Encodings a CompressedImage can carry (JPEG: the 8-bit ones); bgr8 keeps the plain format.
COMPRESSED_ENCODINGS = ("bgr8", "rgb8", "mono8", "mono16", "bgr16", "rgb16")
#: Image files read as OpenCV's 8-bit BGR (EXIF orientation applied); others keep depth and alpha.
EIGHT_BIT_SUFFIXES = (".jpg", ".jpeg")
#: Image encodings that carry an alpha channel.
ALPHA_ENCODINGS = ("bgra8", "rgba8")
MAX_LOGGED = 5  # per topic and reason, frames warned about one by one (the rest at info level)


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


@dataclass
class SourceFrame:
    """One input frame as 8-bit BGR, plus what an image file holds beyond that.

    Attributes:
        bgr: (H, W, 3) uint8, as OpenCV reads the file in colour (16 bits: the high byte).
        deep: a 16-bit image's own pixels, (H, W) gray or (H, W, 3) BGR uint16; else None.
        alpha: the image's alpha channel, (H, W) uint8 (16 bits: the high byte); else None.
    """

    bgr: np.ndarray
    deep: np.ndarray | None = None
    alpha: np.ndarray | None = None


def _high_byte(pixels: np.ndarray) -> np.ndarray:
    """8-bit pixels: 16-bit ones reduced as OpenCV's colour read does (the high byte)."""
    return (pixels >> 8).astype(np.uint8) if pixels.dtype == np.uint16 else pixels


def read_image(file: Path) -> SourceFrame:
    """Read an image file: 8-bit BGR, and its 16-bit pixels and alpha when it has them.

    JPEG, and pixels other than 8/16-bit gray, BGR or BGRA (float TIFF ...), are read as OpenCV's
    8-bit colour image. Raises ValueError naming a file that does not decode.
    """
    flags = cv2.IMREAD_COLOR if file.suffix.lower() in EIGHT_BIT_SUFFIXES else cv2.IMREAD_UNCHANGED
    raw = cv2.imread(str(file), flags)
    if raw is None:
        raise ValueError(f"cannot read image {file}")
    channels = 1 if raw.ndim == 2 else raw.shape[2]
    if raw.dtype not in (np.uint8, np.uint16) or channels not in (1, 3, 4):
        raw = cv2.imread(str(file), cv2.IMREAD_COLOR)
        channels = 3
    alpha = _high_byte(raw[..., 3]) if channels == 4 else None
    pixels = raw[..., :3] if channels == 4 else raw
    deep = np.ascontiguousarray(pixels) if pixels.dtype == np.uint16 else None
    bgr = _high_byte(pixels)
    bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR) if channels == 1 else np.ascontiguousarray(bgr)
    return SourceFrame(bgr, deep, alpha)


def iter_images(path: Path, max_frames: int | None = None) -> Iterator[SourceFrame]:
    """Frames of a video file or of the images in a folder (sorted by name)."""
    path = Path(path)
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {path}")
        for file in files[:max_frames]:
            yield read_image(file)
        return
    for frame in iter_frames(path, max_frames=max_frames):
        yield SourceFrame(frame)


def iter_source(path: Path, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """BGR uint8 frames of a video file or of the images in a folder (sorted by name)."""
    for frame in iter_images(path, max_frames):
        yield frame.bgr


def deep_to_native(deep: np.ndarray, encoding: str) -> np.ndarray:
    """Encode 16-bit gray or BGR pixels in a 16-bit ``encoding``, keeping all 16 bits.

    mono16, bgr16, rgb16 or bayer_*16 (``codec.image_codec.bgr_to_native``); shape as
    ``codec.image_codec.read_native``.
    """
    if deep.ndim == 2:
        if encoding == "mono16":
            return deep
        deep = cv2.cvtColor(deep, cv2.COLOR_GRAY2BGR)
    return bgr_to_native(deep, encoding)


def keeps_16_bits(source: CameraSource) -> bool:
    """Whether ``source`` publishes 16-bit pixels (a 16-bit encoding, or a 16-bit PNG format)."""
    if source.compressed:
        return compressed_target(source.format).endswith("16")
    return source.encoding.endswith("16")


def keeps_alpha(source: CameraSource) -> bool:
    """Whether ``source`` publishes an alpha channel (bgra8, rgba8; never a CompressedImage)."""
    return not source.compressed and source.encoding in ALPHA_ENCODINGS


def image_native(source: CameraSource, frame: SourceFrame) -> np.ndarray:
    """Return an Image's pixels in ``source.encoding``, with the file's 16 bits and alpha."""
    if frame.deep is not None and keeps_16_bits(source):
        return deep_to_native(frame.deep, source.encoding)
    native = bgr_to_native(frame.bgr, source.encoding)
    if frame.alpha is not None and keeps_alpha(source):
        native[..., 3] = frame.alpha
    return native


def compressed_data(source: CameraSource, frame: SourceFrame) -> bytes:
    """Return a frame's CompressedImage bytes; a 16-bit image stays 16-bit in a 16-bit PNG."""
    if frame.deep is None or not keeps_16_bits(source):
        return encode_compressed(frame.bgr, source.format)
    target = compressed_target(source.format)  # mono16 or bgr16
    ok, buffer = cv2.imencode(".png", deep_to_native(frame.deep, target))
    if not ok:
        raise ValueError(f"OpenCV could not encode a {frame.deep.shape} 16-bit image as PNG")
    return buffer.tobytes()


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

    The check demo and evaluate make too (``media.video.short_video``); an image folder is
    never short. Returns topic -> {"read", "declared"} of each such video (a truncated or
    damaged file).
    """
    short = {}
    for source in sources:
        if found := short_video(source.path, counts[source.topic], max_frames):
            short[source.topic] = found
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


def frame_size_problem(frame: np.ndarray) -> tuple[str, str] | None:
    """Return (reason, text) when replay and the node skip a frame of this size, else None.

    too_small: a side under the detector's MIN_FRAME_SIDE; too_large: above the decoder's
    MAX_IMAGE_SIDE a side or MAX_IMAGE_PIXELS in all.
    """
    height, width = frame.shape[:2]
    if min(height, width) < MIN_FRAME_SIDE:
        return "too_small", f"smaller than {MIN_FRAME_SIDE}x{MIN_FRAME_SIDE}"
    if max(height, width) > MAX_IMAGE_SIDE or height * width > MAX_IMAGE_PIXELS:
        return "too_large", (
            f"larger than the decoder's limit ({MAX_IMAGE_SIDE} px a side, "
            f"{MAX_IMAGE_PIXELS / 1e6:.1f} Mpx in all: MAX_IMAGE_SIDE, MAX_IMAGE_PIXELS)"
        )
    return None


class FrameNotes:
    """What make-bag tells about the frames it writes: counts per reason and topic, and logs.

    Frames replay cannot use (too_small, too_large) are logged one by one (the first MAX_LOGGED
    per topic as warnings, the rest at info level); a dropped alpha channel
    (alpha_dropped) and 16-bit pixels written as 8-bit (reduced_to_8_bit) once per topic.
    """

    REASONS = ("too_small", "too_large", "alpha_dropped", "reduced_to_8_bit")

    def __init__(self, topics: list[str]) -> None:
        self.counts = {reason: dict.fromkeys(topics, 0) for reason in self.REASONS}

    def _count(self, reason: str, topic: str) -> int:
        self.counts[reason][topic] += 1
        return self.counts[reason][topic]

    def check(self, source: CameraSource, frame: SourceFrame, index: int, stamp: int) -> None:
        """Count and log what is lost or unusable in frame ``index`` of ``source``."""
        if found := frame_size_problem(frame.bgr):
            reason, text = found
            count = self._count(reason, source.topic)
            level = logging.WARNING if count <= MAX_LOGGED else logging.INFO
            log.log(
                level,
                "%s frame %d (%s, t=%.3fs) is %dx%d, %s: written as it is, but replay and the "
                "node will skip it",
                source.path,
                index,
                source.topic,
                stamp / 1e9,
                frame.bgr.shape[1],
                frame.bgr.shape[0],
                text,
            )
        if frame.alpha is not None and not keeps_alpha(source):
            if self._count("alpha_dropped", source.topic) == 1:
                log.warning(
                    "%s frame %d (%s) has an alpha channel, which %s cannot carry: dropped "
                    "(--encoding bgra8 or rgba8 keeps it)",
                    source.path,
                    index,
                    source.topic,
                    f"a {source.compressed} CompressedImage"
                    if source.compressed
                    else f"--encoding {source.encoding}",
                )
        if frame.deep is not None and not keeps_16_bits(source):
            if self._count("reduced_to_8_bit", source.topic) == 1:
                log.warning(
                    "%s frame %d (%s) is a 16-bit image, written as 8-bit (--encoding %s); "
                    "mono16, bgr16 or rgb16 keep its 16 bits",
                    source.path,
                    index,
                    source.topic,
                    source.encoding,
                )

    def report(self) -> dict:
        """Log the totals of unusable frames; return the summary's entries.

        too_small and too_large per topic always, the other reasons where any frame had them.
        """
        out = {reason: self.counts[reason] for reason in ("too_small", "too_large")}
        for reason in ("too_small", "too_large"):
            if any(self.counts[reason].values()):
                log.warning("frames replay will skip, %s per topic: %s", reason, out[reason])
        out |= {r: c for r, c in self.counts.items() if r not in out and any(c.values())}
        return out


def bag_rate(sources: list[CameraSource], rate_hz: float | None) -> float:
    """Return the rate (Hz) every camera is stamped at: ``rate_hz``, else the first input's.

    The first input's rate: a video's own, 10 Hz for an image folder; a video among the others
    with another rate is named in a warning (give --rate).
    """
    if rate_hz is not None:
        check_rate(rate_hz, "--rate")
        return float(rate_hz)
    first = sources[0].path
    rate = 10.0 if Path(first).is_dir() else video_fps(first)
    check_rate(rate, f"the frame rate of {first} (give --rate)")
    for source in sources[1:]:
        own = 10.0 if Path(source.path).is_dir() else video_fps(source.path, default=rate)
        if abs(own - rate) > 0.01 * rate:
            log.warning(
                "%s runs at %.3g Hz but is stamped at %.3g Hz, the rate of the first input %s; "
                "give --rate to choose",
                source.path,
                own,
                rate,
                first,
            )
    return rate


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

    ``rate_hz`` defaults to the first input's frame rate (a video's own, 10 Hz for an image
    folder), applied to every input. Cameras are interleaved in stamp order, as a recorder would
    store them. A 16-bit image keeps its 16 bits in a 16-bit encoding, an alpha channel in
    bgra8/rgba8; frames replay cannot use, a dropped alpha and 16 bits written as 8 are
    warned about and counted (:class:`FrameNotes`). Returns a summary dict.
    """
    if not sources:
        raise ValueError("make-bag needs at least one input")
    for source in sources:
        if not Path(source.path).exists():
            raise ValueError(f"input {source.path} does not exist")
    if len({s.topic for s in sources}) != len(sources):
        raise ValueError("each input needs its own --topic")
    check_start(start_ns)
    rate = bag_rate(sources, rate_hz)
    period_ns = int(round(1e9 / rate))
    lengths = [source_length(s.path, max_frames) for s in sources]
    longest = max((n for n in lengths if n), default=1)
    check_last_stamp(start_ns, period_ns, longest)
    total = sum(n for n in lengths if n) or None
    counts = dict.fromkeys((s.topic for s in sources), 0)
    notes = FrameNotes([s.topic for s in sources])
    inputs = tuple(Path(s.path) for s in sources)
    cameras = list(sources)
    with AtomicBagWriter(output, storage, overwrite, inputs) as writer:
        for source in sources:
            writer.add_output_topic(
                source.topic, COMPRESSED_TYPE if source.compressed else IMAGE_TYPE
            )
        streams = [iter_images(s.path, max_frames) for s in sources]
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
                notes.check(source, frame, index, stamp)
                header = make_header(stamp, source.frame_id)
                if source.compressed:
                    cdr = compressed_cdr(header, source.format, compressed_data(source, frame))
                else:
                    check_width(source, frame.bgr, index)
                    cdr = image_cdr(header, image_native(source, frame), source.encoding)
                writer.write(source.topic, stamp, cdr)
                counts[source.topic] += 1
                bar.update()
            index += 1
        bar.close()
    log.info("bag %s: %s at %.2f Hz", output, counts, rate)
    short = warn_short_videos(cameras, counts, max_frames)
    return {
        "output": str(output),
        "rate_hz": rate,
        "storage": storage,
        "frames": counts,
        **notes.report(),
        **({"short_videos": short} if short else {}),
    }

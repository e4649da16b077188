"""ROS image messages <-> numpy frames, without ROS.

Works on any object with the fields of ``sensor_msgs/Image`` (``height``, ``width``, ``encoding``,
``is_bigendian``, ``step``, ``data``) or ``sensor_msgs/CompressedImage`` (``format``, ``data``):
rosbags' message classes here, rclpy's in the node. Colour conversion (Bayer demosaicing,
YUV 4:2:2) is rosbags-image's ``convert_color``; 16-bit pixels are converted at 16 bits and then
scaled to 8 rounding to nearest, as cv_bridge's ``convertTo(CV_8U, 255 / 65535)`` does
(``convert_color`` truncates: half of all 16-bit values came out a level darker). This module
also adds what ``convert_color`` leaves out: row padding (``step`` > width x bytes per
pixel), validation with errors that name the problem, and the way back, writing restored pixels
into the input's own encoding so that every byte of a good pixel is kept.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
from rosbags.image import ImageError
from rosbags.image.image import convert_color, to_cvtype

#: Encodings whose repaired image is written back in the same encoding (docs/architecture.md).
SUPPORTED_ENCODINGS = (
    "bgr8", "rgb8", "mono8", "bgra8", "rgba8", "mono16", "bgr16", "rgb16",
    "bayer_rggb8", "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8",
    "bayer_rggb16", "bayer_bggr16", "bayer_gbrg16", "bayer_grbg16",
    "yuv422", "uyvy", "yuv422_yuy2", "yuyv",
)  # fmt: skip

# BGR channel index of each Bayer site, row-major over the 2x2 tile (B=0, G=1, R=2).
_BAYER_SITES = {
    "rggb": ((2, 1), (1, 0)),
    "bggr": ((0, 1), (1, 2)),
    "gbrg": ((1, 0), (2, 1)),
    "grbg": ((1, 2), (0, 1)),
}
# OpenCV conversion from BGR to the 8-bit form of each plain encoding (None: as is).
_FROM_BGR = {
    "bgr8": None,
    "rgb8": cv2.COLOR_BGR2RGB,
    "bgra8": cv2.COLOR_BGR2BGRA,
    "rgba8": cv2.COLOR_BGR2RGBA,
    "mono8": cv2.COLOR_BGR2GRAY,
}
# Byte order of the 4:2:2 pairs: index of (U, V) and of the two Ys within 4 bytes.
_YUV422_LAYOUT = {"yuv422": "UYVY", "uyvy": "UYVY", "yuv422_yuy2": "YUYV", "yuyv": "YUYV"}
#: Encodings in which two neighbouring pixels share chroma: the width must be even.
YUV422_ENCODINGS = tuple(_YUV422_LAYOUT)

#: The largest frame decoded, per side and in pixels: a vehicle camera is at most 8K (8192x4320,
#: 35 Mpx). A larger size is a corrupt header (one bit flipped in a JPEG SOF height gives
#: 33848x1920) or an attack: a 631-byte JPEG declaring 16000x16000 decoded and restored in 11 s
#: and 3.3 GB (about 20 bytes and 35 ms per pixel). Checked on the declared size, before decoding.
MAX_IMAGE_SIDE, MAX_IMAGE_PIXELS = 8192, 8192 * 4320
_JPEG_SIGNATURE = b"\xff\xd8\xff"  # SOI and the next marker's 0xFF, as OpenCV recognises JPEG
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG frame headers (SOF0-15 but DHT, JPG and DAC): height and width follow the precision byte.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_NO_LENGTH = frozenset((0x01, *range(0xD0, 0xD9)))  # TEM, RST0-7, SOI: no segment length
_JPEG_MARKER = re.compile(rb"\xff+([^\xff])")
_JPEG_MAX_MARKERS = 1024  # segments before the frame header (a real file has a few dozen)


class ImageDecodeError(ValueError):
    """A message that cannot be turned into a frame; the text names the problem.

    ``kind`` is a short category for counting: unsupported_encoding, bad_size, undecodable
    (the node adds malformed and too_small).
    """

    def __init__(self, message: str, kind: str = "undecodable") -> None:
        super().__init__(message)
        self.kind = kind


class ImageFields(Protocol):
    """The fields of sensor_msgs/Image that this module reads."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: object


@dataclass
class DecodedImage:
    """A decoded message.

    Attributes:
        bgr: (H, W, 3) uint8, what the restorer works on.
        native: the pixels in the message's encoding without row padding, (H, W[, C]) of the
            encoding's dtype (UYVY/YUYV: (H, W, 2) uint8). CompressedImage: the decoded pixels
            when they are not 8-bit BGR (mono8, mono16, bgr16, bgra8; see
            :func:`compressed_native_encoding`), else None.
        encoding: the input encoding (CompressedImage: its ``format`` string).
        bigendian: the byte order of the message's multi-byte elements (``is_bigendian``), kept
            when pixels are written back (:func:`native_to_fields`).
    """

    bgr: np.ndarray
    native: np.ndarray | None
    encoding: str
    bigendian: bool = False


def _as_bytes(data: object) -> np.ndarray:
    """Return a read-only uint8 view of a message's data (no copy).

    Read-only: the decoded pixels are the message's own bytes, and the node may publish that
    very message (passed through) while the restorer works on them.
    """
    if isinstance(data, np.ndarray):
        view = data.reshape(-1).view(np.uint8)
    else:
        view = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)  # bytes, array.array
    view.flags.writeable = False
    return view


def native_layout(encoding: str) -> tuple[np.dtype, int]:
    """Return (dtype, channels per pixel) of ``encoding``; raise ImageDecodeError if unknown."""
    if encoding not in SUPPORTED_ENCODINGS:
        raise ImageDecodeError(
            f"unsupported encoding {encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}",
            "unsupported_encoding",
        )
    _, _, typestr, channels = to_cvtype(encoding)
    return np.dtype(typestr), channels


def size_problem(width: int, height: int) -> str | None:
    """Return why a declared ``width`` x ``height`` is refused (zero, or above the bound)."""
    if height <= 0 or width <= 0:
        return f"image has zero size ({width}x{height})"
    if max(width, height) > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        return (
            f"declared size {width}x{height} is above the limit of {MAX_IMAGE_SIDE} px a side "
            f"and {MAX_IMAGE_PIXELS / 1e6:.1f} Mpx (MAX_IMAGE_SIDE, MAX_IMAGE_PIXELS): a corrupt "
            "header, not decoded"
        )
    return None


def read_native(msg: ImageFields) -> np.ndarray:
    """Return the pixels of a sensor_msgs/Image as (H, W[, C]) without row padding.

    Raises ImageDecodeError for an unknown encoding, a zero or too large size
    (:func:`size_problem`), a step shorter than a row, or data whose length is not step x height.
    """
    encoding = str(msg.encoding)
    dtype, channels = native_layout(encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if problem := size_problem(width, height):
        raise ImageDecodeError(problem, "bad_size")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageDecodeError(
            f"step {step} is shorter than one row of {width} px {encoding} ({row_bytes} bytes)",
            "bad_size",
        )
    raw = _as_bytes(msg.data)
    if raw.size != step * height:
        raise ImageDecodeError(
            f"data has {raw.size} bytes but step x height = {step} x {height} = {step * height}",
            "bad_size",
        )
    rows = raw.reshape(height, step)[:, :row_bytes]
    order = ">" if msg.is_bigendian else "<"
    pixels = np.ascontiguousarray(rows).view(dtype.newbyteorder(order))
    shape = (height, width) if channels == 1 else (height, width, channels)
    return pixels.reshape(shape).astype(dtype.newbyteorder("="), copy=False)


# Mosaic rows/columns added on each side before demosaicing; even, so the Bayer phase is kept.
_BAYER_PAD = 2


def _to_bgr8(native: np.ndarray, encoding: str) -> np.ndarray:
    """Convert native pixels to BGR8 with ``convert_color``; Bayer borders are interpolated.

    16-bit pixels are converted to bgr16 and then rounded to 8 bits (:func:`rounded_to_8bit`).

    OpenCV's Bayer demosaic copies the first/last row and column from their neighbours, which
    makes a clean frame's bottom two rows identical (a lost-rows onset to the detector). The
    mosaic is reflected by an even margin (same colour phase) and the result cropped back, so
    every border pixel is interpolated from real neighbours.
    """
    wide = native.dtype == np.uint16
    target = "bgr16" if wide else "bgr8"
    if not encoding.startswith("bayer_"):
        bgr = convert_color(native, encoding, target)
    else:
        pad = _BAYER_PAD
        mode = "reflect" if min(native.shape[:2]) > 1 else "edge"
        padded = np.pad(native, pad, mode=mode)
        bgr = convert_color(np.ascontiguousarray(padded), encoding, target)[pad:-pad, pad:-pad]
    return rounded_to_8bit(bgr) if wide else bgr


def rounded_to_8bit(pixels: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 ``round(v * 255 / 65535)``, cv_bridge's scaling (no ties: 257 is odd).

    OpenCV's scaled conversion rounds to nearest, equal to the definition for every one of the
    65536 values (a test); 3 ms for a 1080p bgr16 frame on one core, where ``convert_color``'s
    truncating scaling took 12 ms and numpy's integer division 50 ms.
    """
    return cv2.convertScaleAbs(pixels, alpha=255.0 / 65535.0)


def odd_width_problem(width: int, encoding: str) -> str | None:
    """Return why ``width`` cannot be stored in ``encoding`` (an odd 4:2:2 width), or None."""
    if encoding in YUV422_ENCODINGS and width % 2:
        return (
            f"odd width in a 4:2:2 encoding ({encoding}, width {width}): pixels come in pairs "
            "that share chroma, so the width must be even"
        )
    return None


def decode_image(msg: ImageFields) -> DecodedImage:
    """Decode a sensor_msgs/Image to BGR8 (and keep its native pixels)."""
    native = read_native(msg)
    if problem := odd_width_problem(int(msg.width), str(msg.encoding)):
        raise ImageDecodeError(problem, "bad_size")
    try:
        bgr = _to_bgr8(native, str(msg.encoding))
    except (ImageError, cv2.error) as exc:
        raise ImageDecodeError(f"cannot convert {msg.encoding} to bgr8: {exc}") from exc
    bgr = np.ascontiguousarray(bgr, dtype=np.uint8)
    return DecodedImage(bgr, native, str(msg.encoding), bool(msg.is_bigendian))


def compressed_native_encoding(native: np.ndarray) -> str:
    """Return the encoding of pixels decoded from a CompressedImage (mono8/16, bgr8/16, bgra8)."""
    depth = 16 if native.dtype == np.uint16 else 8
    if native.ndim == 2:
        return f"mono{depth}"
    return "bgra8" if native.shape[2] == 4 else f"bgr{depth}"


def _jpeg_size(data: bytes | memoryview) -> tuple[int, int] | None:
    """Return (width, height) of a JPEG's frame header, walking the markers as libjpeg does.

    None when no frame header comes before the scan, the end of the data or _JPEG_MAX_MARKERS.
    """
    position = 2  # after SOI
    for _ in range(_JPEG_MAX_MARKERS):
        # libjpeg skips stray bytes before a marker (with a warning), then 0xFF fill bytes
        found = _JPEG_MARKER.search(data, position)
        if found is None:
            return None
        marker, position = found.group(1)[0], found.end()
        if marker in _JPEG_NO_LENGTH:
            continue
        if marker in (0x00, 0xD9, 0xDA) or position + 2 > len(data):  # no marker, EOI, SOS
            return None
        (length,) = struct.unpack_from(">H", data, position)
        if marker in _JPEG_SOF:
            if length < 7 or position + 7 > len(data):
                return None
            height, width = struct.unpack_from(">HH", data, position + 3)
            return width, height
        if length < 2:
            return None
        position += length
    return None


def compressed_size(fmt: str, raw: np.ndarray) -> tuple[int, int]:
    """Return the (width, height) a JPEG or PNG declares in its header, without decoding it.

    Raises ImageDecodeError for other data (OpenCV would decode BMP, TIFF, ... too, but the node
    takes JPEG and PNG only, the two compressed_image_transport writes) or a header that does not
    state a size.
    """
    head = memoryview(np.ascontiguousarray(raw)).cast("B")  # no copy of a frame per message
    size = None
    if head[:3] == _JPEG_SIGNATURE:
        size, missing = _jpeg_size(head), "no JPEG frame header (SOF)"
    elif head[:8] == _PNG_SIGNATURE:
        missing = "no PNG IHDR header"
        if len(head) >= 24 and bytes(head[12:16]) == b"IHDR":
            size = struct.unpack_from(">II", head, 16)
    else:
        missing = f"neither JPEG nor PNG (starts with {bytes(head[:8])!r})"
    if size is None:
        raise ImageDecodeError(f"compressed image ({fmt!r}) does not decode: {missing}")
    return size


def decode_compressed(fmt: str, data: object) -> DecodedImage:
    """Decode a sensor_msgs/CompressedImage (JPEG or PNG) to BGR8, keeping other pixel layouts.

    A 1-channel, 16-bit or BGRA image is kept as ``native`` (8-bit BGR: None) so that the way
    back (:func:`encode_compressed`) writes the same bit depth and channel count. The size the
    header declares is checked (:func:`size_problem`) before anything is decoded.
    """
    raw = _as_bytes(data)
    if raw.size == 0:
        raise ImageDecodeError(f"compressed image ({fmt!r}) has no data")
    if problem := size_problem(*compressed_size(fmt, raw)):
        raise ImageDecodeError(f"compressed image ({fmt!r}): {problem}", "bad_size")
    try:
        image = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageDecodeError(f"compressed image ({fmt!r}) does not decode: {exc}") from exc
    if image is None:
        raise ImageDecodeError(f"compressed image ({fmt!r}, {raw.size} bytes) does not decode")
    if image.dtype not in (np.uint8, np.uint16) or (
        image.ndim == 3 and image.shape[2] not in (3, 4)
    ):
        raise ImageDecodeError(
            f"compressed image ({fmt!r}) has unsupported pixels {image.dtype} {image.shape}",
            "unsupported_encoding",
        )
    if image.ndim == 3 and image.shape[2] == 4 and image.dtype == np.uint16:
        image = np.ascontiguousarray(image[..., :3])  # 16-bit alpha: kept as bgr16
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return DecodedImage(image, None, fmt)
    encoding = compressed_native_encoding(image)
    try:
        bgr = _to_bgr8(image, encoding)
    except (ImageError, cv2.error) as exc:
        raise ImageDecodeError(f"cannot convert compressed {encoding} to bgr8: {exc}") from exc
    return DecodedImage(np.ascontiguousarray(bgr, dtype=np.uint8), image, fmt)


def compressed_extension(fmt: str) -> str:
    """File extension for OpenCV from a CompressedImage ``format`` ("jpeg", "bgr8; png ...")."""
    lowered = fmt.lower()
    return ".png" if "png" in lowered else ".jpg"


def compressed_target(fmt: str) -> str:
    """Return the pixel layout a CompressedImage ``format`` promises: mono8/16, bgr8/16.

    Follows compressed_image_transport: ``"mono16; png compressed mono16"`` names the encoded
    layout after "compressed", else the part before ";" names the source encoding. JPEG is 8-bit.
    """
    match = re.search(r"compressed\s+(\w+)", fmt) or re.match(r"\s*(\w+)\s*;", fmt)
    name = match.group(1).lower() if match else "bgr8"
    depth = 16 if name.endswith("16") and compressed_extension(fmt) == ".png" else 8
    return f"mono{depth}" if name.startswith("mono") else f"bgr{depth}"


def encode_compressed(
    bgr: np.ndarray,
    fmt: str,
    jpeg_quality: int = 95,
    native: np.ndarray | None = None,
    mask: np.ndarray | None = None,
) -> bytes:
    """Encode a frame in the format a CompressedImage ``format`` string names (JPEG or PNG).

    Args:
        bgr: (H, W, 3) uint8, the frame (or the restorer's output).
        fmt: the ``format`` string; its layout (:func:`compressed_target`) sets bit depth and
            channels when ``native`` is None.
        native: the decoded input's ``native`` pixels (:func:`decode_compressed`): the output
            keeps their layout; with ``mask`` ((H, W) bool) only the failed pixels change and
            every other pixel is bit-identical.
    """
    extension = compressed_extension(fmt)
    encoding = compressed_target(fmt) if native is None else compressed_native_encoding(native)
    if extension == ".jpg" and encoding.endswith("16"):
        encoding = encoding[:-2] + "8"  # JPEG has no 16-bit form
        native = None
    if native is not None and mask is not None:
        pixels = merge_into_native(native, bgr, mask, encoding)
    else:
        pixels = bgr if encoding == "bgr8" else bgr_to_native(bgr, encoding)
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if extension == ".jpg" else []
    ok, buffer = cv2.imencode(extension, np.ascontiguousarray(pixels), params)
    if not ok:
        raise ImageDecodeError(f"OpenCV could not encode {pixels.shape} as {extension}")
    return buffer.tobytes()


#: ROS encodings that compressed_image_transport treats as colour (``image_encodings::isColor``).
_COLOUR_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "rgb16", "bgr16", "rgba16", "bgra16")


def png_format(fmt: str, layout: str) -> tuple[str, str]:
    """Return (format, PNG pixel encoding) for a frame received in ``fmt``, re-encoded as PNG.

    ``layout``: its decoded pixels (:func:`compressed_native_encoding`; "bgr8" when ``native``
    is None). compressed_image_transport's PNG publisher writes ``"<encoding>; png compressed
    <target>"``: target ``bgr8`` / ``bgr16`` (``bgra8`` with alpha) for a colour encoding, nothing
    for mono (the PNG holds the encoding itself: ``"mono16; png compressed "``); its subscriber
    takes the encoding before ";" and converts a colour one from the BGR the target names. So:

    - a PNG ``fmt`` is kept: the frame is re-encoded in its own layout;
    - a plain ``fmt`` (an old publisher's "jpeg") gives "png": the subscriber decodes it by its
      channels (mono8 or bgr8), as it decoded the input;
    - otherwise the input's encoding is kept, at its own bit depth (8-bit JPEG pixels of a 16-bit
      encoding are widened); pixels that do not fit it (a colour JPEG of "mono8", an encoding
      that is not ROS's) are named by their own layout.
    """
    if compressed_extension(fmt) == ".png":
        return fmt, layout
    if ";" not in fmt:
        return "png", layout
    encoding = fmt.split(";", 1)[0].strip()
    depth = "16" if encoding.endswith("16") else "8"
    mono = layout.startswith("mono")
    if encoding in _COLOUR_ENCODINGS and not mono:
        target = ("bgra" if layout.startswith("bgra") else "bgr") + depth
        return f"{encoding}; png compressed {target}", target
    if mono and encoding in SUPPORTED_ENCODINGS and encoding.startswith(("mono", "bayer_")):
        return f"{encoding}; png compressed ", f"mono{depth}"
    return f"{layout}; png compressed {'' if mono else layout}", layout


def encode_png(
    bgr: np.ndarray, fmt: str, native: np.ndarray | None = None, mask: np.ndarray | None = None
) -> tuple[str, bytes]:
    """Re-encode a frame received in ``fmt`` as lossless PNG; return its (format, data).

    Arguments as :func:`encode_compressed`. The format (:func:`png_format`) makes
    compressed_image_transport's subscriber decode the PNG to the input's encoding, and every
    good pixel to what it decoded from the input: 8-bit pixels of a 16-bit encoding (a JPEG of
    mono16 or rgb16) are widened x 256, as that subscriber widens the JPEG.
    """
    layout = "bgr8" if native is None else compressed_native_encoding(native)
    png_fmt, target = png_format(fmt, layout)
    if target.endswith("16") and not layout.endswith("16"):
        native = (bgr if native is None else native).astype(np.uint16) << 8
    return png_fmt, encode_compressed(bgr, png_fmt, native=native, mask=mask)


def _bgr_to_yuv422(bgr: np.ndarray, layout: str) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W, 2) uint8 UYVY or YUYV, BT.601 limited range (OpenCV's inverse)."""
    height, width = bgr.shape[:2]
    b, g, r = (bgr[..., i].astype(np.float32) / 255.0 for i in range(3))
    y = 16.0 + 65.481 * r + 128.553 * g + 24.966 * b
    u = 128.0 - 37.797 * r - 74.203 * g + 112.0 * b
    v = 128.0 + 112.0 * r - 93.786 * g - 18.214 * b
    even = (width // 2) * 2
    u_pair = u.copy()
    v_pair = v.copy()
    u_pair[:, :even] = np.repeat((u[:, 0:even:2] + u[:, 1:even:2]) / 2, 2, axis=1)
    v_pair[:, :even] = np.repeat((v[:, 0:even:2] + v[:, 1:even:2]) / 2, 2, axis=1)
    chroma = np.where((np.arange(width) % 2 == 0)[None, :], u_pair, v_pair)
    out = np.empty((height, width, 2), dtype=np.uint8)
    luma_index = 1 if layout == "UYVY" else 0
    out[..., luma_index] = np.clip(np.rint(y), 0, 255)
    out[..., 1 - luma_index] = np.clip(np.rint(chroma), 0, 255)
    return out


def bgr_to_native(bgr: np.ndarray, encoding: str) -> np.ndarray:
    """Encode (H, W, 3) BGR in ``encoding``; shape and dtype as :func:`read_native`.

    ``bgr``: uint8, or uint16 for a 16-bit encoding (an image file's own 16 bits, kept as they
    are). Alpha is 255; 8-bit values in a 16-bit encoding are x 257; Bayer takes each site's
    colour; YUV 4:2:2 averages the chroma of each pixel pair.
    """
    dtype, _ = native_layout(encoding)
    if bgr.dtype == np.uint16 and dtype.itemsize != 2:
        raise ValueError(f"16-bit pixels need a 16-bit encoding, not {encoding}")
    scale = dtype.itemsize == 2 and bgr.dtype == np.uint8  # 8-bit values into 16 bits
    if encoding.startswith("bayer_"):
        sites = _BAYER_SITES[encoding[6:10]]
        out = np.empty(bgr.shape[:2], dtype=bgr.dtype)
        for dy in range(2):
            for dx in range(2):
                out[dy::2, dx::2] = bgr[dy::2, dx::2, sites[dy][dx]]
        return out.astype(dtype) * 257 if scale else out
    if encoding in _YUV422_LAYOUT:
        return _bgr_to_yuv422(bgr, _YUV422_LAYOUT[encoding])
    code = _FROM_BGR[encoding.replace("16", "8")]
    converted = bgr if code is None else cv2.cvtColor(bgr, code)
    if scale:
        return converted.astype(np.uint16) * 257
    return np.ascontiguousarray(converted)


def element_mask(mask: np.ndarray, encoding: str) -> np.ndarray:
    """Which elements of the native array belong only to failed pixels.

    ``mask`` (H, W) bool. Returns a bool array broadcastable to the native array: a colour channel
    of a failed pixel (not its alpha), a Bayer site of a failed pixel, a YUV 4:2:2 luma byte of a
    failed pixel and a chroma byte only when both pixels of its pair failed.
    """
    if encoding in _YUV422_LAYOUT:
        pair_failed = mask.copy()
        even = (mask.shape[1] // 2) * 2
        both = mask[:, 0:even:2] & mask[:, 1:even:2]
        pair_failed[:, :even] = np.repeat(both, 2, axis=1)
        luma_index = 1 if _YUV422_LAYOUT[encoding] == "UYVY" else 0
        out = np.empty(mask.shape + (2,), dtype=bool)
        out[..., luma_index] = mask
        out[..., 1 - luma_index] = pair_failed
        return out
    _, channels = native_layout(encoding)
    if channels == 1:
        return mask
    if channels == 4:
        return np.stack([mask, mask, mask, np.zeros_like(mask)], axis=-1)
    return mask[..., None]


def merge_into_native(
    native: np.ndarray, restored_bgr: np.ndarray, mask: np.ndarray, encoding: str
) -> np.ndarray:
    """Write ``restored_bgr`` into a copy of ``native`` at the failed pixels only.

    Args:
        native: the input pixels as from :func:`read_native`.
        restored_bgr: (H, W, 3) uint8, the restorer's output.
        mask: (H, W) bool, failed pixels.
    Returns the new native array; elements of good pixels are bit-identical to ``native``.
    """
    if restored_bgr.shape[:2] != native.shape[:2] or mask.shape != native.shape[:2]:
        raise ValueError(
            f"restored {restored_bgr.shape} / mask {mask.shape} do not match {native.shape}"
        )
    encoded = bgr_to_native(restored_bgr, encoding)
    out = native.copy()
    if encoding in _YUV422_LAYOUT:  # chroma bytes follow pixel pairs: an element-wise mask
        np.copyto(out, encoded, where=element_mask(mask, encoding))
        return out
    if native.ndim == 3 and native.shape[2] == 4:
        encoded[..., 3] = native[..., 3]  # alpha is never restored
    # A per-pixel mask over all channels: OpenCV's masked copy is ~100x numpy's where= at 1080p.
    return cv2.copyTo(np.ascontiguousarray(encoded), mask.view(np.uint8), out)


def native_to_fields(
    native: np.ndarray, encoding: str, bigendian: bool = False
) -> dict[str, object]:
    """Fields of a sensor_msgs/Image for ``native`` (no row padding).

    ``bigendian``: the byte order of multi-byte elements; pass the input's
    (``DecodedImage.bigendian``) so that every byte of a kept pixel is the input's.
    """
    height, width = native.shape[:2]
    order = ">" if bigendian else "<"
    data = np.ascontiguousarray(native.astype(native.dtype.newbyteorder(order), copy=False))
    return {
        "height": height,
        "width": width,
        "encoding": encoding,
        "is_bigendian": int(bigendian),
        "step": data.nbytes // height,
        "data": data.reshape(-1).view(np.uint8),
    }


def float32_fields(values: np.ndarray) -> dict[str, object]:
    """Fields of a 32FC1 sensor_msgs/Image of (H, W) ``values`` (little-endian)."""
    data = np.ascontiguousarray(values, dtype="<f4")
    return {
        "height": data.shape[0],
        "width": data.shape[1],
        "encoding": "32FC1",
        "is_bigendian": 0,
        "step": data.shape[1] * 4,
        "data": data.reshape(-1).view(np.uint8),
    }

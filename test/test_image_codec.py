"""ROS image encodings <-> numpy: every encoding, row padding, byte order, merge, bad input."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from frame_restore_ros.codec.image_codec import (
    SUPPORTED_ENCODINGS,
    ImageDecodeError,
    bgr_to_native,
    decode_compressed,
    decode_image,
    encode_compressed,
    encode_png,
    merge_into_native,
    native_to_fields,
    png_format,
    read_native,
)


@pytest.fixture(scope="module")
def frame(bikes_frames) -> np.ndarray:
    """Return a real 64x96 BGR crop (even size, as Bayer and YUV 4:2:2 need)."""
    return np.ascontiguousarray(bikes_frames[5][100:164, 200:296])


def message(native: np.ndarray, source_encoding: str, **override) -> SimpleNamespace:
    fields = native_to_fields(native, source_encoding)
    fields.update(override)
    return SimpleNamespace(**fields)


EXACT = ("bgr8", "rgb8", "bgra8", "rgba8", "bgr16", "rgb16")


@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
def test_every_encoding_round_trips(frame, encoding):
    native = bgr_to_native(frame, encoding)
    decoded = decode_image(message(native, encoding))
    assert decoded.bgr.shape == frame.shape and decoded.bgr.dtype == np.uint8
    np.testing.assert_array_equal(decoded.native, native)
    error = np.abs(decoded.bgr.astype(int) - frame.astype(int))
    if encoding in EXACT:
        assert error.max() == 0
    elif encoding.startswith("mono"):
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        assert np.abs(decoded.bgr[..., 0].astype(int) - gray).max() <= 1
    else:  # Bayer demosaicing and 4:2:2 chroma subsampling lose detail, not colour
        assert error.mean() < 12, (encoding, error.mean())
        assert np.abs(decoded.bgr.mean((0, 1)) - frame.mean((0, 1))).max() < 4


@pytest.mark.parametrize(
    "encoding",
    [e for e in SUPPORTED_ENCODINGS if e.endswith("16") and not e.startswith("bayer")]
    + ["bayer_rggb16", "bayer_grbg16"],
)
def test_16_bit_pixels_round_to_8_bits_as_cv_bridge_does(encoding):
    """cv_bridge (``toCvCopyImpl``): colour at 16 bits, then ``convertTo(CV_8U, 255 / 65535)``,
    rounding to nearest; ``convert_color`` alone truncates (half the values a level darker)."""
    from rosbags.image.image import convert_color

    rng = np.random.default_rng(3)
    shape = (16, 24, 3) if encoding in ("bgr16", "rgb16") else (16, 24)
    native = rng.integers(0, 65536, shape, dtype=np.uint16)
    decoded = decode_image(message(native, encoding))
    wide = convert_color(native, encoding, "bgr16").astype(np.float64)
    if encoding.startswith("bayer"):  # the borders are demosaiced from a reflected margin
        decoded_inner, wide = decoded.bgr[2:-2, 2:-2], wide[2:-2, 2:-2]
    else:
        decoded_inner = decoded.bgr
    expected = np.rint(wide * 255.0 / 65535.0).astype(np.uint8)
    np.testing.assert_array_equal(decoded_inner, expected)
    truncated = convert_color(native, encoding, "bgr8")
    assert (truncated != decoded.bgr).mean() > 0.3  # the difference this fixes is there


def test_rounding_to_8_bits_is_cv_bridges_for_every_16_bit_value():
    from frame_restore_ros.codec.image_codec import rounded_to_8bit

    values = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    expected = np.rint(values.astype(np.float64) * 255.0 / 65535.0).astype(np.uint8)
    np.testing.assert_array_equal(rounded_to_8bit(values), expected)
    three = np.stack([values, values[::-1], values.T], axis=-1)
    np.testing.assert_array_equal(rounded_to_8bit(three)[..., 1], expected[::-1])


def test_row_padding_is_ignored(frame):
    native = bgr_to_native(frame, "bgr8")
    width_bytes = native.shape[1] * 3
    padded = np.zeros((native.shape[0], width_bytes + 13), np.uint8)
    padded[:, :width_bytes] = native.reshape(native.shape[0], -1)
    msg = message(native, "bgr8", step=width_bytes + 13, data=padded.tobytes())
    np.testing.assert_array_equal(decode_image(msg).bgr, frame)


def test_big_endian_mono16_reads_like_little_endian(frame):
    native = bgr_to_native(frame, "mono16")
    swapped = native.astype(">u2").tobytes()
    msg = message(native, "mono16", is_bigendian=1, data=swapped)
    np.testing.assert_array_equal(read_native(msg), native)


def test_accepts_bytes_and_array_array_data(frame):
    import array

    native = bgr_to_native(frame, "mono8")
    for data in (native.tobytes(), array.array("B", native.tobytes()), bytearray(native)):
        np.testing.assert_array_equal(read_native(message(native, "mono8", data=data)), native)


@pytest.mark.parametrize("encoding", ["bgr8", "mono8", "mono16"])
def test_decoded_pixels_are_a_read_only_view_of_the_message(frame, encoding):
    """No copy, and no write back: the node may publish the very message (passed through)
    while the restorer works on its pixels (rclpy's uint8[] is a writable array.array)."""
    import array

    native = bgr_to_native(frame, encoding)
    for data in (array.array("B", native.tobytes()), bytearray(native), native.copy()):
        pixels = read_native(message(native, encoding, data=data))
        assert not pixels.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            pixels[0, 0] = 1
        assert bytes(memoryview(data).cast("B")) == native.tobytes()


@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
def test_merge_keeps_every_good_element_bit_exact(frame, encoding):
    rng = np.random.default_rng(1)
    mask = np.zeros(frame.shape[:2], bool)
    mask[10:30, 7:51] = True  # odd left edge: a YUV pair half failed
    mask |= rng.random(mask.shape) < 0.05
    native = bgr_to_native(frame, encoding)
    restored = np.full_like(frame, 77)
    merged = merge_into_native(native, restored, mask, encoding)
    assert merged.dtype == native.dtype and merged.shape == native.shape
    untouched = ~mask
    if merged.ndim == 3:
        untouched = untouched[..., None]
    # every element of a good pixel is identical
    np.testing.assert_array_equal(np.where(untouched, merged, 0), np.where(untouched, native, 0))
    encoded = bgr_to_native(restored, encoding)
    inside = np.broadcast_to(mask if merged.ndim == 2 else mask[..., None], merged.shape)
    if encoding.startswith(("bgra", "rgba")):
        inside = inside.copy()
        inside[..., 3] = False
        np.testing.assert_array_equal(merged[..., 3], native[..., 3])  # alpha kept
    if encoding in ("yuv422", "uyvy", "yuv422_yuy2", "yuyv"):
        luma = 1 if encoding in ("yuv422", "uyvy") else 0
        np.testing.assert_array_equal(merged[..., luma][mask], encoded[..., luma][mask])
    else:
        np.testing.assert_array_equal(merged[inside], encoded[inside])


def test_yuv422_chroma_of_a_half_failed_pair_is_kept(frame):
    native = bgr_to_native(frame, "yuv422")
    mask = np.zeros(frame.shape[:2], bool)
    mask[:, 7] = True  # pixel 7 failed, its pair partner 6 did not
    merged = merge_into_native(native, np.zeros_like(frame), mask, "yuv422")
    np.testing.assert_array_equal(merged[:, 7, 0], native[:, 7, 0])  # shared chroma byte kept
    assert (merged[:, 7, 1] == 16).all()  # black luma in BT.601 limited range


def test_yuv422_encoder_matches_opencv_decoder(frame):
    native = bgr_to_native(frame, "yuv422")
    flat = np.full((8, 8, 3), (40, 120, 200), np.uint8)
    back = cv2.cvtColor(bgr_to_native(flat, "uyvy"), cv2.COLOR_YUV2BGR_UYVY)
    assert np.abs(back.astype(int) - flat).max() <= 2
    assert native.shape == frame.shape[:2] + (2,)


@pytest.mark.parametrize(
    ("override", "kind", "words"),
    [
        ({"encoding": "32FC1"}, "unsupported_encoding", "unsupported encoding '32FC1'"),
        ({"encoding": "nv12"}, "unsupported_encoding", "nv12"),
        ({"data": b"\x00" * 100}, "bad_size", "data has 100 bytes but step x height"),
        ({"step": 10}, "bad_size", "step 10 is shorter than one row"),
        ({"height": 0}, "bad_size", "zero size"),
    ],
)
def test_bad_messages_raise_errors_that_name_the_problem(frame, override, kind, words):
    msg = message(bgr_to_native(frame, "bgr8"), "bgr8", **override)
    with pytest.raises(ImageDecodeError, match=words) as error:
        decode_image(msg)
    assert error.value.kind == kind


def test_compressed_round_trip_and_garbage(frame):
    png = encode_compressed(frame, "png")
    np.testing.assert_array_equal(decode_compressed("png", png).bgr, frame)
    jpeg = decode_compressed("jpeg", encode_compressed(frame, "bgr8; jpeg compressed bgr8"))
    assert np.abs(jpeg.bgr.astype(int) - frame).mean() < 3
    with pytest.raises(ImageDecodeError, match="does not decode"):
        decode_compressed("jpeg", b"not a jpeg at all")
    with pytest.raises(ImageDecodeError, match="no data"):
        decode_compressed("jpeg", b"")


@pytest.mark.parametrize(
    ("layout", "fmt"),
    [
        ("mono16", "mono16; png compressed mono16"),
        ("mono8", "mono8; png compressed mono8"),
        ("bgr16", "bgr16; png compressed bgr16"),
    ],
)
def test_compressed_keeps_bit_depth_and_channels(frame, layout, fmt):
    rng = np.random.default_rng(0)
    native = bgr_to_native(frame, layout)
    if native.dtype == np.uint16:
        native = native + rng.integers(0, 257, native.shape, dtype=np.uint16)  # use all 16 bits
    ok, png = cv2.imencode(".png", native)
    decoded = decode_compressed(fmt, png.tobytes())
    np.testing.assert_array_equal(decoded.native, native)
    assert decoded.bgr.shape == frame.shape and decoded.bgr.dtype == np.uint8
    mask = np.zeros(frame.shape[:2], bool)
    mask[10:30, 20:50] = True
    restored = np.full_like(frame, 200)
    out = cv2.imdecode(
        np.frombuffer(
            encode_compressed(restored, fmt, native=decoded.native, mask=mask), np.uint8
        ),
        cv2.IMREAD_UNCHANGED,
    )
    assert out.dtype == native.dtype and out.shape == native.shape
    np.testing.assert_array_equal(out[~mask], native[~mask])  # good pixels bit-exact
    np.testing.assert_array_equal(out[mask], bgr_to_native(restored, layout)[mask])
    by_format = cv2.imdecode(  # without the native pixels the format string sets the layout
        np.frombuffer(encode_compressed(restored, fmt), np.uint8), cv2.IMREAD_UNCHANGED
    )
    assert by_format.dtype == native.dtype and by_format.shape == native.shape


@pytest.mark.parametrize(
    ("fmt", "layout", "expected"),
    [  # compressed_image_transport's PNG strings: colour names its BGR target, mono nothing
        ("rgb8; jpeg compressed bgr8", "bgr8", ("rgb8; png compressed bgr8", "bgr8")),
        ("rgba8; jpeg compressed bgr8", "bgr8", ("rgba8; png compressed bgr8", "bgr8")),
        ("bgr16; jpeg compressed bgr8", "bgr8", ("bgr16; png compressed bgr16", "bgr16")),
        ("mono16; jpeg compressed mono8", "mono8", ("mono16; png compressed ", "mono16")),
        (
            "bayer_rggb8; jpeg compressed bayer_rggb8",
            "mono8",
            ("bayer_rggb8; png compressed ", "mono8"),
        ),
        ("mono16; png compressed ", "mono16", ("mono16; png compressed ", "mono16")),  # kept
        ("png", "bgra8", ("png", "bgra8")),
        ("jpeg", "mono8", ("png", "mono8")),  # plain: decoded by its channels, as the input
        # pixels that do not fit the encoding, or no ROS encoding: named by the pixels
        ("mono8; jpeg compressed mono8", "bgr8", ("bgr8; png compressed bgr8", "bgr8")),
        ("rgb8; jpeg compressed bgr8", "mono8", ("mono8; png compressed ", "mono8")),
        ("16UC1; jpeg compressed mono8", "mono8", ("mono8; png compressed ", "mono8")),
    ],
)
def test_png_format_says_what_the_png_holds(fmt, layout, expected):
    assert png_format(fmt, layout) == expected


def test_encode_png_widens_a_jpeg_of_a_16_bit_encoding_as_the_subscriber_does(frame):
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    mask = np.zeros(gray.shape, bool)
    mask[10:30, 20:50] = True
    restored = np.full_like(frame, 200)
    fmt, data = encode_png(restored, "mono16; jpeg compressed mono8", native=gray, mask=mask)
    out = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert fmt == "mono16; png compressed " and out.dtype == np.uint16 and out.ndim == 2
    np.testing.assert_array_equal(out[~mask], gray[~mask].astype(np.uint16) * 256)
    np.testing.assert_array_equal(out[mask], bgr_to_native(restored, "mono16")[mask])


@pytest.mark.parametrize("encoding", ["bayer_rggb8", "bayer_gbrg8", "bayer_bggr16"])
def test_bayer_decode_interpolates_border_rows_instead_of_copying(frame, encoding):
    """OpenCV's demosaic copies the last row; the detector would read that as lost rows."""
    decoded = decode_image(message(bgr_to_native(frame, encoding), encoding)).bgr
    for last, above in ((-1, -2), (-2, -3), (0, 1)):
        source_differs = (frame[last] != frame[above]).any(axis=-1)
        assert source_differs.any()
        decoded_differs = (decoded[last] != decoded[above]).any(axis=-1)
        assert decoded_differs[source_differs].mean() > 0.5, (encoding, last)
    assert (decoded[:, -1] != decoded[:, -2]).any() and (decoded[:, 0] != decoded[:, 1]).any()

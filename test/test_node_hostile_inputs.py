"""The node's core against hostile input: decompression bombs, resets on every frame, frames
thinner than the detector takes, exceptions in the node's own code, big-endian repairs.

Messages are built as ROS 2 messages (rosbags' typestore) and sent through CDR, as in
test_node_core.py; nothing here needs DDS.
"""

from __future__ import annotations

import logging
import struct

import cv2
import numpy as np
import pytest
from fakes import FailingBackend
from test_node_core import FRAME_DT_NS, image_message, wire

from frame_restore_ros.codec import image_codec
from frame_restore_ros.codec.image_codec import (
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    ImageDecodeError,
    bgr_to_native,
    compressed_size,
    decode_compressed,
    decode_image,
    native_to_fields,
    read_native,
    size_problem,
)
from frame_restore_ros.codec.messages import (
    COMPRESSED_TYPE,
    IMAGE_TYPE,
    CompressedImage,
    Image,
    make_header,
)
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.node.core import NodeCore
from frame_restore_ros.node.diagnostics import Level
from frame_restore_ros.node.message_factory import RosbagsMessageFactory
from frame_restore_ros.node.parameters import NodeSettings
from frame_restore_ros.pipeline.restorer import Status
from frame_restore_ros.synthetic import corruption


@pytest.fixture(scope="module")
def frames(bikes_frames) -> list[np.ndarray]:
    """bikes.mp4 frames 17-39: clean to the detector (see test_restorer.py)."""
    return bikes_frames[17:]


def compressed_message(data: bytes, fmt: str = "jpeg", index: int = 0) -> object:
    header = make_header(1_000_000_000 + index * FRAME_DT_NS, "cam")
    message = CompressedImage(header=header, format=fmt, data=np.frombuffer(data, np.uint8))
    return wire(message, COMPRESSED_TYPE)


def make_core(**overrides: object) -> NodeCore:
    """A core whose checks never race the wall clock: no camera goes stale and each warning
    is logged once while a test runs (a 20-frame test took 2.1 s on one loaded core, against
    the defaults of 2 s and 5 s), unless a test sets them."""
    values = {
        "backend": "hold",
        "align": "none",
        "diagnostics.stale_after_s": 600.0,
        "log_throttle_s": 3600.0,
        **overrides,
    }
    return NodeCore(NodeSettings.build(values), RosbagsMessageFactory())


def run(core: NodeCore, message: object, camera: str = "camera") -> dict:
    """Receive and process one message; return {output: message}."""
    core.receive(camera, message)
    pending = core.next_frame(camera, timeout=0)
    return {p.output: p.message for p in core.process(camera, pending)}


def jpeg_declaring(width: int, height: int) -> bytes:
    """A valid 16x16 JPEG whose frame header (SOF0) declares ``width`` x ``height``."""
    data = bytearray(cv2.imencode(".jpg", np.full((16, 16, 3), 90, np.uint8))[1].tobytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def png_declaring(width: int, height: int) -> bytes:
    """A 16x16 PNG whose IHDR declares ``width`` x ``height`` (its CRC no longer matches)."""
    data = bytearray(cv2.imencode(".png", np.zeros((16, 16), np.uint8))[1].tobytes())
    data[16:24] = struct.pack(">II", width, height)
    return bytes(data)


def report(core: NodeCore, camera: str = "camera"):
    return {r.hardware_id: r for r in core.diagnostics()}[camera]


# --- 1: a size declared beyond any camera is refused before decoding --------------------------


def test_size_bound_covers_8k_and_refuses_more():
    assert size_problem(7680, 4320) is None and size_problem(8192, 4320) is None
    assert size_problem(4320, 8192) is None and size_problem(2, 2) is None
    assert "8193x2" in size_problem(8193, 2)  # a side above the bound
    assert "8192x4321" in size_problem(8192, 4321)  # the pixel budget
    assert MAX_IMAGE_SIDE == 8192 and MAX_IMAGE_PIXELS >= 7680 * 4320
    assert "zero size" in size_problem(0, 5)


@pytest.mark.parametrize("make", [jpeg_declaring, png_declaring])
def test_compressed_bomb_is_refused_from_its_header_without_decoding(make, monkeypatch):
    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded")

    monkeypatch.setattr(image_codec.cv2, "imdecode", no_decoding)
    with pytest.raises(ImageDecodeError, match="declared size 16000x16000 is above") as error:
        decode_compressed("jpeg", make(16000, 16000))
    assert error.value.kind == "bad_size"
    with pytest.raises(ImageDecodeError, match="33848x1920"):  # one bit flipped in a height
        decode_compressed("jpeg", make(33848, 1920))


def test_jpeg_size_is_read_past_app_segments_and_stray_bytes():
    frame = np.random.default_rng(0).integers(0, 255, (37, 53, 3), dtype=np.uint8)
    jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
    thumbnail = jpeg_declaring(9999, 9999)  # an EXIF thumbnail's SOF must not count
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(thumbnail)) + b"Exif\0\0" + thumbnail
    tricky = jpeg[:2] + app1 + b"junk" + jpeg[2:]
    assert compressed_size("jpeg", np.frombuffer(tricky, np.uint8)) == (53, 37)
    assert decode_compressed("jpeg", tricky).bgr.shape == (37, 53, 3)  # OpenCV agrees
    progressive = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1]
    assert compressed_size("jpeg", progressive.reshape(-1)) == (53, 37)
    for data, words in [
        (jpeg[:20], "no JPEG frame header"),
        (cv2.imencode(".tiff", frame)[1].tobytes(), "neither JPEG nor PNG"),
    ]:
        with pytest.raises(ImageDecodeError, match=words) as error:
            decode_compressed("jpeg", data)
        assert error.value.kind == "undecodable"


def test_compressed_bomb_passes_through_counted_and_named(frames):
    core = make_core(**{"camera.transport": "compressed"})
    bomb = compressed_message(jpeg_declaring(16000, 16000))
    assert run(core, bomb) == {"restored": bomb}  # the very message, nothing else
    camera = report(core)
    assert camera.level == Level.WARN and camera.value("bad_messages.bad_size") == "1"
    assert "16000x16000" in camera.value("last_bad_message")
    good = compressed_message(cv2.imencode(".jpg", frames[0])[1].tobytes())
    assert run(core, good)["restored"] is good  # still running


def test_raw_image_above_the_bound_is_refused():
    native = np.zeros((2, MAX_IMAGE_SIDE + 2), np.uint8)
    message = image_message(cv2.cvtColor(native, cv2.COLOR_GRAY2BGR), "mono8")
    with pytest.raises(ImageDecodeError, match=f"declared size {MAX_IMAGE_SIDE + 2}x2") as error:
        decode_image(message)
    assert error.value.kind == "bad_size"


# --- 2: a reference reset on every frame is a warning that names the cause -------------------


def test_resolution_changing_every_frame_warns_and_names_the_cause(frames, caplog):
    core = make_core()
    caplog.set_level(logging.WARNING)
    for index, frame in enumerate(frames[:8]):
        small = frame if index % 2 else np.ascontiguousarray(frame[::2, ::2])
        run(core, image_message(small, index=index))
    camera = report(core)
    assert camera.level == Level.WARN
    assert "reference reset by resolution_change on 7 of the last 10 frames" in camera.message
    assert "two publishers of different resolutions on camera/image_raw?" in camera.message
    assert camera.value("resets.resolution_change") == "7"
    assert camera.value("resets.clock_jump") == "0" and camera.value("resets.total") == "7"
    assert "resolution changed" in camera.value("last_reset")
    logged = [r for r in caplog.records if "reference and detector reset" in r.getMessage()]
    assert len(logged) == 1  # the first, then at most one per log_throttle_s


def test_clock_going_back_every_other_frame_warns(frames):
    core = make_core()
    for index, frame in enumerate(frames[:8]):
        stamp_index = index if index % 2 else index - 25_000  # a second clock, 1000 s behind
        run(core, image_message(frame, index=stamp_index))
    camera = report(core)
    assert camera.level == Level.WARN and "reference reset by clock_jump" in camera.message
    assert "time went backwards" in camera.message and camera.value("resets.clock_jump") == "3"


def test_cameras_switched_on_one_topic_during_a_failure_warn_and_pass_it_through(frames, caplog):
    """Two cameras published on one topic, the view switching every frame, while the bottom
    fifth of the rows is lost: every switch drops the reference under the lost rows (it shows
    the other camera), so they pass through instead of being filled with the other view, and
    the diagnostics say why."""
    from frame_restore_ros.media.video import read_frames, sample_video_path

    height, width = frames[0].shape[:2]
    other = read_frames(sample_video_path("bigbuckbunny.mp4"), max_frames=20)
    other = [cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA) for frame in other]
    band = slice(height - height // 5, height)
    core = make_core()
    caplog.set_level(logging.WARNING)
    outputs = []
    for index in range(20):
        frame = (frames if index < 8 or index % 2 == 0 else other)[index].copy()
        if index >= 6:
            frame[band] = 0
        outputs.append(run(core, image_message(frame, index=index))["restored"])
    camera = report(core)
    assert camera.level == Level.WARN
    assert "reference reset by scene_cut on 10 of the last 10 frames" in camera.message
    assert "so failures pass through unrepaired" in camera.message
    assert "cameras switched on one topic" in camera.message
    assert int(camera.value("resets.scene_cut")) >= 10
    logged = [r for r in caplog.records if "reference dropped (scene cut" in r.getMessage()]
    assert len(logged) == 1  # the first, then at most one per log_throttle_s
    for message in outputs[9:]:  # after the first switch: the lost rows stay lost
        image = np.frombuffer(bytes(message.data), np.uint8).reshape(height, width, 3)
        assert not image[band].any()


def test_a_single_resolution_change_is_counted_but_not_a_warning(frames):
    core = make_core()
    for index, frame in enumerate(frames[:3]):
        run(core, image_message(frame, index=index))
    for index, frame in enumerate(frames[3:7], start=3):
        run(core, image_message(np.ascontiguousarray(frame[::2, ::2]), index=index))
    camera = report(core)
    assert camera.level == Level.OK, camera.message
    assert camera.value("resets.resolution_change") == "1"


# --- 3: frames thinner than the detector takes, exceptions in the node's code ----------------


def test_frames_thinner_than_two_pixels_pass_through_as_too_small(frames, caplog):
    core = make_core()
    caplog.set_level(logging.WARNING)
    thin = [
        image_message(frames[0][:1, :4000].copy()),  # 1 x 640
        image_message(frames[0][:200, :1].copy()),  # 200 x 1
        image_message(frames[0][:1, :1].copy(), "bayer_rggb8"),
    ]
    for _ in range(3):
        for message in thin:
            assert run(core, message) == {"restored": message}
    camera = report(core)
    assert camera.value("bad_messages.too_small") == "9" and camera.value("exceptions") == "0"
    assert camera.level == Level.WARN and "too_small 9" in camera.message
    assert "1x1 frame is smaller than 2x2" in camera.value("last_bad_message")
    lines = [r for r in caplog.records if "smaller than 2x2" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None  # throttled, no traceback

    png = make_core(**{"camera.transport": "compressed"})
    message = compressed_message(cv2.imencode(".png", frames[0][:1, :50])[1].tobytes(), "png")
    assert run(png, message) == {"restored": message}
    assert report(png).value("bad_messages.too_small") == "1"


def test_restorer_exception_is_an_error_logged_throttled_traceback_once(frames, caplog):
    core = make_core()
    caplog.set_level(logging.WARNING)
    pipeline = core.cameras["camera"]

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("detector bug")

    pipeline.restorer.process = broken
    messages = [image_message(frame, index=i) for i, frame in enumerate(frames[:3])]
    for message in messages:
        assert run(core, message) == {"restored": message}
    pipeline.warnings.period_s = 0.0  # the next is logged again, without its traceback
    run(core, messages[0])
    lines = [r for r in caplog.records if "restore raised RuntimeError" in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.ERROR, logging.ERROR]
    assert lines[0].exc_info is not None and lines[1].exc_info is None
    camera = report(core)
    assert camera.level == Level.ERROR and "4 frames passed through" in camera.message
    assert camera.value("exceptions") == "4" and camera.value("bad_messages.total") == "0"
    assert camera.value("last_exception") == "restore: RuntimeError: detector bug"


def test_exception_while_building_outputs_is_counted_and_the_input_passes(frames):
    core = make_core()
    pipeline = core.cameras["camera"]

    def broken(*args: object) -> None:
        raise ValueError("mask conversion bug")

    pipeline.publications = broken
    message = image_message(frames[0])
    assert run(core, message) == {"restored": message}
    camera = report(core)
    assert camera.level == Level.ERROR and camera.value("exceptions.total") == "1"
    assert camera.value("last_exception") == "outputs: ValueError: mask conversion bug"


# --- 5: the last bad message is named in the diagnostics ---------------------------------------


def test_last_bad_message_names_the_unsupported_encoding(frames):
    core = make_core()
    depth = Image(
        header=make_header(1, "depth"), height=2, width=2, encoding="16UC1", is_bigendian=0,
        step=4, data=np.zeros(8, np.uint8),
    )  # fmt: skip
    run(core, wire(depth, IMAGE_TYPE))
    camera = report(core)
    assert camera.value("last_bad_message").startswith(
        "unsupported_encoding: unsupported encoding '16UC1'"
    )
    endless = wire(Image(**{**depth.__dict__, "encoding": "x" * 10_000}), IMAGE_TYPE)
    run(core, endless)
    assert len(report(core).value("last_bad_message")) <= 300


# --- 6: a repaired big-endian frame keeps its byte order ---------------------------------------


def test_native_to_fields_writes_the_byte_order_asked_for(frames):
    native = bgr_to_native(frames[0][:8, :8], "mono16")
    fields = native_to_fields(native, "mono16", bigendian=True)
    assert fields["is_bigendian"] == 1
    assert fields["data"].tobytes() == native.astype(">u2").tobytes()
    assert np.array_equal(read_native(type("Msg", (), fields)), native)


def test_repaired_big_endian_mono16_keeps_every_byte_of_good_pixels(frames):
    core = make_core()
    for index, frame in enumerate(frames[:4]):
        message = image_message(frame, "mono16", index, bigendian=True)
        assert run(core, message)["restored"] is message
    damaged = corruption.blocks(frames[4], np.random.default_rng(1), FailureKind.DEAD, 2).damaged
    message = image_message(damaged, "mono16", 4, bigendian=True)
    out = run(core, message)
    assert core.cameras["camera"].stats.last_status is Status.REPAIRED
    restored = wire(out["restored"], IMAGE_TYPE)
    assert restored.is_bigendian == 1 and restored.step == message.step
    failed = read_native(wire(out["failure_mask"], IMAGE_TYPE)) > 0
    before = np.asarray(message.data).reshape(message.height, message.width, 2)
    after = np.asarray(restored.data).reshape(restored.height, restored.width, 2)
    assert np.array_equal(after[~failed], before[~failed])  # every byte of a good pixel
    assert not np.array_equal(after[failed], before[failed])  # the failed block was written


# --- 7: a repaired frame re-encoded as PNG says what it holds, as image_transport does ---------

_COLOUR = ("rgb8", "bgr8", "rgb16", "bgr16")


def published(frame: np.ndarray, encoding: str, codec: str, index: int) -> tuple[str, bytes]:
    """(format, data) of ``frame`` as compressed_image_transport's publisher sends it.

    ``compressed_publisher.cpp``: JPEG holds bgr8 (colour) or mono8; PNG bgr8/bgr16 (colour) or
    the mono encoding itself, named after "compressed" for colour only. 16-bit pixels carry a
    noisy low byte, so that all 16 bits must be kept.
    """
    colour = encoding in _COLOUR
    pixels = frame if colour else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if codec == "jpeg":
        fmt = f"{encoding}; jpeg compressed {'bgr8' if colour else 'mono8'}"
        return fmt, cv2.imencode(".jpg", pixels)[1].tobytes()
    depth = "16" if encoding.endswith("16") else "8"
    if depth == "16":
        low = np.random.default_rng(index).integers(0, 256, pixels.shape, dtype=np.uint16)
        pixels = (pixels.astype(np.uint16) << 8) | low
    fmt = f"{encoding}; png compressed {'bgr' + depth if colour else ''}"
    return fmt, cv2.imencode(".png", pixels)[1].tobytes()


def subscriber_decodes(fmt: str, data: object) -> tuple[str, np.ndarray]:
    """(encoding, pixels) compressed_image_transport's subscriber makes of a CompressedImage.

    ``compressed_subscriber.cpp`` (ROS 2, mode "unchanged"): no ";" -> mono8 or bgr8 by the
    channels; else the encoding before ";", colour swapped from the BGR "compressed bgr" names
    (or to BGR when it names none), 8-bit JPEG pixels of a 16-bit encoding x 256.
    """
    image = cv2.imdecode(np.frombuffer(bytes(data), np.uint8), cv2.IMREAD_UNCHANGED)
    if ";" not in fmt:
        return ("mono8" if image.ndim == 2 else "bgr8"), image
    encoding, compressed = fmt.split(";", 1)
    if encoding in _COLOUR and ("compressed bgr" in compressed) == encoding.startswith("rgb"):
        image = np.ascontiguousarray(image[..., ::-1])
    if "jpeg" in fmt and encoding.endswith("16"):
        image = image.astype(np.uint16) * 256
    return encoding, image


@pytest.mark.parametrize(
    ("encoding", "codec", "fmt", "expected"),
    [
        ("mono16", "jpeg", None, "mono16; png compressed "),
        ("mono8", "jpeg", None, "mono8; png compressed "),
        ("rgb8", "jpeg", None, "rgb8; png compressed bgr8"),
        ("bgr8", "jpeg", None, "bgr8; png compressed bgr8"),
        ("rgb16", "jpeg", None, "rgb16; png compressed bgr16"),
        ("mono16", "png", None, "mono16; png compressed "),
        ("mono16", "png", "mono16; png compressed mono16", "mono16; png compressed mono16"),
        ("rgb8", "png", None, "rgb8; png compressed bgr8"),
        ("bgr8", "png", None, "bgr8; png compressed bgr8"),
        ("bgr8", "jpeg", "jpeg", "png"),  # an old publisher: decoded by its channels, as before
    ],
)
def test_repaired_png_format_decodes_to_the_input_encoding_with_exact_good_pixels(
    frames, encoding, codec, fmt, expected
):
    """``repaired_format: png`` once wrote "png" alone: the subscriber then decoded a mono16
    camera's repairs as mono8 and an rgb8 camera's as bgr8. The format now names the input's
    encoding and what the PNG holds, and its good pixels decode to the input's."""
    core = make_core(**{"camera.transport": "compressed", "camera.repaired_format": "png"})
    for index in range(4):
        sent_fmt, data = published(frames[index], encoding, codec, index)
        message = compressed_message(data, fmt or sent_fmt, index)
        assert run(core, message)["restored"] is message  # clean: as received
    damaged = corruption.blocks(frames[4], np.random.default_rng(1), FailureKind.DEAD, 2).damaged
    sent_fmt, data = published(damaged, encoding, codec, 4)
    message = compressed_message(data, fmt or sent_fmt, 4)
    out = run(core, message)
    assert core.cameras["camera"].stats.last_status is Status.REPAIRED
    restored = wire(out["restored"], COMPRESSED_TYPE)
    assert restored.format == expected
    assert bytes(restored.data[:8]) == b"\x89PNG\r\n\x1a\n"
    failed = read_native(wire(out["failure_mask"], IMAGE_TYPE)) > 0
    got_encoding, got = subscriber_decodes(restored.format, restored.data)
    sent_encoding, sent = subscriber_decodes(message.format, message.data)
    assert got_encoding == sent_encoding and got.dtype == sent.dtype and got.shape == sent.shape
    assert got.dtype == (np.uint16 if sent_encoding.endswith("16") else np.uint8)
    np.testing.assert_array_equal(got[~failed], sent[~failed])  # every good pixel exact
    assert not np.array_equal(got[failed], sent[failed])  # the failed blocks were written


# --- 8: an inference that raises on every frame is logged at the throttled rate ----------------


def test_failing_inference_logs_one_traceback_per_throttle_period(frames, caplog):
    """A model that raises on every damaged frame (a frame narrower than its patch grid, a lost
    GPU) once logged a traceback per frame (12 in 4 s over DDS): now an ERROR at most once per
    ``log_throttle_s``, the traceback the first time only; every frame passes through, and the
    status and reason still reach the diagnostics."""
    core = make_core(log_throttle_s=60.0)
    pipeline = core.cameras["camera"]
    pipeline.reconfigure(pipeline.restorer.config, FailingBackend())
    caplog.set_level(logging.DEBUG)
    for index, frame in enumerate(frames[:4]):
        run(core, image_message(frame, index=index))
    errors = 0
    for index in range(4, 16):
        damaged = corruption.blocks(frames[index], np.random.default_rng(index), FailureKind.DEAD)
        message = image_message(damaged.damaged, index=index)
        assert run(core, message)["restored"] is message
        errors += pipeline.stats.last_status is Status.ERROR
    assert errors >= 6
    assert "inference failed: RuntimeError: CUDA error: device lost" in pipeline.stats.last_reason
    tracebacks = [r for r in caplog.records if r.exc_info is not None]
    assert len(tracebacks) == 1 and tracebacks[0].levelno == logging.ERROR
    assert "camera: inference raised RuntimeError: CUDA error: device lost; frame passed" in (
        tracebacks[0].getMessage()
    )
    camera = report(core)
    assert camera.level == Level.ERROR
    assert f"restoration failed on {errors} frames: inference failed" in camera.message
    assert camera.value("exceptions") == "0"  # the node's own code did not raise
    pipeline.warnings.period_s = 0.0  # the next is logged again, without its traceback
    damaged = corruption.blocks(frames[16], np.random.default_rng(16), FailureKind.DEAD).damaged
    run(core, image_message(damaged, index=16))
    lines = [r for r in caplog.records if "inference raised" in r.getMessage()]
    assert len(lines) == 2 and lines[1].exc_info is None

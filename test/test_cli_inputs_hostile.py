"""Hostile inputs of make-bag, replay and evaluate: what is kept, skipped, warned about or refused.

From a hostile-input pass: a bag whose frame size changes mid-stream (evaluate split it into runs
of one size instead of failing on "shapes differ"), one tiny frame among good ones (skipped with
its record time and position on the topic, not fatal), 16-bit and BGRA images in make-bag (kept
in 16-bit encodings and bgra8, else warned about), frames wider than replay's limit (make-bag
warns; a replay that could use no frame fails), options that another option makes meaningless,
error texts that name the option and value, and help texts that state their defaults.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_checks import argument_error
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from frame_restore_ros.bag.bag_io import BagReader
from frame_restore_ros.bag.from_video import CameraSource, make_bag
from frame_restore_ros.cli.main import main
from frame_restore_ros.codec.image_codec import decode_compressed, decode_image

START = 1_700_000_000_000_000_000
PERIOD = 100_000_000  # make-bag's 10 Hz for image folders
TOPIC = "/cam/image_raw"
IMAGE = "sensor_msgs/msg/Image"
# The smallest evaluation: one condition, frames from the whole clip, no model (see `hold_only`).
SMALL = ["--ratios", "0.5", "--gaps", "1", "--kinds", "--frames", "3", "--no-mae", "--no-fsim",
         "--no-progress"]  # fmt: skip


def textured(height: int, width: int, shift: int = 0) -> np.ndarray:
    """A smooth random BGR frame (the same texture for every size), moved ``shift`` px."""
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur((rng.random((48, 64, 3)) * 255).astype(np.uint8), (5, 5), 2)
    return cv2.resize(np.roll(base, shift, axis=1), (width, height))


def folder_of(frames: list[np.ndarray], folder: Path) -> Path:
    folder.mkdir(parents=True)
    for index, frame in enumerate(frames):
        assert cv2.imwrite(str(folder / f"{index:03d}.png"), frame)
    return folder


def image_bag(path: Path, frames: list[np.ndarray | None]) -> Path:
    """A bag of bgr8 Image messages on TOPIC at 10 Hz; None: a message in an unknown encoding."""
    store = get_typestore(Stores.ROS2_HUMBLE)
    types = store.types
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection(TOPIC, IMAGE, typestore=store)
        for index, frame in enumerate(frames):
            stamp = START + index * PERIOD
            pixels = np.zeros((4, 4, 3), np.uint8) if frame is None else frame
            header = types["std_msgs/msg/Header"](
                stamp=types["builtin_interfaces/msg/Time"](
                    sec=stamp // 10**9, nanosec=stamp % 10**9
                ),
                frame_id="cam",
            )
            message = types[IMAGE](
                header=header,
                height=pixels.shape[0],
                width=pixels.shape[1],
                encoding="BGR8" if frame is None else "bgr8",
                is_bigendian=0,
                step=pixels.shape[1] * 3,
                data=np.ascontiguousarray(pixels).reshape(-1),
            )
            writer.write(connection, stamp, store.serialize_cdr(message, IMAGE))
    return path


def first_message(bag: Path):
    with BagReader(bag) as reader:
        return reader.deserialize(next(iter(reader.messages(reader.image_topics()))))


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.fixture
def hold_only(monkeypatch):
    """Evaluate with the hold baseline alone: no model loads (the harness is what is tested)."""
    from frame_restore_ros.evaluation import methods

    monkeypatch.setattr(methods, "build_methods", lambda *args, **kwargs: {"hold": methods.hold})


# 1: a bag whose frame size changes mid-stream


def test_evaluate_splits_a_clip_where_its_frame_size_changes(tmp_path, caplog, hold_only):
    frames = [textured(40, 56, i) for i in range(8)] + [textured(32, 48, i) for i in range(8, 14)]
    bag = tmp_path / "resize"
    make_bag([CameraSource(folder_of(frames, tmp_path / "images"), TOPIC)], bag, progress=False)
    out = tmp_path / "e"
    assert main(["evaluate", *SMALL, "--data", str(bag), "-o", str(out)]) == 0
    (split,) = [m for m in warnings_of(caplog) if "changes frame size" in m]
    assert (
        f"clip {bag}:{TOPIC} changes frame size at frame 8 (t=1700000000.800s), 56x40 -> 48x32"
        in split
    )
    assert f"{bag}:{TOPIC}@0: 8 frames, {bag}:{TOPIC}@8: 6 frames" in split
    clips = json.loads((out / "evaluation.json").read_text())["meta"]["clips"]
    assert clips == {f"{bag}:{TOPIC}@0": 8, f"{bag}:{TOPIC}@8": 6}


def test_split_size_runs_leaves_out_short_runs_and_names_a_clip_without_a_long_one(caplog):
    from frame_restore_ros.evaluation.harness import split_size_runs

    big, small = np.zeros((20, 30, 3), np.uint8), np.zeros((16, 26, 3), np.uint8)
    clip = [big] * 5 + [small] * 2 + [big] * 4
    times = {"c": [START + i * PERIOD for i in range(len(clip))]}
    runs = split_size_runs({"c": clip, "same": [big] * 3}, 3, times)
    assert {name: len(frames) for name, frames in runs.items()} == {"c@0": 5, "c@7": 4, "same": 3}
    (warning,) = warnings_of(caplog)
    assert "frame 5 (t=1700000000.500s), 30x20 -> 26x16; frame 7" in warning
    assert "1 runs shorter than 3 frames left out" in warning
    with pytest.raises(ValueError, match=r"clip c changes frame size at frame 5 .* no run of one"):
        split_size_runs({"c": clip}, 6, times)


def test_evaluate_clips_names_a_clip_that_changes_size():
    from frame_restore_ros.evaluation.harness import EvalConfig, evaluate_clips

    clip = [np.zeros((20, 30, 3), np.uint8)] * 3 + [np.zeros((16, 26, 3), np.uint8)] * 3
    with pytest.raises(ValueError, match=r"clip c changes frame size at frame 3, 30x20 -> 26x16"):
        evaluate_clips({"c": clip}, {}, EvalConfig(), progress=False)


# 2: one tiny frame among good ones


def test_evaluate_skips_a_frame_smaller_than_the_grid_naming_its_message(
    tmp_path, caplog, hold_only
):
    frames: list[np.ndarray | None] = [textured(40, 56, i) for i in range(10)]
    frames[2] = None  # does not decode: the tiny frame is the 5th message, the 4th frame
    frames[5] = np.full((1, 1, 3), 90, np.uint8)
    bag = image_bag(tmp_path / "badsize", frames)
    out = tmp_path / "e"
    assert main(["evaluate", *SMALL, "--data", str(bag), "-o", str(out)]) == 0
    (skipped,) = [m for m in warnings_of(caplog) if "skipped 2 of 10" in m]
    assert (
        "too_small 1 (first t=1700000000.500s: frame 5 is 1x1 pixels, smaller than the 14x25 "
        "patch grid" in skipped
    )
    clips = json.loads((out / "evaluation.json").read_text())["meta"]["clips"]
    assert clips == {f"{bag}:{TOPIC}": 8}


def test_bag_frames_skips_frames_the_detector_cannot_take(tmp_path, caplog):
    """The shared reader (evaluate, train, eval-detection) drops a 1x1 frame, as replay does."""
    from frame_restore_ros.bag.frame_sources import bag_frames

    frames = [textured(40, 56, i) for i in range(4)]
    frames[1] = np.full((1, 1, 3), 90, np.uint8)
    clips = bag_frames(image_bag(tmp_path / "tiny", frames))
    assert [f.shape for f in clips[TOPIC]] == [(40, 56, 3)] * 3
    assert "frame 1 is 1x1 pixels, smaller than 2x2, the smallest the detector" in caplog.text


# 3: 16-bit and BGRA images in make-bag


def deep_images(folder: Path, channels: int) -> list[np.ndarray]:
    """Three 16-bit images whose low bytes differ from their high bytes (not 8-bit x 257)."""
    rng = np.random.default_rng(1)
    shape = (8, 10) if channels == 1 else (8, 10, channels)
    images = [(rng.random(shape) * 65535).astype(np.uint16) for _ in range(3)]
    folder_of(images, folder)
    return images


def test_make_bag_keeps_16_bits_in_mono16(tmp_path):
    images = deep_images(tmp_path / "img16", 1)
    bag = tmp_path / "bag"
    args = ["make-bag", str(tmp_path / "img16"), "-o", str(bag), "--encoding", "mono16"]
    assert main(args) == 0
    decoded = decode_image(first_message(bag))
    assert decoded.native.dtype == np.uint16 and np.array_equal(decoded.native, images[0])


@pytest.mark.parametrize("encoding", ["bgr16", "rgb16", "bayer_grbg16"])
def test_make_bag_keeps_16_bits_in_every_16_bit_encoding(tmp_path, encoding):
    image = deep_images(tmp_path / "img16", 3)[0]
    make_bag([CameraSource(tmp_path / "img16", TOPIC, encoding=encoding)], tmp_path / "bag")
    native = decode_image(first_message(tmp_path / "bag")).native
    if encoding == "bgr16":
        assert np.array_equal(native, image)
    elif encoding == "rgb16":
        assert np.array_equal(native, image[..., ::-1])
    else:  # G R / B G: each site keeps its own colour
        assert native[0, 0] == image[0, 0, 1] and native[0, 1] == image[0, 1, 2]
        assert native[1, 0] == image[1, 0, 0] and native[1, 1] == image[1, 1, 1]


def test_make_bag_keeps_16_bits_in_a_16_bit_png(tmp_path):
    image = deep_images(tmp_path / "img16", 1)[0]
    source = CameraSource(tmp_path / "img16", TOPIC + "/compressed", encoding="mono16")
    source.compressed = "png"
    make_bag([source], tmp_path / "bag", progress=False)
    message = first_message(tmp_path / "bag")
    assert np.array_equal(decode_compressed(message.format, message.data).native, image)


def test_make_bag_warns_when_16_bits_are_written_as_8(tmp_path, caplog):
    images = deep_images(tmp_path / "img16", 1)
    summary = make_bag([CameraSource(tmp_path / "img16", TOPIC)], tmp_path / "bag")
    assert summary["reduced_to_8_bit"] == {TOPIC: 3}
    (warning,) = [m for m in warnings_of(caplog) if "16-bit" in m]
    assert "is a 16-bit image, written as 8-bit (--encoding bgr8)" in warning
    bgr = decode_image(first_message(tmp_path / "bag")).bgr
    assert np.array_equal(bgr[..., 0], (images[0] >> 8).astype(np.uint8))  # as before: high byte


def test_make_bag_keeps_alpha_in_bgra8_and_warns_when_an_encoding_drops_it(tmp_path, caplog):
    rng = np.random.default_rng(2)
    images = [(rng.random((8, 10, 4)) * 255).astype(np.uint8) for _ in range(2)]
    folder = folder_of(images, tmp_path / "bgra")
    make_bag([CameraSource(folder, TOPIC, encoding="bgra8")], tmp_path / "kept")
    assert np.array_equal(decode_image(first_message(tmp_path / "kept")).native, images[0])
    assert not [m for m in warnings_of(caplog) if "alpha" in m]
    summary = make_bag([CameraSource(folder, TOPIC, encoding="mono8")], tmp_path / "dropped")
    assert summary["alpha_dropped"] == {TOPIC: 2}
    (warning,) = [m for m in warnings_of(caplog) if "alpha" in m]
    assert "has an alpha channel, which --encoding mono8 cannot carry: dropped" in warning
    bgr = decode_image(first_message(tmp_path / "dropped")).bgr
    gray = cv2.cvtColor(np.ascontiguousarray(images[0][..., :3]), cv2.COLOR_BGR2GRAY)
    assert np.array_equal(bgr[..., 0], gray)


# 4: frames replay cannot use


def test_make_bag_warns_about_frames_wider_than_replay_takes_and_replay_then_fails(
    tmp_path, caplog
):
    folder = folder_of([np.full((2, 8193, 3), 90 + i, np.uint8) for i in range(2)], tmp_path / "w")
    bag = tmp_path / "wide"
    summary = make_bag([CameraSource(folder, TOPIC)], bag, progress=False)
    assert summary["too_large"] == {TOPIC: 2}
    assert any(
        f"{folder} frame 1 ({TOPIC}, t=1700000000.100s) is 8193x2, larger than the decoder's "
        "limit (8192 px a side" in m
        for m in warnings_of(caplog)
    )
    out = tmp_path / "out"
    assert main(["replay", str(bag), str(out), "--backend", "hold", "--no-progress"]) == 2
    assert (
        f"no frame of {bag} could be restored: every image message was skipped and passed "
        f"through unchanged ({TOPIC}: 2 messages, skipped: bad_size 2)" in caplog.text
    )
    assert (tmp_path / "out_report" / "summary.json").is_file()  # the report says why


def test_replay_warns_about_a_camera_without_usable_frames_beside_good_ones(tmp_path, caplog):
    wide = folder_of([np.full((2, 8193, 3), 90, np.uint8)] * 2, tmp_path / "w")
    good = folder_of([textured(40, 56, i) for i in range(2)], tmp_path / "g")
    bag = tmp_path / "bag"
    make_bag([CameraSource(wide, "/wide"), CameraSource(good, TOPIC)], bag, progress=False)
    out = tmp_path / "out"
    assert main(["replay", str(bag), str(out), "--backend", "hold", "--no-progress"]) == 0
    assert (
        "no frame of this camera could be restored, all passed through: /wide: 2 messages, "
        "skipped: bad_size 2" in caplog.text
    )


def test_make_bag_names_a_video_stamped_at_another_inputs_rate(tmp_path, caplog):
    folder = folder_of([textured(40, 56, i) for i in range(2)], tmp_path / "images")
    video = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (56, 40))
    for i in range(2):
        writer.write(textured(40, 56, i))
    writer.release()
    sources = [CameraSource(folder, "/a"), CameraSource(video, "/b")]
    assert make_bag(sources, tmp_path / "bag", progress=False)["rate_hz"] == 10.0
    assert f"{video} runs at 25 Hz but is stamped at 10 Hz, the rate of the first input" in (
        caplog.text
    )


# 5: options that another option makes meaningless


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--inject-rate", "0.3"], "--inject-rate applies only with --inject"),
        (["--seed", "5"], "--seed applies only with --inject"),
        (
            ["--backend", "hold", "--weights", "w.safetensors"],
            "--weights is not used by --backend",
        ),
    ],
)
def test_replay_refuses_an_option_without_its_partner(tmp_path, caplog, options, words):
    args = ["replay", str(tmp_path / "missing_bag"), str(tmp_path / "out"), *options]
    assert main(args) == 2
    assert words in caplog.text and "does not exist" not in caplog.text
    assert not (tmp_path / "out").exists()


def test_evaluate_refuses_mae_weights_with_no_mae(capsys):
    err = argument_error(capsys, ["evaluate", "--no-mae", "--mae", "w.safetensors"])
    assert "argument --mae: not allowed with argument --no-mae" in err


# 6: error texts that name the option and the value


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("foo", "--kinds: unknown failure 'foo'; choose from dead,"),
        ("dead:2", "--kinds: takes failure names without a value (the harness draws the count)"),
        ("patches", "--kinds: 'patches' is scored by --ratios, not --kinds"),
    ],
)
def test_evaluate_names_kinds_and_the_bad_kind(tmp_path, caplog, kind, words):
    assert main(["evaluate", "--kinds", "dead", kind, "-o", str(tmp_path / "e")]) == 2
    assert words in caplog.text and "--inject" not in caplog.text


def test_evaluate_takes_kinds_in_any_case(hold_only, tmp_path, caplog):
    images = folder_of([textured(40, 56, i) for i in range(5)], tmp_path / "images")
    make_bag([CameraSource(images, TOPIC)], tmp_path / "bag", progress=False)
    args = [*SMALL[:4], "--kinds", "Dead", *SMALL[5:], "--data", str(tmp_path / "bag")]
    assert main(["evaluate", *args, "-o", str(tmp_path / "e")]) == 0, caplog.text
    summary = (tmp_path / "e" / "summary.csv").read_text()
    assert "dead_gap2" in summary


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--ratios", "0"], "argument --ratios: must be in (0, 1], got 0"),
        (["--ratios", "0.5", "nan"], "argument --ratios: must be in (0, 1], got nan"),
        (["--gaps", "0"], "argument --gaps: must be an integer >= 1, got 0"),
    ],
)
def test_evaluate_names_the_option_and_the_bad_value(capsys, options, words):
    assert words in argument_error(capsys, ["evaluate", *options])


def test_evaluate_says_a_data_path_does_not_exist(tmp_path, caplog):
    missing = tmp_path / "nonexist"
    assert main(["evaluate", "--data", str(missing), "-o", str(tmp_path / "e")]) == 2
    assert f"--data {missing} does not exist" in caplog.text


def test_evaluate_says_what_data_takes_for_a_folder_of_images(tmp_path, caplog):
    folder = folder_of([textured(40, 56)], tmp_path / "imgs")
    assert main(["evaluate", "--data", str(folder), "-o", str(tmp_path / "e")]) == 2
    assert f"--data {folder} is a folder but not a ROS 2 bag (no metadata.yaml)" in caplog.text
    assert f"frame-restore make-bag {folder} -o BAG" in caplog.text


# 7: help texts that state the defaults


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("make-bag", "the first input's rate: a video's own, 10 for an image folder"),
        ("replay", "strips per camera in the report (default: 3)"),
        ("evaluate", "(default: 0.45 0.6 0.75 0.9)"),
        ("evaluate", "reference = frame t-G (default: 1 2 4 8)"),
    ],
)
def test_help_states_the_defaults(capsys, command, words):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert words in " ".join(capsys.readouterr().out.split())


# 7: a truncated video: every command that reads one warns alike


def truncated_video(folder: Path) -> tuple[Path, int]:
    """A 40-frame MJPG video cut to half its bytes; return it and how many frames decode."""
    video = folder / "whole.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (56, 40))
    for i in range(40):
        writer.write(textured(40, 56, i))
    writer.release()
    cut = folder / "cut.avi"
    cut.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    capture, read = cv2.VideoCapture(str(cut)), 0
    while capture.read()[0]:
        read += 1
    capture.release()
    assert 0 < read < 30
    return cut, read


@pytest.mark.parametrize(
    "command",
    [
        ["make-bag", "{cut}", "-o", "{out}", "--no-progress"],
        ["demo", "--data", "{cut}", "-o", "{out}", "--max-frames", "30", "--no-progress"],
        ["evaluate", *SMALL, "--data", "{cut}", "-o", "{out}"],
    ],
)
def test_demo_and_evaluate_warn_about_a_truncated_video_as_make_bag_does(
    tmp_path, caplog, hold_only, command
):
    cut, read = truncated_video(tmp_path)
    args = [a.format(cut=cut, out=tmp_path / "out") for a in command]
    assert main(args) == 0
    assert [m for m in warnings_of(caplog) if "container declares" in m] == [
        f"{cut}: read {read} frames, but the video's container declares 40: the file is "
        f"probably truncated or damaged; only the {read} frames that decoded are used"
    ]

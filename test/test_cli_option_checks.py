"""Hostile CLI options of evaluate, export, info, doctor and train: argument errors, exit code 2.

Review findings 4 (evaluate on a bag without images), 5 (--persistent -1), 8 (export --batch 0),
9 (a huge --threads), 11 (weights of the wrong architecture), 18 (output paths checked before
the work), 23 (--seed -1). Every case fails before a model loads or a clip is scored.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_checks import argument_error
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from frame_restore_ros.cli.main import main
from frame_restore_ros.model.bundled import BASELINE_MAE_WEIGHTS, default_weights_path

SIAMMCVAE = str(default_weights_path())
MAE = str(default_weights_path(BASELINE_MAE_WEIGHTS))
# The smallest evaluation: one condition, one frame, bikes.mp4's first 4 frames.
SMALL = ["--ratios", "0.5", "--gaps", "1", "--kind-gap", "1", "--kinds", "--frames", "1",
         "--max-frames", "4", "--no-mae", "--no-fsim", "--no-progress"]  # fmt: skip


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if evaluate gets as far as building its methods (loading models)."""
    from frame_restore_ros.evaluation import methods

    def refuse(*args, **kwargs):
        raise AssertionError("the check came after the models loaded")

    monkeypatch.setattr(methods, "build_methods", refuse)


@pytest.mark.parametrize("command", [["info"], ["doctor"], ["evaluate"], ["export", "-o", "m"]])
def test_threads_above_the_bound_are_an_argument_error(capsys, command):
    err = argument_error(capsys, [*command, "--threads", "100000"])
    assert "argument --threads: must be an integer <= 1024, got 100000" in err


def test_threads_at_the_bound_are_accepted():
    from frame_restore_ros.cli.main import build_parser

    assert build_parser().parse_args(["info", "--threads", "1024"]).threads == 1024


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_export_batch_below_one_is_an_argument_error(capsys, tmp_path, value):
    err = argument_error(capsys, ["export", "-o", str(tmp_path / "m.onnx"), "--batch", value])
    assert "argument --batch: must be an integer >= 1" in err
    assert not (tmp_path / "m.onnx").exists()


def test_export_onnx_refuses_a_batch_below_one(tmp_path):
    from frame_restore_ros.backends.onnx_export import export_onnx
    from frame_restore_ros.model import SiamMCVAE, preset

    with pytest.raises(ValueError, match="batch must be an integer >= 1, got 0"):
        export_onnx(SiamMCVAE(preset("tiny")), tmp_path / "m.onnx", batch=0)


@pytest.mark.parametrize(
    "args", [["evaluate", "--seed", "-1"], ["train", "--seed", "-1", "--steps", "1"]]
)
def test_a_negative_seed_is_an_argument_error_naming_the_option(capsys, args):
    assert "argument --seed: must be an integer >= 0, got -1" in argument_error(capsys, args)


def test_persistent_below_zero_is_an_argument_error_and_zero_means_off(capsys):
    from frame_restore_ros.cli.main import build_parser

    err = argument_error(capsys, ["evaluate", "--persistent", "-1"])
    assert "argument --persistent: must be an integer >= 0, got -1" in err
    assert build_parser().parse_args(["evaluate", "--persistent", "0"]).persistent == 0


def test_persistent_longer_than_the_clip_fails_before_any_model(tmp_path, caplog, no_model):
    out = tmp_path / "e"
    assert main(["evaluate", *SMALL, "--persistent", "5", "-o", str(out)]) == 2
    assert "has 4 frames, too few for --persistent 5 (needs at least 10)" in caplog.text
    assert not out.exists()


def test_evaluate_persistent_refuses_a_length_below_one():
    from frame_restore_ros.evaluation.persistent import evaluate_persistent

    with pytest.raises(ValueError, match="length >= 1"):
        evaluate_persistent({"c": [np.zeros((8, 8, 3), np.uint8)] * 20}, {}, length=-1)


def test_a_clip_too_short_for_the_gaps_fails_before_any_model(tmp_path, caplog, no_model):
    args = ["evaluate", *SMALL, "--gaps", "4", "-o", str(tmp_path / "e")]
    assert main(args) == 2
    assert "has 4 frames, too few for gap 4 (needs at least 5" in caplog.text


def test_evaluate_on_a_bag_without_images_fails_early_naming_its_topics(
    tmp_path, caplog, no_model
):
    store = get_typestore(Stores.ROS2_HUMBLE)
    string = "std_msgs/msg/String"
    bag = tmp_path / "chatter_bag"
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        chatter = writer.add_connection("/chatter", string, typestore=store)
        for i in range(3):
            data = store.serialize_cdr(store.types[string](data=f"tick {i}"), string)
            writer.write(chatter, 1_700_000_000_000_000_000 + i, data)
    assert main(["evaluate", *SMALL, "--data", str(bag), "-o", str(tmp_path / "e")]) == 2
    assert (
        f"--data {bag}: no sensor_msgs/Image or CompressedImage topic in the bag; topics: "
        "/chatter (std_msgs/msg/String)" in caplog.text
    )
    assert "Traceback" not in caplog.text and not (tmp_path / "e").exists()


@pytest.mark.parametrize(
    ("option", "weights", "words"),
    [
        ("--mae", SIAMMCVAE, "holds a SiamMCVAE (architecture siammcvae); --mae takes a single"),
        ("--weights", MAE, "holds a single-frame MAE (architecture mae); --weights takes a"),
        ("--compare-weights", MAE, "holds a single-frame MAE (architecture mae); --compare-"),
    ],
)
def test_evaluate_refuses_weights_of_the_wrong_architecture(
    tmp_path, caplog, no_model, option, weights, words
):
    args = ["evaluate", *SMALL[:-3], "--no-fsim", "--no-progress", option, weights]
    assert main([*args, "-o", str(tmp_path / "e")]) == 2
    assert f"{option} {weights} {words}" in caplog.text
    assert not (tmp_path / "e").exists()


def test_outputs_under_a_regular_file_fail_before_the_work(tmp_path, caplog, no_model):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    assert main(["evaluate", *SMALL, "-o", str(afile / "ev")]) == 2
    assert f"cannot write output {afile}/ev: {afile} is a file" in caplog.text
    assert main(["evaluate", *SMALL, "-o", str(afile)]) == 2
    assert f"output {afile} exists and is not a folder; remove it" in caplog.text
    args = ["evaluate", *SMALL, "-o", str(tmp_path / "e"), "--save-frames", str(afile)]
    assert main(args) == 2
    assert f"--save-frames {afile} exists and is not a folder" in caplog.text
    assert main(["export", "-o", str(afile / "m.onnx")]) == 2
    assert f"cannot write -o/--output {afile}/m.onnx: {afile} is a file" in caplog.text
    assert main(["export", "-o", str(tmp_path / "m.onnx"), "--engine", str(afile / "e")]) == 2
    assert f"cannot write --engine {afile}/e: {afile} is a file" in caplog.text
    assert afile.read_text() == "not a folder" and not (tmp_path / "m.onnx").exists()


def test_evaluate_into_a_folder_with_other_files_needs_overwrite(tmp_path, caplog, no_model):
    out = tmp_path / "e"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["evaluate", *SMALL, "-o", str(out)]) == 2
    assert f"output {out} exists and is not empty; remove it or pass --overwrite" in caplog.text
    assert main(["evaluate", *SMALL, "-o", str(out), "--overwrite"]) == 2
    assert (
        f"--overwrite replaces only an evaluate output; {out} is not one: it has no "
        "evaluation.json" in caplog.text
    )
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_overwrite_replaces_an_earlier_evaluation_and_keeps_other_files(tmp_path, capsys):
    out = tmp_path / "e"
    out.mkdir()
    for name in ("evaluation.json", "strip_old_run_7.png", "table_failed_region.md"):
        (out / name).write_text("old")
    (out / "notes.md").write_text("mine")
    assert main(["evaluate", *SMALL, "-o", str(out), "--overwrite"]) == 0
    assert not (out / "strip_old_run_7.png").exists()  # the earlier run's files are gone
    assert (out / "notes.md").read_text() == "mine"  # files evaluate does not write stay
    assert json.loads((out / "evaluation.json").read_text())["meta"]["clips"]
    assert "| patches 0.50 | 1 |" in (out / "table_failed_region.md").read_text()


def test_write_outputs_refuses_an_empty_result(tmp_path):
    from frame_restore_ros.evaluation.harness import EvalConfig, EvalResult
    from frame_restore_ros.evaluation.report import write_outputs

    with pytest.raises(ValueError, match="no frame was scored"):
        write_outputs(EvalResult(), EvalConfig(), tmp_path / "o", {})
    assert not (tmp_path / "o").exists()


def test_an_empty_output_folder_is_accepted(tmp_path):
    from frame_restore_ros.cli.evaluate import check_output_folder

    (tmp_path / "empty").mkdir()
    check_output_folder(Path(tmp_path / "empty"), overwrite=False)
    check_output_folder(Path(tmp_path / "new" / "deeper"), overwrite=False)


def test_replay_refuses_mae_weights_before_reading_the_bag(tmp_path, caplog):
    """Replay runs the reference pipeline: a single-frame MAE is refused by its header."""
    bag = tmp_path / "bag"
    make = ["make-bag", "sample:bikes.mp4", "-o", str(bag), "--max-frames", "2", "--no-progress"]
    assert main(make) == 0
    code = main(
        ["replay", str(bag), str(tmp_path / "out"), "--no-progress",
         "--weights", str(default_weights_path(BASELINE_MAE_WEIGHTS))]
    )  # fmt: skip
    assert code == 2
    assert "holds a single-frame MAE" in caplog.text
    assert not (tmp_path / "out").exists()


def test_frames_smaller_than_the_patch_grid_fail_before_any_model(tmp_path, caplog, no_model):
    import cv2

    folder = tmp_path / "tiny"
    folder.mkdir()
    for index in range(4):
        cv2.imwrite(str(folder / f"{index}.png"), np.full((3, 40, 3), 90 + index, np.uint8))
    bag = tmp_path / "bag"
    assert main(["make-bag", str(folder), "-o", str(bag), "--no-progress"]) == 0
    args = ["evaluate", *SMALL, "--data", str(bag), "-o", str(tmp_path / "e")]
    assert main(args) == 2
    assert "frame 0 is 3x40 pixels, smaller than the 14x25 patch grid" in caplog.text

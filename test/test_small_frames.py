"""Frames smaller than a metric's window or a scoring patch: scored without it, never a crash."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np

from frame_restore_ros.bag.replay_report import mean_scores
from frame_restore_ros.cli.main import main
from frame_restore_ros.evaluation.metrics import SSIM_WINDOW, quality, ssim_map


def test_ssim_is_undefined_below_its_window_and_left_out_of_means():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    mean, full = ssim_map(small, small)
    assert math.isnan(mean) and full.shape == (8, 8) and np.isnan(full).all()
    scores = quality(small, small // 2, np.ones((8, 8), bool))
    assert math.isnan(scores["frame"]["ssim"]) and scores["frame"]["psnr"] < 40
    large = rng.integers(0, 256, (SSIM_WINDOW, 40, 3), dtype=np.uint8)
    assert ssim_map(large, large)[0] == 1.0  # at the window's size it is defined
    averaged = mean_scores([scores, quality(large, large)])
    assert averaged["frame"]["ssim"] == 1.0  # the undefined frame is left out
    assert mean_scores([scores])["frame"]["ssim"] is None


def _tiny_bag(tmp_path, size: tuple[int, int]) -> str:
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for index in range(8):
        image = rng.integers(40, 200, (*size, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"{index:03d}.png"), image)
    bag = tmp_path / "bag"
    assert main(["make-bag", str(folder), "-o", str(bag), "--no-progress"]) == 0
    return str(bag)


def test_replay_with_injection_scores_frames_smaller_than_the_ssim_window(tmp_path, capsys):
    """8x8 and 6x40 frames: replayed and scored (PSNR), SSIM reported as undefined."""
    for size in ((8, 8), (6, 40)):
        case = tmp_path / f"{size[0]}x{size[1]}"
        case.mkdir()
        bag = _tiny_bag(case, size)
        out = case / "out"
        args = ["replay", bag, str(out), "--no-progress", "--backend", "hold"]
        assert main([*args, "--inject", "dead,lines", "--inject-rate", "1"]) == 0
        printed = capsys.readouterr().out
        assert "SSIM -" in printed and "failed-region PSNR" in printed
        summary = json.loads((case / "out_report" / "summary.json").read_text())
        quality_ = summary["cameras"]["/camera0/image_raw"]["quality"]
        assert quality_["frames_scored"] > 0
        assert quality_["methods"]["restored"]["frame"]["ssim"] is None


def test_eval_detection_names_clips_smaller_than_a_patch(tmp_path, caplog):
    bag = _tiny_bag(tmp_path, (12, 12))
    args = ["eval-detection", "--data", bag, "--no-progress", "-o", str(tmp_path / "r")]
    assert main([*args, "--json", str(tmp_path / "d.json")]) == 2
    assert "is 12x12, smaller than one 16x16 scoring patch" in caplog.text


def _video(path, height: int, width: int, frames: int = 6) -> str:
    """A video of random frames of ``height`` x ``width`` pixels, MJPG."""
    rng = np.random.default_rng(2)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    assert writer.isOpened()
    for _ in range(frames):
        writer.write(rng.integers(40, 200, (height, width, 3), dtype=np.uint8))
    writer.release()
    return str(path)


def test_eval_detection_leaves_out_a_clip_thinner_than_a_patch_and_scores_the_others(
    tmp_path, caplog
):
    good = _video(tmp_path / "good.avi", 48, 64)
    thin = _video(tmp_path / "thin.avi", 8, 160)
    report = tmp_path / "d.json"
    args = ["eval-detection", "--data", good, "--data", thin, "--no-progress"]
    assert main([*args, "-o", str(tmp_path / "r"), "--json", str(report)]) == 0
    assert (
        "clip thin: left out, all its 6 frames are too small (first: frame 0 is 8x160, smaller "
        "than one 16x16 scoring patch)" in caplog.text
    )
    assert list(json.loads(report.read_text())["clips"]) == ["good"]


def test_eval_detection_exits_2_when_no_clip_has_a_frame_of_a_patch(tmp_path, caplog):
    thin = _video(tmp_path / "thin.avi", 15, 160)
    args = ["eval-detection", "--data", thin, "--no-progress", "-o", str(tmp_path / "r")]
    assert main(args) == 2
    assert (
        f"no clip of --data {thin} has a frame of at least 16x16 pixels (one scoring patch): "
        "nothing to score" in caplog.text
    )
    assert not (tmp_path / "r").exists()


def test_detection_scoring_skips_frames_smaller_than_a_patch_naming_the_first(caplog):
    from frame_restore_ros.detection.detector import FailureDetector
    from frame_restore_ros.evaluation.detection_scores import DetectionReport, evaluate_clip

    rng = np.random.default_rng(3)
    frames = [rng.integers(40, 200, (48, 64, 3), dtype=np.uint8) for _ in range(8)]
    frames[3] = frames[3][:10]
    report = DetectionReport()
    evaluate_clip("c", frames, FailureDetector, None, report)
    assert report.clips["c"].false_alarms.as_dict()["frames"] == 7
    assert (
        "clip c: skipped 1 of 8 frames (first: frame 3 is 10x64, smaller than one 16x16 scoring "
        "patch)" in caplog.text
    )

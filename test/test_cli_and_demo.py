"""The frame-restore command: structure, help texts, demo, export, info, bench modes, defects."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from frame_restore_ros.cli import bench
from frame_restore_ros.cli.main import COMMANDS, build_parser, main
from frame_restore_ros.evaluation.demo import run_demo
from frame_restore_ros.model import SiamMCVAE, preset, save_checkpoint

COMMAND_NAMES = [
    "demo", "make-bag", "replay", "train", "evaluate", "export", "bench", "eval-detection",
    "info", "doctor", "node-params",
]  # fmt: skip
BENCH_MODES = ["model", "pipeline", "backends", "end-to-end", "replay", "node"]


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(
        SiamMCVAE(preset("tiny")), tmp_path_factory.mktemp("w") / "tiny.safetensors"
    )


def _subparsers(parser):
    return next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")


def test_every_command_module_registers_one_command_with_its_own_handler():
    choices = _subparsers(build_parser()).choices
    assert list(choices) == COMMAND_NAMES
    assert len(COMMANDS) == len(COMMAND_NAMES)
    for name, parser in choices.items():
        if name == "bench":
            continue  # the handler sits on each mode
        handler = parser.get_default("handler")
        module = sys.modules[handler.__module__]
        assert module in COMMANDS and handler.__module__.endswith(name.replace("-", "_")), name


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_every_command_has_help_with_options(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert f"usage: frame-restore {command}" in text and "--threads" in text


@pytest.mark.parametrize("mode", BENCH_MODES)
def test_every_bench_mode_is_a_subcommand_with_its_own_handler_and_help(mode, capsys):
    args = build_parser().parse_args(["bench", mode, *(["some_bag"] if mode == "replay" else [])])
    assert args.mode == mode and args.handler.__name__ == "run_" + mode.replace("-", "_")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", mode, "--help"])
    assert f"usage: frame-restore bench {mode}" in capsys.readouterr().out


def test_bench_modes_are_exclusive_and_one_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["bench"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):  # options of one mode are not accepted by another
        build_parser().parse_args(["bench", "model", "--backends", "torch-cpu"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "node", "--onnx"])
    assert "unrecognized arguments" in capsys.readouterr().err


def test_common_options_work_before_and_after_the_command():
    args = build_parser().parse_args(["-v", "info"])
    assert args.verbose and not hasattr(args, "threads")
    args = build_parser().parse_args(["bench", "model", "--threads", "1", "-v"])
    assert args.verbose and args.threads == 1
    assert not build_parser().parse_args(["doctor"]).verbose


def test_python_dash_m_runs_the_command():
    done = subprocess.run(
        [sys.executable, "-m", "frame_restore_ros.cli", "bench", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "end-to-end" in done.stdout


def test_model_and_pipeline_bench_print_tables_and_write_json(tmp_path, capsys):
    out = tmp_path / "model.json"
    assert main(["bench", "model", "--presets", "tiny", "--repeats", "2", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "torch p50" in printed and "end to end per damaged 1280x720" in printed
    assert json.loads(out.read_text())["results"][0]["preset"] == "tiny"
    out = tmp_path / "pipeline.json"
    assert main(["bench", "pipeline", "--repeats", "2", "--json", str(out)]) == 0
    assert "pipeline without the model at 1920x1080" in capsys.readouterr().out
    assert set(json.loads(out.read_text())["pipeline_without_model"]) == {
        "1280x720",
        "1920x1080",
    }


def test_node_bench_runs_at_a_small_size(tmp_path, capsys):
    out = tmp_path / "node.json"
    code = main(
        ["bench", "node", "--size", "320x240", "--repeats", "6", "--no-progress", "--json",
         str(out)]
    )  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    assert result["resolution"] == "320x240" and result["frames"] == 6
    assert main(["bench", "node", "--size", "big"]) == 2


def test_end_to_end_and_replay_bench_pass_their_options_to_the_library(
    monkeypatch, tmp_path, capsys
):
    from frame_restore_ros.bench import backend_bench, replay_throughput

    calls = {}

    def fake_runs(backends, runs, precision, progress, failure):
        calls["end-to-end"] = (backends, runs, precision, progress, failure)
        entry = dict.fromkeys(
            ("p50_median_ms", "p50_min_ms", "p50_max_ms", "detect_median_ms", "infer_median_ms",
             "rest_median_ms"), 1.0
        )  # fmt: skip
        return {"summary": {"torch-cpu align=ecc": entry | {"runs": runs}}}

    def fake_replay(bag, inject, backend, precision, progress):
        calls["replay"] = (bag.name, inject, backend, precision, progress)
        return {"bag": str(bag)}

    monkeypatch.setattr(backend_bench, "end_to_end_runs", fake_runs)
    monkeypatch.setattr(replay_throughput, "replay_throughput", fake_replay)
    out = tmp_path / "e2e.json"
    args = ["bench", "end-to-end", "--backends", "torch-cpu", "--runs", "3", "--no-progress"]
    assert main([*args, "--failure", "block", "--json", str(out)]) == 0
    assert calls["end-to-end"] == (["torch-cpu"], 3, "fp16", False, "block")
    assert json.loads(out.read_text())["command"] == (
        "frame-restore bench end-to-end --backends torch-cpu --runs 3 --precision fp16 "
        "--failure block"
    )
    assert "torch-cpu" in capsys.readouterr().out
    assert main(["bench", "replay", "bagdir", "--backend", "hold", "--precision", "fp32"]) == 0
    assert calls["replay"] == ("bagdir", bench.INJECT_DEFAULT, "hold", "fp32", True)


def test_demo_writes_video_png_and_summary(tiny_weights, tmp_path):
    summary = run_demo(
        video=None, weights=tiny_weights, out=tmp_path, max_frames=5, ratio=0.5, progress=False
    )
    head = summary["headline"]
    assert head["frames_restored"] == 4 and head["resolution"] == "640x272"
    assert set(head["psnr_failed_region_db"]) == {"siammcvae", "hold"}
    assert 0.3 < head["failed_fraction"] < 0.7
    strip = cv2.imread(str(tmp_path / "before_after.png"))
    assert strip.shape == (272, 4 * 640, 3)
    capture = cv2.VideoCapture(str(tmp_path / "restored.mp4"))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 4
    assert json.loads((tmp_path / "summary.json").read_text())["headline"] == head


def test_demo_rejects_too_few_frames(tiny_weights, tmp_path):
    with pytest.raises(ValueError, match="--max-frames must exceed --gap"):
        run_demo(
            video=None, weights=tiny_weights, out=tmp_path, max_frames=2, gap=2, progress=False
        )


def test_demo_command_repairs_the_defect_mask_too(tiny_weights, tmp_path, capsys):
    defects = np.zeros((272, 640), np.uint8)
    defects[100:140, 300:360] = 255
    cv2.imwrite(str(tmp_path / "defects.png"), defects)
    code = main(
        ["demo", "--data", "sample:bikes.mp4", "--weights", str(tiny_weights), "-o",
         str(tmp_path / "d"), "--max-frames", "3", "--ratio", "0.1", "--no-progress",
         "--defect-mask", str(tmp_path / "defects.png")]
    )  # fmt: skip
    assert code == 0
    head = json.loads(capsys.readouterr().out)
    assert head["defect_mask_pixels"] == 40 * 60
    records = json.loads((tmp_path / "d" / "summary.json").read_text())["frames"]
    assert all(r["failed_fraction"] >= 40 * 60 / (272 * 640) for r in records)
    small = tmp_path / "small.npy"
    np.save(small, np.ones((10, 10), bool))
    args = ["demo", "--weights", str(tiny_weights), "-o", str(tmp_path / "e"), "--max-frames"]
    assert main([*args, "3", "--defect-mask", str(small)]) == 2  # 10x10 vs 272x640


def test_cli_reports_bad_weights_without_traceback(tmp_path, caplog):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    assert main(["info", "--weights", str(bad)]) == 2
    assert "not a readable safetensors file" in caplog.text


def test_export_and_info_commands(tiny_weights, tmp_path, capsys):
    args = ["export", "--weights", str(tiny_weights), "-o", str(tmp_path / "m.onnx")]
    assert main(args) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["outputs"] == {"restored": [1, 3, 32, 48]}
    assert (tmp_path / "m.onnx").stat().st_size > 10_000
    assert main([*args[:-1], str(tmp_path / "k.onnx"), "--uncertainty", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"]["std"] == [1, 1, 32, 48]
    assert main(["info", "--weights", str(tiny_weights)]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["name"] == "tiny"


def test_export_never_overwrites_its_input_or_an_existing_file(
    tiny_weights, tmp_path, caplog, monkeypatch
):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(tiny_weights.read_bytes())
    before = weights.read_bytes()
    link = tmp_path / "link.safetensors"
    link.symlink_to(weights)
    for output in (weights, link):
        for extra in ([], ["--overwrite"]):
            args = ["export", "--weights", str(weights), "-o", str(output), *extra]
            assert main(args) == 2
    assert "is the input weights" in caplog.text and weights.read_bytes() == before
    existing = tmp_path / "m.onnx"
    existing.write_text("keep me")
    args = ["export", "--weights", str(weights), "-o", str(existing)]
    assert main(args) == 2
    assert "already exists (--overwrite replaces it)" in caplog.text
    assert existing.read_text() == "keep me"
    from frame_restore_ros.backends import onnx_export

    written = []  # the export itself: test_export_and_info_commands

    def export_deploy(model, path, **options) -> None:
        written.append(path)

    monkeypatch.setattr(onnx_export, "export_deploy", export_deploy)
    assert main([*args, "--overwrite"]) == 0 and written == [existing]


def test_export_engine_fails_before_the_export_where_tensorrt_cannot_run(
    tiny_weights, tmp_path, caplog
):
    from frame_restore_ros.backends.selection import diagnose

    if next(s for s in diagnose() if s.name == "tensorrt").usable:
        pytest.skip("TensorRT runs here")
    onnx = tmp_path / "m.onnx"
    args = ["export", "--weights", str(tiny_weights), "-o", str(onnx), "--engine"]
    assert main([*args, str(tmp_path / "m.engine")]) == 2
    assert "backend tensorrt cannot run here" in caplog.text and not onnx.exists()


@pytest.fixture(scope="module")
def small_bag(tmp_path_factory):
    from frame_restore_ros.media.video import sample_video_path

    bag = tmp_path_factory.mktemp("bag") / "bikes"
    video = str(sample_video_path("bikes.mp4"))
    assert (
        main(
            [
                "make-bag",
                video,
                "-o",
                str(bag),
                "--max-frames",
                "4",
                "--topic",
                "/f",
                "--no-progress",
            ]
        )
        == 0
    )
    return bag


def test_replay_ors_the_defect_mask_into_every_failure_mask(small_bag, tmp_path, capsys):
    from frame_restore_ros.bag.frame_sources import bag_frames

    defects = np.zeros((272, 640), bool)
    defects[50:60, 70:90] = True
    np.save(tmp_path / "defects.npy", defects)
    out = tmp_path / "restored"
    code = main(
        ["replay", str(small_bag), str(out), "--backend", "hold", "--no-progress",
         "--defect-mask", str(tmp_path / "defects.npy")]
    )  # fmt: skip
    assert code == 0
    masks = bag_frames(out)["/f/failure_mask"]
    assert len(masks) == 4
    for mask in masks:
        assert (mask[..., 0][defects] == 255).all()
    plain = tmp_path / "plain"
    assert main(["replay", str(small_bag), str(plain), "--backend", "hold", "--no-progress"]) == 0
    assert not any((m[..., 0][defects] == 255).all() for m in bag_frames(plain)["/f/failure_mask"])


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), (b"not an image", "not an image file OpenCV can decode")],
)
def test_a_bad_defect_mask_fails_at_once_with_exit_code_2(
    small_bag, tmp_path, caplog, content, message
):
    path = tmp_path / "defects.png"
    if content is not None:
        path.write_bytes(content)
    out = tmp_path / "restored"
    assert main(["replay", str(small_bag), str(out), "--defect-mask", str(path)]) == 2
    assert f"defect mask {path}" in caplog.text and message in caplog.text
    assert not out.exists()
    args = ["evaluate", "--kinds", "-o", str(tmp_path / "e"), "--defect-mask", str(path)]
    assert main(args) == 2 and not (tmp_path / "e").exists()


def test_uncertainty_with_hold_is_an_argument_error(small_bag, tmp_path, caplog, capsys):
    args = ["replay", str(small_bag), str(tmp_path / "r"), "--backend", "hold"]
    assert main([*args, "--uncertainty", "4"]) == 2
    assert "uncertainty needs a model backend, not hold" in caplog.text
    with pytest.raises(SystemExit) as refused:  # one sample makes no spread: the parser says so
        main([*args, "--uncertainty", "1"])
    assert refused.value.code == 2
    assert "argument --uncertainty: must be 0 (none) or >= 2" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["demo", "--gap", "0"], "--gap must be >= 1"),
        (["demo", "--ratio", "0"], "--ratio must be in (0, 1]"),
        (["demo", "--ratio", "1.5"], "--ratio must be in (0, 1]"),
        (["make-bag", "sample:bikes.mp4", "--rate=inf"], "--rate must be a finite frame rate"),
        (["make-bag", "sample:bikes.mp4", "--rate", "0"], "--rate must be a finite frame rate"),
        (["make-bag", "sample:bikes.mp4", "--rate=nan"], "--rate must be a finite frame rate"),
        (["make-bag", "sample:bikes.mp4", "--start=1e20"], "--start must be in [0, 2147483647]"),
        (["make-bag", "sample:bikes.mp4", "--start=-1"], "--start must be in [0, 2147483647]"),
        (["make-bag", "sample:bikes.mp4", "--start=inf"], "--start must be a finite number"),
        (["make-bag", "sample:bikes.mp4", "--rate=1e-12"], "past the last ROS 2 time"),
        (
            ["make-bag", "sample:bikes.mp4", "--topic", "bad topic!"],
            "topic '/bad topic!' is not a valid ROS 2 topic name (the token 'bad topic!'): a "
            "topic name is /-separated tokens of letters, digits and underscores",
        ),
        (["make-bag", "sample:bikes.mp4", "--topic", "/cam//raw"], "(an empty token)"),
        (["make-bag", "sample:bikes.mp4", "--topic", "/cam/2d"], "(the token '2d')"),
        (["make-bag", "sample:bikes.mp4", "--topic", "/cam__x"], "no repeated underscore"),
        (["bench", "node", "--size", "0x0"], "--size must be WIDTHxHEIGHT with both sides >= 1"),
    ],
)
def test_bad_option_values_are_one_line_errors(tmp_path, caplog, args, words):
    if args[0] != "bench":
        args = [*args, "-o", str(tmp_path / "out"), "--max-frames", "3", "--no-progress"]
    assert main(args) == 2
    assert words in caplog.text and "Traceback" not in caplog.text
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["info", "--threads", "-1"], "argument --threads: must be an integer >= 1, got -1"),
        (["make-bag", "x.mp4", "-o", "o", "--max-frames", "0"], "argument --max-frames: must"),
        (["demo", "--max-frames", "-2"], "argument --max-frames: must be an integer >= 1"),
        (["bench", "detection", "--max-frames", "0"], "argument --max-frames: must be"),
        (["demo", "--max-frames", "two"], "argument --max-frames: must be an integer >= 1"),
    ],
)
def test_counts_below_one_are_argument_errors(capsys, args, words):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert words in capsys.readouterr().err


def test_make_bag_rejects_a_zero_rate_instead_of_using_the_video_rate(tmp_path):
    from frame_restore_ros.bag.from_video import CameraSource, make_bag
    from frame_restore_ros.media.video import sample_video_path

    source = CameraSource(sample_video_path("bikes.mp4"), "/cam/image_raw")
    with pytest.raises(ValueError, match="--rate must be a finite frame rate .* got 0"):
        make_bag([source], tmp_path / "bag", rate_hz=0, max_frames=2, progress=False)
    with pytest.raises(ValueError, match="--start must be in"):
        make_bag([source], tmp_path / "bag", start_ns=-1, max_frames=2, progress=False)
    assert not (tmp_path / "bag").exists()

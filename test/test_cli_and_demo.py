"""The frame-restore command: help texts, demo, export and info on a tiny checkpoint."""

from __future__ import annotations

import json

import cv2
import pytest
import torch

from frame_restore_ros.cli.main import build_parser, main
from frame_restore_ros.evaluation.demo import run_demo
from frame_restore_ros.model import SiamMCVAE, preset, save_checkpoint


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(
        SiamMCVAE(preset("tiny")), tmp_path_factory.mktemp("w") / "tiny.safetensors"
    )


@pytest.mark.parametrize(
    "command", ["demo", "make-bag", "replay", "train", "export", "bench", "info"]
)
def test_every_subcommand_has_help_with_options(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert f"usage: frame-restore {command}" in text and "--" in text


def test_demo_writes_video_png_and_summary(tiny_weights, tmp_path):
    summary = run_demo(
        video=None, weights=tiny_weights, out=tmp_path, frames=5, ratio=0.5, progress=False
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
    with pytest.raises(ValueError, match="--frames must exceed --gap"):
        run_demo(video=None, weights=tiny_weights, out=tmp_path, frames=2, gap=2, progress=False)


def test_cli_reports_bad_weights_without_traceback(tmp_path, caplog):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    assert main(["info", str(bad)]) == 2
    assert "not a readable safetensors file" in caplog.text


def test_export_and_info_commands(tiny_weights, tmp_path, capsys):
    assert (
        main(["export", "--weights", str(tiny_weights), "--output", str(tmp_path / "m.onnx")]) == 0
    )
    exported = json.loads(capsys.readouterr().out)
    assert exported["outputs"] == {"restored": [1, 3, 32, 48]}
    assert (tmp_path / "m.onnx").stat().st_size > 10_000
    assert main(["info", str(tiny_weights)]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["name"] == "tiny"

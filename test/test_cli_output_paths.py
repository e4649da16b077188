"""Output paths of eval-detection, bench, demo and evaluate --save-frames (hostile-input pass).

Every output is checked before the work with the rules of replay and ``evaluate -o``
(``bag/output_claim.py``): never an input, inside one or holding one, nor another output of the
same run; an existing file or a non-empty folder only with --overwrite, and then only what the
command itself wrote earlier, its old images removed so that none are mixed with the new ones.
A path without a name (replay OUTPUT ".") is a clear error, not "has an empty name".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from frame_restore_ros.cli import eval_detection
from frame_restore_ros.cli.main import main

# The smallest evaluation: one condition, one frame, no MAE, no FSIM.
SMALL = ["--ratios", "0.5", "--gaps", "1", "--kind-gap", "1", "--kinds", "--frames", "1",
         "--max-frames", "4", "--no-mae", "--no-fsim", "--no-progress"]  # fmt: skip


def write_video(path: Path, frames: int = 12) -> Path:
    """Write a textured 160x128 MJPG clip panning 3 pixels a frame."""
    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(rng.integers(0, 256, (128, 240, 3), dtype=np.uint8), (0, 0), 1.5)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 128))
    assert writer.isOpened()
    for index in range(frames):
        writer.write(np.ascontiguousarray(scene[:, index * 3 : index * 3 + 160]))
    writer.release()
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A tiny video and a 4-frame bag made from it (never to be written by the tests)."""
    folder = tmp_path_factory.mktemp("inputs")
    video = write_video(folder / "clip.avi")
    bag = folder / "bag"
    args = ["make-bag", str(video), "-o", str(bag), "--max-frames", "4", "--no-progress"]
    assert main(args) == 0
    return {"video": video, "bag": bag}


def snapshot(paths: list[Path]) -> dict[Path, bytes]:
    """Every file under ``paths`` with its bytes, to show that nothing was written."""
    files = [p for path in paths for p in ([path] if path.is_file() else path.rglob("*"))]
    return {p: p.read_bytes() for p in files if p.is_file()}


@pytest.fixture
def no_detection_work(monkeypatch):
    """Fail the test if eval-detection reads a clip (its outputs are checked before)."""

    def refuse(*args, **kwargs):
        raise AssertionError("eval-detection read the clips before checking its outputs")

    monkeypatch.setattr(eval_detection, "open_clips", refuse)


# --- 1. and 4. --json of eval-detection and bench ---------------------------------------------


def test_eval_detection_json_is_never_an_input_a_report_file_or_the_report(
    inputs, tmp_path, caplog, no_detection_work
):
    video, bag = inputs["video"], inputs["bag"]
    before = snapshot([video, bag])
    report = tmp_path / "report"
    report.mkdir()
    (report / "index.html").write_text("<!doctype html><title>Failure detection</title>\n")
    base = ["eval-detection", "--no-progress", "--max-frames", "4"]
    metadata = bag / "metadata.yaml"
    cases = {
        (video, video): f"--json {video} is the input {video}",
        (bag, metadata): f"--json {metadata} lies inside the input {bag}",
        (video, report / "index.html"): f"--json {report / 'index.html'} lies inside -o/--output",
        (video, tmp_path / "new"): f"--json {tmp_path / 'new'} is also -o/--output",
    }
    for (data, json_file), words in cases.items():
        output = tmp_path / "new" if json_file.name == "new" else report
        caplog.clear()
        args = [*base, "--data", str(data), "-o", str(output), "--json", str(json_file)]
        assert main([*args, "--overwrite"]) == 2, words
        assert words in caplog.text and "Errno" not in caplog.text
    assert snapshot([video, bag]) == before
    assert not (tmp_path / "new").exists()


def test_an_existing_json_file_needs_overwrite(inputs, tmp_path, caplog, no_detection_work):
    old = tmp_path / "scores.json"
    old.write_text("{}")
    args = ["eval-detection", "--data", str(inputs["video"]), "-o", str(tmp_path / "r")]
    assert main([*args, "--json", str(old), "--no-progress"]) == 2
    assert f"--json {old} exists; remove it or pass --overwrite" in caplog.text
    assert old.read_text() == "{}"


def test_bench_json_is_never_in_the_input_bag_and_replaces_only_with_overwrite(
    inputs, tmp_path, caplog, monkeypatch
):
    from frame_restore_ros.bench import replay_throughput

    monkeypatch.setattr(replay_throughput, "replay_throughput", lambda bag, *a, **k: {"ok": 1})
    bag = inputs["bag"]
    before = snapshot([bag])
    for target, words in (
        (bag / "metadata.yaml", f"--json {bag / 'metadata.yaml'} lies inside the input {bag}"),
        (bag, f"--json {bag} is the input {bag}"),
    ):
        caplog.clear()
        assert main(["bench", "replay", str(bag), "--json", str(target), "--overwrite"]) == 2
        assert words in caplog.text
    assert snapshot([bag]) == before
    old = tmp_path / "b.json"
    old.write_text("old")
    assert main(["bench", "replay", str(bag), "--json", str(old), "--no-progress"]) == 2
    assert f"--json {old} exists; remove it or pass --overwrite" in caplog.text
    assert old.read_text() == "old"
    assert main(["bench", "replay", str(bag), "--json", str(old), "--overwrite"]) == 0
    assert json.loads(old.read_text()) == {"ok": 1}


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Return the sub-parsers of ``parser`` by name."""
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_bench_mode_with_json_has_overwrite():
    from frame_restore_ros.cli.main import build_parser

    for name, mode in subcommands(subcommands(build_parser())["bench"]).items():
        options = {o for action in mode._actions for o in action.option_strings}
        assert "--overwrite" in options, name


# --- 2. demo ------------------------------------------------------------------------------------


@pytest.fixture
def fake_demo(monkeypatch):
    """Replace the demo's work by writing its three files; count the runs."""
    from frame_restore_ros.evaluation import demo

    runs = []

    def run_demo(video, weights, out, **kwargs):
        out.mkdir(parents=True, exist_ok=True)
        for name in demo.OUTPUTS:
            (out / name).write_text(f"run {len(runs)}")
        runs.append(video)
        return {"headline": {"run": len(runs)}}

    monkeypatch.setattr(demo, "run_demo", run_demo)
    return runs


def test_demo_never_writes_over_its_input(inputs, tmp_path, caplog, fake_demo):
    out = tmp_path / "d"
    out.mkdir()
    clip = out / "restored.mp4"
    clip.write_bytes(inputs["video"].read_bytes())
    for extra in ([], ["--overwrite"]):
        caplog.clear()
        assert main(["demo", "--data", str(clip), "-o", str(out), "--no-progress", *extra]) == 2
        assert f"-o/--output {clip} is the input {clip}" in caplog.text
    assert clip.read_bytes() == inputs["video"].read_bytes() and not fake_demo


def test_demo_replaces_an_earlier_run_only_with_overwrite(inputs, tmp_path, caplog, fake_demo):
    out = tmp_path / "d"
    (out / "bikes_bag").mkdir(parents=True)  # scripts/demo.sh's outputs share out/demo: kept
    args = ["demo", "--data", str(inputs["video"]), "-o", str(out), "--no-progress"]
    assert main(args) == 0
    assert main(args) == 2
    assert f"-o/--output {out / 'restored.mp4'} exists; remove it or pass --overwrite" in (
        caplog.text
    )
    assert (out / "summary.json").read_text() == "run 0" and len(fake_demo) == 1
    assert main([*args, "--overwrite"]) == 0
    assert (out / "summary.json").read_text() == "run 1" and (out / "bikes_bag").is_dir()


# --- 3. eval-detection -o and evaluate --save-frames --------------------------------------------


def test_eval_detection_report_is_never_an_input_or_in_one(
    inputs, tmp_path, caplog, no_detection_work
):
    bag = inputs["bag"]
    before = snapshot([bag])
    for output, words in (
        (bag, f"-o/--output {bag} is the input {bag}"),
        (bag / "report", f"-o/--output {bag / 'report'} lies inside the input {bag}"),
    ):
        caplog.clear()
        assert main(["eval-detection", "--data", str(bag), "-o", str(output), "--overwrite"]) == 2
        assert words in caplog.text
    assert snapshot([bag]) == before and not (bag / "report").exists()


def test_eval_detection_into_a_folder_with_other_files_needs_an_earlier_report(
    inputs, tmp_path, caplog, no_detection_work
):
    out = tmp_path / "r"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = ["eval-detection", "--data", str(inputs["video"]), "-o", str(out), "--no-progress"]
    assert main(args) == 2
    assert f"-o/--output {out} exists and is not empty; remove it or pass --overwrite" in (
        caplog.text
    )
    assert main([*args, "--overwrite"]) == 2
    assert f"only an eval-detection report; {out} is not one: it has no index.html" in (
        caplog.text
    )
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_eval_detection_overwrite_clears_the_old_report_images(inputs, tmp_path):
    out = tmp_path / "r"
    (out / "images").mkdir(parents=True)
    (out / "index.html").write_text("<!doctype html><meta charset=utf-8><title>Failure detection")
    (out / "index.html").write_text((out / "index.html").read_text() + "</title>OLD-RUN\n")
    stale = out / "images" / "false_alarm_gone_00007.png"
    cv2.imwrite(str(stale), np.zeros((4, 4, 3), np.uint8))
    (out / "notes.txt").write_text("mine")
    args = ["eval-detection", "--data", str(inputs["video"]), "--max-frames", "8", "--no-progress"]
    assert main([*args, "-o", str(out), "--overwrite", "--classes", "dead"]) == 0
    assert not stale.exists() and (out / "notes.txt").read_text() == "mine"
    assert "OLD-RUN" not in (out / "index.html").read_text()
    images = sorted(p.name for p in (out / "images").iterdir())
    assert images and all(name in (out / "index.html").read_text() for name in images)


def test_save_frames_is_never_an_input_or_the_output(inputs, tmp_path, caplog, monkeypatch):
    from frame_restore_ros.evaluation import methods

    def refuse(*args, **kwargs):
        raise AssertionError("--save-frames was checked after the models loaded")

    monkeypatch.setattr(methods, "build_methods", refuse)
    bag, out = inputs["bag"], tmp_path / "e"
    before = snapshot([bag])
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    cases = {
        bag: f"--save-frames {bag} is the input {bag}",
        bag / "frames": f"--save-frames {bag / 'frames'} lies inside the input {bag}",
        out: f"--save-frames {out} is also -o/--output {out}",
        out / "frames": f"--save-frames {out / 'frames'} lies inside -o/--output {out}",
        foreign: f"--save-frames {foreign} exists and is not empty; remove it or pass --overwrite",
    }
    for frames, words in cases.items():
        caplog.clear()
        args = ["evaluate", "--data", str(bag), *SMALL, "-o", str(out)]
        assert main([*args, "--save-frames", str(frames)]) == 2, words
        assert words in caplog.text
    args = ["evaluate", "--data", str(bag), *SMALL, "-o", str(out), "--overwrite"]
    assert main([*args, "--save-frames", str(foreign)]) == 2
    assert "only an earlier --save-frames folder" in caplog.text and "notes.txt" in caplog.text
    assert snapshot([bag]) == before and not out.exists()


def test_evaluate_output_is_never_an_input_or_inside_one(inputs, tmp_path, caplog, monkeypatch):
    from frame_restore_ros.evaluation import methods

    def refuse(*args, **kwargs):
        raise AssertionError("-o was checked after the models loaded")

    monkeypatch.setattr(methods, "build_methods", refuse)
    bag = inputs["bag"]
    before = snapshot([bag])
    for out, words in {
        bag: f"output {bag} is the input {bag}",
        bag / "eval": f"output {bag / 'eval'} lies inside the input {bag}",
    }.items():
        caplog.clear()
        assert main(["evaluate", "--data", str(bag), *SMALL, "-o", str(out)]) == 2, words
        assert words in caplog.text
    assert snapshot([bag]) == before


def test_save_frames_overwrite_removes_the_earlier_frames_first(inputs, tmp_path, monkeypatch):
    from frame_restore_ros.evaluation import harness, methods

    frames = tmp_path / "frames"
    stale = frames / "clip" / "ratio0.50_gap1" / "00003_truth.png"
    stale.parent.mkdir(parents=True)
    cv2.imwrite(str(stale), np.zeros((4, 4, 3), np.uint8))
    seen = {}

    def evaluate_clips(clips, methods, cfg, keep, save_frames, **kwargs):
        seen["files"] = sorted(p for p in save_frames.rglob("*") if p.is_file())
        raise ValueError("stopped after the frames were cleared")

    monkeypatch.setattr(methods, "build_methods", lambda *args, **kwargs: {})
    monkeypatch.setattr(harness, "evaluate_clips", evaluate_clips)
    args = ["evaluate", "--data", str(inputs["video"]), *SMALL, "-o", str(tmp_path / "e")]
    assert main([*args, "--save-frames", str(frames)]) == 2 and "files" not in seen
    assert stale.exists()
    assert main([*args, "--save-frames", str(frames), "--overwrite"]) == 2
    assert seen["files"] == [] and not stale.exists()


# --- 5. a path without a name -------------------------------------------------------------------


def test_replay_into_the_current_folder_is_a_clear_error(tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.chdir(tmp_path)
    Path("bag").mkdir()
    assert main(["replay", "bag", "."]) == 2
    assert f"output {tmp_path.resolve()} contains the input bag" in caplog.text
    assert "empty name" not in caplog.text
    with pytest.raises(SystemExit) as refused:
        main(["replay", "bag", "/"])
    assert refused.value.code == 2
    assert "argument OUTPUT: must name a file or folder, got '/'" in capsys.readouterr().err


def test_a_nameless_input_path_is_resolved_not_refused(tmp_path, monkeypatch):
    from frame_restore_ros.cli.common import nonempty_path

    monkeypatch.chdir(tmp_path)
    assert nonempty_path(".") == tmp_path.resolve()
    assert nonempty_path("..") == tmp_path.resolve().parent
    assert nonempty_path("bag") == Path("bag")

"""Hostile training and demo inputs (review notes/hostile_train.md): a clear error, never a NaN
model kept as the best, never an earlier run's state destroyed, never an MAE run as SiamMCVAE."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from test_training import train_tiny_on_bikes

from frame_restore_ros.cli.main import main
from frame_restore_ros.evaluation.metrics import psnr_from_mse
from frame_restore_ros.media.video import sample_video_path
from frame_restore_ros.training import loop
from frame_restore_ros.training.loop import TrainingDivergedError
from frame_restore_ros.training.settings import TrainSettings


@pytest.fixture(autouse=True)
def _info_log(caplog: pytest.LogCaptureFixture) -> None:
    """Capture INFO too: what a run says it wrote or kept is logged at INFO."""
    caplog.set_level(logging.INFO)


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"lr": 1e300}, "lr must be in (0, 1.0]"),
        ({"lr": math.nan}, "lr must be a finite number"),
        ({"beta": math.inf}, "beta must be a finite number"),
        ({"beta": -1.0}, "beta >= 0"),
        ({"min_lr": -0.01}, "min_lr must be in [0, lr]"),
        ({"min_lr": 0.1, "lr": 0.01}, "min_lr must be in [0, lr]"),
        ({"weight_decay": -1.0}, "weight_decay must be >= 0"),
        ({"grad_clip": 0.0}, "grad_clip must be > 0"),
        ({"grad_clip": -1.0}, "grad_clip must be > 0"),
        ({"eval_every": 0}, "eval_every must be >= 1"),
        ({"checkpoint_every": 0}, "checkpoint_every must be >= 1"),
        ({"eval_batches": 0}, "eval_batches must be >= 1"),
        ({"warmup_steps": -1}, "warmup_steps must be >= 0"),
        ({"seed": -1}, "seed must be >= 0, got -1"),
        ({"max_frames": 0}, "max_frames must be >= 2"),
        ({"max_frames": -1}, "max_frames must be >= 2"),
        ({"max_frames": 1}, "max_frames must be >= 2"),
        ({"threads": 100000}, "threads must be in [1, 1024]"),
        ({"threads": -1}, "threads must be in [1, 1024]"),
    ],
)
def test_settings_that_would_crash_or_ruin_a_run_are_refused(settings, words):
    with pytest.raises(ValueError, match="invalid training settings") as error:
        TrainSettings(**settings)
    assert words in str(error.value)


def test_a_nan_error_is_no_perfect_psnr():
    assert math.isnan(psnr_from_mse(math.nan)) and psnr_from_mse(0.0) == math.inf
    assert not psnr_from_mse(math.nan) > -math.inf  # never kept as the best


def test_a_diverged_run_stops_and_keeps_the_weights_it_had(tmp_path, monkeypatch):
    output = tmp_path / "w.safetensors"
    train_tiny_on_bikes(output, steps=2, batch_size=2, warmup_steps=1, eval_every=1)
    kept = output.read_bytes()
    loss = loop.siammcvae_loss

    def diverging(*args, **kwargs):
        terms = loss(*args, **kwargs)
        return dataclasses.replace(terms, total=terms.total * torch.nan)

    monkeypatch.setattr(loop, "siammcvae_loss", diverging)
    with pytest.raises(TrainingDivergedError, match="diverged at step 3: the loss is nan"):
        train_tiny_on_bikes(output, steps=4, batch_size=2, warmup_steps=1, resume=True)
    assert output.read_bytes() == kept


def test_a_new_run_refuses_to_destroy_an_earlier_runs_state(tmp_path, caplog):
    output = tmp_path / "w.safetensors"
    (tmp_path / "w.safetensors.state").write_bytes(b"an earlier run's state")
    config = tmp_path / "train.yaml"
    config.write_text(f"output: {output}\ndata: ['sample:bikes.mp4']\npreset: tiny\nsteps: 1\n")
    assert main(["train", "--config", str(config)]) == 2
    assert "pass --resume to continue it, or remove it" in caplog.text
    assert (tmp_path / "w.safetensors.state").read_bytes() == b"an earlier run's state"


def test_the_output_may_not_be_an_input(tmp_path, caplog):
    weights = tmp_path / "init.safetensors"
    weights.write_bytes(b"x")
    config = tmp_path / "train.yaml"
    config.write_text(
        f"output: {weights}\ninit_weights: {weights}\ndata: ['sample:bikes.mp4']\npreset: tiny\n"
    )
    assert main(["train", "--config", str(config)]) == 2
    assert "is also an input" in caplog.text and weights.read_bytes() == b"x"


def test_the_demo_refuses_a_single_frame_mae(tmp_path):
    """The demo runs the reference pipeline: an MAE there would be labelled SiamMCVAE."""
    from frame_restore_ros.evaluation.demo import run_demo
    from frame_restore_ros.model.bundled import BASELINE_MAE_WEIGHTS, default_weights_path

    mae = default_weights_path(BASELINE_MAE_WEIGHTS)
    with pytest.raises(ValueError, match="holds a single-frame MAE"):
        run_demo(video=None, weights=mae, out=tmp_path, max_frames=4, gap=1, progress=False)


# --- resume, the state's header and the truthful log (review items 3, 5, 18, 22) ---


def write_config(tmp_path: Path, **changes: object) -> Path:
    """A tiny run on 12 bikes frames, split in time (8 train, 4 validate): about a second."""
    values = {
        "output": str(tmp_path / "w.safetensors"),
        "split": ["sample:bikes.mp4"],
        "max_frames": 12,
        "preset": "tiny",
        "steps": 2,
        "batch_size": 2,
        "eval_every": 2,
        "checkpoint_every": 2,
        "eval_batches": 1,
        "warmup_steps": 1,
    } | changes
    config = tmp_path / "train.yaml"
    config.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items()))
    return config


@pytest.fixture
def finished_run(tmp_path: Path) -> Path:
    """The config of a finished two-step run (its weights and state in tmp_path)."""
    config = write_config(tmp_path)
    assert main(["train", "--config", str(config)]) == 0
    return config


@pytest.fixture
def no_data_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("data loaded before the state was checked")

    monkeypatch.setattr("frame_restore_ros.training.run.gather_clips", refuse)


def rewrite_state(path: Path, notes: object = None, **metadata: str) -> None:
    """Replace header entries of a state (``notes``: the whole notes object) in place."""
    with safe_open(str(path), "pt") as handle:
        header, tensors = handle.metadata(), {k: handle.get_tensor(k) for k in handle.keys()}
    if notes is not None:
        header["notes"] = json.dumps(notes)
    save_file(tensors, str(path), metadata=header | metadata)


def state_notes(path: Path) -> dict:
    with safe_open(str(path), "pt") as handle:
        return json.loads(handle.metadata()["notes"])


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--architecture", "mae"], "architecture 'siammcvae' -> 'mae'"),
        (["--reference-skip"], "reference_skip False -> True"),
        (["--preset", "small"], "preset 'tiny' -> 'small'"),
        (["--data", "sample:bikes.mp4"], "data [] -> ['sample:bikes.mp4']"),
        (["--max-frames", "10"], "max_frames 12 -> 10"),
        (["--split-fraction", "0.5"], "split_fraction 0.3 -> 0.5"),
        (["--init-weights", "x.safetensors"], "init_weights 'none' -> 'x.safetensors'"),
    ],
)
def test_resume_refuses_another_model_or_data_before_any_data_loads(
    finished_run, no_data_loads, caplog, flags, words
):
    state = finished_run.parent / "w.safetensors.state"
    before = state.read_bytes()
    args = ["train", "--config", str(finished_run), "--resume", "--steps", "4", *flags]
    assert main(args) == 2
    assert "cannot resume" in caplog.text and words in caplog.text
    assert "Traceback" not in caplog.text and state.read_bytes() == before


def test_resume_names_every_differing_setting(finished_run, no_data_loads, caplog):
    args = ["--resume", "--steps", "4", "--preset", "small", "--val-data", "sample:bikes.mp4"]
    assert main(["train", "--config", str(finished_run), *args]) == 2
    assert "preset 'tiny' -> 'small'" in caplog.text
    assert "val_data [] -> ['sample:bikes.mp4']" in caplog.text


def test_resume_warns_about_changed_hyperparameters_and_records_them(finished_run, caplog):
    flags = ["--steps", "3", "--max-minutes", "5", "--batch-size", "3", "--lr", "0.002"]
    assert main(["train", "--config", str(finished_run), "--resume", *flags]) == 0
    warning = next(r.message for r in caplog.records if "changed settings" in r.message)
    assert "batch_size 2 -> 3" in warning and "lr 0.001 -> 0.002" in warning
    assert "steps" not in warning.replace("batch_size", "") and "max_minutes" not in warning
    assert "batch_size changed how validation scores: the state's best" in caplog.text
    recorded = state_notes(finished_run.parent / "w.safetensors.state")["settings"]
    assert recorded["batch_size"] == 3 and recorded["split"] == ["sample:bikes.mp4"]


def test_a_state_records_the_runs_settings_with_absolute_paths(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.symlink_to(sample_video_path())
    config = write_config(tmp_path, split=["clip.mp4"])
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        assert main(["train", "--config", str(config)]) == 0
    finally:
        os.chdir(old)
    recorded = state_notes(tmp_path / "w.safetensors.state")["settings"]
    assert recorded["split"] == [str(clip)] and recorded["preset"] == "tiny"
    assert state_notes(tmp_path / "w.safetensors.state")["clips"]["train_clips"]


def test_resume_of_a_fine_tune_from_its_config_continues(tmp_path, finished_run, caplog):
    """A config with init_weights (config/train_driving.yaml) resumes as it started."""
    init = tmp_path / "init.safetensors"
    (tmp_path / "w.safetensors").rename(init)
    (tmp_path / "w.safetensors.state").unlink()
    config = write_config(tmp_path, init_weights=str(init))
    assert main(["train", "--config", str(config)]) == 0
    assert main(["train", "--config", str(config), "--resume", "--steps", "3"]) == 0
    assert "changed settings" not in caplog.text and "init_weights" not in caplog.text


def test_an_older_state_without_settings_resumes_with_a_warning(finished_run, caplog):
    state = finished_run.parent / "w.safetensors.state"
    notes = state_notes(state)
    del notes["settings"]
    rewrite_state(state, notes)
    assert main(["train", "--config", str(finished_run), "--resume", "--steps", "3"]) == 0
    assert "records no settings" in caplog.text and "cannot be compared" in caplog.text
    assert state_notes(state)["step"] == 3


def test_an_older_state_still_refuses_another_model(finished_run, no_data_loads, caplog):
    state = finished_run.parent / "w.safetensors.state"
    notes = state_notes(state)
    del notes["settings"]
    rewrite_state(state, notes)
    args = ["--resume", "--steps", "4", "--architecture", "mae"]
    assert main(["train", "--config", str(finished_run), *args]) == 2
    assert "architecture 'siammcvae' -> 'mae'" in caplog.text


def test_a_missing_state_is_reported_before_any_data_loads(tmp_path, no_data_loads, caplog):
    config = write_config(tmp_path)
    assert main(["train", "--config", str(config), "--resume"]) == 2
    assert "no such training state" in caplog.text


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("tmp/" + "w" * 10_000, "w... (10005 chars) cannot be used: File name too long"),
        ("tmp/" + "w" * 300 + "/x", "(307 chars) cannot be used: File name too long"),
        ("dev/zero", "training state /dev/zero exists but is not a regular file (it is a char"),
        ("tmp", "training state /tmp exists but is not a regular file (it is a directory)"),
        ("tmp/no_such.state", "/tmp/no_such.state: no such training state (drop --resume"),
    ],
)
def test_a_state_path_it_cannot_use_is_one_short_line(name, words):
    """read_state_header checks with file_problem: no raw OSError holding the whole name."""
    from frame_restore_ros.model import CheckpointError
    from frame_restore_ros.training.state import read_state_header

    with pytest.raises(CheckpointError) as error:
        read_state_header(Path("/" + name))
    assert words in str(error.value) and len(str(error.value)) < 400


@pytest.mark.parametrize("steps", [2, 1])
def test_a_state_at_or_past_the_steps_has_nothing_to_train(
    finished_run, no_data_loads, caplog, steps
):
    weights = finished_run.parent / "w.safetensors"
    weights.unlink()
    args = ["train", "--config", str(finished_run), "--resume", "--steps", str(steps)]
    assert main(args) == 2
    assert f"state is at step 2 of {steps}: nothing to train (raise --steps)" in caplog.text
    assert "wrote" not in caplog.text and not weights.exists()


def test_the_log_says_kept_when_validation_did_not_improve(finished_run, caplog):
    state = finished_run.parent / "w.safetensors.state"
    weights = finished_run.parent / "w.safetensors"
    rewrite_state(state, state_notes(state) | {"best": 99.0})
    kept = weights.read_bytes()
    caplog.clear()
    assert main(["train", "--config", str(finished_run), "--resume", "--steps", "4"]) == 0
    assert "wrote" not in caplog.text and weights.read_bytes() == kept
    assert f"kept {weights}: no validation in this call beat its psnr_failed 99.00" in caplog.text
    weights.unlink()
    rewrite_state(state, state_notes(state) | {"best": 99.0})
    caplog.clear()
    assert main(["train", "--config", str(finished_run), "--resume", "--steps", "6"]) == 0
    assert "wrote" not in caplog.text and f"{weights} was not written" in caplog.text


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"notes": {"step": "x"}}, 'notes step must be a int, got "x"'),
        ({"notes": []}, "notes must be a JSON object, got list"),
        ({"config": '{"name": "tiny"}'}, "the state's model is not preset 'tiny': patch_size"),
        ({"numpy_rng": "[]"}, "numpy_rng must be a JSON object"),
        ({"config": "{"}, "invalid training state header"),
    ],
)
def test_crafted_state_headers_are_one_line_errors(
    finished_run, no_data_loads, caplog, change, words
):
    state = finished_run.parent / "w.safetensors.state"
    notes = change.pop("notes", None)
    if isinstance(notes, dict):
        notes = state_notes(state) | notes
    rewrite_state(state, notes, **change)
    assert main(["train", "--config", str(finished_run), "--resume", "--steps", "4"]) == 2
    assert words in caplog.text and "Traceback" not in caplog.text


def test_a_state_whose_tensors_do_not_fit_its_header_is_a_checkpoint_error(finished_run):
    from frame_restore_ros.model import CheckpointError, preset
    from frame_restore_ros.training.state import load_state

    state = finished_run.parent / "w.safetensors.state"
    rewrite_state(state, config=preset("tiny").replace(enc_depth=3).to_json())
    rng = np.random.default_rng(0)
    with pytest.raises(CheckpointError, match="does not fit its header .*Missing key"):
        load_state(state, lambda model: loop._optimizer(model, TrainSettings()), {}, rng)


def edit_tensors(path: Path, edit: Callable[[dict[str, torch.Tensor]], None]) -> None:
    """Apply ``edit`` to a state's tensors in place (the header kept)."""
    with safe_open(str(path), "pt") as handle:
        header, tensors = handle.metadata(), {k: handle.get_tensor(k) for k in handle.keys()}
    edit(tensors)
    save_file(tensors, str(path), metadata=header)


def drop(prefix: str) -> Callable[[dict[str, torch.Tensor]], None]:
    def edit(tensors: dict[str, torch.Tensor]) -> None:
        for name in [n for n in tensors if n.startswith(prefix)]:
            del tensors[name]

    return edit


def replace(name: str, value: torch.Tensor) -> Callable[[dict[str, torch.Tensor]], None]:
    return lambda tensors: tensors.__setitem__(name, value)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (drop("rng/"), "training state lacks rng/sampler, rng/global (every state holds them)"),
        (drop("rng/global"), "training state lacks rng/global (every state holds them)"),
        (replace("rng/global", torch.zeros(3, dtype=torch.uint8)), "rng/global is no torch"),
        (drop("optim/"), "training state lacks the optimiser tensors optim/..."),
        (drop("optim/3/exp_avg_sq"), "training state lacks optim/3/exp_avg_sq of parameter 3 ("),
        (
            replace("optim/0/exp_avg", torch.zeros(3)),
            "tensor optim/0/exp_avg of parameter 0 (encoder.patch_embed.weight) has shape [3], "
            "but the parameter has [32, 192]",
        ),
        (replace("optim/1/exp_avg_sq", torch.zeros(2, 2)), "optim/1/exp_avg_sq of parameter 1"),
        (replace("optim/2/step", torch.zeros(3)), "optim/2/step of parameter 2 ("),
        (replace("optim/999/exp_avg", torch.zeros(3)), "optim/999/exp_avg names parameter 999"),
    ],
)
def test_a_state_missing_or_misshaping_rng_or_optimiser_tensors_is_refused(
    finished_run, caplog, edit, words
):
    """Resumed silently with fresh generators, or crashed at optimizer.step(), before."""
    state = finished_run.parent / "w.safetensors.state"
    edit_tensors(state, edit)
    before = state.read_bytes()
    caplog.clear()
    assert main(["train", "--config", str(finished_run), "--resume", "--steps", "4"]) == 2
    assert f"{state}: " in caplog.text and words in caplog.text
    assert "Traceback" not in caplog.text and state.read_bytes() == before


def test_a_state_with_every_tensor_still_resumes(finished_run):
    state = finished_run.parent / "w.safetensors.state"
    assert main(["train", "--config", str(finished_run), "--resume", "--steps", "3"]) == 0
    assert state_notes(state)["step"] == 3


# --- data and settings (review items 8, 19, 20, 21, 27) ---


def test_overlapping_training_and_validation_data_is_warned_about(caplog):
    from frame_restore_ros.training.run import warn_overlap

    bikes = "sample:bikes.mp4"
    warn_overlap(TrainSettings(data=[bikes, "a.mp4"], val_data=[bikes], split=["b.mp4"]))
    assert f"training and validation data overlap: {bikes} (data and val_data)" in caplog.text
    assert "a.mp4" not in caplog.text and "b.mp4" not in caplog.text
    caplog.clear()
    warn_overlap(TrainSettings(data=["./a.mp4"], split=["a.mp4"], val_data=["c.mp4"]))
    assert f"{os.path.abspath('a.mp4')} (data and split)" in caplog.text
    caplog.clear()
    warn_overlap(TrainSettings(data=["a.mp4"], split=[bikes, "b.mp4"], val_data=["c.mp4"]))
    assert not caplog.records  # the shipped configs' shape: a time split, no overlap


def test_a_sample_and_its_path_are_one_source(caplog):
    """``sample:bikes.mp4`` and the clip's own path (or a link to it) read the same file."""
    from frame_restore_ros.training.run import overlaps

    bikes, path = "sample:bikes.mp4", str(sample_video_path())
    assert overlaps(TrainSettings(data=[bikes], val_data=[path])) == [
        f"{bikes} = {path} (data and val_data)"
    ]
    assert overlaps(TrainSettings(split=[path], val_data=[bikes])) == [
        f"{bikes} = {path} (split and val_data)"
    ]
    assert overlaps(TrainSettings(data=[bikes], split=["sample:other.mp4"])) == []


def test_a_link_to_a_clip_is_the_clip(tmp_path):
    from frame_restore_ros.training.run import overlaps

    link = tmp_path / "clip.mp4"
    link.symlink_to(sample_video_path())
    lines = overlaps(TrainSettings(data=[str(link)], val_data=["sample:bikes.mp4"]))
    assert lines == [f"{link} = sample:bikes.mp4 (data and val_data)"]


def test_the_output_may_not_be_a_sample_clip_named_by_sample():
    from frame_restore_ros.training.run import check_not_overwritten

    path = str(sample_video_path())
    with pytest.raises(ValueError, match="is also an input \\(sample:bikes.mp4\\)"):
        check_not_overwritten(TrainSettings(data=["sample:bikes.mp4"], output=path))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"max_frames": 0}, "max_frames must be >= 2 (or unset), got 0"),
        ({"max_frames": -1}, "max_frames must be >= 2 (or unset), got -1"),
        ({"seed": -1}, "seed must be >= 0, got -1"),
    ],
)
def test_yaml_max_frames_and_seed_name_the_setting(tmp_path, no_data_loads, caplog, change, words):
    config = write_config(tmp_path, **change)
    assert main(["train", "--config", str(config)]) == 2
    assert words in caplog.text and "no decodable frames" not in caplog.text


def test_a_clip_that_changes_frame_shape_is_named_with_its_sizes(monkeypatch):
    from frame_restore_ros.training import pairs

    frames = [np.zeros((96, 160, 3), np.uint8)] * 3 + [np.zeros((120, 120, 3), np.uint8)] * 3
    monkeypatch.setattr(pairs, "source_frames", lambda *args: {"bag:/cam": frames})
    with pytest.raises(ValueError, match=r"bag:/cam: frame 3 is 120x120, but .* at 160x96"):
        pairs.load_clips("bag", (32, 48))
    same_aspect = [np.zeros((96, 160, 3), np.uint8), np.zeros((48, 80, 3), np.uint8)]
    monkeypatch.setattr(pairs, "source_frames", lambda *args: {"bag:/cam": same_aspect})
    assert pairs.load_clips("bag", (32, 48))[0].frames.shape[0] == 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b"steps: [1, 2\nlr: 3\n", "not valid YAML, line 2, column 3: expected ','"),
        (bytes(range(128, 256)), "not UTF-8 text (byte 0x80 at offset 0)"),
        (b"steps: 1\x00\n", "not valid YAML, unacceptable character #x0000"),
    ],
)
def test_an_unreadable_config_names_the_file_in_one_line(tmp_path, text, words):
    from frame_restore_ros.training.settings import resolve_settings

    config = tmp_path / "train.yaml"
    config.write_bytes(text)
    with pytest.raises(ValueError) as error:
        resolve_settings(config, {})
    message = str(error.value)
    assert f"cannot read training config {config}: " in message and words in message
    assert "\n" not in message and "<unicode string>" not in message


def test_a_validation_without_gap_1_2_pairs_prints_no_nan():
    metrics = dict.fromkeys(
        ("psnr_failed", "psnr_failed_hold", "psnr_failed_frames", "psnr_failed_frames_hold"), 12.0
    )
    gaps = {"psnr_failed_frames_gap12": math.nan, "psnr_failed_frames_gap12_hold": math.nan}
    line = loop.validation_line(metrics | gaps)
    assert "nan" not in line and "no gap 1-2 pairs" in line
    gaps = {"psnr_failed_frames_gap12": 10.0, "psnr_failed_frames_gap12_hold": 11.0}
    assert "gaps 1-2 10.00 (hold 11.00)" in loop.validation_line(metrics | gaps)


# --- demo (review items 20, 24) ---


def test_demo_refuses_a_negative_seed(capsys):
    with pytest.raises(SystemExit) as error:
        main(["demo", "--seed", "-1"])
    assert error.value.code == 2 and "argument --seed: must be an integer >= 0" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("output", "words"),
    [("afile", "afile: it is a file, not a folder"), ("afile/sub", "afile is a file")],
)
def test_demo_checks_its_output_before_the_work(tmp_path, monkeypatch, caplog, output, words):
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the demo started before its output was checked")

    monkeypatch.setattr("frame_restore_ros.evaluation.demo.load_backend", refuse)
    (tmp_path / "afile").write_text("x")
    assert main(["demo", "--no-progress", "-o", str(tmp_path / output)]) == 2
    assert "cannot write -o/--output" in caplog.text and words in caplog.text
    assert "Errno" not in caplog.text and (tmp_path / "afile").read_text() == "x"

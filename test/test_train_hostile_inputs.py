"""Hostile training and demo inputs (review notes/hostile_train.md): a clear error, never a NaN
model kept as the best, never an earlier run's state destroyed, never an MAE run as SiamMCVAE."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from test_training import train_tiny_on_bikes

from frame_restore_ros.cli.main import main
from frame_restore_ros.evaluation.metrics import psnr_from_mse
from frame_restore_ros.training import loop
from frame_restore_ros.training.loop import TrainingDivergedError
from frame_restore_ros.training.settings import TrainSettings


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
        ({"warmup_steps": -1}, "warmup_steps and seed must be >= 0"),
        ({"seed": -1}, "warmup_steps and seed must be >= 0"),
        ({"max_frames": 0}, "max_frames must be >= 1"),
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

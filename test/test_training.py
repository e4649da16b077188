"""Paired-frame sampling and a smoke training run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from frame_restore_ros.media.video import sample_video_path
from frame_restore_ros.model import load_checkpoint, preset, read_metadata
from frame_restore_ros.training.loop import learning_rate, masked_psnr, per_frame_psnr, train
from frame_restore_ros.training.pairs import Clip, PairSampler, load_clip
from frame_restore_ros.training.settings import TrainSettings, resolve_settings


def indexed_clip(name: str, count: int, offset: int, size=(40, 60)) -> Clip:
    """Frames whose every pixel value is offset + index, so a crop reveals where it came from."""
    frames = np.stack([np.full((*size, 3), offset + i, dtype=np.uint8) for i in range(count)])
    return Clip(name=name, frames=frames)


def test_pairs_come_from_one_clip_with_the_gap_asked():
    clips = [indexed_clip("a", 30, 0), indexed_clip("b", 30, 100)]
    sampler = PairSampler(clips, (32, 48), patch_size=8, max_gap=4, seed=0)
    seen_gaps = set()
    for _ in range(300):
        reference, clean, gap, _ = sampler.sample_pair()
        ref_index, clean_index = int(reference[0, 0, 0]), int(clean[0, 0, 0])
        assert (ref_index >= 100) == (clean_index >= 100), "never mixes clips"
        assert clean_index - ref_index == gap and 1 <= gap <= 4
        assert reference.shape == clean.shape == (32, 48, 3)
        seen_gaps.add(gap)
    assert seen_gaps == {1, 2, 3, 4}


def test_batches_have_masks_of_the_model_grid_and_ratio_range():
    sampler = PairSampler([indexed_clip("a", 10, 0)], (32, 48), patch_size=8, seed=1)
    for _ in range(20):
        batch = sampler.sample(3)
        assert batch.reference.shape == batch.clean.shape == (3, 3, 32, 48)
        assert batch.mask.shape == (3, 4, 6)
        counts = batch.mask.reshape(3, -1).sum(1)
        assert (counts == counts[0]).all(), "one ratio per batch (token dropping needs it)"
        assert 0.45 * 24 - 1 <= counts[0] <= 0.90 * 24 + 1
        assert batch.reference.min() >= 0 and batch.reference.max() <= 1


def test_load_clip_downscales_real_video_with_crop_margin():
    clip = load_clip(str(sample_video_path()), (32, 48), max_frames=5)
    assert clip.frames.shape[0] == 5 and clip.frames.dtype == np.uint8
    assert clip.frames.shape[1] >= 32 and clip.frames.shape[2] >= 48


def test_learning_rate_warms_up_then_decays():
    cfg = TrainSettings(steps=100, warmup_steps=10, lr=1e-3, min_lr=1e-5)
    assert learning_rate(0, cfg) == pytest.approx(1e-4)
    assert learning_rate(9, cfg) == pytest.approx(1e-3)
    assert learning_rate(99, cfg) < 2e-5


def train_tiny_on_bikes(output, notes=None, **settings) -> None:
    """Train the tiny preset on 12 bikes frames (validation: other pairs of the same frames)."""
    clip = load_clip(str(sample_video_path()), (32, 48), max_frames=12)
    model_cfg = preset("tiny")
    train_sampler = PairSampler([clip], model_cfg.input_size, model_cfg.patch_size, seed=0)
    val_sampler = PairSampler([clip], model_cfg.input_size, model_cfg.patch_size, seed=1)
    cfg = TrainSettings(output=str(output), preset="tiny", eval_batches=1, **settings)
    train(cfg, train_sampler, val_sampler, progress=False, notes=notes)


def test_smoke_training_writes_a_loadable_checkpoint(tmp_path):
    output = tmp_path / "w.safetensors"
    train_tiny_on_bikes(
        output, {"run": "smoke"}, steps=6, batch_size=2, warmup_steps=2, eval_every=3
    )
    model = load_checkpoint(output)
    assert model.cfg == preset("tiny")
    notes = read_metadata(output)[1]
    assert notes["step"] in (3, 6) and len(notes["history"]) >= 1
    assert notes["train"]["steps"] == 6 and notes["train"]["notes"] == {"run": "smoke"}
    assert {"psnr_failed", "psnr_failed_hold"} <= set(notes["history"][0])


def test_log_mse_training_keeps_the_best_mean_per_frame_psnr(tmp_path):
    output = tmp_path / "w.safetensors"
    train_tiny_on_bikes(
        output,
        steps=4,
        batch_size=4,
        warmup_steps=1,
        eval_every=1,
        reconstruction="log_mse",
        select_metric="psnr_failed_frames",
    )
    notes = read_metadata(output)[1]
    history = notes["history"]
    best = max(history, key=lambda h: h["psnr_failed_frames"])
    assert notes["step"] == best["step"], "kept the best mean per-frame PSNR"
    for entry in history:
        assert np.isfinite(entry["loss"])
        for key in ("psnr_failed_frames", "psnr_failed_frames_hold"):
            assert 5.0 < entry[key] < 80.0
    with pytest.raises(ValueError, match="reconstruction must be one of mse, log_mse"):
        TrainSettings(reconstruction="l1")
    with pytest.raises(ValueError, match="select_metric"):
        TrainSettings(select_metric="ssim")


def test_per_frame_psnr_scores_each_frame_of_a_batch():
    clean = torch.zeros(2, 3, 16, 16)
    restored = clean.clone()
    restored[1] = 10 / 255
    mask = torch.ones(2, 2, 2, dtype=torch.bool)
    values = per_frame_psnr(restored, clean, mask, 8)
    assert values[0] == float("inf")
    assert values[1] == pytest.approx(10 * np.log10(255**2 / 100))
    mask[0] = False  # a frame with nothing failed has no PSNR
    assert len(per_frame_psnr(restored, clean, mask, 8)) == 1


def test_masked_psnr_is_the_metrics_psnr_of_the_failed_pixels():
    import math

    import torch

    clean = torch.zeros(1, 3, 16, 16)
    restored = clean.clone()
    mask = torch.zeros(1, 2, 2, dtype=torch.bool)
    mask[0, 0, 0] = True
    assert masked_psnr(restored, clean, mask, 8) == math.inf
    restored[:, :, :8, :8] = 10 / 255  # error 10 on every failed pixel
    restored[:, :, 8:, 8:] = 1.0  # good pixels do not count
    assert masked_psnr(restored, clean, mask, 8) == pytest.approx(10 * math.log10(255**2 / 100))


def test_pseudo_video_pairs_are_a_warp_of_one_frame(bikes_frames):
    from frame_restore_ros.training.pseudo_video import ego_motion_warp

    frame = bikes_frames[20]
    rng = np.random.default_rng(0)
    reference, current = ego_motion_warp(frame, 4, rng)
    assert current is frame and reference.shape == frame.shape
    assert np.abs(reference.astype(int) - frame).mean() > 2  # moved
    small, _ = ego_motion_warp(frame, 1, np.random.default_rng(0))
    large, _ = ego_motion_warp(frame, 8, np.random.default_rng(0))
    assert np.abs(small.astype(int) - frame).mean() < np.abs(large.astype(int) - frame).mean()


def test_sampler_mixes_pseudo_pairs_and_structured_masks():
    clips = [indexed_clip("a", 30, 0, size=(48, 64))]
    sampler = PairSampler(
        clips, (32, 48), 8, max_gap=4, seed=0, pseudo_fraction=0.5, structured_fraction=0.5
    )
    pseudo, structured = 0, 0
    for _ in range(60):
        batch = sampler.sample(4)
        pseudo += int(batch.pseudo.sum())
        structured += int(not batch.same_count)
        counts = batch.mask.reshape(4, -1).sum(1)
        assert (counts >= 1).all() and (counts < 24).all()  # never empty, never everything
        if batch.same_count:
            assert (counts == counts[0]).all()
    assert 80 < pseudo < 160 and 15 < structured < 45
    with pytest.raises(ValueError, match="pseudo_fraction"):
        PairSampler(clips, (32, 48), 8, pseudo_fraction=1.5)


def test_split_clip_keeps_whole_segments():
    from frame_restore_ros.training.pairs import split_clip

    head, tail = split_clip(indexed_clip("a", 20, 0), 0.3)
    assert len(head.frames) == 14 and len(tail.frames) == 6
    assert head.frames[-1, 0, 0, 0] == 13 and tail.frames[0, 0, 0, 0] == 14
    with pytest.raises(ValueError, match="too few"):
        split_clip(indexed_clip("b", 3, 0), 0.3)


def test_settings_come_from_yaml_then_flags(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("output: a.safetensors\ndata: x.mp4\nsteps: 10\nreference-skip: true\n")
    settings = resolve_settings(config, {"steps": 20, "lr": None, "data": None})
    assert settings.steps == 20 and settings.data == ["x.mp4"] and settings.reference_skip
    config.write_text("output: a\ndata: [x]\nstepz: 3\n")
    with pytest.raises(ValueError, match="unknown training settings .*stepz"):
        resolve_settings(config, {})
    with pytest.raises(ValueError, match="no training data"):
        resolve_settings(None, {"output": "a"})
    with pytest.raises(ValueError, match="pseudo_fraction"):
        resolve_settings(None, {"output": "a", "data": ["x"], "pseudo_fraction": 2.0})
    with pytest.raises(ValueError, match="steps and batch_size"):
        TrainSettings(steps=0)


def test_resume_continues_exactly_where_the_run_stopped(tmp_path):
    import torch

    clip = load_clip(str(sample_video_path()), (32, 48), max_frames=12)

    def run(output, steps, resume):
        sampler = PairSampler(
            [clip], (32, 48), 8, seed=0, pseudo_fraction=0.3, structured_fraction=0.3
        )
        cfg = TrainSettings(
            output=str(output),
            preset="tiny",
            reference_skip=True,
            steps=steps,
            batch_size=2,
            warmup_steps=2,
            checkpoint_every=3,
            resume=resume,
        )
        return train(cfg, sampler, None, progress=False)

    straight = run(tmp_path / "a.safetensors", 6, False)
    run(tmp_path / "b.safetensors", 3, False)
    resumed = run(tmp_path / "b.safetensors", 6, True)
    pairs = zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True)
    for (name, p), q in pairs:
        torch.testing.assert_close(p, q, rtol=0, atol=0, msg=name)
    assert (tmp_path / "b.safetensors.state").is_file()


def test_mae_baseline_trains_with_the_same_loop(tmp_path):
    clip = load_clip(str(sample_video_path()), (32, 48), max_frames=8)
    sampler = PairSampler([clip], (32, 48), 8, seed=0, structured_fraction=0.5)
    output = str(tmp_path / "mae.safetensors")
    cfg = TrainSettings(
        output=output, preset="tiny", architecture="mae", steps=3, batch_size=2, warmup_steps=1
    )
    train(cfg, sampler, None, progress=False)
    model = load_checkpoint(tmp_path / "mae.safetensors")
    assert model.cfg.architecture == "mae"


def test_train_command_reads_a_config_and_trains_on_a_bag(tmp_path):
    from pathlib import Path

    from frame_restore_ros.bag.from_video import CameraSource, make_bag
    from frame_restore_ros.cli.main import main

    bag = tmp_path / "bag"
    make_bag([CameraSource(sample_video_path(), "/cam")], bag, max_frames=8, progress=False)
    config = tmp_path / "train.yaml"
    output = tmp_path / "w.safetensors"
    config.write_text(
        f"output: {output}\ndata: [{bag}]\nsplit: ['sample:bikes.mp4']\npreset: tiny\n"
        "steps: 2\nbatch_size: 2\neval_every: 1\nmax_frames: 10\n"
    )
    assert main(["train", "--config", str(config), "--reference-skip"]) == 0
    notes = read_metadata(output)[1]
    assert notes["train"]["notes"]["train_clips"][0] == f"{bag}:/cam"
    assert notes["train"]["notes"]["val_clips"][0].endswith("[7:]")
    assert read_metadata(output)[0].reference_skip
    assert main(["train", "--config", str(Path(tmp_path / "missing.yaml"))]) == 2


@pytest.mark.gpu
def test_training_runs_on_cuda_with_bf16_autocast(tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    clip = load_clip(str(sample_video_path()), (32, 48), max_frames=8)
    sampler = PairSampler([clip], (32, 48), 8, seed=0, structured_fraction=0.5)
    cfg = TrainSettings(
        output=str(tmp_path / "w.safetensors"),
        preset="tiny",
        reference_skip=True,
        steps=4,
        batch_size=2,
        warmup_steps=1,
        device="cuda",
    )
    model = train(cfg, sampler, None, progress=False)
    assert next(model.parameters()).is_cuda
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_init_weights_start_from_a_file_of_the_same_model_and_refuse_another(tmp_path):
    from frame_restore_ros.model import build_model, save_checkpoint
    from frame_restore_ros.training.loop import _initial_model

    torch.manual_seed(3)
    start = build_model(preset("tiny"))
    path = tmp_path / "start.safetensors"
    save_checkpoint(start, path)
    model = _initial_model(TrainSettings(preset="tiny", init_weights=str(path)))
    for name, tensor in start.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name
    with pytest.raises(ValueError, match="init_weights .* differs from the settings"):
        _initial_model(TrainSettings(preset="tiny", reference_skip=True, init_weights=str(path)))


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("reference_skip: no", "reference_skip must be true or false (YAML booleans; 'no'"),
        ("resume: no", "resume must be true or false"),
        ("drop_tokens: off", "drop_tokens must be true or false"),
        ('lr: "1e-3"', "lr must be a finite number, got '1e-3' (str)"),
        ("lr: .nan", "lr must be a finite number, got nan"),
        ("steps: 2.7", "steps must be an integer, got 2.7 (float)"),
        ("max_frames: yes", "max_frames must be an integer, got 'yes' (str)"),
        ("val_data: 5", "val_data must be a list of paths or sample:NAME strings, got 5"),
        ("split: [x.mp4, 3]", "split must be a list of paths"),
        ("init_weights: 7", "init_weights must be a string, got 7 (int)"),
        ("device: gpu", "device must be cpu, cuda or cuda:N, got 'gpu'"),
    ],
)
def test_yaml_values_of_the_wrong_type_name_field_value_and_file(tmp_path, line, words):
    config = tmp_path / "train.yaml"
    config.write_text(f"output: a.safetensors\ndata: [x.mp4]\n{line}\n")
    with pytest.raises(ValueError) as error:
        resolve_settings(config, {"steps": None, "reference_skip": None})
    assert f"invalid training settings in {config}: " in str(error.value)
    assert words in str(error.value)


def test_bool_and_number_settings_of_the_right_type_are_kept(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("output: a\ndata: x\nreference_skip: false\nlr: 1\nmax_frames: null\n")
    settings = resolve_settings(config, {})
    assert settings.reference_skip is False and settings.lr == 1 and settings.max_frames is None
    assert resolve_settings(config, {"device": "cuda:1"}).device == "cuda:1"


def test_device_flag_names_the_valid_devices(caplog):
    from frame_restore_ros.cli.main import main

    assert main(["train", "--data", "x.mp4", "-o", "a.safetensors", "--device", "gpu"]) == 2
    assert "device must be cpu, cuda or cuda:N, got 'gpu'" in caplog.text
    with pytest.raises(ValueError, match="reference_skip must be true or false .* got 'no'"):
        TrainSettings(reference_skip="no")


@pytest.mark.parametrize("where", ["proc", "under_a_file", "folder"])
def test_unwritable_output_is_refused_before_training_naming_the_real_path(
    tmp_path, caplog, monkeypatch, where
):
    from frame_restore_ros.cli.main import main

    def refuse(*args, **kwargs):
        raise AssertionError("data loaded before the output was checked")

    monkeypatch.setattr("frame_restore_ros.training.run.gather_clips", refuse)
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "w.safetensors").mkdir()
    output, reason = {
        "proc": ("/proc/t.safetensors", "(in /proc)"),  # root may write anywhere but here
        "under_a_file": (str(tmp_path / "a_file" / "w.safetensors"), "a_file is a file"),
        "folder": (str(tmp_path / "w.safetensors"), "it is a folder"),
    }[where]
    assert main(["train", "--data", "sample:bikes.mp4", "-o", output, "--preset", "tiny"]) == 2
    assert f"cannot write weight file {output}: " in caplog.text and reason in caplog.text
    assert ".tmp" not in caplog.text


def test_cpu_bf16_autocast_trains_and_changes_the_arithmetic(tmp_path):
    # cpu_bf16 runs the training step's forward under bf16 autocast on the CPU: same seed and
    # batches, finite weights, and not the fp32 run's weights (the setting takes effect).
    import torch

    weights = {}
    for bf16 in (False, True):
        output = tmp_path / f"w_{bf16}.safetensors"
        train_tiny_on_bikes(
            output, steps=3, batch_size=2, warmup_steps=1, eval_every=3, cpu_bf16=bf16
        )
        model = load_checkpoint(output)
        weights[bf16] = torch.cat([p.detach().flatten() for p in model.parameters()])
        assert torch.isfinite(weights[bf16]).all()
    assert not torch.equal(weights[False], weights[True])
    assert (weights[False] - weights[True]).abs().max() < 0.05  # the same run, rounded otherwise


def test_uint8_batches_become_the_float_batch_where_the_model_runs():
    clip = load_clip(str(sample_video_path()), (32, 48), max_frames=8)

    def sampler():
        return PairSampler([clip], (32, 48), 8, seed=4, pseudo_fraction=0.5)

    as_float, as_bytes = sampler().sample(3), sampler().sample(3, as_uint8=True)
    assert as_bytes.reference.dtype == torch.uint8
    moved = as_bytes.on(torch.device("cpu"))
    for name in ("reference", "clean", "mask"):
        assert torch.equal(getattr(moved, name), getattr(as_float, name)), name
    assert torch.equal(moved.gaps, as_float.gaps) and moved.same_count == as_float.same_count


def test_loader_workers_repeat_a_run_and_draw_other_pairs_than_the_loop(tmp_path):
    from frame_restore_ros.training.batch_stream import batch_stream

    clip = load_clip(str(sample_video_path()), (32, 48), max_frames=10)
    sampler = PairSampler([clip], (32, 48), 8, seed=0, structured_fraction=0.5)
    streams = [batch_stream(sampler, 2, 2, seed=0, first_step=0) for _ in range(2)]
    first, again = ([next(s) for _ in range(4)] for s in streams)
    for one, two in zip(first, again, strict=True):  # the same worker count: the same batches
        assert torch.equal(one.clean, two.clean) and torch.equal(one.mask, two.mask)
    assert not torch.equal(first[0].clean, first[1].clean), "the two workers differ"
    in_loop = next(batch_stream(sampler, 2, 0, seed=0, first_step=0))
    assert in_loop.clean.dtype == torch.float32 and first[0].clean.dtype == torch.uint8
    after_resume = next(batch_stream(sampler, 2, 2, seed=0, first_step=5))
    assert not torch.equal(after_resume.clean, first[0].on(torch.device("cpu")).clean)

    def weights(name):
        output = tmp_path / name
        train_tiny_on_bikes(output, steps=3, batch_size=2, warmup_steps=1, loader_workers=2)
        return load_checkpoint(output).state_dict()

    one, two = weights("a.safetensors"), weights("b.safetensors")
    for name, tensor in one.items():
        assert torch.equal(tensor, two[name]), name


def test_max_minutes_stops_a_run_validated_and_resume_finishes_it(tmp_path, caplog):
    output = tmp_path / "w.safetensors"
    common = {"steps": 6, "batch_size": 2, "warmup_steps": 1, "eval_every": 100}
    with caplog.at_level("WARNING"):
        train_tiny_on_bikes(output, max_minutes=1e-9, **common)
    assert "stopped at step 1 of 6" in caplog.text and "--resume continues" in caplog.text
    notes = read_metadata(output)[1]
    assert [h["step"] for h in notes["history"]] == [1], "validated where it stopped"
    assert (tmp_path / "w.safetensors.state").is_file()
    train_tiny_on_bikes(output, resume=True, **common)
    with safe_open(str(output) + ".state", framework="pt") as handle:
        state = json.loads(handle.metadata()["notes"])
    assert state["step"] == 6
    assert [h["step"] for h in state["history"]] == [1, 6], "continued from step 1, not 0"
    with pytest.raises(ValueError, match="max_minutes must be > 0, got 0"):
        TrainSettings(max_minutes=0)
    with pytest.raises(ValueError, match="loader_workers must be >= 0, got -1"):
        TrainSettings(loader_workers=-1)


def test_a_fine_tune_validates_its_starting_weights_as_step_zero(tmp_path):
    from frame_restore_ros.model import build_model, save_checkpoint

    start = tmp_path / "start.safetensors"
    save_checkpoint(build_model(preset("tiny")), start)
    output = tmp_path / "w.safetensors"
    settings = {"steps": 2, "batch_size": 2, "warmup_steps": 1, "eval_every": 1}
    train_tiny_on_bikes(output, init_weights=str(start), lr=1e-2, **settings)
    with safe_open(str(output) + ".state", framework="pt") as handle:
        history = json.loads(handle.metadata()["notes"])["history"]  # every validation
    assert [h["step"] for h in history] == [0, 1, 2]
    assert history[0]["loss"] is None and history[0]["minutes"] == 0.0
    best = max(history, key=lambda h: h["psnr_failed"])
    kept = read_metadata(output)[1]["step"]
    assert kept == best["step"], "the kept weights are the best, the start included"


def test_a_resumed_run_gets_its_own_max_minutes(tmp_path, monkeypatch):
    import types

    from frame_restore_ros.training import loop

    clock = iter(range(0, 6000, 60))  # every reading of the loop's clock is a minute later
    monkeypatch.setattr(loop, "time", types.SimpleNamespace(time=lambda: float(next(clock))))
    output = tmp_path / "w.safetensors"
    common = {"steps": 10, "batch_size": 2, "warmup_steps": 1, "eval_every": 100}
    train_tiny_on_bikes(output, max_minutes=1.5, **common)
    train_tiny_on_bikes(output, max_minutes=1.5, resume=True, **common)
    with safe_open(str(output) + ".state", framework="pt") as handle:
        state = json.loads(handle.metadata()["notes"])
    assert [h["step"] for h in state["history"]] == [2, 4], "two steps in each call"
    assert state["minutes"] == 4.0  # the history's minutes run on over both calls

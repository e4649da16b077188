"""Paired-frame sampling and a smoke training run."""

from __future__ import annotations

import numpy as np
import pytest

from frame_restore_ros.media.video import sample_video_path
from frame_restore_ros.model import load_checkpoint, preset, read_metadata
from frame_restore_ros.training.loop import TrainConfig, learning_rate, train
from frame_restore_ros.training.pairs import Clip, PairSampler, load_clip


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
    cfg = TrainConfig(steps=100, warmup_steps=10, lr=1e-3, min_lr=1e-5)
    assert learning_rate(0, cfg) == pytest.approx(1e-4)
    assert learning_rate(9, cfg) == pytest.approx(1e-3)
    assert learning_rate(99, cfg) < 2e-5


def test_smoke_training_writes_a_loadable_checkpoint(tmp_path):
    clip = load_clip(str(sample_video_path()), (32, 48), max_frames=12)
    model_cfg = preset("tiny")
    train_sampler = PairSampler([clip], model_cfg.input_size, model_cfg.patch_size, seed=0)
    val_sampler = PairSampler([clip], model_cfg.input_size, model_cfg.patch_size, seed=1)
    cfg = TrainConfig(steps=6, batch_size=2, warmup_steps=2, eval_every=3, eval_batches=1)
    train(model_cfg, train_sampler, val_sampler, cfg, tmp_path / "w.safetensors", progress=False)
    model = load_checkpoint(tmp_path / "w.safetensors")
    assert model.cfg == model_cfg
    notes = read_metadata(tmp_path / "w.safetensors")[1]
    assert notes["step"] in (3, 6) and len(notes["history"]) >= 1
    assert {"psnr_failed", "psnr_failed_hold"} <= set(notes["history"][0])

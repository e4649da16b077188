"""The weights shipped inside the package: load, describe themselves, export with ONNX parity."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import torch

from frame_restore_ros.backends.onnx_export import export_onnx
from frame_restore_ros.model import (
    DeployGraph,
    patch_mask_to_pixels,
    random_patch_mask,
    read_metadata,
)
from frame_restore_ros.model.bundled import default_weights_path, load_default_or


def test_bundled_weights_are_small_safetensors_with_a_model_card():
    path = default_weights_path()
    assert path.suffix == ".safetensors" and path.stat().st_size < 25 * 2**20
    assert (path.parent / "MODEL_CARD.md").is_file()
    config, notes = read_metadata(path)
    assert config.name == "small"
    assert notes["step"] > 0 and notes["train"]["beta"] >= 0


def test_bundled_weights_restore_and_match_onnx_runtime_on_real_frames(tmp_path, real_pair):
    model = load_default_or(None)
    cfg = model.cfg
    reference, damaged = real_pair(*cfg.input_size, gap=2)
    mask = random_patch_mask(1, cfg.grid_size, 0.75, torch.Generator().manual_seed(0)).float()
    with torch.no_grad():
        expected = DeployGraph(model)(reference, damaged, mask).numpy()
    exported = export_onnx(model, tmp_path / "default.onnx")
    session = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
    feeds = {
        "reference": reference.numpy(),
        "damaged": damaged.numpy(),
        "patch_mask": mask.numpy(),
    }
    (actual,) = session.run(None, feeds)
    assert np.abs(actual - expected).max() / np.abs(expected).max() < 1e-4
    failed = patch_mask_to_pixels(mask.bool(), cfg.patch_size).expand_as(damaged).numpy()
    assert np.array_equal(actual[~failed], damaged.numpy()[~failed])
    # A trained model predicts far better than a flat gray fill on real frames.
    truth = damaged.numpy()[failed]
    assert np.abs(expected[failed] - truth).mean() < np.abs(0.5 - truth).mean()

"""ONNX export of the deploy graph: static shapes, no random/data-dependent ops, torch parity."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from frame_restore_ros.backends.onnx_export import FORBIDDEN_OPS, export_onnx
from frame_restore_ros.model import (
    DeployGraph,
    SiamMCVAE,
    patch_mask_to_pixels,
    preset,
    random_patch_mask,
)


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """Return the relative error of a whole output: max |a - b| / max |b|."""
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


def run_onnx(path, feeds: dict[str, torch.Tensor]) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, {name: t.numpy() for name, t in feeds.items()})


@pytest.fixture(scope="module")
def small_model() -> SiamMCVAE:
    torch.manual_seed(0)
    return SiamMCVAE(preset("small")).eval()


def test_small_preset_export_static_no_forbidden_ops_and_parity(tmp_path, small_model, real_pair):
    cfg = small_model.cfg
    exported = export_onnx(small_model, tmp_path / "small.onnx")
    height, width = cfg.input_size
    assert exported.input_shapes == {
        "reference": (1, 3, height, width),
        "damaged": (1, 3, height, width),
        "patch_mask": (1, *cfg.grid_size),
    }
    assert exported.output_shapes == {"restored": (1, 3, height, width)}
    proto = onnx.load(str(exported.path))
    op_types = {node.op_type for node in proto.graph.node}
    assert not op_types & FORBIDDEN_OPS, op_types & FORBIDDEN_OPS
    assert not op_types & {
        "NonZero",
        "RandomNormal",
        "RandomNormalLike",
        "RandomUniform",
        "Loop",
        "If",
    }
    assert {"MatMul", "Softmax", "Where"} <= op_types
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17

    reference, damaged = real_pair(height, width, gap=2)
    mask = random_patch_mask(1, cfg.grid_size, 0.75, torch.Generator().manual_seed(2)).float()
    (onnx_restored,) = run_onnx(
        exported.path, {"reference": reference, "damaged": damaged, "patch_mask": mask}
    )
    with torch.no_grad():
        torch_restored = DeployGraph(small_model)(reference, damaged, mask).numpy()
    assert relative_error(onnx_restored, torch_restored) < 1e-4
    visible = ~patch_mask_to_pixels(mask.bool(), cfg.patch_size).expand_as(damaged).numpy()
    assert np.array_equal(onnx_restored[visible], damaged.numpy()[visible]), (
        "visible pixels copied exactly"
    )


def test_uncertainty_graph_takes_noise_and_matches_torch(tmp_path, real_pair):
    torch.manual_seed(1)
    model = SiamMCVAE(preset("tiny")).eval()
    cfg = model.cfg
    exported = export_onnx(model, tmp_path / "tiny_k4.onnx", num_samples=4, batch=2)
    graph = DeployGraph(model, num_samples=4)
    assert (
        exported.input_shapes["noise"]
        == graph.noise_shape(2)
        == (2, 4, cfg.num_patches + 1, cfg.latent_dim)
    )
    assert exported.output_shapes == {
        "restored": (2, 3, *cfg.input_size),
        "std": (2, 1, *cfg.input_size),
    }
    reference, damaged = real_pair(*cfg.input_size)
    reference, damaged = reference.repeat(2, 1, 1, 1), damaged.repeat(2, 1, 1, 1)
    mask = random_patch_mask(2, cfg.grid_size, 0.5, torch.Generator().manual_seed(3)).float()
    noise = torch.randn(graph.noise_shape(2))
    feeds = {"reference": reference, "damaged": damaged, "patch_mask": mask, "noise": noise}
    onnx_restored, onnx_std = run_onnx(exported.path, feeds)
    with torch.no_grad():
        torch_restored, torch_std = graph(reference, damaged, mask, noise)
    assert relative_error(onnx_restored, torch_restored.numpy()) < 1e-4
    assert relative_error(onnx_std, torch_std.numpy()) < 1e-4
    assert not np.isnan(onnx_std).any()
    # A different noise draw changes the std but not the restored (Z = M) frame.
    other = run_onnx(exported.path, feeds | {"noise": torch.randn(graph.noise_shape(2))})
    np.testing.assert_allclose(other[0], onnx_restored, rtol=0, atol=1e-6)
    assert not np.allclose(other[1], onnx_std)


def test_uncertainty_graph_requires_two_samples_and_noise():
    model = SiamMCVAE(preset("tiny"))
    with pytest.raises(ValueError, match="num_samples must be 0"):
        DeployGraph(model, num_samples=1)
    graph = DeployGraph(model, num_samples=3)
    images = torch.rand(1, 3, *model.cfg.input_size)
    with pytest.raises(ValueError, match="pass noise of shape"):
        graph(images, images, torch.zeros(1, *model.cfg.grid_size))

"""The ONNX Runtime backend: parity with torch fp32 on real frames, cached export, uncertainty."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import repair

from frame_restore_ros.backends.fingerprint import model_fingerprint
from frame_restore_ros.backends.onnx_cache import cached_onnx
from frame_restore_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from frame_restore_ros.backends.torch_backend import TorchBackend
from frame_restore_ros.model.bundled import load_default_or
from frame_restore_ros.synthetic.corruption import random_patches


@pytest.fixture(scope="module")
def model():
    return load_default_or(None)


def test_parity_with_torch_on_real_frames_and_cached_export(model, bikes_frames, tmp_path):
    backend = OnnxRuntimeBackend(model, uncertainty_samples=2, cache_dir=tmp_path)
    reference, truth = bikes_frames[20], bikes_frames[21]
    damage = random_patches(truth, model.cfg.grid_size, 0.75, np.random.default_rng(0))
    ours, _ = repair(backend, reference, damage.damaged, damage.mask, 24, False)
    theirs, _ = repair(TorchBackend(model), reference, damage.damaged, damage.mask, 24, False)
    assert np.abs(ours.astype(int) - theirs).max() <= 1  # fp32 both; rounding at most 1 level
    np.testing.assert_array_equal(ours[~damage.mask], damage.damaged[~damage.mask])
    restored, std = repair(backend, reference, damage.damaged, damage.mask, 24, True)
    assert std is not None and std[damage.mask].max() > 0 and std[~damage.mask].max() == 0
    cached = sorted(p.name for p in (tmp_path / "onnx").iterdir())
    stem = f"{model_fingerprint(model)[:20]}-{_exporter_tag()}"
    assert cached == [f"{stem}-k0.onnx", f"{stem}-k2.onnx", f"{stem}-visible.onnx"]
    before = (tmp_path / "onnx" / cached[0]).stat().st_mtime_ns
    assert cached_onnx(model, 0, tmp_path).stat().st_mtime_ns == before  # reused, not re-exported
    assert backend.name == "onnxruntime-cpu"


def _exporter_tag() -> str:
    import hashlib

    from frame_restore_ros.backends.onnx_export import exporter_version

    return hashlib.sha256(exporter_version().encode()).hexdigest()[:8]


def test_a_graph_from_another_exporter_is_exported_again_not_reused(model, tmp_path, monkeypatch):
    """The cached name holds the exporter (torch, onnxscript, opset): after an upgrade the
    graph is exported anew beside the old one, which stays for the old version."""
    from frame_restore_ros.backends import onnx_export

    first = cached_onnx(model, 0, tmp_path)
    assert (
        "torch " in onnx_export.exporter_version() and "opset 18" in onnx_export.exporter_version()
    )
    monkeypatch.setattr(onnx_export, "exporter_version", lambda: "torch 9.9 onnxscript 9 opset 18")
    second = cached_onnx(model, 0, tmp_path)
    assert second != first and first.is_file() and second.is_file()
    assert second.name.startswith(model_fingerprint(model)[:20])
    assert cached_onnx(model, 0, tmp_path) == second  # reused under the new exporter


@pytest.mark.parametrize("damage", ["cut short", "garbage"])
def test_a_damaged_cached_export_is_exported_again(model, tmp_path, caplog, damage):
    """A cached graph that no longer parses is replaced with a warning, not loaded or kept."""
    import logging

    import onnx

    path = cached_onnx(model, 0, tmp_path)
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 3] if damage == "cut short" else b"\x08\xff" * 64)
    with caplog.at_level(logging.WARNING):
        again = cached_onnx(model, 0, tmp_path)
    assert again == path and "does not load" in caplog.text
    onnx.checker.check_model(onnx.load(str(path)))
    assert OnnxRuntimeBackend(model, cache_dir=tmp_path).name == "onnxruntime-cpu"


@pytest.fixture(scope="module")
def both_graphs(model, tmp_path_factory):
    cache = tmp_path_factory.mktemp("onnx_cache")
    visible = OnnxRuntimeBackend(model, cache_dir=cache, visible_tokens=True)
    return visible, OnnxRuntimeBackend(model, cache_dir=cache, visible_tokens=False)


@pytest.mark.parametrize("ratio", [0.0, 0.45, 0.75, 0.9, 1.0])
def test_visible_token_graph_equals_the_static_graph(model, bikes_frames, both_graphs, ratio):
    """The masking equivalence through ONNX Runtime: dropped tokens == masked keys."""
    from frame_restore_ros.media.tensors import frame_to_array

    visible, static = both_graphs
    assert visible.visible_session is not None and static.visible_session is None
    size = model.cfg.input_size
    reference = frame_to_array(bikes_frames[20], size)
    damaged = frame_to_array(bikes_frames[22], size)
    mask = (np.random.default_rng(1).random((1, *model.cfg.grid_size)) < ratio).astype(np.float32)
    ours, theirs = visible.infer(reference, damaged, mask), static.infer(reference, damaged, mask)
    assert ours.shape == theirs.shape and np.isfinite(ours).all()
    np.testing.assert_allclose(ours, theirs, atol=2e-5)
    pixels = np.repeat(np.repeat(mask[0] > 0.5, 16, 0), 16, 1)
    np.testing.assert_array_equal(ours[0][:, ~pixels], damaged[0][:, ~pixels])  # bit for bit


def test_fingerprint_changes_with_any_weight(model):
    import copy

    import torch

    other = copy.deepcopy(model)
    with torch.no_grad():
        other.to_pixels.bias[0] += 1e-6
    assert model_fingerprint(model) != model_fingerprint(other)
    assert model_fingerprint(model) == model_fingerprint(copy.deepcopy(model))


def test_fingerprint_counts_the_values_of_bfloat16_weights(model):
    """bf16 weights (numpy has no bf16) change the fingerprint; fp32 ones keep the old bytes."""
    import copy
    import hashlib

    import torch

    half = copy.deepcopy(model).to(torch.bfloat16)
    other = copy.deepcopy(half)
    with torch.no_grad():
        other.to_pixels.bias[0] += 1.0
    assert model_fingerprint(half) != model_fingerprint(other)
    # The fp32 formula before bf16 was covered: numpy's bytes of each tensor.
    digest = hashlib.sha256(model.cfg.to_json().encode())
    for name, tensor in sorted(model.state_dict().items()):
        value = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(value.numpy().tobytes())
    assert model_fingerprint(model) == digest.hexdigest()


def test_cuda_provider_missing_is_a_clear_error(model, tmp_path):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(RuntimeError, match="no CUDAExecutionProvider"):
        OnnxRuntimeBackend(model, use_cuda=True, cache_dir=tmp_path)

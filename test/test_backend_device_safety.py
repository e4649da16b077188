"""GPU-path bugs caught without a GPU: host copies inside forward, mutated models, precisions.

* A CUDA-graph capture fails on any host-to-device copy or synchronization inside the forward:
  a dispatch trace of the deploy graph on a meta-device model shows every op and its devices.
* A backend builds on its own copy of the model; the caller's model keeps its device, dtype,
  mode and values (``auto`` hands the same model to the next backend when one fails).
* fp16 / bf16 / fp32 are accepted exactly by the backends that advertise them.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from frame_restore_ros.backends import selection
from frame_restore_ros.model import DeployGraph, SiamMCVAE, build_model, preset

SYNCING_OPS = ("_local_scalar_dense", "nonzero", "item", "is_nonzero", "equal")


class DeviceTrace(TorchDispatchMode):
    """Records every dispatched op that reads a host tensor or makes the host wait."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []
        self.offending: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.ops.append(str(func))
        tensors = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        if any(t.device.type == "cpu" for t in tensors) or str(func).split(".")[1] in SYNCING_OPS:
            self.offending.append(f"{func} on {[t.device.type for t in tensors]}")
        return func(*args, **kwargs)


@pytest.mark.parametrize("architecture, samples", [("siammcvae", 0), ("siammcvae", 2), ("mae", 0)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_deploy_forward_reads_no_host_tensor_and_never_syncs(architecture, samples, dtype):
    model = build_model(preset("tiny").replace(architecture=architecture)).to("meta", dtype)
    graph = DeployGraph(model, samples) if samples else DeployGraph(model)
    height, width = model.cfg.input_size
    image = torch.empty(1, 3, height, width, device="meta", dtype=dtype)
    mask = torch.empty(1, *model.cfg.grid_size, device="meta", dtype=dtype)
    inputs = (image, image, mask) + (
        (torch.empty(graph.noise_shape(), device="meta"),) * bool(samples)
    )
    with DeviceTrace() as trace, torch.inference_mode():
        for _ in range(2):  # the first call fills any cache; neither may copy from the host
            graph(*inputs)
    assert trace.ops and not trace.offending, trace.offending


def _snapshot(model: torch.nn.Module) -> dict[str, object]:
    return {
        "modes": [m.training for m in model.modules()],
        "tensors": {
            name: (t.device, t.dtype, t.detach().clone())
            for name, t in [*model.named_parameters(), *model.named_buffers()]
        },
    }


def _assert_unchanged(model: torch.nn.Module, before: dict[str, object]) -> None:
    after = _snapshot(model)
    assert after["modes"] == before["modes"], "the backend changed the model's train/eval mode"
    for name, (device, dtype, value) in before["tensors"].items():
        now = after["tensors"][name]
        assert (now[0], now[1]) == (device, dtype), f"{name} moved to {now[0]} {now[1]}"
        assert torch.equal(now[2], value), f"{name} changed"


@pytest.mark.parametrize("name", ["torch-cpu", "onnxruntime-cpu", "openvino-cpu"])
def test_a_backend_never_mutates_the_model_it_is_given(tmp_path, name):
    model = SiamMCVAE(preset("tiny")).train()  # e.g. a model being trained, evaluated on the side
    before = _snapshot(model)
    backend = selection.build(name, model, 2, tmp_path, "fp32")
    height, width = model.cfg.input_size
    frame = np.full((1, 3, height, width), 0.5, np.float32)
    mask = np.zeros((1, *model.cfg.grid_size), np.float32)
    mask[0, 0, 0] = 1
    backend.infer(frame, frame, mask)
    backend.infer_with_uncertainty(frame, frame, mask)
    _assert_unchanged(model, before)


def test_the_private_copy_converts_only_the_copy():
    from frame_restore_ros.backends.model_copy import private_copy

    model = SiamMCVAE(preset("tiny")).train()
    before = _snapshot(model)
    half = private_copy(model, "meta", torch.float16)  # what torch-cuda fp16 does, on "meta"
    assert {p.device.type for p in half.parameters()} == {"meta"} and not half.training
    assert {p.dtype for p in half.parameters()} == {torch.float16}
    assert half.encoder.pos_table.table.device.type == "meta"  # buffers move along
    same = private_copy(model)  # nothing to convert: weights shared, mode private
    assert same.encoder.patch_embed.weight is model.encoder.patch_embed.weight
    assert not same.training
    _assert_unchanged(model, before)


def test_precisions_are_accepted_exactly_where_advertised():
    from frame_restore_ros.backends import openvino_backend, tensorrt_backend, torch_backend

    advertised = set(selection.PRECISIONS)
    assert set(tensorrt_backend.TENSORRT_PRECISIONS) == advertised  # bf16 included
    assert set(torch_backend.DTYPES) == advertised  # torch-cuda
    assert set(openvino_backend.PRECISIONS) == advertised
    assert set(selection.REDUCED_PRECISION_BACKENDS) == {"tensorrt", "torch-cuda", "openvino-cpu"}
    for precision in advertised:
        tensorrt_backend.check_precision(precision)
    for wrong in ("int8", "FP16", "fp64"):
        with pytest.raises(ValueError, match="precision must be one of"):
            tensorrt_backend.check_precision(wrong)
    model = SiamMCVAE(preset("tiny"))
    for precision in ("fp16", "bf16"):  # torch on the CPU runs fp32 only, and says so
        with pytest.raises(ValueError, match="need device='cuda'"):
            torch_backend.TorchBackend(model, "cpu", precision=precision)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_mixed_precision_graph_keeps_layernorm_softmax_and_io_in_fp32(tmp_path, precision):
    from frame_restore_ros.backends.onnx_cache import cached_onnx
    from frame_restore_ros.backends.onnx_export import example_inputs
    from frame_restore_ros.backends.onnx_mixed import LOW_TYPES, to_mixed_precision

    model = SiamMCVAE(preset("tiny"))
    path = cached_onnx(model, 2, tmp_path)
    mixed = onnx.shape_inference.infer_shapes(to_mixed_precision(onnx.load(path), precision))
    graph = mixed.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*graph.input, *graph.value_info]}
    types.update({i.name: i.data_type for i in graph.initializer})
    float32, low = onnx.TensorProto.FLOAT, LOW_TYPES[precision]
    assert {v.type.tensor_type.elem_type for v in [*graph.input, *graph.output]} == {float32}
    by_op: dict[str, set[int]] = {}
    for node in graph.node:
        by_op.setdefault(node.op_type, set()).add(types[node.input[0]])
    assert by_op["LayerNormalization"] == {float32} and by_op["Softmax"] == {float32}
    assert by_op["MatMul"] == {low} and by_op["Erf"] == {low}
    if precision == "fp16":  # ONNX Runtime runs fp16 on the CPU (not bf16): compare with fp32
        import onnxruntime as ort

        names = ("reference", "damaged", "patch_mask", "noise")
        feeds = {
            n: t.numpy() for n, t in zip(names, example_inputs(DeployGraph(model, 2)), strict=True)
        }
        ours = ort.InferenceSession(mixed.SerializeToString()).run(None, feeds)
        theirs = ort.InferenceSession(str(path)).run(None, feeds)
        for a, b in zip(ours, theirs, strict=True):
            assert a.dtype == np.float32 and np.abs(a - b).max() < 5e-3

"""The real TensorRT builder, engine and backend code driven through fake ``tensorrt`` modules.

One fake per API surface (``fake_tensorrt``: 8.6, 10.x, 11.x), so a build that would raise on
the vehicle's TensorRT (an 11.x flag that no longer exists, an 8.6 implicit-batch network, bf16
advertised but refused) fails here, without a GPU. Engines run on CPU tensors through the
backend's device seam (``tensorrt_backend._cuda_device``).
"""

from __future__ import annotations

import json
import logging
import sys

import numpy as np
import pytest
from fake_tensorrt import fake_tensorrt

from frame_restore_ros.backends import selection, tensorrt_backend
from frame_restore_ros.backends.onnx_cache import cached_onnx
from frame_restore_ros.cli.main import main
from frame_restore_ros.model import SiamMCVAE, preset
from frame_restore_ros.model.checkpoint import default_file_mode

SUPPORTED = ("10.11.0", "10.16.0", "11.1.0")
WEAKLY_TYPED = ("10.11.0",)  # weak typing's APIs are deprecated from 10.12 on
REFUSED = ("8.6.1", "9.3.0", "12.0.0")


@pytest.fixture(scope="module")
def model():
    return SiamMCVAE(preset("tiny"))


@pytest.fixture(scope="module")
def onnx_cache(model, tmp_path_factory):
    """One folder of ONNX exports (K = 0 and 2) shared by the tests: exporting takes seconds."""
    folder = tmp_path_factory.mktemp("trt-cache")
    for samples in (0, 2):
        cached_onnx(model, samples, folder)
    return folder


def use(monkeypatch, version: str):
    trt = fake_tensorrt(version)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    return trt


@pytest.mark.parametrize("version", REFUSED)
def test_doctor_and_auto_refuse_unsupported_tensorrt_and_say_why(monkeypatch, capsys, version):
    use(monkeypatch, version)
    monkeypatch.setattr(selection, "_cuda", lambda: (True, "Fake GPU"))
    found = {s.name: s for s in selection.diagnose()}
    assert not found["tensorrt"].usable
    assert "10.x or 11.x" in found["tensorrt"].detail and version in found["tensorrt"].detail
    assert selection.resolve("auto", list(found.values())) == "torch-cuda"
    with pytest.raises(ValueError, match="10.x or 11.x"):
        selection.resolve("tensorrt", list(found.values()))
    assert main(["doctor"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "tensorrt" in line]
    assert len(lines) == 1 and lines[0].startswith("no") and "10.x or 11.x" in lines[0]


@pytest.mark.parametrize("version", SUPPORTED)
def test_doctor_names_the_build_path_of_a_supported_tensorrt(monkeypatch, version):
    use(monkeypatch, version)
    monkeypatch.setattr(selection, "_cuda", lambda: (True, "Fake GPU"))
    status = {s.name: s for s in selection.diagnose()}["tensorrt"]
    typed = "weakly typed" if version in WEAKLY_TYPED else "strongly typed"
    assert status.usable and status.detail == f"TensorRT {version} ({typed} build)"
    assert selection.resolve("auto", selection.diagnose()) == "tensorrt"


def test_tensorrt_8_6_is_refused_before_it_builds_an_implicit_batch_network(monkeypatch):
    use(monkeypatch, "8.6.1")
    with pytest.raises(ValueError, match=r"8\.6\.1 is too old; needs 10\.x or 11\.x"):
        tensorrt_backend.TensorRTBuilder()


def _plan(engine_bytes: bytes) -> dict:
    assert engine_bytes.startswith(b"TRTPLAN")
    return json.loads(engine_bytes[len("TRTPLAN") :])


@pytest.mark.parametrize("version", SUPPORTED)
@pytest.mark.parametrize("precision", ["fp16", "bf16", "fp32"])
def test_engine_builds_on_each_surface_with_layernorm_and_softmax_in_fp32(
    monkeypatch, onnx_cache, model, version, precision
):
    use(monkeypatch, version)
    plan = _plan(
        tensorrt_backend.TensorRTBuilder().build(cached_onnx(model, 0, onnx_cache), precision)
    )
    reduced = {"fp16": "HALF", "bf16": "BF16", "fp32": "FLOAT"}[precision]
    compute = {}
    for layer in plan["layers"]:
        compute.setdefault(layer["type"], set()).add(layer["compute"])
    assert compute["NORMALIZATION"] == {"FLOAT"} and compute["SOFTMAX"] == {"FLOAT"}
    assert compute["MATRIX_MULTIPLY"] == {reduced}
    io_types = {name: dtype for name, _, dtype, _ in plan["io"]}
    assert set(io_types.values()) == {"FLOAT"}  # the graph's I/O stays fp32
    if version not in WEAKLY_TYPED:  # strongly typed: the precision is in the graph, no flags
        assert plan["strongly_typed"] and not {"FP16", "BF16"} & set(plan["flags"])
        assert not {"OBEY_PRECISION_CONSTRAINTS"} & set(plan["flags"])
    else:
        assert not plan["strongly_typed"]
    if version in WEAKLY_TYPED and precision != "fp32":
        flag = {"fp16": "FP16", "bf16": "BF16"}[precision]
        assert {flag, "OBEY_PRECISION_CONSTRAINTS"} <= set(plan["flags"])


@pytest.mark.parametrize("version", SUPPORTED)
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_backend_runs_on_each_surface_reads_outputs_by_name_and_caches(
    monkeypatch, onnx_cache, model, caplog, version, precision
):
    use(monkeypatch, version)
    monkeypatch.setattr(
        tensorrt_backend,
        "_cuda_device",
        lambda: (tensorrt_backend.torch.device("cpu"), "GPU sm90"),
    )
    with caplog.at_level(logging.INFO, logger=tensorrt_backend.__name__):
        backend = tensorrt_backend.TensorRTBackend(model, precision, 2, cache_dir=onnx_cache)
    assert backend.name == f"tensorrt-{precision}" and "built" in caplog.text
    engine = backend.engines[2]
    assert engine.outputs == ["std", "restored"]  # the engine's order differs from the graph's
    height, width = model.cfg.input_size
    rng = np.random.default_rng(0)
    reference, damaged = rng.random((2, 1, 3, height, width), dtype=np.float32)
    mask = np.zeros((1, *model.cfg.grid_size), np.float32)
    np.testing.assert_array_equal(backend.infer(reference, damaged, mask), damaged)
    restored, std = backend.infer_with_uncertainty(reference, damaged, mask)
    np.testing.assert_array_equal(restored, damaged)
    assert std.shape == (1, 1, height, width) and np.all(std == 0.25)
    engines = sorted((onnx_cache / "engines").glob("*.engine"))
    assert engines and all(p.stat().st_mode & 0o777 == default_file_mode() for p in engines)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=tensorrt_backend.__name__):
        tensorrt_backend.TensorRTBackend(model, precision, 2, cache_dir=onnx_cache)
    assert "K=0): cached" in caplog.text and "K=2): cached" in caplog.text


def test_wrong_input_shapes_and_a_missing_context_are_clear_errors(monkeypatch, onnx_cache, model):
    """An input of another shape is refused by name (``copy_`` would broadcast it silently);
    an engine TensorRT cannot make a context for (None) is a RuntimeError, not AttributeError."""
    trt = use(monkeypatch, SUPPORTED[0])
    monkeypatch.setattr(
        tensorrt_backend,
        "_cuda_device",
        lambda: (tensorrt_backend.torch.device("cpu"), "GPU sm90"),
    )
    backend = tensorrt_backend.TensorRTBackend(model, "fp16", 0, cache_dir=onnx_cache)
    height, width = model.cfg.input_size
    frame = np.zeros((1, 3, height, width), np.float32)
    one_row = np.zeros((1, 3, 1, width), np.float32)  # broadcastable to the buffer
    mask = np.zeros((1, *model.cfg.grid_size), np.float32)
    with pytest.raises(ValueError, match=r"input damaged has shape \(1, 3, 1, "):
        backend.infer(frame, one_row, mask)
    engine = backend.engines[0].engine
    monkeypatch.setattr(type(engine), "create_execution_context", lambda self: None)
    with pytest.raises(RuntimeError, match="could not create an execution context"):
        tensorrt_backend._Engine(engine, trt, tensorrt_backend.torch.device("cpu"))


@pytest.mark.parametrize("version", SUPPORTED)
def test_write_engine_accepts_exactly_the_advertised_precisions(
    monkeypatch, onnx_cache, model, tmp_path, version
):
    use(monkeypatch, version)
    onnx_path = cached_onnx(model, 0, onnx_cache)
    for precision in selection.PRECISIONS:
        engine = tensorrt_backend.write_engine(
            onnx_path, tmp_path / f"{precision}.engine", precision
        )
        assert _plan(engine.read_bytes())["version"] == version
    with pytest.raises(ValueError, match="precision must be one of fp16, bf16, fp32"):
        tensorrt_backend.write_engine(onnx_path, tmp_path / "x.engine", "int8")


@pytest.mark.parametrize(
    ("version", "path", "opt_in"),
    [
        ("10.0.1", "weakly typed", False),
        ("10.11.0.33", "weakly typed", False),
        ("10.12.0", "strongly typed", True),
        ("10.16.1", "strongly typed", True),
        ("11.0.0", "strongly typed", False),  # always strongly typed; the flag is deprecated
    ],
)
def test_weak_typing_ends_at_10_12_where_its_apis_are_deprecated(version, path, opt_in):
    from frame_restore_ros.backends.tensorrt_version import build_path, opts_into_strong_typing

    assert build_path(version) == path
    assert opts_into_strong_typing(version) is opt_in


def test_bf16_on_a_gpu_before_ampere_is_refused_saying_what_to_use(monkeypatch, model, tmp_path):
    """A strongly typed bf16 network does not build before compute capability 8.0: refused up
    front with the GPU's capability and fp16 named; fp16 on the same GPU builds."""
    use(monkeypatch, "10.16.0")
    monkeypatch.setattr(
        tensorrt_backend,
        "_cuda_device",
        lambda: (tensorrt_backend.torch.device("cpu"), "Tesla T4 sm75"),
    )
    with pytest.raises(
        ValueError, match=r"bf16 needs .* 8\.0 .*Tesla T4 sm75 is 7\.5: use .*fp16"
    ):
        tensorrt_backend.TensorRTBackend(model, "bf16", cache_dir=tmp_path)
    assert (
        tensorrt_backend.TensorRTBackend(model, "fp16", cache_dir=tmp_path).name == "tensorrt-fp16"
    )
    assert tensorrt_backend.precision_problem("bf16", "NVIDIA B200 sm100") is None
    assert tensorrt_backend.precision_problem("bf16", "NVIDIA A100 sm80") is None

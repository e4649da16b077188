"""TensorRT engine cache logic (TensorRT behind a seam), backend choice, and `doctor`."""

from __future__ import annotations

import json
import logging

import pytest

from frame_restore_ros.backends.engine_cache import EngineCache, EngineKey
from frame_restore_ros.backends.selection import BACKENDS, BackendStatus, diagnose, resolve
from frame_restore_ros.cli.main import main

KEY = EngineKey(
    "a" * 64,
    "10.7.0",
    "NVIDIA H100 sm90",
    "fp16",
    "1x3x224x400",
    0,
    "torch 2.13.0 opset 18",
    "2 weakly typed",
)


class FakeBuilder:
    """Stands in for TensorRT: an 'engine' is the bytes b'ENGINE:' + onnx path + precision."""

    def __init__(self) -> None:
        self.builds = 0

    def build(self, onnx_path, precision):
        self.builds += 1
        return f"ENGINE:{onnx_path}:{precision}".encode()

    def deserialize(self, data):
        if not data.startswith(b"ENGINE:"):
            raise RuntimeError("bad engine data")
        return data.decode()


def test_engine_is_built_once_then_loaded_from_the_cache(tmp_path):
    cache, builder = EngineCache(tmp_path), FakeBuilder()
    engine, how = cache.load(KEY, tmp_path / "m.onnx", builder)
    assert how == "built" and engine.endswith(":fp16") and builder.builds == 1
    engine_path, key_path = cache.paths(KEY)
    assert json.loads(key_path.read_text())["gpu"] == "NVIDIA H100 sm90"
    again, how = cache.load(KEY, tmp_path / "m.onnx", builder)
    assert how == "cached" and again == engine and builder.builds == 1
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave nothing behind


@pytest.mark.parametrize(
    "field",
    [
        "model",
        "tensorrt",
        "gpu",
        "precision",
        "input_shape",
        "samples",
        "exporter",
        "build_policy",
    ],
)
def test_a_changed_key_builds_a_new_engine(tmp_path, field):
    cache, builder = EngineCache(tmp_path), FakeBuilder()
    cache.load(KEY, tmp_path / "m.onnx", builder)
    changed = KEY.__class__(**{**KEY.__dict__, field: 1 if field == "samples" else "other"})
    assert changed.stem() != KEY.stem()
    _, how = cache.load(changed, tmp_path / "m.onnx", builder)
    assert how == "built" and builder.builds == 2


@pytest.mark.parametrize(
    "damage", ["truncate", "garbage", "key", "flipped byte", "no checksum", "undeserializable"]
)
def test_corrupt_or_mismatched_engine_is_rebuilt_with_a_warning(tmp_path, caplog, damage):
    """Damage is found before TensorRT reads the bytes: the key file holds their SHA-256."""

    class CountingBuilder(FakeBuilder):
        def __init__(self) -> None:
            super().__init__()
            self.read: list[bytes] = []

        def deserialize(self, data):
            self.read.append(data)
            return super().deserialize(data)

    cache, builder = EngineCache(tmp_path), CountingBuilder()
    cache.load(KEY, tmp_path / "m.onnx", builder)
    engine_path, key_path = cache.paths(KEY)
    good = engine_path.read_bytes()
    record = json.loads(key_path.read_text())
    if damage == "truncate":
        engine_path.write_bytes(good[:3])
    elif damage == "garbage":
        engine_path.write_bytes(b"\x00" * 100)
    elif damage == "key":
        key_path.write_text(json.dumps({**record, "tensorrt": "8.6"}))
    elif damage == "flipped byte":  # the header intact: TensorRT itself might accept it
        engine_path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    elif damage == "no checksum":  # a key file from before the checksum
        key_path.write_text(json.dumps(KEY.__dict__))
    else:  # the checksum matches bytes TensorRT refuses (built by another version)
        engine_path.write_bytes(b"OTHER")
        key_path.write_text(json.dumps({**record, "engine_sha256": sha256(b"OTHER")}))
    builder.read.clear()
    with caplog.at_level(logging.WARNING):
        engine, how = cache.load(KEY, tmp_path / "m.onnx", builder)
    assert how == "rebuilt" and engine.startswith("ENGINE:") and builder.builds == 2
    assert "rebuilding the TensorRT engine" in caplog.text
    # Only what the builder built now, and in the last case the refused bytes, reached TensorRT.
    damaged_reads = [data for data in builder.read if data != good]
    assert damaged_reads == ([b"OTHER", b"OTHER"] if damage == "undeserializable" else [])
    assert cache.load(KEY, tmp_path / "m.onnx", builder)[1] == "cached"
    assert json.loads(key_path.read_text())["engine_sha256"] == sha256(engine_path.read_bytes())


def sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_engine_files_get_the_umask_mode_not_0600(tmp_path):
    from frame_restore_ros.model.checkpoint import default_file_mode

    cache = EngineCache(tmp_path)
    cache.load(KEY, tmp_path / "m.onnx", FakeBuilder())
    for path in cache.paths(KEY):
        assert path.stat().st_mode & 0o777 == default_file_mode()


def test_concurrent_builds_of_one_engine_are_serialized(tmp_path):
    import threading
    import time

    class SlowBuilder(FakeBuilder):
        def __init__(self) -> None:
            super().__init__()
            self.running = self.most_at_once = 0

        def build(self, onnx_path, precision):
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            time.sleep(0.2)
            self.running -= 1
            return super().build(onnx_path, precision)

    builder, results = SlowBuilder(), []

    def start() -> None:  # each its own cache object, as two processes would have
        results.append(EngineCache(tmp_path).load(KEY, tmp_path / "m.onnx", builder)[1])

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builder.builds == 1 and builder.most_at_once == 1
    assert sorted(results) == ["built", "cached", "cached"]


CONCRETE = tuple(name for name in BACKENDS if name != "auto")


def statuses(**usable):
    return [
        BackendStatus(n, usable.get(n.replace("-", "_"), n == "torch-cpu"), "why")
        for n in CONCRETE
    ]


def test_auto_prefers_tensorrt_then_torch_cuda_then_the_faster_cpu_path():
    assert resolve("auto", statuses(tensorrt=True, torch_cuda=True)) == "tensorrt"
    assert resolve("auto", statuses(torch_cuda=True, onnxruntime_cpu=True)) == "torch-cuda"
    assert resolve("auto", statuses(torch_cuda=True, openvino_cpu=True)) == "torch-cuda"
    assert resolve("auto", statuses(openvino_cpu=True, onnxruntime_cpu=True)) == "openvino-cpu"
    assert resolve("auto", statuses(onnxruntime_cpu=True)) == "onnxruntime-cpu"
    assert resolve("auto", statuses()) == "torch-cpu"
    with pytest.raises(ValueError, match="tensorrt cannot run here: why"):
        resolve("tensorrt", statuses())
    with pytest.raises(ValueError, match="unknown backend 'openvino'"):
        resolve("openvino", statuses())


def test_auto_falls_back_to_the_next_backend_that_builds(monkeypatch, caplog):
    from frame_restore_ros.backends import selection

    built = []

    def build(name, *args):
        built.append(name)
        if name in ("torch-cuda", "openvino-cpu"):
            raise RuntimeError(f"{name} is broken here")
        return name

    found = statuses(torch_cuda=True, openvino_cpu=True, onnxruntime_cpu=True)
    monkeypatch.setattr(selection, "diagnose", lambda: found)
    monkeypatch.setattr(selection, "build", build)
    with caplog.at_level(logging.WARNING):
        assert selection.create_backend(None, "auto") == "onnxruntime-cpu"
    assert built == ["torch-cuda", "openvino-cpu", "onnxruntime-cpu"]
    assert "auto: openvino-cpu failed to load (RuntimeError: openvino-cpu is broken here)" in (
        caplog.text
    )
    with pytest.raises(RuntimeError, match="openvino-cpu is broken here"):
        selection.create_backend(None, "openvino-cpu")  # asked by name: no fallback
    monkeypatch.setattr(selection, "diagnose", lambda: statuses(openvino_cpu=True))
    monkeypatch.setattr(selection, "build", lambda name, *a: build("openvino-cpu", *a))
    with pytest.raises(RuntimeError, match="broken"):  # the last candidate's error surfaces
        selection.create_backend(None, "auto")


def test_doctor_reports_every_backend_with_a_reason(capsys):
    found = {s.name: s for s in diagnose()}
    assert set(found) == set(CONCRETE) and "openvino-cpu" in found
    assert found["torch-cpu"].usable and found["onnxruntime-cpu"].usable
    assert found["openvino-cpu"].usable, found["openvino-cpu"].detail  # a dependency
    for status in found.values():
        assert status.detail
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "tensorrt" in out and "torch-cpu" in out and "auto ->" in out


def _real_case(bikes_frames):
    import numpy as np

    from frame_restore_ros.model.bundled import load_default_or
    from frame_restore_ros.synthetic.corruption import random_patches

    model = load_default_or(None)
    reference, truth = bikes_frames[20], bikes_frames[21]
    damage = random_patches(truth, model.cfg.grid_size, 0.75, np.random.default_rng(0))
    return model, reference, damage


@pytest.mark.gpu
def test_torch_cuda_matches_cpu_on_real_frames(bikes_frames):
    import numpy as np
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from fakes import repair

    from frame_restore_ros.backends.torch_backend import TorchBackend

    model, reference, damage = _real_case(bikes_frames)
    backends = [
        TorchBackend(model, "cpu"),
        TorchBackend(model, "cuda"),
        TorchBackend(model, "cuda", precision="fp16", cuda_graph=True),  # each has its copy
    ]
    outputs = [repair(b, reference, damage.damaged, damage.mask, 24, False)[0] for b in backends]
    assert np.abs(outputs[0].astype(int) - outputs[1]).max() <= 2
    half = np.abs(outputs[0].astype(int) - outputs[2])
    assert half.max() <= 8 and half.mean() < 1.0  # fp16 tolerance, and no NaN (uint8 output)


@pytest.mark.tensorrt
def test_tensorrt_fp16_matches_torch_fp32_on_real_frames(bikes_frames, tmp_path):
    import numpy as np

    pytest.importorskip("tensorrt", reason="needs TensorRT")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from fakes import repair

    from frame_restore_ros.backends.tensorrt_backend import TensorRTBackend
    from frame_restore_ros.backends.torch_backend import TorchBackend

    model, reference, damage = _real_case(bikes_frames)
    trt_backend = TensorRTBackend(model, "fp16", uncertainty_samples=4, cache_dir=tmp_path)
    ours, std = repair(trt_backend, reference, damage.damaged, damage.mask, 24, True)
    theirs, _ = repair(TorchBackend(model), reference, damage.damaged, damage.mask, 24, False)
    error = np.abs(ours.astype(int) - theirs)
    assert np.isfinite(std).all() and error.max() <= 8 and error.mean() < 1.0  # fp16 tolerance
    again = TensorRTBackend(model, "fp16", cache_dir=tmp_path)  # from the engine cache
    assert again.name == "tensorrt-fp16"


def test_torch_backend_rejects_half_precision_or_graphs_on_cpu():
    from frame_restore_ros.backends.torch_backend import TorchBackend
    from frame_restore_ros.model import SiamMCVAE, preset

    with pytest.raises(ValueError, match="need device='cuda'"):
        TorchBackend(SiamMCVAE(preset("tiny")), "cpu", precision="fp16")
    with pytest.raises(ValueError, match="precision must be one of"):
        TorchBackend(SiamMCVAE(preset("tiny")), "cpu", precision="int8")


def test_backend_benchmark_reports_latency_samples_and_cameras(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["bench", "backends", "--backends", "torch-cpu", "openvino-cpu", "tensorrt"]
    args += ["--presets", "tiny", "--repeats", "3", "--uncertainty", "2", "--cameras", "2"]
    args += ["--json", str(out)]
    assert main(args) == 0
    rows = json.loads(out.read_text())
    names = [r["backend"] for r in rows]
    assert names[0] == "torch-cpu" and names[1].startswith("openvino-cpu")  # no TensorRT here
    assert len(names) == 2
    for row in rows:
        assert row["batch1"]["p50_ms"] > 0 and row["k2"]["p99_ms"] >= row["k2"]["p50_ms"]
        assert row["cameras2_frames_per_s"] > 0
    assert "p50 ms" in capsys.readouterr().out


def test_end_to_end_runs_summarize_every_backend_and_alignment():
    from frame_restore_ros.bench.backend_bench import end_to_end_runs

    record = end_to_end_runs(
        ["torch-cpu"], runs=2, frames=12, passes=1, progress=False, failure="block"
    )
    assert set(record["summary"]) == {
        "torch-cpu align=ecc_flow",
        "torch-cpu align=ecc_flow_no_carry",
        "torch-cpu align=ecc",
        "torch-cpu align=none",
    }
    assert len(record["runs"]) == 2 and all(len(run) == 4 for run in record["runs"])
    assert record["failure"] == "block"
    for name, entry in record["summary"].items():
        p50 = [
            row["p50_ms"]
            for run in record["runs"]
            for row in run
            if name.endswith(f"={row['align']}")
        ]
        assert entry["runs"] == 2 and entry["p50_min_ms"] == round(min(p50), 2)
        assert entry["p50_min_ms"] <= entry["p50_median_ms"] <= entry["p50_max_ms"]
        assert entry["infer_median_ms"] > 0 and entry["detect_median_ms"] > 0
    assert "cores" in record["machine"] and record["precision"] == "fp16"
    # Every damaged frame timed took the repair path (a detector that lets a failure through
    # would leave the figures describing something else).
    for run in record["runs"]:
        assert all(row["frames"] == row["damaged_frames"] > 0 for row in run), run


def test_end_to_end_times_the_repair_of_75_percent_scattered_patches():
    # The paper's masking: most of the frame failed at once is a failure, not a scene cut.
    from frame_restore_ros.bench.backend_bench import end_to_end

    row = end_to_end("torch-cpu", "ecc", frames=14, passes=1, failure="patches")
    assert row["frames"] == row["damaged_frames"] == 3


# --- the one backend factory -------------------------------------------------------------


def test_load_backend_builds_hold_without_a_model_and_refuses_uncertainty_for_it():
    from frame_restore_ros.backends.hold import HoldBackend
    from frame_restore_ros.backends.selection import load_backend

    loaded = load_backend("hold")
    assert isinstance(loaded.backend, HoldBackend)
    assert loaded.config is None and loaded.weights is None
    with pytest.raises(ValueError, match="uncertainty needs a model backend, not hold"):
        load_backend("hold", uncertainty_samples=8)
    with pytest.raises(ValueError, match=r"K >= 2 samples \(or 0 = off\), got 1"):
        load_backend("torch-cpu", uncertainty_samples=1)
    with pytest.raises(FileNotFoundError, match="weights file missing.safetensors does not"):
        load_backend("hold", "missing.safetensors")  # a typo fails even where unused, as the node
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        load_backend("tpu")


def test_load_backend_loads_weights_and_tells_the_architecture(tmp_path):
    from frame_restore_ros.backends.selection import load_backend
    from frame_restore_ros.model import build_model, preset, save_checkpoint
    from frame_restore_ros.model.bundled import default_weights_path

    mae = save_checkpoint(
        build_model(preset("tiny").replace(architecture="mae")), tmp_path / "mae.safetensors"
    )
    loaded = load_backend("torch-cpu", mae)
    assert loaded.backend.name == "torch-cpu" and loaded.weights == mae
    assert loaded.config.architecture == "mae" and loaded.config.name == "tiny"
    bundled = load_backend("torch-cpu", uncertainty_samples=2)
    assert bundled.weights == default_weights_path()
    assert bundled.config.architecture == "siammcvae"
    assert hasattr(bundled.backend, "infer_with_uncertainty")


def test_node_builds_its_backend_with_the_same_factory():
    from frame_restore_ros.backends.hold import HoldBackend
    from frame_restore_ros.node.model_holder import BackendRequest, build_backend

    assert isinstance(build_backend(BackendRequest("hold", "", "fp16", 0, "")), HoldBackend)
    with pytest.raises(ValueError, match="not hold"):
        build_backend(BackendRequest("hold", "", "fp16", 8, ""))
    assert build_backend(BackendRequest("torch-cpu", "", "fp16", 0, "")).name == "torch-cpu"

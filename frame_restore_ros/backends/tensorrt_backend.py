"""TensorRT backend: the exported deploy graph as a cached engine, run on a CUDA stream.

A thin adapter over TensorRT's Python API (10.x, name-based I/O tensors): build from ONNX with
fp16 while LayerNorm and softmax stay fp32 (precision constraints obeyed), cache the serialized
engine (``engine_cache``), preallocate device buffers with torch, bind them once, and run with
``execute_async_v3`` on a dedicated stream. The K-sample uncertainty graph is a second engine,
one batched call. ``tensorrt`` is imported only when this backend is built.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from frame_restore_ros.backends.engine_cache import EngineCache, EngineKey, atomic_write
from frame_restore_ros.backends.fingerprint import model_fingerprint
from frame_restore_ros.backends.onnx_cache import cached_onnx, default_cache_dir
from frame_restore_ros.model.build import RestorationModel

log = logging.getLogger(__name__)
WORKSPACE_BYTES = 1 << 30


class TensorRTBuilder:
    """Builds and deserializes engines (the ``EngineBuilder`` of the cache)."""

    def __init__(self) -> None:
        import tensorrt as trt

        self.trt = trt
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)

    def build(self, onnx_path: Path, precision: str) -> bytes:
        trt = self.trt
        builder = trt.Builder(self.logger)
        network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
        parser = trt.OnnxParser(network, self.logger)
        if not parser.parse_from_file(str(onnx_path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise RuntimeError(f"TensorRT cannot parse {onnx_path}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
        if precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
            config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
            kept = (trt.LayerType.NORMALIZATION, trt.LayerType.SOFTMAX)
            for index in range(network.num_layers):
                layer = network.get_layer(index)
                if layer.type in kept:
                    layer.precision = trt.float32
                    for output in range(layer.num_outputs):
                        layer.set_output_type(output, trt.float32)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path}")
        return bytes(serialized)

    def deserialize(self, data: bytes) -> Any:
        engine = self.runtime.deserialize_cuda_engine(data)
        if engine is None:
            raise RuntimeError("deserialize_cuda_engine returned None")
        return engine


def write_engine(onnx_path: Path, engine_path: Path, precision: str = "fp16") -> Path:
    """Build a TensorRT engine from ``onnx_path`` into ``engine_path`` (written atomically).

    fp16 keeps LayerNorm and softmax in fp32 (:class:`TensorRTBuilder`). Outside the node's
    engine cache: for deployments that ship the engine file.
    """
    if precision not in ("fp16", "fp32"):
        raise ValueError(f"precision must be fp16 or fp32, got {precision!r}")
    atomic_write(engine_path, TensorRTBuilder().build(onnx_path, precision))
    log.info("built TensorRT %s engine %s from %s", precision, engine_path, onnx_path)
    return engine_path


class _Engine:
    """One engine with its execution context, stream and bound device buffers."""

    def __init__(self, engine: Any, trt: Any) -> None:
        self.engine = engine
        self.context = engine.create_execution_context()
        self.stream = torch.cuda.Stream()
        self.buffers: dict[str, torch.Tensor] = {}
        self.outputs: list[str] = []
        for index in range(engine.num_io_tensors):
            name = engine.get_tensor_name(index)
            shape = tuple(engine.get_tensor_shape(name))
            dtype = torch.from_numpy(np.empty(0, trt.nptype(engine.get_tensor_dtype(name)))).dtype
            self.buffers[name] = torch.empty(shape, dtype=dtype, device="cuda")
            self.context.set_tensor_address(name, self.buffers[name].data_ptr())
            if engine.get_tensor_mode(name) == trt.TensorIOMode.OUTPUT:
                self.outputs.append(name)

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        with torch.cuda.stream(self.stream):
            for name, value in feeds.items():
                self.buffers[name].copy_(torch.from_numpy(value), non_blocking=True)
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError("TensorRT execution failed")
            results = [self.buffers[name].float().cpu() for name in self.outputs]
        self.stream.synchronize()
        return [r.numpy() for r in results]


class TensorRTBackend:
    """The restorer's backend on a TensorRT engine (fp16 by default)."""

    def __init__(
        self,
        model: RestorationModel,
        precision: str = "fp16",
        uncertainty_samples: int = 0,
        cache_dir: Path | None = None,
        seed: int = 0,
    ) -> None:
        import tensorrt as trt

        if not torch.cuda.is_available():
            raise RuntimeError("TensorRT needs a CUDA GPU; none is visible to torch")
        if precision not in ("fp16", "fp32"):
            raise ValueError(f"precision must be fp16 or fp32, got {precision!r}")
        cache_root = cache_dir or default_cache_dir()
        cache = EngineCache(cache_root / "engines")
        builder = TensorRTBuilder()
        cfg = model.cfg
        properties = torch.cuda.get_device_properties(0)
        gpu = f"{properties.name} sm{properties.major}{properties.minor}"
        fingerprint = model_fingerprint(model)
        shape = f"1x{cfg.in_channels}x{cfg.input_size[0]}x{cfg.input_size[1]}"
        self.engines = {}
        for samples in sorted({0, uncertainty_samples}):
            key = EngineKey(fingerprint, trt.__version__, gpu, precision, shape, samples)
            onnx_path = cached_onnx(model, samples, cache_root)
            engine, how = cache.load(key, onnx_path, builder)
            log.info("TensorRT engine (K=%d): %s", samples, how)
            self.engines[samples] = _Engine(engine, trt)
        self.samples = uncertainty_samples
        self.noise_shape = (1, uncertainty_samples, cfg.num_patches + 1, cfg.latent_dim)
        self.rng = np.random.default_rng(seed)
        self.name = f"tensorrt-{precision}"
        self.input_size = cfg.input_size
        self.patch_size = cfg.patch_size
        self._warm_up()

    def _warm_up(self, runs: int = 3) -> None:
        height, width = self.input_size
        zeros = np.zeros((1, 3, height, width), np.float32)
        mask = np.zeros((1, height // self.patch_size, width // self.patch_size), np.float32)
        for _ in range(runs):
            self.infer(zeros, zeros, mask)
            if self.samples:
                self.infer_with_uncertainty(zeros, zeros, mask)

    def infer(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> np.ndarray:
        """(1, 3, h, w), (1, 3, h, w), (1, h/P, w/P) float32 -> restored (1, 3, h, w) float32."""
        feeds = {"reference": reference, "damaged": damaged, "patch_mask": patch_mask}
        return self.engines[0].run(
            {k: np.ascontiguousarray(v, np.float32) for k, v in feeds.items()}
        )[0]

    def infer_with_uncertainty(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        if not self.samples:
            raise ValueError("this backend was built without uncertainty_samples")
        feeds = {
            "reference": reference,
            "damaged": damaged,
            "patch_mask": patch_mask,
            "noise": self.rng.standard_normal(self.noise_shape, dtype=np.float32),
        }
        restored, std = self.engines[self.samples].run(
            {k: np.ascontiguousarray(v, np.float32) for k, v in feeds.items()}
        )
        return restored, std

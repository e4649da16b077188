"""TensorRT backend: the exported deploy graph as a cached engine, run on a CUDA stream.

A thin adapter over TensorRT's Python API, 10.x or 11.x (``tensorrt_version``; others are
refused with the reason). The engine is built from the ONNX export: on 10.0-10.11 a weakly
typed network with the fp16 or bf16 builder flag while LayerNorm and softmax stay fp32 (per-layer
precision, constraints obeyed); on 11.x, where networks are always strongly typed and those
flags are gone, and on 10.12+, where they are deprecated (the network asks for strong typing),
from the mixed-precision graph of ``onnx_mixed`` (the same fp32 islands). The
serialized engine is cached (``engine_cache``); device buffers are preallocated with torch and
bound once by tensor name, and each call runs ``execute_async_v3`` on a dedicated stream and
reads the outputs by name. The K-sample uncertainty graph is a second engine, one batched call.
``tensorrt`` is imported only when this backend is built.
"""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from frame_restore_ros.backends.engine_cache import EngineCache, EngineKey, atomic_write
from frame_restore_ros.backends.fingerprint import model_fingerprint
from frame_restore_ros.backends.onnx_cache import cached_onnx, default_cache_dir, graph_feeds
from frame_restore_ros.backends.onnx_export import exporter_version
from frame_restore_ros.backends.tensorrt_version import (
    STRONGLY_TYPED,
    build_path,
    opts_into_strong_typing,
)
from frame_restore_ros.model.build import RestorationModel

log = logging.getLogger(__name__)
WORKSPACE_BYTES = 1 << 30
TENSORRT_PRECISIONS = ("fp16", "bf16", "fp32")
BUILD_POLICY = "2"  # bump when the build recipe changes: cached engines are then rebuilt
BF16_MIN_CAPABILITY = 8  # the CUDA compute capability (major) from which bf16 tensors exist
KEPT_FP32_LAYERS = ("NORMALIZATION", "SOFTMAX")  # trt.LayerType names held in fp32
TORCH_DTYPES = {  # trt.DataType name -> torch dtype of the bound buffer
    "FLOAT": torch.float32,
    "HALF": torch.float16,
    "BF16": torch.bfloat16,
    "INT32": torch.int32,
    "INT64": torch.int64,
    "INT8": torch.int8,
    "UINT8": torch.uint8,
    "BOOL": torch.bool,
}


def check_precision(precision: str) -> None:
    """Raise ValueError unless ``precision`` is one the TensorRT backend builds."""
    if precision not in TENSORRT_PRECISIONS:
        raise ValueError(
            f"precision must be one of {', '.join(TENSORRT_PRECISIONS)}, got {precision!r}"
        )


class TensorRTBuilder:
    """Builds and deserializes engines (the ``EngineBuilder`` of the cache).

    Raises ValueError naming the reason when the installed TensorRT version is not supported.
    """

    def __init__(self) -> None:
        import tensorrt as trt

        self.trt = trt
        self.path = build_path(trt.__version__)
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)

    @property
    def policy(self) -> str:
        """The build-policy part of the engine-cache key."""
        return f"{BUILD_POLICY} {self.path}"

    def build(self, onnx_path: Path, precision: str) -> bytes:
        """Build a serialized engine from the fp32 ONNX graph at ``onnx_path``."""
        check_precision(precision)
        trt = self.trt
        builder = trt.Builder(self.logger)
        flags = 0  # explicit batch (10.x and 11.x); 11.x: always strongly typed
        if opts_into_strong_typing(trt.__version__):
            flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, self.logger)
        if self.path == STRONGLY_TYPED and precision != "fp32":
            import onnx

            from frame_restore_ros.backends.onnx_mixed import to_mixed_precision

            graph = to_mixed_precision(onnx.load(str(onnx_path)), precision)
            parsed = parser.parse(graph.SerializeToString(), str(onnx_path))
        else:
            parsed = parser.parse_from_file(str(onnx_path))
        if not parsed:
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise RuntimeError(f"TensorRT cannot parse {onnx_path}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
        if self.path != STRONGLY_TYPED and precision != "fp32":
            self._weakly_typed_reduced_precision(network, config, precision)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path}")
        return bytes(serialized)

    def _weakly_typed_reduced_precision(self, network: Any, config: Any, precision: str) -> None:
        """Enable fp16 / bf16 kernels (10.0-10.11) with LayerNorm and softmax held in fp32."""
        trt = self.trt
        config.set_flag(trt.BuilderFlag.FP16 if precision == "fp16" else trt.BuilderFlag.BF16)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        kept = tuple(getattr(trt.LayerType, name) for name in KEPT_FP32_LAYERS)
        for index in range(network.num_layers):
            layer = network.get_layer(index)
            if layer.type in kept:
                layer.precision = trt.float32
                for output in range(layer.num_outputs):
                    layer.set_output_type(output, trt.float32)

    def deserialize(self, data: bytes) -> Any:
        engine = self.runtime.deserialize_cuda_engine(data)
        if engine is None:
            raise RuntimeError("deserialize_cuda_engine returned None")
        return engine


def write_engine(onnx_path: Path, engine_path: Path, precision: str = "fp16") -> Path:
    """Build a TensorRT engine from ``onnx_path`` into ``engine_path`` (written atomically).

    fp16 and bf16 keep LayerNorm and softmax in fp32 (:class:`TensorRTBuilder`). Outside the
    node's engine cache: for deployments that ship the engine file.
    """
    check_precision(precision)
    atomic_write(engine_path, TensorRTBuilder().build(onnx_path, precision))
    log.info("built TensorRT %s engine %s from %s", precision, engine_path, onnx_path)
    return engine_path


def _cuda_device() -> tuple[torch.device, str]:
    """Return the device the engines run on and its name with compute capability.

    The current CUDA device (``torch.cuda.set_device``, or the first of ``CUDA_VISIBLE_DEVICES``):
    TensorRT builds and deserializes engines on the current device, so the buffers must be
    there too.
    """
    if not torch.cuda.is_available():
        raise RuntimeError("TensorRT needs a CUDA GPU; none is visible to torch")
    index = torch.cuda.current_device()
    properties = torch.cuda.get_device_properties(index)
    return torch.device("cuda", index), f"{properties.name} sm{properties.major}{properties.minor}"


def precision_problem(precision: str, gpu: str) -> str | None:
    """Say why ``precision`` cannot run on ``gpu`` (``_cuda_device``'s "NAME smXY"), or None.

    bf16 tensors need compute capability 8.0 (Ampere) or newer: a strongly typed bf16 network
    (TensorRT 10.12+, 11.x) fails to build on older GPUs, and a weakly typed one finds no bf16
    kernel there, so it is refused up front with what to use instead.
    """
    found = re.search(r"sm(\d+)(\d)$", gpu)
    if precision != "bf16" or found is None:
        return None
    major, minor = int(found.group(1)), int(found.group(2))
    if major >= BF16_MIN_CAPABILITY:
        return None
    return (
        f"bf16 needs a GPU of compute capability {BF16_MIN_CAPABILITY}.0 (Ampere) or newer; "
        f"{gpu} is {major}.{minor}: use precision fp16"
    )


class _Engine:
    """One engine with its execution context, stream and device buffers bound by tensor name."""

    def __init__(self, engine: Any, trt: Any, device: torch.device) -> None:
        self.engine = engine
        self.context = engine.create_execution_context()
        if self.context is None:  # TensorRT returns None when it cannot (device memory, ...)
            raise RuntimeError("TensorRT could not create an execution context for the engine")
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None
        self.buffers: dict[str, torch.Tensor] = {}
        self.outputs: list[str] = []
        for index in range(engine.num_io_tensors):
            name = engine.get_tensor_name(index)
            shape = tuple(engine.get_tensor_shape(name))
            dtype = TORCH_DTYPES[engine.get_tensor_dtype(name).name]
            self.buffers[name] = torch.empty(shape, dtype=dtype, device=device)
            if not self.context.set_tensor_address(name, self.buffers[name].data_ptr()):
                raise RuntimeError(f"TensorRT refused the address of tensor {name}")
            if engine.get_tensor_mode(name) == trt.TensorIOMode.OUTPUT:
                self.outputs.append(name)

    def require_outputs(self, *names: str) -> None:
        """Raise RuntimeError unless the engine has every output in ``names``."""
        missing = sorted(set(names) - set(self.outputs))
        if missing:
            raise RuntimeError(f"TensorRT engine lacks outputs {missing}; has {self.outputs}")

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Copy ``feeds`` in by name, execute, and return every output by name (float32)."""
        scope = torch.cuda.stream(self.stream) if self.stream else contextlib.nullcontext()
        with scope:
            for name, value in feeds.items():
                buffer = self.buffers[name]
                if tuple(value.shape) != tuple(buffer.shape):  # copy_ would broadcast
                    raise ValueError(
                        f"input {name} has shape {tuple(value.shape)}; the engine was built "
                        f"for {tuple(buffer.shape)}"
                    )
                buffer.copy_(torch.from_numpy(value), non_blocking=True)
            handle = self.stream.cuda_stream if self.stream else 0
            if not self.context.execute_async_v3(handle):
                raise RuntimeError("TensorRT execution failed")
            results = {name: self.buffers[name].float().cpu() for name in self.outputs}
        if self.stream:
            self.stream.synchronize()
        return {name: tensor.numpy() for name, tensor in results.items()}


class TensorRTBackend:
    """The restorer's backend on a TensorRT engine (fp16 by default; bf16 and fp32 too)."""

    def __init__(
        self,
        model: RestorationModel,
        precision: str = "fp16",
        uncertainty_samples: int = 0,
        cache_dir: Path | None = None,
        seed: int = 0,
    ) -> None:
        import tensorrt as trt

        check_precision(precision)
        builder = TensorRTBuilder()  # refuses an unsupported TensorRT, saying why
        device, gpu = _cuda_device()
        if problem := precision_problem(precision, gpu):
            raise ValueError(problem)
        cache_root = cache_dir or default_cache_dir()
        cache = EngineCache(cache_root / "engines")
        cfg = model.cfg
        fingerprint = model_fingerprint(model)
        shape = f"1x{cfg.in_channels}x{cfg.input_size[0]}x{cfg.input_size[1]}"
        self.engines = {}
        for samples in sorted({0, uncertainty_samples}):
            key = EngineKey(
                fingerprint,
                trt.__version__,
                gpu,
                precision,
                shape,
                samples,
                exporter_version(),
                builder.policy,
            )
            onnx_path = cached_onnx(model, samples, cache_root)
            engine, how = cache.load(key, onnx_path, builder)
            log.info("TensorRT %s engine (K=%d): %s", builder.path, samples, how)
            self.engines[samples] = _Engine(engine, trt, device)
            self.engines[samples].require_outputs("restored", *(("std",) if samples else ()))
        self.samples = uncertainty_samples
        self.noise_shape = (1, uncertainty_samples, cfg.num_patches + 1, cfg.latent_dim)
        self.rng = np.random.default_rng(seed)
        self.name = f"tensorrt-{precision}"
        self.input_size = cfg.input_size
        self.patch_size = cfg.patch_size
        self.in_channels = cfg.in_channels
        self._warm_up()

    def _warm_up(self, runs: int = 3) -> None:
        height, width = self.input_size
        zeros = np.zeros((1, self.in_channels, height, width), np.float32)
        mask = np.zeros((1, height // self.patch_size, width // self.patch_size), np.float32)
        for _ in range(runs):
            self.infer(zeros, zeros, mask)
            if self.samples:
                self.infer_with_uncertainty(zeros, zeros, mask)

    def infer(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> np.ndarray:
        """(1, 3, h, w), (1, 3, h, w), (1, h/P, w/P) float32 -> restored (1, 3, h, w) float32."""
        return self.engines[0].run(graph_feeds(reference, damaged, patch_mask))["restored"]

    def infer_with_uncertainty(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`infer`, plus the (1, 1, h, w) std over K samples (one batched call)."""
        if not self.samples:
            raise ValueError("this backend was built without uncertainty_samples")
        feeds = graph_feeds(reference, damaged, patch_mask)
        feeds["noise"] = self.rng.standard_normal(self.noise_shape, dtype=np.float32)
        outputs = self.engines[self.samples].run(feeds)
        return outputs["restored"], outputs["std"]

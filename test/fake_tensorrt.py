"""Fake ``tensorrt`` modules, one per Python API surface (8.6, 10.x, 11.x), for GPU-less tests.

Each mirrors the names and signatures of the real bindings that the backend touches (``Logger``,
``Builder.create_network(flags)``, ``create_builder_config``, ``BuilderFlag``,
``NetworkDefinitionCreationFlag``, ``OnnxParser.parse / parse_from_file / num_errors / get_error``,
``ILayer.type / precision / set_output_type``, ``Runtime.deserialize_cuda_engine``, the
name-based ``ICudaEngine`` I/O tensors, ``IExecutionContext.set_tensor_address`` and
``execute_async_v3``) and what differs between them:

* 8.6: ``create_network(0)`` is implicit-batch, which its ONNX parser rejects;
* 10.x: weakly typed by default; ``FP16`` / ``BF16`` / ``OBEY_PRECISION_CONSTRAINTS`` flags and
  per-layer ``precision`` / ``set_output_type``; ``STRONGLY_TYPED`` is opt-in;
* 11.x: every network strongly typed; those flags and per-layer setters are gone (AttributeError),
  so a layer runs in the type its ONNX tensors have.

The "engine" is JSON: its I/O tensors (outputs listed before inputs, "std" before "restored": the
order is the engine's, names are the contract) and each layer's compute type. Executing it reads
the bound host addresses (the tests bind CPU tensors) and writes restored = damaged, std = 0.25.
"""

from __future__ import annotations

import ctypes
import enum
import json
import types

import numpy as np
import onnx

_ONNX_TO_TRT = {
    onnx.TensorProto.FLOAT: "FLOAT",
    onnx.TensorProto.FLOAT16: "HALF",
    onnx.TensorProto.BFLOAT16: "BF16",
    onnx.TensorProto.INT64: "INT64",
    onnx.TensorProto.INT32: "INT32",
    onnx.TensorProto.BOOL: "BOOL",
}
_LAYER_OF_OP = {
    "LayerNormalization": "NORMALIZATION",
    "Softmax": "SOFTMAX",
    "MatMul": "MATRIX_MULTIPLY",
    "Cast": "CAST",
}
_BUILDER_FLAGS = {
    8: ["FP16", "INT8", "DEBUG", "GPU_FALLBACK", "REFIT", "DISABLE_TIMING_CACHE", "TF32",
        "SPARSE_WEIGHTS", "SAFETY_SCOPE", "OBEY_PRECISION_CONSTRAINTS",
        "PREFER_PRECISION_CONSTRAINTS", "DIRECT_IO", "REJECT_EMPTY_ALGORITHMS",
        "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME", "FP8"],
    10: ["FP16", "INT8", "DEBUG", "GPU_FALLBACK", "REFIT", "DISABLE_TIMING_CACHE", "TF32",
         "SPARSE_WEIGHTS", "SAFETY_SCOPE", "OBEY_PRECISION_CONSTRAINTS",
         "PREFER_PRECISION_CONSTRAINTS", "DIRECT_IO", "REJECT_EMPTY_ALGORITHMS",
         "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME", "FP8", "ERROR_ON_TIMING_CACHE_MISS", "BF16",
         "DISABLE_COMPILATION_CACHE", "STRIP_PLAN", "REFIT_IDENTICAL", "WEIGHT_STREAMING", "INT4"],
    11: ["DEBUG", "GPU_FALLBACK", "REFIT", "DISABLE_TIMING_CACHE", "TF32", "SPARSE_WEIGHTS",
         "SAFETY_SCOPE", "REJECT_EMPTY_ALGORITHMS", "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME",
         "ERROR_ON_TIMING_CACHE_MISS", "DISABLE_COMPILATION_CACHE", "STRIP_PLAN",
         "REFIT_IDENTICAL", "WEIGHT_STREAMING"],
}  # fmt: skip
_NETWORK_FLAGS = {
    8: ["EXPLICIT_BATCH", "EXPLICIT_PRECISION"],
    10: ["EXPLICIT_BATCH", "STRONGLY_TYPED", "PREFER_AOT_PYTHON_PLUGINS"],
    11: ["STRONGLY_TYPED", "PREFER_AOT_PYTHON_PLUGINS", "PREFER_JIT_PYTHON_PLUGINS"],
}
_IMPLICIT_BATCH_ERROR = (
    "This version of the ONNX parser only supports TensorRT INetworkDefinitions with an explicit "
    "batch dimension. Please ensure the network was initialized with the EXPLICIT_BATCH "
    "NetworkDefinitionCreationFlag."
)


def fake_tensorrt(version: str) -> types.ModuleType:
    """Return a ``tensorrt`` module of ``version`` (8.x, 10.x or 11.x API surface)."""
    major = int(version.split(".")[0])
    surface = 8 if major < 10 else min(major, 11)
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    types_ = ["FLOAT", "HALF", "INT8", "INT32", "BOOL", "UINT8", "FP8"]
    if surface >= 10:
        types_ += ["BF16", "INT64", "INT4"]
    trt.DataType = enum.IntEnum("DataType", types_, start=0)
    trt.float32, trt.float16 = trt.DataType.FLOAT, trt.DataType.HALF
    if surface >= 10:
        trt.bfloat16 = trt.DataType.BF16
    trt.LayerType = enum.IntEnum(
        "LayerType",
        ["ELEMENTWISE", "MATRIX_MULTIPLY", "SOFTMAX", "NORMALIZATION", "CAST"],
        start=0,
    )
    trt.TensorIOMode = enum.IntEnum("TensorIOMode", ["NONE", "INPUT", "OUTPUT"], start=0)
    trt.MemoryPoolType = enum.IntEnum("MemoryPoolType", ["WORKSPACE", "DLA_MANAGED_SRAM"], start=0)
    trt.BuilderFlag = enum.IntEnum("BuilderFlag", _BUILDER_FLAGS[surface], start=0)
    trt.NetworkDefinitionCreationFlag = enum.IntEnum(
        "NetworkDefinitionCreationFlag", _NETWORK_FLAGS[surface], start=0
    )

    class Logger:
        Severity = enum.IntEnum(
            "Severity", ["INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"], start=0
        )
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = Severity

        def __init__(self, min_severity=Severity.WARNING) -> None:
            self.min_severity = min_severity

    class WeakLayer:  # 8.6 / 10.x ILayer
        def __init__(self, network, name, layer_type, tensor_type) -> None:
            self._network, self.name, self.type = network, name, layer_type
            self.tensor_type, self.num_outputs = tensor_type, 1
            self._precision, self.output_types = None, {}

        @property
        def precision(self):
            return self._precision if self._precision is not None else trt.float32

        @precision.setter
        def precision(self, value) -> None:
            if self._network.strongly_typed:
                raise RuntimeError("setPrecision is not allowed on a strongly typed network")
            self._precision = value

        @property
        def precision_is_set(self) -> bool:
            return self._precision is not None

        def set_output_type(self, index: int, dtype) -> None:
            if self._network.strongly_typed:
                raise RuntimeError("setOutputType is not allowed on a strongly typed network")
            self.output_types[index] = dtype

    class StrongLayer:  # 11.x ILayer: no precision, precision_is_set or set_output_type
        def __init__(self, network, name, layer_type, tensor_type) -> None:
            self.name, self.type, self.tensor_type, self.num_outputs = (
                name,
                layer_type,
                tensor_type,
                1,
            )

    class INetworkDefinition:
        def __init__(self, flags: int) -> None:
            named = trt.NetworkDefinitionCreationFlag.__members__
            has = {name for name, bit in named.items() if flags & (1 << int(bit))}
            self.has_implicit_batch_dimension = surface == 8 and "EXPLICIT_BATCH" not in has
            self.strongly_typed = surface == 11 or "STRONGLY_TYPED" in has
            self.layers, self.inputs, self.outputs = [], [], []

        @property
        def num_layers(self) -> int:
            return len(self.layers)

        def get_layer(self, index: int):
            return self.layers[index]

    class ParserError:
        def __init__(self, text: str) -> None:
            self.text = text

        def desc(self) -> str:
            return self.text

        def __str__(self) -> str:
            return self.text

    class OnnxParser:
        def __init__(self, network, logger) -> None:
            self.network, self.errors = network, []

        @property
        def num_errors(self) -> int:
            return len(self.errors)

        def get_error(self, index: int):
            return self.errors[index]

        def parse_from_file(self, model: str) -> bool:
            return self.parse(open(model, "rb").read(), model)

        def parse(self, model: bytes, path: str | None = None) -> bool:
            if self.network.has_implicit_batch_dimension:
                self.errors.append(ParserError(_IMPLICIT_BATCH_ERROR))
                return False
            proto = onnx.shape_inference.infer_shapes(onnx.load_from_string(bytes(model)))
            graph = proto.graph
            known = {v.name: v.type.tensor_type for v in [*graph.input, *graph.value_info]}
            known.update({v.name: v.type.tensor_type for v in graph.output})
            known.update({i.name: i for i in graph.initializer})

            def type_of(name: str) -> str:
                value = known[name]
                code = value.elem_type if hasattr(value, "elem_type") else value.data_type
                return _ONNX_TO_TRT[code]

            layer_class = StrongLayer if surface == 11 else WeakLayer
            for index, node in enumerate(graph.node):
                kind = getattr(trt.LayerType, _LAYER_OF_OP.get(node.op_type, "ELEMENTWISE"))
                name = node.name or f"{node.op_type}_{index}"
                self.network.layers.append(
                    layer_class(self.network, name, kind, type_of(node.input[0]))
                )
            for values, mode in ((graph.output[::-1], "OUTPUT"), (graph.input, "INPUT")):
                for value in values:  # outputs first, reversed: the order is the engine's
                    dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
                    self.network.outputs.append((value.name, dims, type_of(value.name), mode))
            return True

    class IBuilderConfig:
        def __init__(self) -> None:
            self.flags, self.pools = set(), {}

        def set_memory_pool_limit(self, pool, pool_size: int) -> None:
            self.pools[pool] = pool_size

        def set_flag(self, flag) -> None:
            self.flags.add(flag.name)

        def get_flag(self, flag) -> bool:
            return flag.name in self.flags

    class Builder:
        def __init__(self, logger) -> None:
            self.logger = logger
            if surface < 11:
                self.platform_has_fast_fp16 = True

        def create_network(self, flags: int = 0):
            return INetworkDefinition(flags)

        def create_builder_config(self):
            return IBuilderConfig()

        def build_serialized_network(self, network, config) -> bytes | None:
            reduced = (
                "HALF" if "FP16" in config.flags else "BF16" if "BF16" in config.flags else ""
            )
            layers = []
            for layer in network.layers:
                if network.strongly_typed:
                    compute = layer.tensor_type
                elif layer.precision_is_set and "OBEY_PRECISION_CONSTRAINTS" in config.flags:
                    compute = layer.precision.name
                else:
                    compute = reduced or "FLOAT"
                layers.append({"name": layer.name, "type": layer.type.name, "compute": compute})
            plan = {
                "version": version,
                "flags": sorted(config.flags),
                "strongly_typed": network.strongly_typed,
                "io": network.outputs,
                "layers": layers,
            }
            return ("TRTPLAN" + json.dumps(plan)).encode()

    class ICudaEngine:
        def __init__(self, plan: dict) -> None:
            self.plan = plan
            self.io = {name: (dims, dtype, mode) for name, dims, dtype, mode in plan["io"]}
            self.names = [entry[0] for entry in plan["io"]]

        @property
        def num_io_tensors(self) -> int:
            return len(self.names)

        def get_tensor_name(self, index: int) -> str:
            return self.names[index]

        def get_tensor_shape(self, name: str) -> tuple[int, ...]:
            return tuple(self.io[name][0])

        def get_tensor_dtype(self, name: str):
            return getattr(trt.DataType, self.io[name][1])

        def get_tensor_mode(self, name: str):
            return getattr(trt.TensorIOMode, self.io[name][2])

        def create_execution_context(self):
            return IExecutionContext(self)

    class IExecutionContext:
        def __init__(self, engine) -> None:
            self.engine, self.addresses, self.executions = engine, {}, 0

        def set_tensor_address(self, name: str, memory: int) -> bool:
            self.addresses[name] = memory
            return True

        def _view(self, name: str) -> np.ndarray:
            dims, dtype, _ = self.engine.io[name]
            assert dtype == "FLOAT", "the deploy graphs keep fp32 I/O"
            count = int(np.prod(dims))
            raw = (ctypes.c_float * count).from_address(self.addresses[name])
            return np.ctypeslib.as_array(raw).reshape(dims)

        def execute_async_v3(self, stream_handle: int) -> bool:
            self.executions += 1
            self._view("restored")[...] = self._view("damaged")
            if "std" in self.engine.io:
                self._view("std")[...] = 0.25
            return True

    class Runtime:
        def __init__(self, logger) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, serialized_engine: bytes):
            data = bytes(serialized_engine)
            if not data.startswith(b"TRTPLAN"):
                return None  # the real runtime logs the error and returns None
            plan = json.loads(data[len("TRTPLAN") :])
            if plan["version"] != version:
                return None  # an engine from another TensorRT
            return ICudaEngine(plan)

    trt.Logger, trt.Builder, trt.OnnxParser, trt.Runtime = Logger, Builder, OnnxParser, Runtime
    return trt

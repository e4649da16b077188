"""The fp32 ONNX deploy graph rewritten to compute in fp16 or bf16, LayerNorm and softmax in fp32.

For strongly typed TensorRT networks (11.x always; 10.12+, where weak typing is deprecated): the
precision of every layer is the type of its tensors in the graph. Graph inputs and outputs stay
fp32 (a Cast after each input and before each output), float initializers become fp16 / bf16, and
each LayerNormalization and Softmax gets its inputs cast to fp32 and its output cast back, as the
weakly typed build (10.0-10.11) does with per-layer precision. The exported graphs hold no
float-valued attributes (constants are initializers); a node that would need one converted is
refused rather than left wrong.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

KEPT_FP32 = frozenset({"LayerNormalization", "Softmax"})
LOW_TYPES = {"fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}
_FLOAT_ATTRIBUTE_OPS = frozenset({"Constant", "ConstantOfShape", "EyeLike", "RandomNormal"})


def to_mixed_precision(proto: onnx.ModelProto, precision: str) -> onnx.ModelProto:
    """Return a copy of ``proto`` computing in ``precision`` ("fp16" or "bf16").

    LayerNormalization and Softmax run in fp32; inputs and outputs keep their fp32 type. Raises
    ValueError for an unknown precision or a graph this rewrite does not cover.
    """
    if precision not in LOW_TYPES:
        raise ValueError(f"mixed precision is fp16 or bf16, got {precision!r}")
    low = LOW_TYPES[precision]
    model = onnx.ModelProto()
    model.CopyFrom(proto)
    graph = model.graph
    kept_only = _initializers_only_kept_nodes_use(graph)
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and init.name not in kept_only:
            init.CopyFrom(_reduced(numpy_helper.to_array(init), init.name, low))
    float_inputs = [v.name for v in graph.input if _is_float(v)]
    float_outputs = {v.name for v in graph.output if _is_float(v)}
    nodes = [_cast(name, f"{name}/{precision}", low) for name in float_inputs]
    renamed = {name: f"{name}/{precision}" for name in float_inputs}
    for index, node in enumerate(graph.node):
        if node.op_type in _FLOAT_ATTRIBUTE_OPS:
            raise ValueError(f"node {node.name or index} ({node.op_type}) is not converted")
        if node.op_type == "Cast" and _cast_target(node) == TensorProto.FLOAT:
            node.attribute[0].i = low
        node.input[:] = [renamed.get(name, name) for name in node.input]
        if node.op_type in KEPT_FP32:
            nodes.extend(_keep_fp32(node, index, kept_only, low))
        else:
            nodes.append(node)
    for node in list(nodes):  # producers of float outputs write a low-precision copy, cast back
        for position, name in enumerate(node.output):
            if name in float_outputs:
                node.output[position] = f"{name}/{precision}"
                nodes.append(_cast(f"{name}/{precision}", name, TensorProto.FLOAT))
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    onnx.checker.check_model(model, full_check=True)  # every op's types must now agree
    return model


def _keep_fp32(
    node: onnx.NodeProto, index: int, fp32_initializers: set[str], low: int
) -> list[onnx.NodeProto]:
    """Return ``node`` wrapped in Casts: float inputs to fp32, its output back to ``low``."""
    if any(node.output[1:]):
        raise ValueError(f"{node.op_type} node {node.name or index} has extra outputs in use")
    casts = []
    for position, name in enumerate(node.input):
        if name and name not in fp32_initializers:
            casts.append(_cast(name, f"{name}/fp32/{index}", TensorProto.FLOAT))
            node.input[position] = f"{name}/fp32/{index}"
    output = node.output[0]
    node.output[0] = f"{output}/fp32"
    return [*casts, node, _cast(f"{output}/fp32", output, low)]


def _initializers_only_kept_nodes_use(graph: onnx.GraphProto) -> set[str]:
    """Names of float initializers read only by LayerNormalization / Softmax nodes."""
    floats = {i.name for i in graph.initializer if i.data_type == TensorProto.FLOAT}
    elsewhere = {n for node in graph.node if node.op_type not in KEPT_FP32 for n in node.input}
    outputs = {v.name for v in graph.output}
    return floats - elsewhere - outputs


def _reduced(value: np.ndarray, name: str, low: int) -> onnx.TensorProto:
    """Return the float32 array ``value`` as an fp16 or bf16 (round to nearest even) tensor."""
    if low == TensorProto.FLOAT16:
        return numpy_helper.from_array(value.astype(np.float16), name)
    bits = np.ascontiguousarray(value, np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    return helper.make_tensor(name, TensorProto.BFLOAT16, value.shape, rounded.tobytes(), raw=True)


def _is_float(value: onnx.ValueInfoProto) -> bool:
    return value.type.tensor_type.elem_type == TensorProto.FLOAT


def _cast_target(node: onnx.NodeProto) -> int:
    return next(a.i for a in node.attribute if a.name == "to")


def _cast(source: str, target: str, to: int) -> onnx.NodeProto:
    return helper.make_node("Cast", [source], [target], name=f"cast:{target}", to=to)

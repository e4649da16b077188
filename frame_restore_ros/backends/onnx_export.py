"""ONNX export of the deploy graph, and the static-graph checks TensorRT relies on.

Uses torch's dynamo-based exporter (``torch.onnx.export(dynamo=True)``, backed by onnxscript): it
traces through ``torch.export`` so the graph comes out with constant shapes and no Shape/If
plumbing.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from frame_restore_ros.backends.model_copy import private_copy
from frame_restore_ros.model import DeployGraph, SiamMCVAE, VisibleTokenGraph
from frame_restore_ros.model.checkpoint import default_file_mode

log = logging.getLogger(__name__)

ONNX_OPSET = 18


def exporter_version() -> str:
    """Say what writes the ONNX graphs: torch, onnxscript (the dynamo exporter) and the opset.

    Part of the cached exports' names (``onnx_cache``) and of the engine-cache key: a graph
    written by another exporter is exported again, not reused.
    """
    try:
        onnxscript = importlib.metadata.version("onnxscript")
    except importlib.metadata.PackageNotFoundError:
        onnxscript = "none"
    return f"torch {torch.__version__} onnxscript {onnxscript} opset {ONNX_OPSET}"


INPUT_NAMES = ("reference", "damaged", "patch_mask", "noise")
VISIBLE_INPUT_NAMES = ("reference", "damaged", "patch_mask", "keep_index")
OUTPUT_NAMES = ("restored", "std")

# Ops that draw random numbers, produce data-dependent shapes, or hide control flow. None may
# appear in the deploy graph: TensorRT needs static shapes and the output must be a pure function.
FORBIDDEN_OPS = frozenset(
    {
        "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial",
        "Bernoulli", "NonZero", "Unique", "Compress", "TopK", "NonMaxSuppression", "Loop", "If",
        "Scan", "SequenceConstruct", "SequenceAt", "ConcatFromSequence", "SplitToSequence",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ExportedGraph:
    path: Path
    input_shapes: dict[str, tuple[int, ...]]
    output_shapes: dict[str, tuple[int, ...]]
    op_types: frozenset[str]


def example_inputs(graph: DeployGraph, batch: int = 1) -> tuple[torch.Tensor, ...]:
    """Make placeholder inputs of the graph's fixed shapes (values do not matter for tracing)."""
    cfg = graph.model.cfg
    height, width = cfg.input_size
    rows, cols = cfg.grid_size
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, batch, cfg.in_channels, height, width, generator=generator)
    mask = (torch.rand(batch, rows, cols, generator=generator) < 0.5).float()
    inputs: tuple[torch.Tensor, ...] = (images[0], images[1], mask)
    if graph.num_samples:
        inputs += (torch.randn(graph.noise_shape(batch), generator=generator),)
    return inputs


def export_onnx(
    model: SiamMCVAE, path: str | os.PathLike[str], num_samples: int = 0, batch: int = 1
) -> ExportedGraph:
    """Export ``(reference, damaged, patch_mask[, noise]) -> restored[, std]`` with static shapes.

    The file is written to a temporary name and renamed when the graph passed :func:`check_graph`.
    ``batch`` is the static batch size, at least 1 (ValueError otherwise).
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    graph = DeployGraph(private_copy(model), num_samples=num_samples)  # fp32 on the CPU
    inputs = example_inputs(graph, batch)
    names = list(INPUT_NAMES[: len(inputs)])
    outputs = list(OUTPUT_NAMES[: 2 if num_samples else 1])
    exported = _export_checked(graph, inputs, Path(path), names, outputs)
    log.info(
        "exported %s: inputs %s -> outputs %s", path, exported.input_shapes, exported.output_shapes
    )
    return exported


def export_deploy(
    model: SiamMCVAE,
    path: str | os.PathLike[str],
    num_samples: int = 0,
    batch: int = 1,
    engine: Path | None = None,
    precision: str = "fp16",
) -> dict[str, object]:
    """Export the deploy graph to ONNX and, with ``engine``, build it into a TensorRT engine.

    Whether TensorRT can run here is checked before the export, so a machine without it fails
    at once. Returns {"path", "inputs", "outputs"[, "engine"]}: files and tensor shapes.
    """
    if engine is not None:
        from frame_restore_ros.backends.selection import resolve

        resolve("tensorrt")  # ValueError naming why TensorRT cannot run here
    exported = export_onnx(model, path, num_samples=num_samples, batch=batch)
    summary: dict[str, object] = {
        "path": str(exported.path),
        "inputs": exported.input_shapes,
        "outputs": exported.output_shapes,
    }
    if engine is not None:
        from frame_restore_ros.backends.tensorrt_backend import write_engine

        summary["engine"] = str(write_engine(exported.path, engine, precision))
    return summary


def export_visible_onnx(model: SiamMCVAE, path: str | os.PathLike[str]) -> ExportedGraph:
    """Export :class:`VisibleTokenGraph`: ``(reference, damaged, patch_mask, keep_index)``.

    ``keep_index`` (1, V) int64 is the only dynamic dimension (V = visible patches, 1..N): the
    damaged branch encodes V tokens instead of N. For CPU runtimes; TensorRT keeps the static
    :func:`export_onnx` graph.
    """
    model = private_copy(model)  # fp32 on the CPU; the caller's model keeps its mode
    reference, damaged, mask = example_inputs(DeployGraph(model))
    keep = torch.nonzero(mask.reshape(-1) <= 0.5).reshape(1, -1)
    visible = torch.export.Dim("visible", min=1, max=model.cfg.num_patches)
    dynamic = {"reference": None, "damaged": None, "patch_mask": None, "keep_index": {1: visible}}
    exported = _export_checked(
        VisibleTokenGraph(model),
        (reference, damaged, mask, keep),
        Path(path),
        list(VISIBLE_INPUT_NAMES),
        ["restored"],
        dynamic,
    )
    log.info("exported %s (visible-token graph)", path)
    return exported


def _export_checked(
    graph: torch.nn.Module,
    inputs: tuple[torch.Tensor, ...],
    path: Path,
    names: list[str],
    outputs: list[str],
    dynamic_shapes: dict[str, object] | None = None,
) -> ExportedGraph:
    """Export to a temporary file, check it, and rename it to ``path`` (nothing left on error)."""
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with _quiet_exporter(), torch.no_grad():
            torch.onnx.export(
                graph,
                inputs,
                tmp,
                dynamo=True,
                opset_version=ONNX_OPSET,
                input_names=names,
                output_names=outputs,
                dynamic_shapes=dynamic_shapes,
                external_data=False,
                verbose=False,
            )
        dynamic_inputs = tuple(k for k, v in (dynamic_shapes or {}).items() if v)
        exported = check_graph(onnx.load(tmp), Path(tmp), dynamic_inputs)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return ExportedGraph(path, exported.input_shapes, exported.output_shapes, exported.op_types)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's per-pass INFO chatter and optional-op warnings (e.g. torchvision)."""
    names = ("torch.onnx", "onnx_ir", "onnxscript")
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def check_graph(proto: object, path: Path, dynamic_inputs: tuple[str, ...] = ()) -> ExportedGraph:
    """Fail if the graph has forbidden ops or any non-static input/output dimension.

    ``dynamic_inputs`` may have dynamic dimensions (reported as -1); nothing else may.
    """
    import onnx

    assert isinstance(proto, onnx.ModelProto)
    onnx.checker.check_model(proto)
    op_types = frozenset(node.op_type for node in proto.graph.node)
    bad = sorted(op_types & FORBIDDEN_OPS)
    if bad:
        raise RuntimeError(
            f"exported graph contains random or data-dependent ops: {', '.join(bad)}"
        )

    def shapes(values: object) -> dict[str, tuple[int, ...]]:
        result = {}
        for value in values:  # type: ignore[attr-defined]
            dims = value.type.tensor_type.shape.dim
            dynamic = any(not dim.HasField("dim_value") for dim in dims)
            if dynamic and value.name not in dynamic_inputs:
                raise RuntimeError(f"graph {value.name} has a dynamic dimension: {dims}")
            result[value.name] = tuple(
                int(dim.dim_value) if dim.HasField("dim_value") else -1 for dim in dims
            )
        return result

    return ExportedGraph(path, shapes(proto.graph.input), shapes(proto.graph.output), op_types)

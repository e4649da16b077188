"""``frame-restore export``: the deploy graph to ONNX, optionally built into a TensorRT engine."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from frame_restore_ros.cli.common import (
    add_command,
    add_output,
    add_precision,
    add_uncertainty,
    add_weights,
    positive_int,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` parser."""
    p = add_command(
        sub,
        "export",
        "export the deploy graph (reference, damaged, patch_mask[, noise]) -> restored[, std] "
        "to ONNX",
        "Export with static shapes at the model's input size. With --uncertainty K the graph\n"
        "also takes noise (B, K, N+1, D') and returns the per-pixel std over K samples. The\n"
        "graph is checked for random or data-dependent ops before it is written.\n\n"
        "With --engine the ONNX file is also built into a TensorRT engine (fp16 with\n"
        "LayerNorm and softmax in fp32); the node builds and caches engines itself too.\n\n"
        "examples:\n"
        "  frame-restore export -o model.onnx --uncertainty 8\n"
        "  frame-restore export -o model.onnx --engine model_fp16.engine",
    )
    add_weights(p)
    add_output(p, "ONNX file to write", required=True)
    add_uncertainty(p, 0, "a std output")
    p.add_argument(
        "--batch", type=positive_int, default=1, help="static batch size, >= 1 (default: 1)"
    )
    p.add_argument(
        "--engine",
        type=Path,
        metavar="FILE",
        help="also build a TensorRT engine from the ONNX file into FILE (needs TensorRT)",
    )
    add_precision(
        p,
        ("fp16", "fp32"),
        "engine precision; fp16 keeps LayerNorm and softmax in fp32 (default: fp16)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing ONNX / engine file (never the input weights)",
    )
    p.set_defaults(handler=run)


def check_outputs(
    weights: Path | None, output: Path, engine: Path | None, overwrite: bool
) -> None:
    """Check the output files before anything is written; raise ValueError naming the option.

    Refused: an output that is the input weights (resolved, so also through a symlink), a
    directory, ``-o`` and ``--engine`` naming one file, an existing file without ``overwrite``,
    a place that cannot be written (under a regular file, a read-only folder).
    """
    from frame_restore_ros.model.bundled import default_weights_path
    from frame_restore_ros.model.checkpoint import check_writable

    source = Path(weights) if weights is not None else default_weights_path()
    outputs = [("-o/--output", Path(output))]
    if engine is not None:
        outputs.append(("--engine", Path(engine)))
    for option, path in outputs:
        if path.resolve() == source.resolve():
            raise ValueError(f"{option} {path} is the input weights {source}; choose another file")
        if path.is_dir():
            raise ValueError(f"{option} {path} is a directory, not a file")
        if path.exists() and not overwrite:
            raise ValueError(f"{option} {path} already exists (--overwrite replaces it)")
        check_writable(path, option)
    if engine is not None and Path(engine).resolve() == Path(output).resolve():
        raise ValueError(f"--engine {engine} and -o/--output {output} must be different files")


def run(args: argparse.Namespace) -> int:
    """Export (and build the engine); print the files and tensor shapes as JSON."""
    from frame_restore_ros.backends.onnx_export import export_deploy
    from frame_restore_ros.model.bundled import load_default_or

    check_outputs(args.weights, args.output, args.engine, args.overwrite)
    summary = export_deploy(
        load_default_or(args.weights),
        args.output,
        num_samples=args.uncertainty,
        batch=args.batch,
        engine=args.engine,
        precision=args.precision,
    )
    print(json.dumps(summary))
    return 0

"""``frame-restore doctor``: which inference backends work here, and why not for the others."""

from __future__ import annotations

import argparse

from frame_restore_ros.cli.common import add_command


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``doctor`` parser."""
    p = add_command(
        sub,
        "doctor",
        "which inference backends work here and, for each that does not, why",
        "List torch-cpu, torch-cuda, onnxruntime-cpu/-cuda, openvino-cpu and tensorrt with\n"
        "their versions and devices, or the reason each cannot run, and what --backend auto\n"
        "picks.\n\n"
        "example: frame-restore doctor",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per backend and the ``auto`` choice."""
    from frame_restore_ros.backends.selection import diagnose, resolve

    statuses = diagnose()
    for status in statuses:
        mark = "ok " if status.usable else "no "
        print(f"{mark} {status.name:<17} {status.detail}")
    print(f"auto -> {resolve('auto', statuses)}")
    return 0

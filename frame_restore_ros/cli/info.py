"""``frame-restore info``: the config and training notes stored in a weight file."""

from __future__ import annotations

import argparse
import json

from frame_restore_ros.cli.common import add_command, add_weights


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``info`` parser."""
    p = add_command(
        sub,
        "info",
        "print the config and training notes stored in a weight file",
        "Print a weight file's model config and the notes training stored with it, as JSON.\n\n"
        "example: frame-restore info --weights runs/small.safetensors",
    )
    add_weights(p, "weight file (default: the bundled small model)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print {"path", "config", "notes"} (the training history left out)."""
    from frame_restore_ros.model import read_metadata
    from frame_restore_ros.model.bundled import default_weights_path

    path = args.weights or default_weights_path()
    config, extra = read_metadata(path)
    extra.pop("history", None)
    print(json.dumps({"path": str(path), "config": config.to_dict(), "notes": extra}, indent=2))
    return 0

"""``frame-restore node-params``: check a parameter file of the node, or print the table."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from frame_restore_ros.cli.common import add_command

log = logging.getLogger("frame_restore")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``node-params`` parser."""
    p = add_command(
        sub,
        "node-params",
        "check a parameter file of the frame_restore node, or print the parameter table",
        "Validate a ROS 2 parameter YAML against the node's declared parameters (types,\n"
        "ranges, choices, unknown names, the weights file's header, the engine cache folder)\n"
        "without ROS, and print the effective values; or print the parameter table.\n\n"
        "examples:\n"
        "  frame-restore node-params --check config/multi_camera_example.yaml\n"
        "  frame-restore node-params --markdown",
    )
    p.add_argument(
        "--check",
        type=Path,
        metavar="FILE",
        help="parameter file to validate (a pipe, device or folder is refused unread)",
    )
    p.add_argument(
        "--node-name",
        type=node_name,
        default="frame_restore",
        help="node name to look up in FILE (a ROS 2 node name, without namespace)",
    )
    p.add_argument("--markdown", action="store_true", help="print the README parameter table")
    p.set_defaults(handler=run)


def node_name(text: str) -> str:
    """Argparse type: a node name rclpy accepts (validate_node_name's rules)."""
    from frame_restore_ros.node.parameters import node_name_problem

    if problem := node_name_problem(text):
        raise argparse.ArgumentTypeError(problem)
    return text


def run(args: argparse.Namespace) -> int:
    """Print the table and/or the checked file's effective values."""
    from frame_restore_ros.media.file_checks import irregular_file_problem
    from frame_restore_ros.node.parameters import load_settings, markdown_table

    if not args.markdown and not args.check:
        raise ValueError("node-params needs --check FILE or --markdown")
    if args.markdown:
        print(markdown_table())
    if args.check:
        # Reading a named pipe would wait for a writer, a device might never end; a missing or
        # unreadable file is named by the reader.
        if problem := irregular_file_problem(args.check, "parameter file"):
            raise ValueError(f"--check: {problem}")
        settings = load_settings(args.check, args.node_name)
        print(json.dumps(dict(settings.values), indent=2))
        log.info("%s: valid, cameras %s", args.check, ", ".join(settings.cameras))
    return 0

"""The ``frame-restore`` command: one entry point, one module per subcommand.

frame-restore demo            restore a real clip with injected failures (quick, no bag)
frame-restore make-bag        turn videos or image folders into a ROS 2 bag of camera images
frame-restore replay          replay a bag through the restorer into a new bag, with a report
frame-restore train           train SiamMCVAE (or the MAE baseline) on paired frames
frame-restore evaluate        score SiamMCVAE against hold, Telea, Navier-Stokes and an MAE
frame-restore export          export the deploy graph to ONNX (static shapes, checked)
frame-restore bench MODE      latency: model, pipeline, backends, end-to-end, replay, node
frame-restore eval-detection  score the failure detector against an Autoware-style baseline
frame-restore info            describe a weight file
frame-restore doctor          which inference backends work here
frame-restore node-params     check a parameter file of the ROS node (no ROS needed)

Each module registers its parser and binds its handler (``register``); this one builds the
parser, applies the common options (logging, ``--threads``), keeps freed frame buffers in the
process (``media/frame_memory.py``) and runs the handler. Argument errors, ValueError and OSError
exit with code 2 and one line of log, without a traceback. Ctrl-C (130) and SIGTERM (143: a
supervisor, ``timeout``, ``kill``) unwind the command alike, so a half-written output is removed
and its claim released.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from frame_restore_ros.cli import (
    bench,
    demo,
    doctor,
    eval_detection,
    evaluate,
    export,
    info,
    make_bag,
    node_params,
    replay,
    train,
)
from frame_restore_ros.media.frame_memory import keep_frame_buffers_resident

log = logging.getLogger("frame_restore")
COMMANDS = (
    demo, make_bag, replay, train, evaluate, export, bench, eval_detection, info, doctor,
    node_params,
)  # fmt: skip


class Terminated(KeyboardInterrupt):
    """SIGTERM received: unwinds the command as Ctrl-C does (outputs are cleaned up)."""


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Raise :class:`Terminated` on SIGTERM while the block runs (the main thread only).

    Python's default SIGTERM ends the process at once: no ``finally`` or ``__exit__`` runs,
    and a replay left its partial bag and its claim behind until the next run to that output.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every command (each module's ``register``)."""
    parser = argparse.ArgumentParser(
        prog="frame-restore",
        description=(
            "Repair failed camera regions from the last clean frame with SiamMCVAE (ROS-free "
            "tools)."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, apply the common options and run the command; return the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    keep_frame_buffers_resident()  # no page faults on each frame's arrays (media/frame_memory)
    try:
        with sigterm_unwinds():
            threads = getattr(args, "threads", None)
            if threads:
                import torch

                torch.set_num_threads(threads)
            return int(args.handler(args) or 0)
    except (ValueError, OSError) as exc:
        log.error("%s", exc)
        return 2
    except Terminated:
        log.error("terminated (SIGTERM)")
        return 143
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())

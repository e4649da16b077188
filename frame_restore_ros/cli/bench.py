"""``frame-restore bench MODE``: one benchmark per mode (:data:`MODES`), each with its options."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from frame_restore_ros.backends.selection import BACKENDS, HOLD
from frame_restore_ros.cli.common import (
    RAW,
    add_command,
    add_json,
    add_no_progress,
    add_precision,
    add_uncertainty,
    check_json,
    common_options,
    input_paths,
    int_at_least,
    positive_int,
    positive_number,
    write_json,
)

PRESETS_DEFAULT = ["small", "base"]
INJECT_DEFAULT = "patches:0.5,dead,lines"
LIVE_QOS_DEFAULT = ("best_effort", "reliable")
# Fewest timed frames that give both an undamaged and a damaged one (the timed frames alternate):
# bench.model_bench.PIPELINE_MIN_REPEATS and bench.node_bench.NODE_MIN_FRAMES, kept here so that
# the parser needs neither torch nor OpenCV.
PIPELINE_MIN_REPEATS = 2
NODE_MIN_REPEATS = 2
DETECTION_WARMUP_FRAMES = 5  # bench.detection_bench.WARMUP_FRAMES
# The node's frame bounds (detection.detector.MIN_FRAME_SIDE, codec.image_codec.MAX_IMAGE_SIDE
# and MAX_IMAGE_PIXELS), checked by bench.node_bench.frame_size_problem; for the help only.
NODE_SIZE_BOUNDS = "at least 2x2, at most 8192 px a side and 35.4 Mpx (the node's bounds)"
MODES = """\
  model       parameter count, GFLOPs and CPU latency of the deploy graph per preset
  pipeline    detection and compositing without the model at 1280x720 and 1920x1080
  backends    the model call per inference backend and preset (batch 1, K samples, N cameras)
  end-to-end  the whole restorer per damaged 1280x720 frame, alignment on and off
  replay      bag I/O alone vs the whole replay on one bag, frames/s
  node        what the ROS node adds around the restorer per frame
  live        the node across processes over real ROS 2 DDS: latency, loss, CPU, max rate
  detection   the failure detector: speed (clean, burst, block), false alarms per clip
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``bench`` parser and one sub-parser per mode."""
    p = add_command(
        sub,
        "bench",
        "latency: model per preset, pipeline, per backend, end to end, replay, node",
        "One benchmark per MODE; `frame-restore bench MODE --help` lists its options.\n\n"
        + MODES
        + "\nexamples:\n"
        "  frame-restore bench model --onnx --json bench.json\n"
        "  frame-restore bench pipeline\n"
        "  frame-restore bench backends --backends openvino-cpu onnxruntime-cpu --presets small\n"
        "  frame-restore bench end-to-end --backends openvino-cpu --runs 5 --json e2e.json\n"
        "  frame-restore bench replay bags/drive_720p --json replay_bench.json\n"
        "  frame-restore bench node --size 1920x1080 --json node_bench.json\n"
        "  frame-restore bench live --sizes 1280x720 1920x1080 --json live.json\n"
        "  frame-restore bench detection --data ../shared/data --data sample:bikes.mp4",
    )
    modes = p.add_subparsers(dest="mode", required=True, metavar="MODE")
    for add in (_model, _pipeline, _backends, _end_to_end, _replay, _node, _live, _detection):
        add(modes)


def _mode(
    modes: argparse._SubParsersAction, name: str, summary: str, description: str
) -> argparse.ArgumentParser:
    return modes.add_parser(
        name,
        help=summary,
        description=description,
        formatter_class=RAW,
        parents=[common_options()],
    )


def _add_presets(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--presets",
        nargs="+",
        default=PRESETS_DEFAULT,
        help=f"presets to time (default: {' '.join(PRESETS_DEFAULT)})",
    )


def _add_repeats(
    p: argparse.ArgumentParser, default: int, what: str, minimum: int = 1, why: str = ""
) -> None:
    bound = f", at least {minimum}{why}" if minimum > 1 else ""
    p.add_argument(
        "--repeats",
        type=int_at_least(minimum),
        default=default,
        metavar="N",
        help=f"{what}{bound} (default: {default})",
    )


def _add_backends(p: argparse.ArgumentParser, skipped: str, names: tuple[str, ...]) -> None:
    p.add_argument(
        "--backends",
        nargs="+",
        metavar="NAME",
        default=["auto"],
        help=f"backends to time, in order ({' '.join(names)}); {skipped} (default: auto)",
    )


def _qos_reliability(text: str) -> str:
    """Parse a ``--qos`` value: one of the node's ``qos.reliability`` choices."""
    from frame_restore_ros.bench.live_node import qos_choices

    if text not in qos_choices():
        raise argparse.ArgumentTypeError(
            f"must be one of the node's qos.reliability values ({', '.join(qos_choices())}), "
            f"got {text!r}"
        )
    return text


def _model(modes: argparse._SubParsersAction) -> None:
    p = _mode(
        modes,
        "model",
        "parameter count, GFLOPs and CPU latency of the deploy graph per preset",
        "Time the torch forward of the deploy graph of each preset at batch 1 on random\n"
        "weights, and the bare repair (resize, infer, upsample, composite) per damaged\n"
        "1280x720 and 1920x1080 frame. Prints a table; --json writes the numbers.\n\n"
        "example: frame-restore bench model --presets small base --onnx --json bench.json",
    )
    _add_presets(p)
    _add_repeats(p, 20, "timed runs per preset")
    p.add_argument(
        "--ratio", type=float, default=0.75, help="mask ratio of the timed inputs (default: 0.75)"
    )
    p.add_argument(
        "--onnx",
        action="store_true",
        help="also export each preset and report ONNX Runtime parity and latency",
    )
    add_json(p)
    p.set_defaults(handler=run_model)


def _pipeline(modes: argparse._SubParsersAction) -> None:
    p = _mode(
        modes,
        "pipeline",
        "detection and compositing without the model at 1280x720 and 1920x1080",
        "Run the restorer with the hold backend (no model: the reference is copied) on real\n"
        "frames resized to 1280x720 and 1920x1080, every other frame with a dead and a noise\n"
        "block: detection, and the undamaged and damaged frame totals.\n\n"
        "example: frame-restore bench pipeline --repeats 30",
    )
    _add_repeats(
        p,
        20,
        "timed frames per size",
        PIPELINE_MIN_REPEATS,
        " (they alternate undamaged and damaged; the first is undamaged)",
    )
    add_json(p)
    p.set_defaults(handler=run_pipeline)


def _backends(modes: argparse._SubParsersAction) -> None:
    p = _mode(
        modes,
        "backends",
        "the model call per inference backend and preset: batch 1, K samples, N cameras",
        "Build each backend as the node would, for each preset with random weights, and time\n"
        "one batch-1 inference, the K-sample uncertainty call, and N cameras sharing it.\n\n"
        "example: frame-restore bench backends --backends openvino-cpu onnxruntime-cpu "
        "--presets small",
    )
    _add_backends(
        p,
        "one that cannot run here (or hold: no model) is skipped with a warning; none left "
        "is an error",
        BACKENDS,
    )
    _add_presets(p)
    _add_repeats(p, 20, "timed runs per preset and backend")
    add_uncertainty(p, 8, "also time the uncertainty call")
    p.add_argument(
        "--cameras",
        type=positive_int,
        default=4,
        metavar="N",
        help="cameras sharing one backend (default: 4)",
    )
    add_precision(p)
    add_json(p)
    p.set_defaults(handler=run_backends)


def _end_to_end(modes: argparse._SubParsersAction) -> None:
    p = _mode(
        modes,
        "end-to-end",
        "the whole restorer per damaged 1280x720 frame, per alignment mode",
        "Run the restorer on the bundled weights over bigbuckbunny.mp4 (1280x720), every other\n"
        "frame damaged (--failure), per backend with each alignment: ecc_flow (the default,\n"
        "with the carried motion), ecc_flow_no_carry (motion_prior off), ecc, none; report\n"
        "p50/p99 and the detect / infer / rest split. hold (no model: the reference copied)\n"
        "is the baseline, timed with alignment none only (it aligns nothing).\n\n"
        "example: frame-restore bench end-to-end --backends openvino-cpu --runs 5 "
        "--json e2e.json",
    )
    _add_backends(
        p, "one that cannot run here is an error, before any is timed", (HOLD, *BACKENDS)
    )
    p.add_argument(
        "--runs",
        type=positive_int,
        metavar="N",
        default=1,
        help="repeat the whole measurement, report the median of the runs (a shared VM "
        "drifts 20-30%% between minutes) (default: 1)",
    )
    p.add_argument(
        "--failure",
        choices=("patches", "block"),
        default="patches",
        help="patches: 75%% of the patches failed (ECC's hardest case); block: one dead block "
        "of a quarter of each side, enclosed by clean pixels (where ecc_flow measures dense "
        "motion) (default: patches)",
    )
    add_precision(p)
    add_json(p)
    add_no_progress(p)
    p.set_defaults(handler=run_end_to_end)


def _replay(modes: argparse._SubParsersAction) -> None:
    p = _mode(
        modes,
        "replay",
        "bag I/O alone vs the whole replay on one bag, frames/s",
        "Copy BAG as replay does but without the restorer, then replay it whole (scoring off)\n"
        "with failures injected into half the frames; print both throughputs as JSON.\n\n"
        "example: frame-restore bench replay bags/drive_720p --json replay_bench.json",
    )
    p.add_argument("bag", type=Path, metavar="BAG", help="ROS 2 bag folder or ROS 1 .bag file")
    p.add_argument(
        "--backend",
        choices=(HOLD, *BACKENDS),
        default="auto",
        help="the inference backend (default: auto, as the node; see doctor)",
    )
    add_precision(p)
    p.add_argument(
        "--inject",
        metavar="SPEC",
        default=INJECT_DEFAULT,
        help=f"failures injected, as replay --inject (default: {INJECT_DEFAULT})",
    )
    add_json(p)
    add_no_progress(p)
    p.set_defaults(handler=run_replay)


def _node(modes: argparse._SubParsersAction) -> None:
    p = _mode(
        modes,
        "node",
        "what the ROS node adds around the restorer (conversion + publish) per frame",
        "Feed real frames as received ROS 2 messages through the node's core (hold backend)\n"
        "and split each frame's time into the restorer and the node's own conversion and\n"
        "publishing, for clean and repaired frames.\n\n"
        "example: frame-restore bench node --size 1920x1080 --json node_bench.json",
    )
    p.add_argument(
        "--size",
        default="1920x1080",
        help=f"WIDTHxHEIGHT, {NODE_SIZE_BOUNDS} (default: 1920x1080)",
    )
    p.add_argument("--encoding", default="bgr8", help="input encoding (default: bgr8)")
    _add_repeats(
        p, 120, "timed frames", NODE_MIN_REPEATS, " (every other one damaged: clean and repaired)"
    )
    add_json(p)
    add_no_progress(p)
    p.set_defaults(handler=run_node)


def _size(text: str) -> tuple[int, int]:
    """Parse an argparse WIDTHxHEIGHT value within the node's bounds."""
    try:
        return node_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def node_size(text: str) -> tuple[int, int]:
    """Return (width, height) of ``WIDTHxHEIGHT``; ValueError unless the node takes that size."""
    from frame_restore_ros.bench.node_bench import frame_size_problem

    width, height = parse_size(text)
    problem = frame_size_problem(width, height)
    if problem:
        raise ValueError(f"WIDTHxHEIGHT {problem}, got {text!r}")
    return width, height


def parse_size(text: str) -> tuple[int, int]:
    """Return (width, height) of ``WIDTHxHEIGHT``; raise ValueError unless both are >= 1."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"WIDTHxHEIGHT, e.g. 1280x720, got {text!r}") from None
    if width < 1 or height < 1:
        raise ValueError(f"WIDTHxHEIGHT with both sides >= 1, got {text!r}")
    return width, height


def _live(modes: argparse._SubParsersAction) -> None:
    from frame_restore_ros.bench.live_processes import TRANSPORTS

    p = _mode(
        modes,
        "live",
        "the node across processes over real ROS 2 DDS: latency, loss, CPU, max rate",
        "Start the node (its console script, --params-file), a publisher process streaming\n"
        "bigbuckbunny.mp4 scaled to SIZE on N raw bgr8 cameras (every 10th frame with two dead\n"
        "blocks) and a recorder in this process, on a ROS domain of their own, localhost only;\n"
        "for every combination of the options below report: end-to-end latency (header stamp\n"
        "to T/restored received) p50/p99, frames lost in transport (sent but never counted by\n"
        "the node's diagnostics) vs dropped by the node itself, and the node process's CPU.\n"
        "--find-max instead searches the highest rate each combination sustains (the publisher\n"
        "holds 95 % of the rate and 99 % of the frames come out restored). Needs rclpy.\n\n"
        "examples:\n"
        "  frame-restore bench live --sizes 1280x720 1920x1080 --json live.json\n"
        "  frame-restore bench live --find-max --cameras 1 2 --qos reliable --json max.json\n"
        "  frame-restore bench live --sizes 1920x1080 --transports default large_data",
    )
    p.add_argument(
        "--cameras",
        type=positive_int,
        nargs="+",
        default=[1],
        metavar="N",
        help="camera counts, each >= 1 (default: 1)",
    )
    p.add_argument(
        "--sizes",
        type=_size,
        nargs="+",
        default=[(1280, 720)],
        metavar="WxH",
        help=f"resolutions, {NODE_SIZE_BOUNDS} (default: 1280x720)",
    )
    p.add_argument(
        "--rates",
        type=positive_number,
        nargs="+",
        default=[10.0],
        metavar="HZ",
        help="rates, Hz, each > 0 (default: 10)",
    )
    p.add_argument(
        "--qos",
        type=_qos_reliability,
        nargs="+",
        default=list(LIVE_QOS_DEFAULT),
        metavar="RELIABILITY",
        help="the node's qos.reliability values, as its parameter table allows "
        f"(default: {' '.join(LIVE_QOS_DEFAULT)})",
    )
    p.add_argument(
        "--transports",
        nargs="+",
        choices=TRANSPORTS,
        default=["default"],
        help="Fast DDS builtin transports of all three processes (FASTDDS_BUILTIN_TRANSPORTS: "
        "default = UDPv4 + shared memory, udp, shm, large_data) (default: default)",
    )
    p.add_argument(
        "--seconds",
        type=positive_number,
        default=8.0,
        help="streaming time per measurement, > 0 (default: 8)",
    )
    p.add_argument(
        "--backend",
        choices=(HOLD, *BACKENDS),
        default=HOLD,
        help="the node's backend (default: hold, so that transport, not the model, is measured)",
    )
    p.add_argument(
        "--find-max",
        action="store_true",
        help="search the highest sustained rate per combination (--rates is the start rate)",
    )
    add_json(p)
    add_no_progress(p)
    p.set_defaults(handler=run_live)


def _detection(modes: argparse._SubParsersAction) -> None:
    from frame_restore_ros.cli.eval_detection import SHARED_DATA

    p = _mode(
        modes,
        "detection",
        "the failure detector: speed (clean, burst, block), false alarms per clip",
        "Time FailureDetector.detect per frame on frames of one clip resized to 1280x720 and\n"
        "1920x1080 (p50, p90): clean, then with every other frame a 75 % burst of failed\n"
        "patches, then a dead block (timed on the damaged frames: the frames `bench\n"
        "end-to-end` times, a burst is dozens of regions to judge; with the share of the\n"
        "failed pixels found, so a time is never that of a failure half missed); then stream\n"
        "every clip untouched through a fresh detector: every flagged pixel is a false alarm\n"
        "(mean and p99 % of pixels per frame, share of frames left untouched, flagged % per\n"
        "class). The injected-failure scores are\n"
        "`frame-restore eval-detection`.\n\n"
        "example: frame-restore bench detection --data ../shared/data --data sample:bikes.mp4 \\\n"
        "           --max-frames 400 --json detection_bench.json",
    )
    p.add_argument(
        "--data",
        action="append",
        help="a video, bag or folder of them, or sample:NAME (repeatable; default: "
        f"{SHARED_DATA} when it exists, else sample:bikes.mp4)",
    )
    p.add_argument(
        "--max-frames",
        type=int_at_least(DETECTION_WARMUP_FRAMES + 1),
        default=400,
        help=f"frames read per clip, more than the {DETECTION_WARMUP_FRAMES} warm-up frames of "
        "the speed timing (default: 400)",
    )
    p.add_argument(
        "--speed-clip",
        help="clip whose frames are timed (default: the first clip of the highest resolution)",
    )
    p.add_argument(
        "--speed-frames",
        type=positive_int,
        default=80,
        metavar="N",
        help=f"timed frames per size, >= 1; they follow {DETECTION_WARMUP_FRAMES} warm-up "
        "frames and all come from the speed clip's first --max-frames frames, so at most "
        f"--max-frames minus {DETECTION_WARMUP_FRAMES} are timed (default: 80)",
    )
    add_json(p)
    p.set_defaults(handler=run_detection)


def run_model(args: argparse.Namespace) -> int:
    """Time the deploy graph per preset."""
    from frame_restore_ros.bench.model_bench import format_model_table, run_model_benchmark

    check_json(args.json, overwrite=args.overwrite)
    results = run_model_benchmark(args.presets, args.repeats, args.ratio, with_onnx=args.onnx)
    print(format_model_table(results))
    write_json(args.json, results)
    return 0


def run_pipeline(args: argparse.Namespace) -> int:
    """Time detection and compositing without the model."""
    from frame_restore_ros.bench.model_bench import format_pipeline, run_pipeline_benchmark

    check_json(args.json, overwrite=args.overwrite)
    results = run_pipeline_benchmark(args.repeats)
    print(format_pipeline(results))
    write_json(args.json, {"pipeline_without_model": results})
    return 0


def run_backends(args: argparse.Namespace) -> int:
    """Time the model call per backend and preset."""
    from frame_restore_ros.bench.backend_bench import format_backend_table, run_backend_benchmark

    check_json(args.json, overwrite=args.overwrite)
    rows = run_backend_benchmark(
        args.presets, args.backends, args.repeats, args.uncertainty, args.cameras, args.precision
    )
    print(format_backend_table(rows, args.uncertainty, args.cameras))
    write_json(args.json, rows)
    return 0


def run_end_to_end(args: argparse.Namespace) -> int:
    """Time the whole restorer per backend, alignment on and off."""
    from frame_restore_ros.bench.backend_bench import end_to_end_runs, format_end_to_end

    check_json(args.json, overwrite=args.overwrite)
    record = end_to_end_runs(
        args.backends,
        args.runs,
        args.precision,
        progress=not args.no_progress,
        failure=args.failure,
    )
    record["command"] = (
        f"frame-restore bench end-to-end --backends {' '.join(args.backends)} "
        f"--runs {args.runs} --precision {args.precision} --failure {args.failure}"
    )
    print(format_end_to_end(record))
    write_json(args.json, record)
    return 0


def run_replay(args: argparse.Namespace) -> int:
    """Measure the replay throughput on one bag."""
    from frame_restore_ros.bench.replay_throughput import replay_throughput

    check_json(args.json, input_paths(args.bag), overwrite=args.overwrite)
    report = replay_throughput(
        args.bag, args.inject, args.backend, args.precision, progress=not args.no_progress
    )
    print(json.dumps(report, indent=2))
    write_json(args.json, report)
    return 0


def run_node(args: argparse.Namespace) -> int:
    """Time what the node adds around the restorer."""
    from frame_restore_ros.bench.node_bench import run_node_overhead_benchmark

    try:
        width, height = node_size(args.size)
    except ValueError as exc:
        raise ValueError(f"--size must be {exc}") from None
    check_json(args.json, overwrite=args.overwrite)
    result = run_node_overhead_benchmark(
        width, height, args.encoding, args.repeats, progress=not args.no_progress
    )
    print(json.dumps(result, indent=2))
    write_json(args.json, result)
    return 0


def run_detection(args: argparse.Namespace) -> int:
    """Time the failure detector and measure its false alarms on clean clips."""
    import shlex
    import sys

    import cv2

    from frame_restore_ros.bench.detection_bench import format_detection, run_detection_benchmark
    from frame_restore_ros.cli.eval_detection import default_data, expand_sources, open_clips

    sources, chosen = (args.data, "given") if args.data else default_data()
    check_json(args.json, input_paths(*sources), overwrite=args.overwrite)
    clips, _, rates = open_clips(expand_sources(sources), args.max_frames, 1)
    speed_clip = args.speed_clip
    if speed_clip is None:

        def pixels(name: str) -> int:
            frame = next(iter(clips[name]()), None)
            return 0 if frame is None else frame.shape[0] * frame.shape[1]

        speed_clip = max(clips, key=pixels)
    record = run_detection_benchmark(clips, speed_clip, args.speed_frames, frame_rates=rates)
    record["command"] = "frame-restore " + shlex.join(sys.argv[1:])
    record["data"] = chosen
    record["threads"] = cv2.getNumThreads()
    print(format_detection(record))
    write_json(args.json, record)
    return 0


def run_live(args: argparse.Namespace) -> int:
    """Measure the node across processes over real DDS."""
    import itertools

    from tqdm import tqdm

    from frame_restore_ros.bench.live_node import (
        LiveConfig,
        find_max_rate,
        format_max_rates,
        format_results,
        run_matrix,
    )

    check_json(args.json, overwrite=args.overwrite)
    try:
        import rclpy  # noqa: F401
    except ImportError as exc:
        raise SystemExit(f"bench live needs rclpy (source your ROS 2 setup): {exc}") from None
    rates = [args.rates[0]] if args.find_max else args.rates
    configs = [
        LiveConfig(cameras, width, height, rate, qos, transport, args.seconds, args.backend)
        for cameras, (width, height), rate, qos, transport in itertools.product(
            args.cameras, args.sizes, rates, args.qos, args.transports
        )
    ]
    bar = tqdm(total=None if args.find_max else len(configs), disable=args.no_progress)

    def progress(label: str | None) -> None:
        if label is None:
            bar.update()
        else:
            bar.set_description(label)

    sizes = " ".join(f"{w}x{h}" for w, h in args.sizes)
    command = (
        f"frame-restore bench live --cameras {' '.join(map(str, args.cameras))} --sizes {sizes} "
        f"--rates {' '.join(f'{r:g}' for r in rates)} --qos {' '.join(args.qos)} "
        f"--transports {' '.join(args.transports)} --seconds {args.seconds:g} "
        f"--backend {args.backend}" + (" --find-max" if args.find_max else "")
    )
    record: dict[str, object] = {"command": command}
    if args.find_max:
        searches = [find_max_rate(c, start_hz=c.rate_hz, progress=progress) for c in configs]
        bar.close()
        print(format_results([r for s in searches for r in s["runs"]]))
        print(format_max_rates(searches))
        record["find_max"] = searches
    else:
        results = run_matrix(configs, progress)
        bar.close()
        print(format_results(results))
        record["results"] = results
    write_json(args.json, record)
    return 0

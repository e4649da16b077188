"""``frame-restore evaluate``: every method on the evaluation protocol, with tables and plots."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from pathlib import Path

from frame_restore_ros.cli.common import (
    SOURCE_HELP,
    add_command,
    add_defect_mask,
    add_max_frames,
    add_no_progress,
    add_output,
    add_precision,
    add_weights,
    load_defect_mask_option,
    non_negative_int,
    positive_int,
)

log = logging.getLogger("frame_restore")


def mask_ratio(text: str) -> float:
    """Parse one ``--ratios`` value: a mask ratio in (0, 1] (argparse names the option)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:  # NaN too
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def failure_kind(text: str) -> str:
    """Return the ``--kinds`` value ``text`` names: a failure of ``--inject`` without a value.

    The harness draws each failure's own count; ``patches`` is --ratios' condition. Raises
    ValueError naming --kinds and the value.
    """
    from frame_restore_ros.synthetic.registry import FAILURES, Value

    name = text.strip().lower()
    if name in FAILURES and FAILURES[name].value is not Value.RATIO:
        return name
    if ":" in name:
        why = f"takes failure names without a value (the harness draws the count), got {text!r}"
    elif name in FAILURES:
        why = f"{text!r} is scored by --ratios, not --kinds"
    else:
        why = f"unknown failure {text!r}"
    kinds = [k for k, failure in FAILURES.items() if failure.value is not Value.RATIO]
    raise ValueError(f"--kinds: {why}; choose from {', '.join(kinds)}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` parser."""
    p = add_command(
        sub,
        "evaluate",
        "score SiamMCVAE against hold, Telea, Navier-Stokes and a single-frame MAE",
        "Run every method on the same damaged frames of real clips (videos, bags or\n"
        "sample:NAME) and score them against the real frames: the paper's random patch\n"
        "masking at each --ratios and --gaps (reference = frame t-g), and each structured\n"
        "failure of --kinds at --kind-gap. Metrics on the 0-255 scale, whole frame and\n"
        "failed region: MSE, MAE, PSNR, SSIM, FSIM. Writes evaluation.json, summary.csv,\n"
        "frames.csv, table_*.md, quality_vs_ratio.png, quality_vs_gap.png and strips;\n"
        "--save-frames DIR also writes every output as PNG for independent scoring.\n"
        "--defect-mask FILE adds the camera's calibrated defect map to every damaged frame's\n"
        "failed pixels, as the node's detector does (evaluation.json's meta names it).\n\n"
        "examples:\n"
        "  frame-restore evaluate --data sample:bikes.mp4 --mae runs/mae.safetensors\n"
        "  frame-restore evaluate --data drive_bag --weights w.safetensors --ratios 0.75 \\\n"
        "      --gaps 1 2 --frames 20 --no-fsim -o out/eval_drive",
    )
    p.add_argument(
        "--data",
        action="append",
        help=f"{SOURCE_HELP} (repeatable; default: sample:bikes.mp4)",
    )
    add_weights(p, "SiamMCVAE weights (default: the bundled small model)")
    mae = p.add_mutually_exclusive_group()
    mae.add_argument(
        "--mae",
        type=Path,
        metavar="FILE",
        help="single-frame MAE weights, the paper's MAE row (default: the bundled baseline)",
    )
    mae.add_argument("--no-mae", action="store_true", help="leave the MAE baseline out")
    add_output(
        p,
        "output folder; one that exists must be empty, or an earlier evaluate output with "
        "--overwrite",
        default=Path("out/evaluate"),
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the files of an earlier evaluate run in -o (only a folder evaluate wrote)",
    )
    p.add_argument(
        "--ratios",
        type=mask_ratio,
        nargs="+",
        default=[0.45, 0.6, 0.75, 0.9],
        metavar="R",
        help="mask ratios of the random patch masking, each in (0, 1] "
        "(default: 0.45 0.6 0.75 0.9)",
    )
    p.add_argument(
        "--gaps",
        type=positive_int,
        nargs="+",
        default=[1, 2, 4, 8],
        metavar="G",
        help="frame gaps of the random patch masking: reference = frame t-G (default: 1 2 4 8)",
    )
    p.add_argument(
        "--kinds",
        nargs="*",
        default=["dead", "noise", "cast", "lines", "bottom", "frozen"],
        metavar="KIND",
        help="structured failures, --inject names without a value; the option with no names: "
        "skip them (default: dead noise cast lines bottom frozen)",
    )
    p.add_argument("--kind-gap", type=int, default=2, help="gap for --kinds (default: 2)")
    p.add_argument("--frames", type=int, default=8, help="frames per condition (default: 8)")
    add_max_frames(p, 250, "per clip")
    p.add_argument(
        "--model-only",
        action="store_true",
        help="also the model's prediction alone (no alignment, gate, detail transfer, seams), "
        "the same plus the reference's full-resolution detail (siammcvae_model_fullres), and "
        "hold through the model's input size (hold_model_resolution: that row's ceiling)",
    )
    p.add_argument(
        "--compare-weights",
        type=Path,
        metavar="FILE",
        help="a second SiamMCVAE weight file scored the same way (siammcvae_compared), "
        "e.g. the previous default weights",
    )
    p.add_argument(
        "--without-carried-motion",
        action="store_true",
        help="also SiamMCVAE with the node's defaults but motion_prior off "
        "(siammcvae_no_carry): what carrying the reference's motion forward adds",
    )
    p.add_argument(
        "--persistent",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="also hold a dead block and lost rows for N consecutive frames per episode "
        "(2 episodes per clip and kind), scored per frame and for temporal error, with "
        "siammcvae+propagate (its own previous output as the failed region's reference); "
        "writes table_persistent_*.md (default: 0, off)",
    )
    p.add_argument(
        "--tail",
        type=float,
        metavar="FRACTION",
        help="score only the trailing FRACTION of each clip, cut where `train --split` cuts "
        "(0.3: the validation split the shipped weights never saw); --max-frames then caps "
        "the frames read from that tail",
    )
    p.add_argument("--no-fsim", action="store_true", help="skip FSIM (the slowest metric)")
    p.add_argument(
        "--ablations",
        action="store_true",
        help="also SiamMCVAE without alignment, gate, detail transfer, and without all three",
    )
    p.add_argument(
        "--save-frames",
        type=Path,
        metavar="DIR",
        help="write every output as PNG into DIR/CLIP/CONDITION/: a folder apart from -o and "
        "the inputs; one that exists must be empty, or an earlier --save-frames folder with "
        "--overwrite, whose PNGs are removed first",
    )
    p.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of the damage (default: 0)"
    )
    p.add_argument(
        "--backend",
        default="torch-cpu",
        metavar="NAME",
        help="inference backend of the model methods: torch-cpu (fp32, the reference figures) "
        "or the one you deploy, to measure its quality, e.g. openvino-cpu (bf16 where the CPU "
        "has it) (default: torch-cpu)",
    )
    add_precision(p)
    add_defect_mask(p, "OR-ed into every damaged frame's failed pixels")
    add_no_progress(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Check the arguments, run the evaluation and write its outputs."""
    from frame_restore_ros.backends.selection import resolve
    from frame_restore_ros.evaluation.harness import EvalConfig, check_defect_mask, evaluate_clips
    from frame_restore_ros.evaluation.methods import build_methods
    from frame_restore_ros.evaluation.report import (
        markdown_table,
        remove_previous_outputs,
        summarize,
        write_outputs,
    )
    from frame_restore_ros.model.bundled import BASELINE_MAE_WEIGHTS, default_weights_path

    # Clear errors for bad arguments before any work.
    defect_mask = load_defect_mask_option(args.defect_mask)
    args.kinds = [failure_kind(kind) for kind in args.kinds]
    resolve(args.backend)  # unknown, or cannot run here
    check_data(args.data)
    if args.kind_gap < 1:
        raise ValueError(f"--kind-gap must be >= 1, got {args.kind_gap}")
    if args.frames < 1:
        raise ValueError(f"--frames must be >= 1, got {args.frames}")
    if args.tail is not None and not 0 < args.tail < 1:
        raise ValueError(f"--tail must be in (0, 1), got {args.tail}")
    check_output_folder(args.output, args.overwrite, evaluation_inputs(args))
    if args.save_frames is not None:
        check_save_frames(args.save_frames, args)
    check_weight_roles(args)
    clips = load_clips(args)
    check_clip_lengths(clips, max([*args.gaps, args.kind_gap]), args.persistent)
    check_clip_sizes(clips, EvalConfig.grid)
    if defect_mask is not None:
        check_defect_mask(defect_mask, clips)
    mae = None if args.no_mae else (args.mae or default_weights_path(BASELINE_MAE_WEIGHTS))
    methods = build_methods(
        args.weights,
        mae,
        args.ablations,
        args.backend,
        args.precision,
        model_only=args.model_only,
        compared=args.compare_weights,
        without_carry=args.without_carried_motion,
    )
    cfg = EvalConfig(
        ratios=tuple(args.ratios),
        gaps=tuple(args.gaps),
        kinds=tuple(args.kinds),
        kind_gap=args.kind_gap,
        frames_per_condition=args.frames,
        fsim=not args.no_fsim,
        seed=args.seed,
    )
    wanted = {("patches", 0.75, 1), ("patches", 0.75, 8)} | {
        (k, None, cfg.kind_gap) for k in ("lines", "bottom")
    }
    seen: set = set()

    def keep(sample) -> bool:
        key = (sample.condition.kind or "patches", sample.condition.ratio, sample.condition.gap)
        if key in wanted and key not in seen:
            seen.add(key)
            return True
        return False

    if args.save_frames is not None and args.overwrite:
        remove_saved_frames(args.save_frames)  # checked: an earlier --save-frames folder
    start = time.perf_counter()
    result = evaluate_clips(
        clips,
        methods,
        cfg,
        keep,
        args.save_frames,
        progress=not args.no_progress,
        defect_mask=defect_mask,
    )
    meta = {
        "clips": {name: len(frames) for name, frames in clips.items()},
        "tail": args.tail,
        "weights": str(args.weights or default_weights_path()),
        "mae": str(mae) if mae else None,
        "methods": list(methods),
        "backend": args.backend,
        "defect_mask": None
        if defect_mask is None
        else {"file": str(args.defect_mask), "pixels": int(defect_mask.sum())},
        "seconds": round(time.perf_counter() - start, 1),
    }
    if args.overwrite:
        remove_previous_outputs(args.output)  # checked: an earlier evaluate output
    report = write_outputs(result, cfg, args.output, meta)
    if args.persistent:
        write_persistent(args, clips, methods, report)
    print(markdown_table(summarize(result.rows), "failed"))
    print(json.dumps({"out": str(args.output), "files": report["files"][:6], **meta}, indent=2))
    return 0


def evaluation_inputs(args: argparse.Namespace) -> tuple[Path, ...]:
    """Every file or folder this run reads: --data, the weights, --mae, --compare-weights, mask."""
    from frame_restore_ros.cli.common import input_paths

    return input_paths(
        *(args.data or ["sample:bikes.mp4"]),
        args.weights,
        None if args.no_mae else args.mae,
        args.compare_weights,
        args.defect_mask,
    )


def check_output_folder(output: Path, overwrite: bool, inputs: tuple[Path, ...] = ()) -> None:
    """Raise ValueError unless ``-o`` may take this run's files (before any work).

    As replay's output rules (:func:`~frame_restore_ros.bag.output_claim.check_output_folder`):
    never an input, inside one or holding one; a folder that exists must be empty, or (with
    ``overwrite``) an earlier evaluate output (evaluation.json), whose evaluation files this run
    replaces; other files and subfolders there are kept, never deleted.
    """
    from frame_restore_ros.bag.output_claim import check_output_folder as check_folder
    from frame_restore_ros.evaluation.report import foreign_files, why_not_replaceable

    output = Path(output)
    check_folder(output, "output", inputs, overwrite, why_not_replaceable, "an evaluate output")
    if overwrite and output.is_dir():
        kept = foreign_files(output)
        if kept:
            log.info("--overwrite keeps %d other files in %s: %s", len(kept), output, kept[:5])


def check_save_frames(folder: Path, args: argparse.Namespace) -> None:
    """Raise ValueError unless ``--save-frames`` names a folder this run may write.

    The rules of ``-o`` (:func:`~frame_restore_ros.bag.output_claim.check_output_folder`): not
    an input (a --data bag or folder, a weight or mask file), inside one or holding one, nor -o,
    inside it or holding it; new or empty, or with --overwrite an earlier --save-frames folder
    (:func:`why_not_saved_frames`).
    """
    from frame_restore_ros.bag.output_claim import check_output_folder, check_separate

    check_separate(folder, "--save-frames", args.output, "-o/--output")
    check_output_folder(
        folder,
        "--save-frames",
        evaluation_inputs(args),
        args.overwrite,
        why_not_saved_frames,
        "an earlier --save-frames folder",
    )


def why_not_saved_frames(folder: Path) -> str | None:
    """Why ``folder`` is not an earlier ``--save-frames`` output (CLIP/CONDITION/*.png) or None."""
    for root, dirs, files in os.walk(folder):
        depth = len(Path(root).relative_to(folder).parts)
        for name in dirs + files:
            path = Path(root) / name
            is_folder = name in dirs and not path.is_symlink()
            if (depth < 2) != is_folder or (not is_folder and path.suffix != ".png"):
                return f"it holds {path.relative_to(folder)}, not a frame of --save-frames"
    return None


def remove_saved_frames(folder: Path) -> None:
    """Remove the CLIP folders of an earlier ``--save-frames`` run (checked) from ``folder``."""
    if folder.is_dir():
        for clip in folder.iterdir():
            shutil.rmtree(clip)


def check_weight_roles(args: argparse.Namespace) -> None:
    """Raise ValueError for a weight file of the wrong architecture for its option.

    ``--weights`` and ``--compare-weights`` take SiamMCVAE files, ``--mae`` a single-frame MAE;
    only the headers are read, before any clip or model loads.
    """
    from frame_restore_ros.model.checkpoint import check_architecture

    for option, path, architecture in (
        ("--weights", args.weights, "siammcvae"),
        ("--compare-weights", args.compare_weights, "siammcvae"),
        ("--mae", None if args.no_mae else args.mae, "mae"),
    ):
        if path is not None:
            check_architecture(path, architecture, option)


def check_data(sources: list[str] | None) -> None:
    """Raise ValueError naming the first ``--data`` source that cannot give frames."""
    from frame_restore_ros.bag.frame_sources import source_problem

    for source in sources or []:
        if problem := source_problem(source):
            raise ValueError(f"--data {source} {problem}")


def load_clips(args: argparse.Namespace) -> dict:
    """Clip name -> frames of every ``--data`` source (with ``--tail``: its trailing part).

    A source that gives no frame (e.g. a bag without an image topic) raises ValueError naming
    it and why. A bag's frames smaller than the patch grid are skipped (logged with their record
    time); a clip whose frame size changes is split into clips of one size (logged where).
    """
    from frame_restore_ros.bag.frame_sources import MinimumSize, source_frames
    from frame_restore_ros.evaluation.harness import EvalConfig, split_size_runs
    from frame_restore_ros.training.pairs import split_point

    rows, cols = EvalConfig.grid
    minimum = MinimumSize(rows, cols, f"the {rows}x{cols} patch grid the failures are drawn on")
    clips: dict = {}
    times: dict[str, list[int]] = {}
    for source in args.data or ["sample:bikes.mp4"]:
        limit = args.max_frames if args.tail is None else None
        found = source_frames(source, limit, times, minimum)
        if not any(found.values()):
            raise ValueError(f"--data {source}: {no_frames_reason(source)}")
        if args.tail is None:
            clips.update(found)
            continue
        for name, frames in found.items():
            cut = split_point(len(frames), args.tail)
            tail = f"{Path(name).stem}_tail{round(args.tail * 100)}"  # no dot: file names
            clips[tail] = frames[cut:][: args.max_frames]
            if name in times:
                times[tail] = times[name][cut:][: args.max_frames]
    return split_size_runs(clips, min_clip_frames(args), times)


def min_clip_frames(args: argparse.Namespace) -> int:
    """Frames a clip needs: more than the largest gap, and --persistent's episodes."""
    from frame_restore_ros.evaluation.persistent import frames_needed

    needed = max([*args.gaps, args.kind_gap]) + 1
    return max(needed, frames_needed(args.persistent)) if args.persistent else needed


def no_frames_reason(source: str) -> str:
    """Say why ``source`` gave no frame: a bag's topics as replay names them, else no frames."""
    from frame_restore_ros.bag.bag_io import BagReader
    from frame_restore_ros.bag.frame_sources import is_bag
    from frame_restore_ros.bag.replay import select_topics
    from frame_restore_ros.media.video import sample_video_path

    path = sample_video_path(source[len("sample:") :]) if source.startswith("sample:") else source
    if not is_bag(path):
        return "no frames could be read"
    try:
        with BagReader(Path(path)) as reader:
            select_topics(reader.topics, None)
    except ValueError as exc:
        return str(exc)
    return "its image topics hold no messages"


def check_clip_lengths(clips: dict, max_gap: int, persistent: int) -> None:
    """Raise ValueError naming the first clip too short for the largest gap or --persistent."""
    from frame_restore_ros.evaluation.persistent import frames_needed

    for name, frames in clips.items():
        if len(frames) <= max_gap:
            raise ValueError(
                f"clip {name} has {len(frames)} frames, too few for gap {max_gap} (needs at "
                f"least {max_gap + 1}; raise --max-frames or lower --gaps / --kind-gap)"
            )
        if persistent and len(frames) < frames_needed(persistent):
            raise ValueError(
                f"clip {name} has {len(frames)} frames, too few for --persistent {persistent} "
                f"(needs at least {frames_needed(persistent)})"
            )


def check_clip_sizes(clips: dict, grid: tuple[int, int]) -> None:
    """Raise ValueError naming the first frame smaller than the failures' patch grid.

    ``grid``: (rows, cols) of the patches failures are drawn on; a frame needs a pixel per patch.
    """
    for name, frames in clips.items():
        for index, frame in enumerate(frames):
            height, width = frame.shape[:2]
            if height < grid[0] or width < grid[1]:
                raise ValueError(
                    f"clip {name}: frame {index} is {height}x{width} pixels, smaller than the "
                    f"{grid[0]}x{grid[1]} patch grid the failures are drawn on"
                )


def write_persistent(args: argparse.Namespace, clips: dict, methods: dict, report: dict) -> None:
    """Run the persistent-failure episodes; write their tables and add them to the report."""
    from frame_restore_ros.backends.hold import HoldBackend
    from frame_restore_ros.backends.selection import load_backend
    from frame_restore_ros.evaluation.intervals import interval_markdown, interval_rows
    from frame_restore_ros.evaluation.persistent import evaluate_persistent, restorer_method

    siammcvae = {"precision": args.precision, "architecture": "siammcvae"}
    model = load_backend(args.backend, args.weights, **siammcvae).backend
    restorers = {
        "hold": restorer_method(HoldBackend(), propagate=False),
        "siammcvae": restorer_method(model, propagate=False),
        "siammcvae_no_blend": restorer_method(model, propagate=False, temporal_blend=1.0),
        "siammcvae+propagate": restorer_method(model, propagate=True),
    }
    if args.compare_weights is not None:
        compared = load_backend(args.backend, args.compare_weights, **siammcvae).backend
        restorers["siammcvae_compared"] = restorer_method(compared, propagate=False)
    if args.without_carried_motion:
        restorers["siammcvae_no_carry"] = restorer_method(model, propagate=False, carry=False)
    rows = evaluate_persistent(
        clips,
        restorers,
        {"telea": methods["telea"]},
        length=args.persistent,
        seed=args.seed,
        progress=not args.no_progress,
    )
    for metric in ("psnr", "ssim", "temporal_error"):
        intervals = interval_rows(rows, "failed", metric)
        report[f"persistent_{metric}"] = intervals
        table = interval_markdown(intervals, metric)
        (args.output / f"table_persistent_{metric}.md").write_text(table + "\n")
        print(f"persistent failures ({args.persistent} frames), {metric}:\n{table}")
    (args.output / "evaluation.json").write_text(json.dumps(report, indent=2))

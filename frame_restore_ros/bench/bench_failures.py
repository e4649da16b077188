"""The failures the latency benchmarks time: a 75 % burst of failed patches, or one dead block.

One definition, so that ``bench end-to-end`` and ``bench detection`` time the same frames.
"""

from __future__ import annotations

import numpy as np

from frame_restore_ros.synthetic.corruption import random_patches

FAILURES = ("patches", "block")  # 75 % of the patches failed, or one enclosed dead block
BURST_RATIO = 0.75  # the paper's masking ratio: ECC's and the detector's hardest case


def damage_frame(failure: str, index: int, frame: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Return a damaged copy of ``frame`` (H, W, 3) uint8: the ``index``-th of a stream.

    "patches": :data:`BURST_RATIO` of the cells of the patch ``grid`` (rows, cols) failed, each
    dead, saturated, noisy or a decoder colour (a new draw per ``index``). "block": a dead block
    of a quarter of each side, enclosed by clean pixels, moving a little from frame to frame.
    """
    return damage(failure, index, frame, grid)[0]


def damage(
    failure: str, index: int, frame: np.ndarray, grid: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Return (damaged copy (H, W, 3) uint8, failed pixels (H, W) bool) (:func:`damage_frame`)."""
    if failure not in FAILURES:
        raise ValueError(f"failure must be one of {FAILURES}, got {failure!r}")
    if failure == "patches":
        burst = random_patches(frame, grid, BURST_RATIO, np.random.default_rng(index))
        return burst.damaged, burst.mask
    height, width = frame.shape[:2]
    out = frame.copy()
    failed = np.zeros((height, width), dtype=bool)
    top, left = height // 3 + index % 7, width // 3 + 2 * (index % 5)
    failed[top : top + height // 4, left : left + width // 4] = True
    out[failed] = 0
    return out, failed

"""Seeded synthetic sensor failures that return the damaged frame and the exact ground-truth mask.

This module starts with the paper's random patch masking, filled the way real failures look (dead
black, saturated white, noise, the flat green of a broken H.264 stream), which the demo uses.
"""

from __future__ import annotations

import numpy as np

from .grid import cells_to_pixels

FILLS = ("black", "white", "noise", "green")


def random_patch_failures(
    frame: np.ndarray, grid: tuple[int, int], ratio: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Fail ``round(ratio * rows * cols)`` cells of a ``grid`` laid over the frame.

    Args:
        frame: (H, W, 3) uint8 BGR.
        grid: (rows, cols) of failure cells (use the model's patch grid for the paper's protocol).
        ratio: fraction of cells failed, in [0, 1].
    Returns:
        damaged (H, W, 3) uint8 and failed (H, W) bool: exactly the pixels that were overwritten.
    """
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"ratio must be in [0, 1], got {ratio}")
    rows, cols = grid
    cells = np.zeros(rows * cols, dtype=np.uint8)
    cells[rng.permutation(rows * cols)[: int(round(ratio * rows * cols))]] = 1
    cell_mask = cells.reshape(rows, cols)
    shape = frame.shape[:2]
    failed = cells_to_pixels(cell_mask, shape).astype(bool)
    damaged = frame.copy()
    fills = cells_to_pixels(rng.integers(0, len(FILLS), size=(rows, cols)), shape)
    for index, kind in enumerate(FILLS):
        where = failed & (fills == index)
        if kind == "black":
            damaged[where] = rng.integers(0, 8)
        elif kind == "white":
            damaged[where] = 255
        elif kind == "noise":
            damaged[where] = rng.integers(0, 256, size=(int(where.sum()), 3), dtype=np.uint8)
        else:
            damaged[where] = (0, 135, 0)
    return damaged, failed

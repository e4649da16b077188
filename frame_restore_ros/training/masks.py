"""Training masks on the model's patch grid: the paper's random masking plus structured failures.

Structured masks are the patch footprint of what cameras really lose (docs/detection.md):
rectangles (dead, saturated, noise, cast or frozen blocks), bands of rows or columns (readout
faults), everything below a row (transmission loss); often on top of light random masking. Their
failed-patch count varies per sample, so batches of them use the fixed-shape encoder path.
"""

from __future__ import annotations

import numpy as np
import torch

from frame_restore_ros.model.patches import random_patch_mask


def _structured_one(grid: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    rows, cols = grid
    mask = np.zeros(grid, dtype=bool)
    kind = rng.choice(["blocks", "lines", "bottom"], p=[0.5, 0.25, 0.25])
    if kind == "blocks":
        for _ in range(int(rng.integers(1, 4))):
            height = max(1, int(rows * rng.uniform(0.15, 0.6)))
            width = max(1, int(cols * rng.uniform(0.15, 0.6)))
            top = int(rng.integers(0, rows - height + 1))
            left = int(rng.integers(0, cols - width + 1))
            mask[top : top + height, left : left + width] = True
    elif kind == "lines":
        axis_rows = rng.random() < 0.7
        length = rows if axis_rows else cols
        for _ in range(int(rng.integers(1, max(2, length // 3)))):
            start = int(rng.integers(0, length))
            band = slice(start, start + int(rng.integers(1, 3)))
            if axis_rows:
                mask[band, :] = True
            else:
                mask[:, band] = True
    else:
        mask[int(rows * rng.uniform(0.3, 0.9)) :, :] = True
    if rng.random() < 0.5:  # structured failure on top of scattered patch loss
        mask |= rng.random(grid) < rng.uniform(0.1, 0.4)
    return mask


def structured_masks(batch: int, grid: tuple[int, int], rng: np.random.Generator) -> torch.Tensor:
    """(B, rows, cols) bool: one structured failure per sample, never empty, never everything."""
    masks = []
    for _ in range(batch):
        mask = _structured_one(grid, rng)
        if not mask.any():
            mask[int(rng.integers(grid[0])), int(rng.integers(grid[1]))] = True
        if mask.all():
            mask[int(rng.integers(grid[0])), int(rng.integers(grid[1]))] = False
        masks.append(mask)
    return torch.from_numpy(np.stack(masks))


def training_masks(
    batch: int,
    grid: tuple[int, int],
    rng: np.random.Generator,
    generator: torch.Generator,
    ratio_range: tuple[float, float],
    structured_fraction: float,
) -> tuple[torch.Tensor, bool]:
    """Masks for one batch and whether every sample has the same failed count (token dropping).

    With probability ``structured_fraction`` the batch gets structured masks; otherwise the
    paper's random patch masking at one ratio uniform in ``ratio_range``.
    """
    if rng.random() < structured_fraction:
        return structured_masks(batch, grid, rng), False
    ratio = float(rng.uniform(*ratio_range))
    return random_patch_mask(batch, grid, ratio, generator), True

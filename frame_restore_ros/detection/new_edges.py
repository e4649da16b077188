"""New dark edges: where a dark region's border against lit content did not exist a moment ago.

At night nearly every new dark region borders dark scene, so whether it is scene (the night
growing where a light passed) or a failure (a dead block over the lit road) cannot be told from
its ring. What tells them apart is where the region's edge against lit content comes from. Dark
scene arrives by motion: the edge between it and the lit content beside it was within a few
pixels a frame ago (a light that passed leaves the darkness it sat in; a dark object brings its
outline along). A dead block or a dark blockage appears in place: along its border with lit
content there was no dark pixel nearby in the previous frame.
"""

from __future__ import annotations

import cv2
import numpy as np


def new_edge_pixels(
    gray: np.ndarray,
    previous: np.ndarray,
    dark: np.ndarray,
    level: float,
    step: float,
    reach_px: int,
    ignore: np.ndarray | None = None,
) -> tuple[int, int]:
    """Count the lit pixels on ``dark``'s border, and those that had no dark pixel near before.

    gray, previous: (H, W) uint8 luma now and in the previous frame (a crop around the region);
    dark: (H, W) bool, the dark region's pixels now; level: its mean luma. A border pixel counts
    when it is at least ``step`` above the level now (lit content beside the region); it is new
    when no pixel within ``reach_px`` was at most ``level + step / 2`` in the previous frame
    (nothing as dark came from there). ``ignore``: (H, W) bool pixels not to count (another
    failure beside the region: its content says nothing about the scene).
    Returns (lit border pixels, of them new).
    """
    if not dark.any():
        return 0, 0
    ring = cv2.dilate(dark.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool) & ~dark
    lit = ring & (gray >= level + step)
    if ignore is not None:
        lit &= ~ignore
    if not lit.any():
        return 0, 0
    dark_before = (previous <= level + 0.5 * step).view(np.uint8)
    size = 2 * reach_px + 1
    near_dark_before = cv2.dilate(dark_before, np.ones((size, size), np.uint8)).view(bool)
    return int(np.count_nonzero(lit)), int(np.count_nonzero(lit & ~near_dark_before))

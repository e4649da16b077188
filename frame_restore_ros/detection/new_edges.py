"""New dark edges: where a dark region's border against lit content did not exist a moment ago.

At night nearly every new dark region borders dark scene, so whether it is scene (the night
growing where a light passed) or a failure (a dead block over the lit road) cannot be told from
its ring. What tells them apart is where the region's edge against lit content comes from. Dark
scene arrives by motion: the edge between it and the lit content beside it was within a few
pixels a frame ago (a light that passed leaves the darkness it sat in; a dark object brings its
outline along). A dead block or a dark blockage appears in place: along its border with lit
content there was no dark pixel nearby in the previous frame.

The same edge tells a held dark region apart later: a dead block stays on its pixels while the
scene moves past it, a dark object's edge moves with it (:func:`steady_edge_pixels`).
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


def steady_edge_pixels(
    gray: np.ndarray,
    previous: np.ndarray,
    dark: np.ndarray,
    dark_level: float,
    lit_level: float,
    tolerance_px: int = 1,
) -> tuple[int, int]:
    """Count the lit pixels on ``dark``'s border, and those where the edge stayed in place.

    A sensor failure is fixed to the sensor: a dead block's edge against lit content stays on
    the same pixels while the scene moves past it. A dark object's edge moves with it: ahead of
    it pixels lit a frame ago turned dark, behind it pixels dark a frame ago are lit.

    gray, previous: (H, W) uint8 luma now and a frame ago (a crop around the region); dark:
    (H, W) bool, the region's pixels at most ``dark_level`` now. A border pixel is lit when at
    least ``lit_level``. The edge moved there when, within one pixel, a pixel is dark now with
    nothing dark within ``tolerance_px`` a frame ago (the edge advanced), or, within
    ``tolerance_px + 1``, a pixel was dark a frame ago with nothing dark within ``tolerance_px``
    now (it withdrew): a soft edge over moving scene shifts by a pixel, an object further.
    Returns (lit border pixels, of them steady).
    """
    if not dark.any():
        return 0, 0
    kernel = np.ones((3, 3), np.uint8)
    ring = cv2.dilate(dark.view(np.uint8), kernel).view(bool) & ~dark
    lit = ring & (gray >= lit_level)
    if not lit.any():
        return 0, 0
    dark_before = (previous <= dark_level).view(np.uint8)
    reach = np.ones((2 * tolerance_px + 1,) * 2, np.uint8)
    advanced = dark & ~cv2.dilate(dark_before, reach).view(bool)
    withdrew = dark_before.view(bool) & ~cv2.dilate(dark.view(np.uint8), reach).view(bool)
    wide = np.ones((2 * tolerance_px + 3,) * 2, np.uint8)
    moved = cv2.dilate(advanced.view(np.uint8), kernel).view(bool)
    moved |= cv2.dilate(withdrew.view(np.uint8), wide).view(bool)
    return int(np.count_nonzero(lit)), int(np.count_nonzero(lit & ~moved))

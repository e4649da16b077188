"""The soft rim of a dark blockage: pixels around a detected dark core that darkened towards it.

Something dark on the lens (mud, a sticker, a leaf) is out of focus: its core is dark, and it
fades into the scene over a rim tens of pixels wide. The cell rules find the core (dark, flat, an
onset) and one ring of partly covered cells; the rim, where the blockage covers half or more of
the scene but the pixels are still far above the core's level, is found here, per pixel, by what
the blockage does to it: the pixel darkened towards the core's level, by at least
``1 - darkening`` of the way, against the same pixel in the previous frame. Only pixels connected
to the core through such pixels and within ``reach_px`` of it count, so the rule only ever
extends a failure that the onset rules already found; on frames where nothing dark was flagged it
costs nothing.

A rim found in one frame stays while its core stays flagged and its pixels stay as dark (a
lasting blockage does not darken again in the next frame).
"""

from __future__ import annotations

import cv2
import numpy as np


def darkened_rim(
    gray: np.ndarray,
    previous: np.ndarray,
    core: np.ndarray,
    level: float,
    reach_px: int,
    darkening: float = 0.6,
    min_drop: float = 8.0,
    kept: np.ndarray | None = None,
    keep_tolerance: float = 6.0,
    allowed: np.ndarray | None = None,
    fit_window: int = 0,
) -> np.ndarray:
    """Return (H, W) bool: the rim of the dark ``core``, core pixels excluded.

    Args:
        gray, previous: (H, W) uint8 luma of this frame and of the previous one.
        core: (H, W) bool, the pixels flagged dark (dead / blockage) in this frame.
        level: the core's luma (0-255); a blend of the scene and the blockage lies between.
        reach_px: how far from the core the rim may extend, pixels.
        darkening: a pixel joins when ``gray - level <= darkening * (previous - level)``
            (0.6: covered at least 40 % of the way; the blend weight 0.5 that labels a pixel
            failed lies inside, with margin for the previous frame being another view).
        min_drop: and it darkened by at least this many levels (codec noise and flicker do not).
        kept: (H, W) bool, the rim found in the previous frame; its pixels stay while they are no
            brighter than ``previous + keep_tolerance`` (the blockage stayed).
        allowed: (H, W) bool, the pixels the rim may take (None: all); the rim does not grow
            through pixels that already carry another failure.
        fit_window: side (pixels) of the window over which the share of the way is also fitted
            (0: off). A blob covering the scene part of the way moves each pixel by that share
            of its distance to the blob's level; scene moving beside the blob moves pixels by
            amounts that do not follow that distance. Per pixel, the least-squares share of
            the window, sum((previous - gray) * (previous - level)) / sum((previous -
            level)^2), must reach ``1 - darkening`` too.
    """
    if not core.any() or reach_px <= 0:
        return np.zeros(core.shape, dtype=bool)
    core8 = core.view(np.uint8)
    # Work on the box the rim can reach: every pass stays local to the blockage.
    x, y, w, h = cv2.boundingRect(core8)
    top, left = max(0, y - reach_px), max(0, x - reach_px)
    bottom, right = min(core.shape[0], y + h + reach_px), min(core.shape[1], x + w + reach_px)
    box = (slice(top, bottom), slice(left, right))
    now = cv2.blur(gray[box], (3, 3))
    before = cv2.blur(previous[box], (3, 3))
    inside = core8[box] * np.uint8(255)
    # now - level <= darkening * (before - level), as now - darkening * before <= (1 - darkening)
    # * level, and a drop of min_drop: OpenCV passes on the box (a scattered failure's box is
    # the whole frame).
    towards = cv2.addWeighted(now, 1.0, before, -darkening, 0.0, dtype=cv2.CV_32F)
    darker = cv2.compare(towards, (1.0 - darkening) * level, cv2.CMP_LE)
    darker &= cv2.compare(cv2.subtract(before, now), min_drop, cv2.CMP_GE)
    if fit_window > 1 and darker.any():
        darker &= _fitted_share_reaches(now, before, inside, level, 1.0 - darkening, fit_window)
    if kept is not None and kept.shape == core.shape:
        stayed = cv2.compare(now, cv2.add(before, keep_tolerance), cv2.CMP_LE)
        darker |= kept[box].view(np.uint8) * stayed
    darker &= ~inside
    if allowed is not None:
        darker &= allowed[box].view(np.uint8) * np.uint8(255)
    rim = np.zeros(core.shape, dtype=bool)
    if not darker.any():  # nothing darkened beside the core: no rim (most frames)
        return rim
    darker &= within_reach(inside, darker, reach_px)
    if not darker.any():
        return rim
    # Connected to the core through darkened pixels: a component joins when one of its pixels
    # touches a core pixel (looked up at those few contacts, and the components looked up at
    # the darkened pixels only: findNonZero and table lookups; numpy's boolean indexing took
    # ~4x longer, a lookup over the whole box ~3 ms on a frame-wide one).
    count, labels = cv2.connectedComponents(darker | inside, connectivity=8)
    contact = cv2.findNonZero(cv2.dilate(darker, np.ones((3, 3), np.uint8)) & inside)
    if contact is None:
        return rim
    points = contact.reshape(-1, 2)  # (x, y) per contact
    touching = np.zeros(count, dtype=bool)
    touching[labels[points[:, 1], points[:, 0]]] = True
    touching[0] = False
    candidates = cv2.findNonZero(darker).reshape(-1, 2)  # (x, y) per darkened pixel
    joined = candidates[touching[labels[candidates[:, 1], candidates[:, 0]]]]
    rim[box][joined[:, 1], joined[:, 0]] = True
    return rim


def _fitted_share_reaches(
    now: np.ndarray,
    before: np.ndarray,
    inside: np.ndarray,
    level: float,
    share: float,
    window: int,
) -> np.ndarray:
    """(h, w) uint8 0/255: where the window's least-squares share of the way is >= ``share``.

    ``now``, ``before``: (h, w) uint8 luma (3x3 means); ``inside``: (h, w) uint8 0/255, the
    core, left out of the fit (it moved all the way: it would carry any pixel beside it). The
    share fitted is the ``w`` of ``before - now = w * (before - level)`` over the ``window`` x
    ``window`` pixels around.
    """
    outside = cv2.bitwise_not(inside).astype(np.float32) / np.float32(255.0)
    moved = cv2.subtract(before, now, dtype=cv2.CV_32F) * outside  # before - now
    distance = (before.astype(np.float32) - np.float32(level)) * outside  # before - level
    size = (window, window)
    along = cv2.boxFilter(cv2.multiply(moved, distance), -1, size, normalize=False)
    spread = cv2.boxFilter(cv2.multiply(distance, distance), -1, size, normalize=False)
    # along / spread >= share, without dividing (spread >= 0; an empty spread fits nothing)
    reaches = cv2.compare(along, cv2.multiply(spread, share), cv2.CMP_GE)
    return reaches & cv2.compare(spread, 0.0, cv2.CMP_GT)


def within_reach(inside: np.ndarray, asked: np.ndarray, reach_px: int) -> np.ndarray:
    """(h, w) uint8 0/255: the ``asked`` pixels within ``reach_px`` of an ``inside`` pixel.

    ``inside``, ``asked``: (h, w) uint8 0/255. The distance is OpenCV's 5x5 chamfer distance
    (Euclidean to ~2 %): exactly ``distanceTransform(~inside, DIST_L2, 5) <= reach_px`` at the
    asked pixels, computed where it can differ only. A chamfer distance lies between the
    Chebyshev distance and 1.4 times it (an axial step costs 1, a diagonal one 1.4, a knight's
    2.1969), so asked pixels within ``reach_px / 1.4`` of ``inside`` by Chebyshev distance are
    in, and those beyond ``reach_px`` are out: two separable square dilations. The transform
    runs only on the box of the pixels in between, widened by ``reach_px`` (a pixel's nearest
    ``inside`` pixels within reach lie there, and a chamfer path stays in the box of its ends).
    On a burst of dead blocks across a 720p frame the full transform took ~5 ms.
    """
    # The largest inner with 1.4 * inner < reach_px, in integers (OpenCV's diagonal steps sum
    # to a hair above 1.4 each; the margin to an integer reach is then at least 0.2).
    inner = (5 * reach_px - 1) // 7
    certain = cv2.dilate(inside, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * inner + 1,) * 2))
    outer = cv2.dilate(inside, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * reach_px + 1,) * 2))
    near = asked & certain
    between = asked & outer & ~certain
    x, y, w, h = cv2.boundingRect(between)
    if w == 0:
        return near
    top, left = max(0, y - reach_px), max(0, x - reach_px)
    bottom = min(inside.shape[0], y + h + reach_px)
    right = min(inside.shape[1], x + w + reach_px)
    box = (slice(top, bottom), slice(left, right))
    distance = cv2.distanceTransform(cv2.bitwise_not(inside[box]), cv2.DIST_L2, 5)
    near[box] |= between[box] & cv2.compare(distance, reach_px, cv2.CMP_LE)
    return near

"""A translucent layer landing on the lens: a grey film, fog on the glass, a smear of grease.

Where a layer of level ``L`` and opacity ``a`` covers the scene, each pixel becomes
``a * L + (1 - a) * scene``: the scene's detail stays where it was, scaled down by ``1 - a``, and
the level moves toward the layer's. Natural content that loses its detail in a frame does not
keep it in place: a flat object or the sky moving in replaces the detail, a moving edge carries it
away, a shadow or an exposure change scales the level with it (no step toward another level), and
defocus or motion blur keeps the level.

:func:`attenuated_cells` finds the cells whose detail collapsed while their level stepped; a
region of them is a layer when its cells' fine detail still correlates with the scene's a frame
ago (:func:`best_correlation`, searching a few pixels around each cell's place for the camera's
own motion). The level rules (``level_jumps.py``) need the layer's level to be new near
it; this one finds a grey film over scene of the film's own brightness too.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FLAT_STD = 0.5  # a block whose detail varies less than this (levels, std) shows none at all
# Detail is the luma minus its blur of this sigma (pixels): against the luma, the clean clips'
# regions reached a median correlation of 0.93, against their detail 0.79 (veils: 10th
# percentile 0.75 -> 0.82; docs/detection.md).
DETAIL_SIGMA = 2.0
# A cell faded flat fits the layer when the share of detail its region kept would have left it
# below this many times FLAT_STD (measurement slack: the share is a median over the region).
FLAT_SLACK = 2.0


class DetailMatch(NamedTuple):
    """Per measured cell (n,) float32: how its fine detail now matches a frame ago's."""

    correlation: np.ndarray  # best correlation within the search; NaN where flat now
    spread: np.ndarray  # std of the detail now
    spread_before: np.ndarray  # std of the detail a frame ago, at the same place


def attenuated_cells(
    texture: np.ndarray,
    texture_before: np.ndarray,
    step: np.ndarray,
    min_texture: float,
    ratio: float,
    min_step: float,
) -> np.ndarray:
    """(rows, cols) bool: cells that had detail, kept at most ``ratio`` of it, and stepped.

    texture, texture_before: (rows, cols) float32 mean |Laplacian| now and before (the
    detector passes each cell's last look of scene, scaled by the exposure gain); step:
    (rows, cols) float32 luma change against that look (gain applied). A cell needs
    ``min_texture`` before (flat sky has no detail to lose) and ``|step| >= min_step``.
    """
    had_detail = texture_before >= np.float32(min_texture)
    lost = texture <= np.float32(ratio) * texture_before
    return had_detail & lost & (np.abs(step) >= np.float32(min_step))


def detail(gray: np.ndarray, sigma: float = DETAIL_SIGMA) -> np.ndarray:
    """(H, W) float32: the luma's fine detail, ``gray`` minus its Gaussian blur of ``sigma``."""
    luma = gray.astype(np.float32)
    return luma - cv2.GaussianBlur(luma, (0, 0), sigma)


def best_correlation(
    gray: np.ndarray, gray_before: np.ndarray, cells: np.ndarray, cell: int, search: int
) -> DetailMatch:
    """Per True cell of ``cells``, its detail's best correlation with a frame ago, and spreads.

    gray, gray_before: (H, W) uint8 luma now and a frame ago; cells: (rows, cols) bool, the
    cells to measure (row-major order of the result). For each cell, the normalised correlation
    (Pearson, -1..1) of its ``cell`` x ``cell`` pixels of :func:`detail` now with the same-size
    block of the frame before's at every shift within ``search`` pixels (padded by edge
    replication), the best of them. The detail, not the luma: a smooth ramp left where an
    edge moved away correlates with the edge, but has no detail. A block whose detail is flat
    now (std < :data:`FLAT_STD`) scores NaN: nothing of the scene is left to match
    (:func:`layer_regions` judges it by what its region kept). Returns a :class:`DetailMatch`
    of (n,) arrays.
    """
    rows, cols = np.nonzero(cells)
    if rows.size == 0:
        empty = np.zeros(0, dtype=np.float32)
        return DetailMatch(empty, empty, empty)
    # Only the cells' bounding box (and the search around it) is filtered: a few cells of a
    # 720p frame, not the frame (two full-frame blurs took 9 ms).
    first_row, first_col = int(rows.min()) * cell, int(cols.min()) * cell
    last_row, last_col = (int(rows.max()) + 1) * cell, (int(cols.max()) + 1) * cell
    now = _detail_over(gray, first_row, last_row, first_col, last_col)
    before = _detail_over(
        gray_before, first_row - search, last_row + search, first_col - search, last_col + search
    )
    rows, cols = rows - rows.min(), cols - cols.min()
    top, left = rows * cell, cols * cell
    offsets = np.arange(cell)
    block_rows = (top[:, None] + offsets[None, :])[:, :, None]  # (n, cell, 1)
    block_cols = (left[:, None] + offsets[None, :])[:, None, :]  # (n, 1, cell)
    blocks = now[block_rows, block_cols]  # (n, cell, cell)
    centred = blocks.reshape(rows.size, -1)
    centred = centred - centred.mean(axis=1, keepdims=True)
    norms = np.sqrt((centred * centred).sum(axis=1))
    # Pearson correlation at every shift within the search: OpenCV's TM_CCOEFF_NORMED over
    # the block's search area (a window with no variance scores 0), 1.6-2.3x faster than the
    # 81 shifts as numpy arrays (docs/benchmarks.md, "Detection since the lens rules").
    span = cell + 2 * search
    best = np.empty(rows.size, dtype=np.float32)
    for index, (y, x) in enumerate(zip(top, left, strict=True)):
        area = before[y : y + span, x : x + span]
        scores = cv2.matchTemplate(area, blocks[index], cv2.TM_CCOEFF_NORMED)
        best[index] = scores.max()
    flat = norms < np.float32(FLAT_STD * cell)  # std = norm / sqrt(cell * cell)
    best[flat] = np.nan
    windows = sliding_window_view(before, (cell, cell))  # (H', W', cell, cell), no copy
    in_place = windows[top + search, left + search].reshape(rows.size, -1)
    spread_before = in_place.std(axis=1).astype(np.float32)
    return DetailMatch(best, norms / np.float32(cell), spread_before)


def _detail_over(gray: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """(bottom - top, right - left) float32: :func:`detail` of ``gray`` over that pixel box.

    The box may reach beyond the frame: the detail is padded there by edge replication. The
    blur reads a halo of its kernel's radius around the box, so the values are the full
    frame's.
    """
    height, width = gray.shape
    halo = int(round(DETAIL_SIGMA * 4))  # OpenCV's float kernel radius for this sigma
    y0, y1 = max(0, top - halo), min(height, bottom + halo)
    x0, x1 = max(0, left - halo), min(width, right + halo)
    values = detail(gray[y0:y1, x0:x1])
    pad = (
        (max(0, y0 - top), max(0, bottom - y1)),
        (max(0, x0 - left), max(0, right - x1)),
    )
    values = np.pad(values, pad, mode="edge")
    row, col = top - y0 + pad[0][0], left - x0 + pad[1][0]
    return values[row : row + bottom - top, col : col + right - left]


def layer_levels(
    gray: np.ndarray, gray_before: np.ndarray, texture: np.ndarray, texture_before: np.ndarray
) -> np.ndarray:
    """(rows, cols) float32: the level ``L`` of a layer that would explain each cell's change.

    With ``k`` the share of the detail kept (``texture / texture_before``, at most 0.99), a layer
    of opacity ``1 - k`` gives ``gray = (1 - k) * L + k * gray_before``, so
    ``L = (gray - k * gray_before) / (1 - k)``. A shadow or an exposure drop scales level and
    detail alike: ``L`` near 0. All grids (rows, cols) float32 (the befores with the gain).
    """
    kept = np.minimum(texture / np.maximum(texture_before, np.float32(1e-3)), np.float32(0.99))
    return (gray - kept * gray_before) / (np.float32(1.0) - kept)


def layer_regions(
    candidates: np.ndarray, labels: np.ndarray, match: DetailMatch, min_correlation: float
) -> np.ndarray:
    """(rows, cols) bool: the regions of ``candidates`` whose cells kept the scene's detail.

    labels: (rows, cols) int32 region number of each candidate cell (0 elsewhere, e.g. from
    ``cv2.connectedComponents``); match: the cells' :func:`best_correlation`, in the row-major
    order of ``candidates``. A region is kept when the median of its cells' correlations is at
    least ``min_correlation``. A cell faded flat (NaN) is judged by the share of detail its
    region's other cells kept (the median of their spread now over before): where that share
    of its detail before would be flat too (below ``FLAT_SLACK`` x :data:`FLAT_STD`), a dense
    film explains it and it does not vote; where it would not, the detail went elsewhere (an
    edge moved away) and it votes 0. A region none of whose cells still shows detail is
    dropped.
    """
    region_of = labels[candidates]
    keep = np.zeros(int(labels.max()) + 1, dtype=bool)
    flat = np.isnan(match.correlation)
    for region in np.unique(region_of):
        cells = region_of == region
        voting = cells & ~flat
        if not voting.any():
            continue
        ratio = match.spread[voting] / np.maximum(match.spread_before[voting], np.float32(1e-3))
        kept = float(np.median(np.minimum(ratio, 1.0)))
        faded = cells & flat & (kept * match.spread_before < FLAT_SLACK * FLAT_STD)
        scores = np.where(flat, 0.0, match.correlation)[cells & ~faded]
        keep[region] = np.median(scores) >= min_correlation
    keep[0] = False
    return keep[labels]


def colour_levels(shares: tuple[np.ndarray, np.ndarray], gray: np.ndarray) -> np.ndarray:
    """(rows, cols) float32: how far each cell's colour stands from grey, in levels.

    shares: (blue, red) (rows, cols) float32 shares of the cells' mean colour (0-255, grey
    255 / 3 in both); gray: (rows, cols) float32 their luma. The offset in shares times the
    channels' sum over 255 (the sum taken as 3 x luma).
    """
    grey = np.float32(255.0 / 3.0)
    blue, red = shares[0] - grey, shares[1] - grey
    return np.sqrt(blue * blue + red * red) * gray * np.float32(3.0 / 255.0)  # hypot: 3x slower


def faded_colours(
    shares: tuple[np.ndarray, np.ndarray],
    shares_before: tuple[np.ndarray, np.ndarray],
    gray_before: np.ndarray,
    min_colour: float,
    ratio: float,
) -> np.ndarray:
    """(rows, cols) bool: cells whose colour faded toward grey in place, keeping its hue.

    shares, shares_before: (blue, red) float32 shares of the cells' mean colour
    (``CellStats.chromaticity``, 0-255; grey is 255 / 3 in both) now and in the cells' last
    looks of scene; gray_before: float32 luma of those looks; all of one shape, (rows, cols)
    or (n,) for chosen cells. Under a grey layer of opacity ``a`` a colour's offset from grey
    in shares becomes ``q`` times its own, ``q = (1 - a) x S_before / S`` (``S`` the
    channels' sum, about 3 x luma): the same hue, closer to grey. A cell is faded when its
    colour before stood at least ``min_colour`` levels from grey (as :func:`colour_levels`
    measures it: shares of dark pixels move with a level of codec noise), and its offset now,
    projected on the old one, is between 0 and ``ratio`` of it with at most ``ratio`` of the
    old offset left across it. Exposure and lighting scale the channels alike and keep the
    shares; a coloured object or mud brings a hue of its own.
    """
    grey = np.float32(255.0 / 3.0)
    blue_before, red_before = shares_before[0] - grey, shares_before[1] - grey
    blue, red = shares[0] - grey, shares[1] - grey
    length_sq = blue_before * blue_before + red_before * red_before
    # Squared forms, no root or division (a full 720p grid each frame): |offset| in levels >=
    # min_colour, 0 <= q <= ratio with q = dot / |offset|^2, |cross| / |offset| <= ratio |offset|.
    scale = gray_before * np.float32(3.0 / 255.0)
    coloured = length_sq * scale * scale >= np.float32(min_colour) ** 2
    coloured &= length_sq > np.float32(1e-6)
    dot = blue * blue_before + red * red_before
    cross = blue * red_before - red * blue_before
    limit = np.float32(ratio)
    faded = coloured & (dot >= 0.0) & (dot <= limit * length_sq)
    return faded & (cross * cross <= limit * limit * length_sq * length_sq)


def faded_layer_levels(
    shares: tuple[np.ndarray, np.ndarray],
    shares_before: tuple[np.ndarray, np.ndarray],
    gray: np.ndarray,
    gray_before: np.ndarray,
) -> np.ndarray:
    """(rows, cols) float32: the level ``L`` of a grey layer that would fade each cell's colour.

    The share ``q`` of the colour's offset from grey left (its projection on the old offset,
    clipped to [0, 0.99]) is ``k x S_before / S`` for a layer leaving ``k`` of the scene, the
    channels' sums taken as 3 x luma: ``k = q x gray / gray_before``. Then ``gray = (1 - k) x
    L + k x gray_before`` gives ``L = gray x (1 - q) / (1 - k)``. A shadow keeps the shares
    (``q`` 1: ``L`` 0); a film of the sky's brightness gives about the sky's level. All grids
    (rows, cols) float32, as :func:`faded_colours` takes them.
    """
    grey = np.float32(255.0 / 3.0)
    blue_before, red_before = (share - grey for share in shares_before)
    length_sq = blue_before * blue_before + red_before * red_before
    along = ((shares[0] - grey) * blue_before + (shares[1] - grey) * red_before) / np.maximum(
        length_sq, np.float32(1e-6)
    )
    kept = np.clip(along, np.float32(0.0), np.float32(0.99))
    scene_left = np.minimum(kept * gray / np.maximum(gray_before, np.float32(1.0)), 0.99)
    return gray * (np.float32(1.0) - kept) / (np.float32(1.0) - scene_left)


def touching_edge(regions: np.ndarray) -> np.ndarray:
    """(rows, cols) bool: the 8-connected ``regions`` with a cell on the frame's edge."""
    count, labels = cv2.connectedComponents(regions.view(np.uint8), connectivity=8)
    edge = np.zeros(count, dtype=bool)
    for border in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        edge[border] = True
    edge[0] = False
    return edge[labels]

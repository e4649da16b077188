"""A new scene, not a failure: the part of the frame that does not look failed is new too.

When a camera switches, a stream restarts or a folder of stills plays as a video, most of the
image takes content that no cell near it showed a frame ago. A cut to a night scene makes most
cells dark at once, which is also what a dead sensor does; what tells them apart is the rest of
the frame. A failure leaves it alone: the scene beside a dead block, a burst of lost patches or
mud on the lens goes on from the previous frame. A cut replaces it: its lit cells match nothing
near them a frame ago, all over the frame.

Functions work on (rows, cols) cell grids of mean luma; the detector (``detector.py``) glues
them in.
"""

from __future__ import annotations

import cv2
import numpy as np

# New cells count as spread over the candidates within this share of the frame height.
SPREAD_REACH = 0.125


def match_tolerance(gray: np.ndarray, ratio: float, floor: float, ceiling: float) -> np.ndarray:
    """(rows, cols) float32: how far from its level a cell may find its match a frame ago.

    ``ratio`` of the cell's mean luma ``gray``, between ``floor`` and ``ceiling``: dim content
    (a night road at 20-40) barely changes between frames of a continuing scene, while a fixed
    tolerance of 12 would match it with almost anything dim the previous scene showed.
    """
    return np.clip(np.float32(ratio) * gray, np.float32(floor), np.float32(ceiling))


def unmatched(
    gray: np.ndarray, previous: np.ndarray, level: float | np.ndarray, reach: int
) -> np.ndarray:
    """(rows, cols) bool: cells matching no level within ``reach`` cells a frame ago.

    A cell is matched when a cell within reach had a level within ``level`` (a number, or
    per cell) of its own.

    gray, previous: (rows, cols) float32 mean luma (``previous`` already scaled by the global
    gain). Natural motion between frames moves content by a cell or two, so a continuing scene
    finds its level near by; a new scene mostly does not.
    """
    rows, cols = gray.shape
    padded = np.pad(previous, reach, mode="edge")
    new = np.ones(gray.shape, dtype=bool)
    for dy in range(2 * reach + 1):
        for dx in range(2 * reach + 1):
            new &= np.abs(gray - padded[dy : dy + rows, dx : dx + cols]) > level
    return new


def changed_in_place(
    candidates: np.ndarray, gray: np.ndarray, previous: np.ndarray, level: float | np.ndarray
) -> np.ndarray:
    """(rows, cols) bool: the ``candidates`` whose level moved by more than ``level`` in place.

    gray, previous: (rows, cols) float32 mean luma (``previous`` scaled by the gain). A bound
    on what a cut can make new: a cell that kept its level is matched by itself.
    """
    return candidates & (np.abs(gray - previous) > level)


def new_everywhere(
    candidates: np.ndarray,
    gray: np.ndarray,
    previous: np.ndarray,
    level: float | np.ndarray,
    share: float,
    spread: float,
    reach: int = 2,
    changed: np.ndarray | None = None,
) -> bool:
    """Whether the unfailed part of the frame is new scene, all over the frame.

    candidates: (rows, cols) bool, the cells lit a frame ago that do not look failed now and
    were not flagged. previous: the previous frame's (rows, cols) mean luma scaled by the gain
    of an exposure change. True when at least ``share`` of the candidates match nothing within
    ``reach`` cells a frame ago (:func:`unmatched` at ``level``, a number or
    :func:`match_tolerance` per cell) and the new ones are spread among them: at least
    ``spread`` of the candidates lie within ``SPREAD_REACH`` of the frame height of a new
    cell (a veil or mud on the lens changes one compact part of the frame, a cut all of it).
    ``changed``: :func:`changed_in_place` of the same arguments when the caller has it.
    """
    count = int(np.count_nonzero(candidates))
    if count == 0:
        return False
    # Cheap bound first: a cell matched at its own place is matched (most frames end here).
    if changed is None:
        changed = changed_in_place(candidates, gray, previous, level)
    new = changed.copy()
    if np.count_nonzero(new) < share * count:
        return False
    new &= unmatched(gray, previous, level, reach)
    if np.count_nonzero(new) < share * count:
        return False
    reach_cells = max(1, round(SPREAD_REACH * gray.shape[0]))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * reach_cells + 1,) * 2)
    near_new = cv2.dilate(new.view(np.uint8), kernel).view(bool)
    return np.count_nonzero(candidates & near_new) >= spread * count


# The structure test: blocks of BLOCK_CELLS x BLOCK_CELLS cells, matched at 2 x 2 pixels per
# cell (a quarter of the resolution with 8-pixel cells; an 8 x 8 template per block).
BLOCK_CELLS = 4
# A block is judged when its content has this contrast (standard deviation of the reduced
# luma, gray levels): flatter blocks (sky, road, night) match anything and nothing alike.
BLOCK_MIN_CONTRAST = 3.0
# ... and is new when its best normalised correlation within reach a frame ago is below this.
BLOCK_MATCH = 0.5
# Judged on at least this many blocks (a few textured blocks say nothing of the frame), and at
# most this many, evenly over the textured ones (a match costs ~10 us: a 720p frame has ~880).
MIN_BLOCKS = 12
MAX_BLOCKS = 128
MATCHING = cv2.TM_CCOEFF_NORMED  # normalised correlation: free of gain and offset
# A block is searched within this share of the frame height per nominal frame interval: on the
# development clips and their derived copies every continuing frame's new share stayed <= 0.48
# (p99 <= 0.12) and bikes' five cuts gave 0.66-0.84; twice the reach let cuts find look-alikes
# (0.52-0.63).
MATCH_REACH = 0.03


def new_structure_everywhere(
    gray: np.ndarray,
    previous: np.ndarray,
    candidates: np.ndarray,
    cell: int,
    reach_px: int,
    share: float,
    spread: float,
) -> bool:
    """Whether the unfailed part of the frame shows content found nowhere near a frame ago.

    The level test (:func:`new_everywhere`) compares cells' mean levels; in a dim or flat-lit
    scene (dusk, a harsh tone curve) every level lies near many others, and a cut's cells find
    a look-alike a cell away. Structure does not scale with the light: each textured block of
    :data:`BLOCK_CELLS` cells is matched against the previous frame by normalised correlation
    (invariant to gain and offset), anywhere within ``reach_px``; a continuing scene finds its
    blocks there, a cut does not.

    gray, previous: (H, W) uint8 luma of this frame and the previous one. candidates: (rows,
    cols) bool cells the test may read (not failed-looking, not flagged; a block is judged
    when all its cells are candidates). True when at least ``share`` of at least
    :data:`MIN_BLOCKS` judged blocks are new and ``spread`` of the judged blocks lie within
    :data:`SPREAD_REACH` of the frame height of a new one (mud smearing one compact part of
    the lens is no cut).
    """
    rows, cols = gray.shape[0] // (BLOCK_CELLS * cell), gray.shape[1] // (BLOCK_CELLS * cell)
    if rows == 0 or cols == 0:
        return False
    judged_cells = candidates[: rows * BLOCK_CELLS, : cols * BLOCK_CELLS]
    whole = judged_cells.reshape(rows, BLOCK_CELLS, cols, BLOCK_CELLS).all(axis=(1, 3))
    if np.count_nonzero(whole) < MIN_BLOCKS:
        return False
    side = 2 * BLOCK_CELLS  # a block's side in reduced pixels
    size = (cols * side, rows * side)
    area = (slice(0, rows * BLOCK_CELLS * cell), slice(0, cols * BLOCK_CELLS * cell))
    now = cv2.resize(gray[area], size, interpolation=cv2.INTER_AREA).astype(np.float32)
    before = cv2.resize(previous[area], size, interpolation=cv2.INTER_AREA).astype(np.float32)
    contrast = now.reshape(rows, side, cols, side).std(axis=(1, 3))
    picks = np.argwhere(whole & (contrast >= BLOCK_MIN_CONTRAST))
    if len(picks) < MIN_BLOCKS:
        return False
    if len(picks) > MAX_BLOCKS:  # evenly over the textured blocks, row by row
        picks = picks[np.linspace(0, len(picks) - 1, MAX_BLOCKS).round().astype(int)]
    reach = max(1, round(reach_px * side / (BLOCK_CELLS * cell)))
    height, width = before.shape
    judged = np.zeros(whole.shape, dtype=bool)
    new = np.zeros(whole.shape, dtype=bool)
    for row, col in picks.tolist():
        top, left = row * side, col * side
        window = before[
            max(0, top - reach) : min(height, top + side + reach),
            max(0, left - reach) : min(width, left + side + reach),
        ]
        scores = cv2.matchTemplate(window, now[top : top + side, left : left + side], MATCHING)
        judged[row, col] = True
        # A flat window scores 0 against any block (OpenCV's guard), never NaN.
        new[row, col] = cv2.minMaxLoc(scores)[1] < BLOCK_MATCH
    count = int(np.count_nonzero(judged))
    if count < MIN_BLOCKS or np.count_nonzero(new) < share * count:
        return False
    reach_blocks = max(1, round(SPREAD_REACH * rows))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * reach_blocks + 1,) * 2)
    near_new = cv2.dilate(new.view(np.uint8), kernel).view(bool)
    return np.count_nonzero(judged & near_new) >= spread * count

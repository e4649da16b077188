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


def new_everywhere(
    candidates: np.ndarray,
    gray: np.ndarray,
    previous: np.ndarray,
    level: float | np.ndarray,
    share: float,
    spread: float,
    reach: int = 2,
) -> bool:
    """Whether the unfailed part of the frame is new scene, all over the frame.

    candidates: (rows, cols) bool, the cells lit a frame ago that do not look failed now and
    were not flagged. previous: the previous frame's (rows, cols) mean luma scaled by the gain
    of an exposure change. True when at least ``share`` of the candidates match nothing within
    ``reach`` cells a frame ago (:func:`unmatched` at ``level``, a number or
    :func:`match_tolerance` per cell) and the new ones are spread among them: at least
    ``spread`` of the candidates lie within ``SPREAD_REACH`` of the frame height of a new
    cell (a veil or mud on the lens changes one compact part of the frame, a cut all of it).
    """
    count = int(np.count_nonzero(candidates))
    if count == 0:
        return False
    # Cheap bound first: a cell matched at its own place is matched (most frames end here).
    new = candidates & (np.abs(gray - previous) > level)
    if np.count_nonzero(new) < share * count:
        return False
    new &= unmatched(gray, previous, level, reach)
    if np.count_nonzero(new) < share * count:
        return False
    reach_cells = max(1, round(SPREAD_REACH * gray.shape[0]))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * reach_cells + 1,) * 2)
    near_new = cv2.dilate(new.view(np.uint8), kernel).view(bool)
    return np.count_nonzero(candidates & near_new) >= spread * count

"""Measures of whole rows and columns of a luma image: dead lines and lost rows.

A readout fault kills whole rows or columns (dark, flat, across a lit image, breaking it); a
transmission loss fills the rows to the bottom with one colour or a repeat of the last good row.
These measures are stateless; :class:`~frame_restore_ros.detection.detector.FailureDetector`
keeps the lines' history (``onset.RowHysteresis``).
"""

from __future__ import annotations

import cv2
import numpy as np


def lines_change(gray: np.ndarray, before: np.ndarray, lines: np.ndarray) -> float:
    """Mean |luma change| since ``before`` over all the rows among ``lines`` together."""
    index = np.flatnonzero(lines)
    return float(np.abs(gray[index].astype(np.int16) - before[index]).mean())


def lines_moved(
    gray: np.ndarray, before: np.ndarray | None, lines: np.ndarray, level: float
) -> np.ndarray:
    """(H,) bool: rows among ``lines`` whose mean |luma change| since ``before`` >= ``level``."""
    moved = np.zeros(gray.shape[0], dtype=bool)
    index = np.flatnonzero(lines)
    if before is None or not index.size:
        return moved
    change = np.abs(gray[index].astype(np.int16) - before[index]).mean(axis=1)
    moved[index] = change >= level
    return moved


def lines_broken(gray: np.ndarray, lines: np.ndarray, level: float) -> np.ndarray:
    """(H,) bool: rows among ``lines`` that break the image around them.

    Each run of consecutive ``lines`` rows is compared with the mean of the two rows just
    outside it (one at the frame's edge); a row of the run is broken when its mean |luma -
    that mean| >= ``level``. A readout fault cuts through the scene; a dark band of scene
    continues the rows beside it.
    """
    broken = np.zeros(gray.shape[0], dtype=bool)
    if not lines.any():
        return broken
    edges = np.diff(np.concatenate(([0], lines.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    for start, stop in zip(starts, stops, strict=True):
        outside = [row for row in (start - 1, stop) if 0 <= row < gray.shape[0]]
        if not outside:  # every row looks dead: nothing to compare with
            broken[start:stop] = True
            continue
        around = gray[outside].astype(np.float32).mean(axis=0)
        breaks = np.abs(gray[start:stop].astype(np.float32) - around).mean(axis=1)
        broken[start:stop] = breaks >= level
    return broken


def lines_uniform(gray: np.ndarray, lines: np.ndarray, level: float) -> np.ndarray:
    """(H,) bool: rows among ``lines`` whose luma std along the row is <= ``level``.

    A readout fault reads one value along its whole length (and sensor noise); a dark band of
    scene follows the scene along it, smoothly enough to look flat pixel to pixel.
    """
    uniform = np.zeros(gray.shape[0], dtype=bool)
    index = np.flatnonzero(lines)
    if index.size:
        uniform[index] = gray[index].std(axis=1) <= level
    return uniform


def lit_nearby(means: np.ndarray, lit: float, reach: int = 6) -> np.ndarray:
    """Per line: is a line ``reach`` away (either side) lit? Dead lines cross a lit image."""
    padded = np.pad(means, reach, mode="edge")
    neighbours = np.maximum(padded[: -2 * reach], padded[2 * reach :])
    return neighbours >= lit


def line_means(image: np.ndarray, axis: int) -> np.ndarray:
    """Mean of a uint8 image along ``axis`` (1: per row, 0: per column) as a 1-D float32 array."""
    dim = 1 if axis == 1 else 0
    return cv2.reduce(image, dim, cv2.REDUCE_AVG, dtype=cv2.CV_32F).ravel()


def flatness(lines: np.ndarray, axis: int) -> np.ndarray:
    """Mean |difference| between neighbouring pixels along each line (rows: axis 1) of uint8."""
    if lines.size == 0:
        return np.zeros(lines.shape[1 - axis], dtype=np.float32)
    return np.abs(np.diff(lines.astype(np.int16), axis=axis)).mean(axis=axis)


def bottom_run(gray: np.ndarray, level: float, chunk: int = 32) -> int:
    """Rows at the bottom of (H, W) uint8 ``gray`` each within ``level`` of the row above.

    Row pairs are compared from the bottom up, ``chunk`` at a time, and only until one differs:
    usually the first chunk decides. Returns the run's length in rows (0: the last row differs
    from the one above it; H: every row equals its neighbour).
    """
    height = gray.shape[0]
    if height < 2:
        return 0
    end = height  # rows [start, end) are compared pairwise in this chunk
    while end > 1:
        start = max(0, end - chunk - 1)
        block = gray[start:end]
        same = line_means(cv2.absdiff(block[1:], block[:-1]), axis=1) <= level
        if not same.all():
            if end == height and not same[-1]:
                return 0
            differing = int(np.flatnonzero(~same)[-1])  # pair (start + d, start + d + 1)
            return height - (start + differing + 1)
        end = start + 1
    return height

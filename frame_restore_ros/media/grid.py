"""Mapping between full-resolution pixel masks and a coarse cell grid (the model's patch grid).

Both directions use the same cell edges, ``round(linspace(0, length, count + 1))``, so a mask made
from cells maps back to exactly those cells.
"""

from __future__ import annotations

import numpy as np


def cell_edges(length: int, count: int) -> np.ndarray:
    """(count + 1,) int pixel edges of ``count`` cells spanning ``length`` pixels."""
    if count < 1 or length < count:
        raise ValueError(f"cannot split {length} pixels into {count} cells")
    return np.linspace(0, length, count + 1).round().astype(int)


def pixels_to_cells(failed: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(H, W) bool -> (rows, cols) bool: a cell is failed if any pixel under it is."""
    height, width = failed.shape
    rows, cols = grid
    if height < rows or width < cols:
        raise ValueError(f"frame {height}x{width} is smaller than the patch grid {rows}x{cols}")
    per_row = np.logical_or.reduceat(failed, cell_edges(height, rows)[:-1], axis=0)
    return np.logical_or.reduceat(per_row, cell_edges(width, cols)[:-1], axis=1)


def cells_to_pixels(cells: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(rows, cols) array -> (H, W) array of the same dtype, each cell covering its pixel block."""
    rows, cols = cells.shape
    row_sizes = np.diff(cell_edges(shape[0], rows))
    col_sizes = np.diff(cell_edges(shape[1], cols))
    return np.repeat(np.repeat(cells, row_sizes, axis=0), col_sizes, axis=1)

"""Mapping between full-resolution pixel masks and a coarse cell grid (the model's patch grid).

Both directions use the same cell edges, ``round(linspace(0, length, count + 1))``, so a mask made
from cells maps back to exactly those cells.
"""

from __future__ import annotations

import cv2
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
    # Reduced over the cells the failed pixels' bounding box touches only (a block: a fraction
    # of the frame); the other cells have no failed pixel.
    cells = np.zeros(grid, dtype=bool)
    left, top, box_w, box_h = cv2.boundingRect(failed.view(np.uint8))
    if box_w == 0:
        return cells
    row_edges, col_edges = cell_edges(height, rows), cell_edges(width, cols)
    first_row = int(np.searchsorted(row_edges, top, "right")) - 1
    end_row = int(np.searchsorted(row_edges, top + box_h, "left"))
    first_col = int(np.searchsorted(col_edges, left, "right")) - 1
    end_col = int(np.searchsorted(col_edges, left + box_w, "left"))
    row_starts, col_starts = row_edges[first_row:end_row], col_edges[first_col:end_col]
    box = failed[row_starts[0] : row_edges[end_row], col_starts[0] : col_edges[end_col]]
    per_row = np.logical_or.reduceat(box, row_starts - row_starts[0], axis=0)
    cells[first_row:end_row, first_col:end_col] = np.logical_or.reduceat(
        per_row, col_starts - col_starts[0], axis=1
    )
    return cells


def cells_to_pixels(cells: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(rows, cols) array -> (H, W) array of the same dtype, each cell covering its pixel block."""
    rows, cols = cells.shape
    row_sizes = np.diff(cell_edges(shape[0], rows))
    col_sizes = np.diff(cell_edges(shape[1], cols))
    return np.repeat(np.repeat(cells, row_sizes, axis=0), col_sizes, axis=1)

"""Per-cell image statistics for failure detection, computed with a few fast OpenCV passes.

The frame is padded (edge replicate) to a multiple of the cell size, then every statistic is a
uint8 image reduced to one value per cell by a box average. For a power-of-two cell (the default
8) that is a chain of 2x ``INTER_AREA`` halvings, OpenCV's fast path: 0.2 ms per statistic of a
1920x1080 frame against 1.1 ms for one 8x ``INTER_AREA`` resize, within 1 gray level of it (each
halving rounds). It is used for the share of changed pixels only: that share is only ever
compared with 0, which the halvings keep exactly (one changed pixel: 255 -> 64 -> 16 -> 4), so
every decision is the same as with the one resize. Luma, texture and motion, whose thresholds
sit at a level or two (dark and flat cells, frozen tiles), and other cell sizes use the one
resize (measured: with halvings for texture, a night clip's smeared rows became whole-frame
losses; for luma, dead-line precision moved).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# Above this share of the grid selected, cell_share_at_least counts over the whole frame at once.
WHOLE_GRID_SHARE = 0.3  # measured crossover at 720p: 0.35 ms either way


@dataclass
class CellStats:
    """Statistics of one frame on a grid of ``cell`` x ``cell`` pixel cells.

    Attributes:
        gray: (rows, cols) float32 mean luma per cell, 0-255.
        frame: the (H, W, 3) uint8 BGR frame itself (for per-cell colour on demand,
            :meth:`mean_bgr`: most cells never need it).
        texture: (rows, cols) float32 mean |Laplacian| of luma (saturates at 255).
        changed: (rows, cols) float32 fraction of pixels whose luma moved by more than
            ``change_level`` since the previous frame (NaN when there is no previous frame).
        motion: (rows, cols) float32 mean |luma difference| to the previous frame, 0-255 (NaN
            when there is no previous frame).
        gray_full: (H, W) uint8 luma of the unpadded frame (kept for the next frame's diff).
    """

    gray: np.ndarray
    frame: np.ndarray
    texture: np.ndarray
    changed: np.ndarray
    motion: np.ndarray
    gray_full: np.ndarray
    cell: int = 8

    def chromaticity(self) -> tuple[np.ndarray, np.ndarray]:
        """(blue, red) (rows, cols) float32 shares of each cell's mean colour, 0-255.

        B / (B + G + R) and R / (B + G + R), scaled to 255: an exposure or lighting change
        scales the three channels alike and leaves them; a brown or grey layer moves them.
        Per-channel arithmetic (numpy's reductions over a last axis of 3 cost 8x more).
        """
        means = _cell_mean(pad_to_cells(self.frame, self.cell), self.gray.shape)
        blue, green, red = (channel.astype(np.float32) for channel in cv2.split(means))
        scale = np.float32(255.0) / (blue + green + red + np.float32(1.0))
        return blue * scale, red * scale

    def mean_bgr(self, cells: np.ndarray) -> np.ndarray:
        """(n, 3) float32 mean colour of the True cells of (rows, cols) bool ``cells``."""
        if not cells.any():
            return np.zeros((0, 3), dtype=np.float32)
        return self._cell_pixels(cells).mean(axis=1, dtype=np.float32)

    def one_value(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per True cell of ``cells``: its share of pixels of one colour, and that colour.

        Returns (n,) float32 shares and (n, 3) uint8 BGR colours. The colour is the cell's
        centre pixel, the share counts the pixels whose three channels all equal it: a decoder's
        fill writes one value, so a cell inside it scores 1 (a few pixels its edge or a codec's
        ringing changed do not move the centre); flat scene keeps a level or two of spread
        (sensor noise, the codec, an upscale's interpolation), and no pixel of it has a larger
        share than its most common colour. The centre rather than the median: for the ~2000
        cells of a 75 % burst of fills at 720p the median took 6 ms, this 0.5 ms.
        """
        if not cells.any():
            return np.zeros(0, dtype=np.float32), np.zeros((0, 3), dtype=np.uint8)
        pixels = self._cell_pixels(cells)
        middle = self.cell // 2
        centre = pixels[:, middle * self.cell + middle]  # row-major within the cell
        # Channel by channel: numpy's all() over a last axis of 3 took 6x longer.
        same = pixels[..., 0] == centre[:, None, 0]
        same &= pixels[..., 1] == centre[:, None, 1]
        same &= pixels[..., 2] == centre[:, None, 2]
        share = np.count_nonzero(same, axis=1).astype(np.float32) / np.float32(same.shape[1])
        return share, centre

    def _cell_pixels(self, cells: np.ndarray) -> np.ndarray:
        """(n, cell * cell, 3) uint8: the pixels of each True cell, row-major within the cell."""
        padded = pad_to_cells(self.frame, self.cell)
        rows, cols = padded.shape[0] // self.cell, padded.shape[1] // self.cell
        blocks = padded.reshape(rows, self.cell, cols, self.cell, 3)
        r, c = np.nonzero(cells)
        return blocks[r, :, c, :, :].reshape(len(r), -1, 3)


def pad_to_cells(image: np.ndarray, cell: int) -> np.ndarray:
    """Pad bottom/right by edge replication so both sides are multiples of ``cell``."""
    height, width = image.shape[:2]
    bottom, right = (-height) % cell, (-width) % cell
    if bottom == 0 and right == 0:
        return image
    return cv2.copyMakeBorder(image, 0, bottom, 0, right, cv2.BORDER_REPLICATE)


def grid_shape(shape: tuple[int, int], cell: int) -> tuple[int, int]:
    """(rows, cols) of cells covering an (H, W) frame (the last row/col may be partial)."""
    return -(-shape[0] // cell), -(-shape[1] // cell)


def cells_holding(mask: np.ndarray, cell: int) -> np.ndarray:
    """(H, W) uint8 or bool ``mask`` -> (rows, cols) bool: the cells holding a nonzero pixel.

    Cells are ``cell`` x ``cell`` pixels from the top left, the last row and column partial
    (:func:`grid_shape`). A dilation anchored at each pixel's top left takes the maximum of the
    block starting there (nothing beyond the frame's edge), read at each cell's first pixel:
    0.16 ms at 720p, a numpy reduction over the cells 2.6 ms.
    """
    reached = cv2.dilate(mask.view(np.uint8), np.ones((cell, cell), np.uint8), anchor=(0, 0))
    return reached[::cell, ::cell] > 0


def _cell_mean(image: np.ndarray, grid: tuple[int, int], exact: bool = False) -> np.ndarray:
    """(rows * c, cols * c) uint8 image -> (rows, cols) uint8 mean of each c x c cell.

    ``exact``: one rounding (the single resize) instead of one per halving.
    """
    rows, cols = grid
    factor = image.shape[0] // rows
    if (
        not exact
        and factor > 1
        and factor & (factor - 1) == 0
        and image.shape[:2] == (rows * factor, cols * factor)
    ):
        while image.shape[0] > rows:  # 2x halvings: OpenCV's fast INTER_AREA path
            half = (image.shape[1] // 2, image.shape[0] // 2)
            image = cv2.resize(image, half, interpolation=cv2.INTER_AREA)
        return image
    return cv2.resize(image, (cols, rows), interpolation=cv2.INTER_AREA)


def compute_cell_stats(
    frame: np.ndarray, previous_gray: np.ndarray | None, cell: int, change_level: int = 2
) -> CellStats:
    """Compute :class:`CellStats` of a (H, W, 3) uint8 BGR frame.

    ``previous_gray`` is the previous frame's ``gray_full`` (same size) or None.
    """
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    grid = grid_shape(gray.shape, cell)
    padded_gray = pad_to_cells(gray, cell)
    texture = cv2.convertScaleAbs(cv2.Laplacian(padded_gray, cv2.CV_16S))
    if previous_gray is None:
        changed = np.full(grid, np.nan, dtype=np.float32)
        motion = changed.copy()
    else:
        difference = cv2.absdiff(gray, previous_gray)
        moved = cv2.compare(difference, change_level, cv2.CMP_GT)
        changed = _cell_mean(pad_to_cells(moved, cell), grid).astype(np.float32) / 255.0
        # Motion is a few levels on slow scenes, where the halvings' rounding would move the
        # frozen-tile thresholds (measured: urban_overcast 7.3 % of frames altered, not 3.7).
        motion = _cell_mean(pad_to_cells(difference, cell), grid, exact=True).astype(np.float32)
    return CellStats(
        gray=_cell_mean(padded_gray, grid, exact=True).astype(np.float32),
        frame=frame,
        texture=_cell_mean(texture, grid, exact=True).astype(np.float32),
        changed=changed,
        motion=motion,
        gray_full=gray,
        cell=cell,
    )


def _cell_blocks(gray: np.ndarray, cells: np.ndarray, cell: int) -> np.ndarray:
    """(n, cell, cell) float32 luma of the ``cells`` (rows, cols) bool grid's True cells."""
    padded = pad_to_cells(gray, cell)
    rows, cols = padded.shape[0] // cell, padded.shape[1] // cell
    blocks = padded.reshape(rows, cell, cols, cell)
    r, c = np.nonzero(cells)
    return blocks[r, :, c, :].astype(np.float32)


def neighbour_correlation(gray: np.ndarray, cells: np.ndarray, cell: int) -> np.ndarray:
    """Lag-1 correlation of luma inside each selected cell (horizontal and vertical, averaged).

    Scene texture (edges, twigs, text) is smooth at the pixel scale: neighbours correlate
    (0.3-0.9); sensor noise and corruption bursts are independent per pixel (about 0). Only the
    True cells of ``cells`` are measured (the rest are NaN), so the cost follows the candidates.

    gray: (H, W) uint8 luma; cells: (rows, cols) bool. Returns (rows, cols) float32.
    """
    out = np.full(cells.shape, np.nan, dtype=np.float32)
    if not cells.any():
        return out
    blocks = _cell_blocks(gray, cells, cell)
    blocks -= blocks.mean(axis=(1, 2), keepdims=True)
    energy = np.square(blocks).sum(axis=(1, 2)) + 1e-6
    across = (blocks[:, :, :-1] * blocks[:, :, 1:]).sum(axis=(1, 2))
    down = (blocks[:, :-1, :] * blocks[:, 1:, :]).sum(axis=(1, 2))
    out[cells] = 0.5 * (across + down) / energy
    return out


def interior_texture(gray: np.ndarray, cells: np.ndarray, cell: int) -> np.ndarray:
    """Mean |Laplacian| of luma over each selected cell's interior; NaN elsewhere.

    The Laplacian of the cell's outer pixels looks one pixel into its neighbours, so a flat
    cell beside a bright or noisy one has some texture along that side (a dark cell next to a
    noise burst: 10-19 levels, interior 0). The interior ((cell-2)^2 pixels) sees only the
    cell. Only the True cells of ``cells`` are measured, so the cost follows the candidates.

    gray: (H, W) uint8 luma; cells: (rows, cols) bool. Returns (rows, cols) float32.
    """
    out = np.full(cells.shape, np.nan, dtype=np.float32)
    if not cells.any():
        return out
    blocks = _cell_blocks(gray, cells, cell)
    laplacian = (
        4.0 * blocks[:, 1:-1, 1:-1]
        - blocks[:, :-2, 1:-1]
        - blocks[:, 2:, 1:-1]
        - blocks[:, 1:-1, :-2]
        - blocks[:, 1:-1, 2:]
    )
    # Saturated at 255 like the full-frame texture (convertScaleAbs).
    out[cells] = np.minimum(np.abs(laplacian), 255.0).mean(axis=(1, 2))
    return out


def cell_share_at_least(
    gray: np.ndarray, cells: np.ndarray, cell: int, level: float
) -> np.ndarray:
    """Share of pixels with luma >= ``level`` in each selected cell; NaN elsewhere.

    gray: (H, W) uint8 luma; cells: (rows, cols) bool. Returns (rows, cols) float32. Partial
    cells at the bottom and right count their edge pixels repeated (:func:`pad_to_cells`).
    """
    out = np.full(cells.shape, np.nan, dtype=np.float32)
    selected = np.count_nonzero(cells)
    if selected == 0:
        return out
    if selected < WHOLE_GRID_SHARE * cells.size:  # a few cells (most frames): their blocks
        out[cells] = (_cell_blocks(gray, cells, cell) >= level).mean(axis=(1, 2))
        return out
    # Most of the grid (a burst of failures): one pass, summed per cell from the integral
    # image (integer counts: the same shares, 720p ~4x faster than gathering the blocks).
    hits = cv2.compare(pad_to_cells(gray, cell), math.ceil(level), cv2.CMP_GE) & np.uint8(1)
    corners = cv2.integral(hits)[::cell, ::cell]
    counts = corners[1:, 1:] - corners[:-1, 1:] - corners[1:, :-1] + corners[:-1, :-1]
    out[cells] = counts[cells].astype(np.float32) / np.float32(cell * cell)
    return out

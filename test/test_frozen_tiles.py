"""`FrozenTiles` on its own: still runs, liveliness and the frozen-tile rules on exact scenes.

A textured scene pans 3 px a frame (every cell changes and is lively); a tile of it stops by
copying the previous frame's pixels. The detector's tests cover the rules on real footage; here
the module's contract: when a tile is flagged, what it takes, and what it leaves alone.
"""

from __future__ import annotations

import cv2
import numpy as np

from frame_restore_ros.detection.cell_stats import compute_cell_stats
from frame_restore_ros.detection.detector_config import DetectorConfig
from frame_restore_ros.detection.frozen_tiles import FrozenTiles, regions_with_moving_ring
from frame_restore_ros.detection.line_failures import LineFailures
from frame_restore_ros.detection.onset import Hysteresis

SHAPE = (160, 256)  # 20 x 32 cells of the default 8 px
TILE = (slice(48, 112), slice(64, 160))  # 8 x 12 cells
TILE_CELLS = (slice(6, 14), slice(8, 20))


def _texture(seed: int = 3) -> np.ndarray:
    """(H, W + 64) uint8 smooth random texture (blurred noise, std ~30 levels)."""
    noise = np.random.default_rng(seed).normal(128, 60, (SHAPE[0], SHAPE[1] + 64))
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 1.5), 0, 255).astype(np.uint8)


def _panning(count: int) -> list[np.ndarray]:
    """``count`` (H, W, 3) BGR frames of the texture panning 3 px a frame."""
    texture = _texture()
    return [
        cv2.cvtColor(texture[:, 3 * i : 3 * i + SHAPE[1]], cv2.COLOR_GRAY2BGR)
        for i in range(count)
    ]


def _run(frames: list[np.ndarray], config: DetectorConfig | None = None) -> list[np.ndarray]:
    """Feed ``frames`` as the detector does; return the (rows, cols) flagged cells per frame."""
    config = config or DetectorConfig()
    tiles, lines, tracker = FrozenTiles(config), LineFailures(config), Hysteresis(0)
    previous, flagged = None, []
    for frame in frames:
        stats = compute_cell_stats(frame, previous, config.cell, 0)
        nothing = np.zeros(stats.gray.shape, dtype=bool)
        found = tiles.find(stats, nothing, nothing, False, tracker, lines.dark_lines)
        flagged.append(found.copy())
        if previous is None:
            tiles.start(stats.gray.shape)
        else:
            tiles.learn(stats.motion, (stats.changed > 0.0) & ~found)
        previous = stats.gray_full
    return flagged


def _frozen_from(frames: list[np.ndarray], start: int) -> list[np.ndarray]:
    """The frames with TILE showing frame ``start - 1``'s pixels from frame ``start`` on."""
    out = [frame.copy() for frame in frames]
    for frame in out[start:]:
        frame[TILE] = frames[start - 1][TILE]
    return out


def test_a_lively_tile_that_stops_while_the_scene_pans_is_flagged_from_its_second_still_frame():
    flagged = _run(_frozen_from(_panning(10), 7))
    tile_cells = np.zeros(flagged[0].shape, dtype=bool)
    tile_cells[TILE_CELLS] = True
    assert not any(cells.any() for cells in flagged[:8])  # one repeat is what a codec skip shows
    for cells in flagged[8:]:
        assert (cells == tile_cells).all()


def test_nothing_is_flagged_when_the_whole_scene_stops():
    frames = _panning(7)
    flagged = _run(frames + [frames[-1].copy() for _ in range(4)])
    assert not any(cells.any() for cells in flagged)


def test_a_tile_that_never_moved_is_scene_however_the_rest_pans():
    frames = _panning(10)
    for frame in frames:
        frame[TILE] = frames[0][TILE]  # an overlay, a bonnet: still from the first frame
    assert not any(cells.any() for cells in _run(frames))


def test_the_still_runs_count_identical_frames_and_the_frames_moved_before():
    frames = _frozen_from(_panning(10), 7)
    config = DetectorConfig()
    tiles, lines = FrozenTiles(config), LineFailures(config)
    previous = None
    for frame in frames:
        stats = compute_cell_stats(frame, previous, config.cell, 0)
        nothing = np.zeros(stats.gray.shape, dtype=bool)
        tiles.find(stats, nothing, nothing, False, Hysteresis(0), lines.dark_lines)
        if previous is None:
            tiles.start(stats.gray.shape)
        previous = stats.gray_full
    assert (tiles.still[TILE_CELLS] == 3).all()  # frames 7, 8, 9 repeated the tile
    tile_cells = np.zeros(tiles.still.shape, dtype=bool)
    tile_cells[TILE_CELLS] = True
    assert (tiles.still[~tile_cells] == 0).all()
    assert (tiles.moving[TILE_CELLS] == 6).all()  # frames 1-6 changed before the stop


def test_a_region_is_kept_only_when_its_ring_of_two_cells_moves_enough():
    regions = np.zeros((8, 8), dtype=bool)
    regions[3:5, 3:5] = True
    motion = np.zeros((8, 8), dtype=np.float32)
    still = regions.copy()
    assert not regions_with_moving_ring(regions, motion, still, 2.0).any()
    motion[1:7, 1:7] = 2.0  # the ring: the cells within 2 of the region, the region left out
    assert (regions_with_moving_ring(regions, motion, still, 2.0) == regions).all()
    assert not regions_with_moving_ring(regions, motion, still, 2.5).any()
    motion[1, 1:7] = 0.0  # a still row of the ring brings its mean below the level
    assert not regions_with_moving_ring(regions, motion, still, 2.0).any()

"""`FrozenTiles` on its own: still runs, liveliness and the frozen-tile rules on exact scenes.

A textured scene pans 3 px a frame (every cell changes and is lively); a tile of it stops by
copying the previous frame's pixels. The detector's tests cover the rules on real footage; here
the module's contract: when a tile is flagged, what it takes, and what it leaves alone.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

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


def _past_chance(rate: float, still: int, activity: float, cells: int = 12) -> np.ndarray:
    """``FrozenTiles._still_past_chance`` on a 6 x 8 grid whose first ``cells`` cells (row-major)
    stopped together ``still`` frames ago after changing in a share ``rate`` of their frames."""
    tiles = FrozenTiles(DetectorConfig())
    tiles.start((6, 8))
    group = np.zeros((6, 8), dtype=bool)
    group.flat[:cells] = True
    tiles.rate_at_stop[group] = rate
    tiles.still[group] = still
    tiles.activity[group] = activity
    nothing = np.zeros((6, 8), dtype=bool)
    return tiles._stopped_together(tiles._still_past_chance(group), nothing)


def test_a_stop_is_a_freeze_once_the_cells_own_change_rate_makes_it_unlikely():
    # A cell that changed in half its frames stays identical 5 frames with a chance of 3.1 %,
    # 6 frames with 1.6 %: frozen_rate_eps (2 %) is crossed on the sixth still frame.
    assert not _past_chance(0.5, 5, 6.0).any()
    assert _past_chance(0.5, 6, 6.0).sum() == 12
    # Changing in 80 % of frames: 3 still frames (0.8 %) are past chance already.
    assert _past_chance(0.8, 3, 6.0).sum() == 12
    # Content the codec kept more often than not (changed in < 30 % of frames) is never judged
    # by its rate, however long it stays.
    assert not _past_chance(0.25, 40, 6.0).any()


def test_a_stop_past_chance_needs_visible_drift_and_a_tile_that_stopped_together():
    # Expected drift since the stop, activity x rate x still: 1.5 x 0.5 x 8 = 6 < 8 levels.
    assert not _past_chance(0.5, 8, 1.5).any()
    assert _past_chance(0.5, 8, 2.0).sum() == 12  # 8 levels
    # Eleven cells that stopped together are no tile (frozen_min_cells 12).
    assert not _past_chance(0.5, 8, 6.0, cells=11).any()
    tiles = FrozenTiles(DetectorConfig())
    tiles.start((6, 8))
    tiles.rate_at_stop[:] = 0.5
    tiles.activity[:] = 6.0
    tiles.still[:3] = 8  # 24 cells past chance, but in three runs of 8 cells
    tiles.still[0, :] = 9
    tiles.still[1, :] = 10
    nothing = np.zeros((6, 8), dtype=bool)
    past = tiles._still_past_chance(tiles.still > 0)
    assert past.sum() == 24 and not tiles._stopped_together(past, nothing).any()
    tiles.still[:3] = 9  # the same 24 cells, one run
    past = tiles._still_past_chance(tiles.still > 0)
    assert tiles._stopped_together(past, nothing).sum() == 24


def test_a_frozen_tile_ends_as_a_whole():
    # Two macroblocks in the tile's corner stop two frames before the tile freezes and stay
    # (too few to be a tile): the tile takes them, content the codec kept before the freeze
    # within its extent. When the freeze ends they are scene still identical: released with
    # the tile.
    truth = _panning(16)
    frames = [frame.copy() for frame in truth]
    corner = (slice(48, 64), slice(64, 96))  # 2 x 4 cells of the tile's top left corner
    for frame in frames[5:]:
        frame[corner] = truth[4][corner]
    for frame in frames[7:12]:
        frame[TILE] = frames[6][TILE]
    ends_whole, held = _run(frames), _run(frames, DetectorConfig(frozen_end_share=0.0))
    assert ends_whole[11][TILE_CELLS].all() and held[11][TILE_CELLS].all()
    assert not any(cells.any() for cells in ends_whole[12:])
    assert held[12][6:8, 8:12].all()  # without the rule the corner stayed flagged


def test_scene_that_stopped_with_the_tile_is_released_with_it_unless_it_was_live():
    # Part of the tile is scene that brightened by 2 levels a frame (a slow part of the view:
    # moving, but never lively) and stopped in the tile's frame, and stays still once the
    # freeze ends: it stopped with the tile, but nothing in its own history says it froze.
    truth = _panning(16)
    frames = [frame.copy() for frame in truth]
    corner = (slice(48, 64), slice(64, 96))  # 2 x 4 cells of the tile's top left corner
    for index, frame in enumerate(frames):
        frame[corner] = np.clip(truth[0][corner].astype(int) + 2 * min(index, 6), 0, 255)
    for frame in frames[7:12]:
        frame[TILE] = frames[6][TILE]
    ends_whole, held = _run(frames), _run(frames, DetectorConfig(frozen_end_share=0.0))
    assert ends_whole[11][TILE_CELLS].all() and held[11][TILE_CELLS].all()
    assert not any(cells.any() for cells in ends_whole[12:])
    assert held[12][6:8, 8:12].all()


@pytest.mark.parametrize("rows", [2, 4])
def test_a_freeze_that_shrinks_stays_flagged_where_it_goes_on(rows):
    # The tile's freeze ends except in a corner of 2 x 6 cells (too small to be a tile) or
    # 4 x 6 that froze with it and stays frozen: the corner stays flagged.
    frames = _frozen_from(_panning(16), 7)
    truth = _panning(16)
    corner = (slice(48, 48 + 8 * rows), slice(64, 112))
    for index in range(12, 16):
        kept = frames[index][corner].copy()
        frames[index][TILE] = truth[index][TILE]
        frames[index][corner] = kept
    flagged = _run(frames)
    corner_cells = np.zeros(flagged[0].shape, dtype=bool)
    corner_cells[6 : 6 + rows, 8:14] = True
    for cells in flagged[12:]:
        assert (cells == corner_cells).all()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("frozen_rate_eps", 1.0),
        ("frozen_rate_eps", -0.1),
        ("frozen_end_share", 1.0),
        ("frozen_rate_min", 0.0),
        ("frozen_rate_alpha", 1.5),
        ("frozen_rate_activity", float("nan")),
        ("frozen_rate_drift", -1.0),
    ],
)
def test_the_rate_and_end_settings_are_validated(field, value):
    with pytest.raises(ValueError, match=field):
        DetectorConfig(**{field: value})


def test_a_still_run_is_judged_by_the_change_rate_it_began_with_and_a_cut_forgets_it():
    # Changed in every frame for 20 frames, then still: the rate the still run began with is
    # the rate after those 20 changes, 1 - (15/16)^20, whatever the still frames did since.
    frames = _panning(21)
    frames += [frames[-1].copy() for _ in range(5)]
    config = DetectorConfig()
    tiles, lines = FrozenTiles(config), LineFailures(config)
    previous = None
    for index, frame in enumerate(frames):
        stats = compute_cell_stats(frame, previous, config.cell, 0)
        nothing = np.zeros(stats.gray.shape, dtype=bool)
        cut = index == len(frames) - 1
        if cut:
            before = tiles.rate_at_stop.copy()
        tiles.find(stats, nothing, nothing, cut, Hysteresis(0), lines.dark_lines)
        if previous is None:
            tiles.start(stats.gray.shape)
        previous = stats.gray_full
    assert np.allclose(before, 1.0 - (15 / 16) ** 20, atol=1e-5)
    assert not tiles.rate_at_stop.any() and not tiles.change_rate.any()  # the cut

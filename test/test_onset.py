"""Onset helpers (detection/onset.py): the recent-looks memory and the per-cell history."""

from __future__ import annotations

import numpy as np

from frame_restore_ros.detection.onset import (
    CellHistory,
    RecentLooks,
    box_enters_from_edge,
    entering_from_edge,
    release_whole_regions,
    within_extent,
)


def test_recent_looks_keep_the_extremes_of_the_last_frames_only():
    looks = RecentLooks(3)
    rng = np.random.default_rng(0)
    grays = [rng.uniform(0, 255, (4, 5)).astype(np.float32) for _ in range(5)]
    textures = [rng.uniform(0, 50, (4, 5)).astype(np.float32) for _ in range(5)]
    for count, (gray, texture) in enumerate(zip(grays, textures, strict=True), start=1):
        looks.add(gray, texture)
        window = slice(max(0, count - 3), count)
        np.testing.assert_array_equal(looks.min_gray, np.min(grays[window], axis=0))
        np.testing.assert_array_equal(looks.max_gray, np.max(grays[window], axis=0))
        np.testing.assert_array_equal(looks.max_texture, np.max(textures[window], axis=0))
    kept = [grays[3].copy(), grays[4].copy()]
    grays[4][:] = -1.0  # the memory holds copies, not the caller's arrays
    latest = np.full((4, 5), 128.0, np.float32)
    looks.add(latest, textures[0])
    np.testing.assert_array_equal(looks.min_gray, np.min([*kept, latest], axis=0))


def test_recent_looks_restart_after_reset_or_a_new_resolution():
    looks = RecentLooks(4)
    looks.add(np.full((2, 2), 9.0, np.float32), np.zeros((2, 2), np.float32))
    looks.reset()
    looks.add(np.full((2, 2), 5.0, np.float32), np.zeros((2, 2), np.float32))
    assert looks.max_gray.tolist() == [[5.0, 5.0], [5.0, 5.0]]
    looks.add(np.full((3, 1), 7.0, np.float32), np.ones((3, 1), np.float32))
    assert looks.min_gray.shape == (3, 1) and looks.min_gray.min() == 7.0


def test_cell_history_keeps_the_extremes_of_the_last_frames_only():
    history = CellHistory(3)
    rng = np.random.default_rng(0)
    grays = [rng.uniform(0, 255, (4, 5)).astype(np.float32) for _ in range(5)]
    for count, gray in enumerate(grays, start=1):
        history.add(gray)
        assert history.full == (count >= 3) and history.count == min(count, 3)
        darkest, brightest = history.extremes()
        window = slice(max(0, count - 3), count)
        np.testing.assert_array_equal(darkest, np.min(grays[window], axis=0))
        np.testing.assert_array_equal(brightest, np.max(grays[window], axis=0))
        newest = history.newest_first()
        assert len(newest) == min(count, 3)
        for stored, gray in zip(newest, reversed(grays[window]), strict=True):
            np.testing.assert_array_equal(stored, gray)
    grays[4][:] = -1.0  # it holds copies, not the caller's arrays
    assert history.extremes()[0].min() >= 0.0
    history.add(np.ones((2, 2), np.float32))  # a new resolution restarts it
    assert not history.full and history.extremes()[1].shape == (2, 2) and history.count == 1
    history.reset()
    assert history.count == 0
    history.add(np.full((2, 2), 7.0, np.float32))
    assert history.extremes()[0].tolist() == [[7.0, 7.0], [7.0, 7.0]]


def test_release_whole_regions_ends_a_region_that_mostly_stopped_holding():
    """Two flagged regions: the left one holds in 2 of its 6 cells (its block left: released
    whole), the right one in 3 of 4 (kept, with its one released cell still released)."""
    flagged = np.zeros((4, 10), dtype=bool)
    flagged[1:3, 0:3] = True  # 6 cells
    flagged[1:3, 6:8] = True  # 4 cells
    hold = np.zeros_like(flagged)
    hold[1, 0:2] = True
    hold[1:3, 6] = True
    hold[1, 7] = True
    kept = release_whole_regions(flagged, hold, 0.5)
    assert not kept[:, :5].any()
    assert np.array_equal(kept[:, 5:], hold[:, 5:])
    assert np.array_equal(release_whole_regions(flagged, hold, 0.0), hold)
    assert np.array_equal(release_whole_regions(flagged, hold, 0.3), hold)  # 2 of 6 >= 0.3


def test_within_extent_keeps_candidates_inside_each_regions_bounding_box():
    """An L-shaped region spans rows 1-3, cols 1-3; a single cell at (6, 8) spans itself. The
    boxes are per region: the gap between them is outside both."""
    regions = np.zeros((8, 10), dtype=bool)
    regions[1:4, 1] = True
    regions[3, 1:4] = True
    regions[6, 8] = True
    candidates = np.ones_like(regions)
    inside = within_extent(regions, candidates)
    expected = np.zeros_like(regions)
    expected[1:4, 1:4] = True
    expected[6, 8] = True
    assert np.array_equal(inside, expected)
    sparse = np.zeros_like(regions)
    sparse[2, 2] = sparse[5, 5] = True
    assert np.array_equal(within_extent(regions, sparse), sparse & expected)
    assert not within_extent(np.zeros_like(regions), candidates).any()


def test_entering_from_edge_takes_regions_no_deeper_than_a_frames_motion_from_an_edge():
    regions = np.zeros((20, 30), dtype=bool)
    regions[17:20, 4:8] = True  # 3 cells up from the bottom edge: entering
    regions[14:20, 12:16] = True  # 6 cells deep: a block judged as usual
    regions[8:11, 20:24] = True  # off every edge
    regions[0:20, 27:29] = True  # touches top and bottom, 20 cells tall from either
    regions[5:9, 0:2] = True  # 2 cells in from the left edge: entering
    entering = entering_from_edge(regions, depth=4)
    expected = np.zeros_like(regions)
    expected[17:20, 4:8] = True
    expected[5:9, 0:2] = True
    np.testing.assert_array_equal(entering, expected)
    assert not entering_from_edge(regions, depth=0).any(), "no motion: nothing enters"
    assert entering_from_edge(regions, depth=6)[14:20, 12:16].all()


def test_a_box_enters_from_an_edge_it_touches_by_its_depth_from_that_edge():
    shape = (20, 30)  # rows, cols; boxes are (x, y, w, h) in cells
    assert box_enters_from_edge(np.array([4, 17, 4, 3]), shape, 4)  # 3 up from the bottom
    assert not box_enters_from_edge(np.array([12, 14, 4, 6]), shape, 4)  # 6 deep
    assert not box_enters_from_edge(np.array([20, 8, 4, 3]), shape, 4)  # off every edge
    assert box_enters_from_edge(np.array([26, 0, 4, 20]), shape, 4)  # right side, 4 wide
    assert not box_enters_from_edge(np.array([4, 17, 4, 3]), shape, 0)  # no motion

"""The translucent-layer measures (detection/translucent_layer.py) on exact grids and blocks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from frame_restore_ros.detection.translucent_layer import (
    attenuated_cells,
    best_correlation,
    layer_levels,
    layer_regions,
    touching_edge,
)


def test_attenuated_cells_need_detail_before_a_loss_and_a_step():
    before = np.array([[10.0, 10.0, 10.0, 3.0]], np.float32)
    now = np.array([[4.0, 6.0, 4.0, 0.0]], np.float32)
    step = np.array([[12.0, 12.0, -5.0, 30.0]], np.float32)
    found = attenuated_cells(now, before, step, min_texture=6.0, ratio=0.5, min_step=10.0)
    # kept 40 %, stepped | kept 60 % | stepped too little | had no detail to lose
    assert found.tolist() == [[True, False, False, False]]
    darker = attenuated_cells(now, before, -step, 6.0, 0.5, 10.0)
    assert darker.tolist() == [[True, False, False, False]], "a step either way"


def _scene(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, size=shape, dtype=np.uint8)
    return cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 1.2), None, 20, 230, cv2.NORM_MINMAX)


def test_a_faded_scene_that_moved_a_few_pixels_correlates_fully():
    before = _scene((48, 64))
    moved = np.roll(before, (2, -3), axis=(0, 1))  # the camera moved: (+2, -3) px
    faded = np.rint(0.8 * 170 + 0.2 * moved.astype(np.float32)).astype(np.uint8)
    cells = np.zeros((6, 8), bool)
    cells[1:5, 1:7] = True  # away from the rolled border
    found = best_correlation(faded, before, cells, cell=8, search=4)
    assert found.shape == (24,)
    assert found.min() > 0.95, found.min()
    too_far = best_correlation(faded, before, cells, cell=8, search=1)
    assert np.median(too_far) < 0.6, "the shift lies outside a 1 px search"


def test_new_content_does_not_correlate_and_a_flat_block_scores_zero():
    before = _scene((48, 64), seed=1)
    other = _scene((48, 64), seed=2)
    cells = np.ones((6, 8), bool)
    found = best_correlation(other, before, cells, cell=8, search=4)
    assert np.median(found) < 0.75, np.median(found)
    flat = np.full((48, 64), 150, np.uint8)
    assert not best_correlation(flat, before, cells, 8, 4).any(), "no detail left: 0"


def test_best_correlation_pads_frames_that_are_no_multiple_of_the_cell():
    before = _scene((45, 61))
    cells = np.zeros((6, 8), bool)
    cells[-1, -1] = cells[0, 0] = True  # the padded corner cell and the first one
    found = best_correlation(before, before, cells, cell=8, search=2)
    assert found == pytest.approx([1.0, 1.0], abs=1e-5)
    assert best_correlation(before, before, np.zeros((6, 8), bool), 8, 2).shape == (0,)


def test_layer_regions_keep_regions_by_the_median_of_their_cells():
    candidates = np.array([[1, 1, 0, 1], [1, 0, 0, 1]], bool)
    labels = np.array([[1, 1, 0, 2], [1, 0, 0, 2]], np.int32)
    # row-major order of the candidates: (0,0) (0,1) (0,3) (1,0) (1,3)
    correlation = np.array([0.9, 0.95, 0.5, 0.2, 0.9], np.float32)
    kept = layer_regions(candidates, labels, correlation, min_correlation=0.8)
    # region 1: 0.9, 0.95, 0.2 -> median 0.9 kept; region 2: 0.5, 0.9 -> median 0.7 dropped
    assert kept.tolist() == [[True, True, False, False], [True, False, False, False]]


def test_the_layer_level_is_what_the_blend_mixed_in_and_black_for_a_shadow():
    before = np.array([[100.0, 60.0]], np.float32)
    texture_before = np.array([[20.0, 20.0]], np.float32)
    # a veil of level 180 at 75 % opacity: a quarter of the detail kept
    veiled = 0.75 * 180 + 0.25 * before
    levels = layer_levels(veiled, before, texture_before * 0.25, texture_before)
    np.testing.assert_allclose(levels, [[180.0, 180.0]], rtol=1e-5)
    # a shadow keeping 40 % of the light: level and detail scale alike
    shadowed = layer_levels(0.4 * before, before, texture_before * 0.4, texture_before)
    np.testing.assert_allclose(shadowed, [[0.0, 0.0]], atol=1e-4)


def test_touching_edge_takes_whole_regions_with_a_cell_on_the_border():
    regions = np.zeros((6, 7), bool)
    regions[0, 2:4] = regions[1, 3] = regions[2:4, 2:4] = True  # one region from the top edge
    regions[3:5, 5] = True  # a region off every edge
    regions[5, 0] = True  # a corner cell
    touching = touching_edge(regions)
    expected = regions.copy()
    expected[3:5, 5] = False
    assert touching.tolist() == expected.tolist()
    assert not touching_edge(np.zeros((3, 3), bool)).any()

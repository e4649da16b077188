"""Seams of still regions (detection/seams.py): exact steps, grouping, and a frozen tile."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from frame_restore_ros.detection.seams import (
    MIN_EDGES,
    STEP_FLOOR,
    border_steps,
    edge_ratios,
    seam_ratio,
    seamed_regions,
)


def test_border_steps_are_exact_on_a_ramp_with_a_jump():
    # 2 x 3 cells of 8 px: a horizontal ramp of 5 levels per pixel, 30 levels higher from x = 8.
    x = np.arange(24)
    gray = np.tile(np.where(x < 8, 5 * x, 5 * x + 30), (16, 1)).astype(np.uint8)
    region = np.zeros((2, 3), dtype=bool)
    region[0, 0] = True
    live = np.zeros((2, 3), dtype=bool)
    live[0, 1] = live[1, 0] = True
    across, beside, inner = border_steps(gray, region, live, 8)
    # One vertical edge (x = 7 | 8): across |70 - 35| = 35, beside (5 + 5) / 2; one horizontal
    # edge (y = 7 | 8): rows are equal, so no step at all.
    np.testing.assert_array_equal(across, [35.0, 0.0])
    np.testing.assert_array_equal(beside, [5.0, 0.0])
    np.testing.assert_array_equal(inner, [[0, 0], [0, 0]])
    ratios = edge_ratios(across, beside)
    assert ratios[0] == pytest.approx(35.0 / (5.0 + STEP_FLOOR))
    assert np.isnan(ratios[1]), "an edge without texture has no ratio"


def test_border_steps_find_the_region_cell_on_either_side():
    gray = np.zeros((24, 24), dtype=np.uint8)
    region = np.zeros((3, 3), dtype=bool)
    region[1, 1] = True
    live = ~region
    across, beside, inner = border_steps(gray, region, live, 8)
    assert len(across) == len(beside) == 4
    np.testing.assert_array_equal(inner, [[1, 1]] * 4)
    assert border_steps(gray, region, np.zeros_like(region), 8)[0].size == 0


def test_seam_ratio_needs_enough_textured_edges_and_regions_are_judged_apart():
    few = np.full(MIN_EDGES - 1, 3.0, dtype=np.float32)
    assert np.isnan(seam_ratio(few))
    assert seam_ratio(np.r_[few, 3.0, np.nan]) == pytest.approx(3.0)
    region_of = np.repeat([1, 2], MIN_EDGES)
    ratios = np.r_[np.full(MIN_EDGES, 2.0), np.full(MIN_EDGES, 0.7)].astype(np.float32)
    assert seamed_regions(region_of, ratios, 1.5) == [1]
    assert seamed_regions(region_of, np.full_like(ratios, np.nan), 1.5) == []


def _panning(frames: int, step: int) -> list[np.ndarray]:
    """(96, 160) uint8 luma of a smooth random texture panning ``step`` px per frame."""
    rng = np.random.default_rng(0)
    world = rng.integers(0, 256, size=(96, 160 + step * frames), dtype=np.uint8)
    world = cv2.normalize(cv2.GaussianBlur(world, (0, 0), 1.5), None, 40, 220, cv2.NORM_MINMAX)
    return [np.ascontiguousarray(world[:, i * step : i * step + 160]) for i in range(frames)]


def test_a_frozen_tile_breaks_at_its_border_and_live_content_does_not():
    frames = _panning(4, step=3)
    region = np.zeros((12, 20), dtype=bool)
    region[2:8, 4:14] = True
    box = (slice(16, 64), slice(32, 112))
    frozen = frames[3].copy()
    frozen[box] = frames[1][box]  # two frames stale: 6 px behind the scene around it
    stale = seam_ratio(edge_ratios(*border_steps(frozen, region, ~region, 8)[:2]))
    fresh = seam_ratio(edge_ratios(*border_steps(frames[3], region, ~region, 8)[:2]))
    assert stale >= 1.5, stale
    assert fresh < 1.0, fresh

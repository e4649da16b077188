"""The soft rim of a dark blockage (detection/soft_edges.py) on exact synthetic luma."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from frame_restore_ros.detection.soft_edges import darkened_rim, within_reach


def _ramp_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(previous, now, core): a flat 120 scene; now a dark core 4 with a linear 20-px rim."""
    previous = np.full((100, 160), 120, np.uint8)
    x = np.arange(160, dtype=np.float32)
    weight = np.clip(1.0 - (x - 60.0) / 20.0, 0.0, 1.0)  # 1 up to x=60, 0 from x=80
    row = weight * 4.0 + (1.0 - weight) * 120.0
    now = np.tile(np.rint(row).astype(np.uint8), (100, 1))
    core = now <= 10
    return previous, now, core


def test_rim_covers_what_darkened_at_least_forty_percent_and_nothing_else():
    previous, now, core = _ramp_scene()
    rim = darkened_rim(now, previous, core, level=4.0, reach_px=40)
    weight = np.clip(1.0 - (np.arange(160) - 60.0) / 20.0, 0.0, 1.0)
    columns = rim.any(axis=0)
    # weight >= 0.4 joins (darkening 0.6); one column of slack for the 3x3 blur at the boundary
    assert columns[(weight >= 0.45) & ~core[0]].all()
    assert not columns[weight < 0.35].any()
    assert not (rim & core).any(), "the core itself is not part of the rim"


def test_rim_needs_a_core_stays_within_reach_and_ignores_unconnected_darkening():
    previous, now, core = _ramp_scene()
    assert not darkened_rim(now, previous, np.zeros_like(core), 4.0, 40).any()
    near = darkened_rim(now, previous, core, level=4.0, reach_px=5)
    assert near.any(axis=0).nonzero()[0].max() <= core[0].nonzero()[0].max() + 5
    # A shadow that darkened far from the core, not connected through darkened pixels: kept out.
    shadow = now.copy()
    shadow[:, 120:140] = 20
    rim = darkened_rim(shadow, previous, core, level=4.0, reach_px=80)
    assert not rim[:, 110:].any()


def test_rim_is_held_while_the_blockage_stays_and_dropped_when_the_scene_brightens():
    previous, now, core = _ramp_scene()
    first = darkened_rim(now, previous, core, level=4.0, reach_px=40)
    held = darkened_rim(now, now, core, level=4.0, reach_px=40, kept=first)
    assert np.array_equal(held, first), "no new darkening, same rim"
    brighter = np.maximum(now, 110).astype(np.uint8)
    brighter[core] = now[core]
    gone = darkened_rim(brighter, now, core, level=4.0, reach_px=40, kept=first)
    assert not gone.any()


def _plain_rim(now, previous, core, level, reach_px, darkening=0.6, min_drop=8.0):
    """The definition on the whole frame: pixels that darkened towards ``level`` (blurred 3x3),
    within ``reach_px`` of the core (the same 5x5 chamfer distance), connected to it through
    such pixels."""
    blurred_now, blurred_before = cv2.blur(now, (3, 3)), cv2.blur(previous, (3, 3))
    # now - darkening * before in float32 as the rule computes it (float64 differs in the last
    # bit at a handful of pixels exactly on the threshold)
    towards = cv2.addWeighted(blurred_now, 1.0, blurred_before, -darkening, 0.0, dtype=cv2.CV_32F)
    darker = towards <= (1.0 - darkening) * level
    darker &= blurred_before.astype(np.int16) - blurred_now >= min_drop
    darker &= ~core
    distance = cv2.distanceTransform((~core).view(np.uint8) * np.uint8(255), cv2.DIST_L2, 5)
    darker &= distance <= reach_px
    count, labels = cv2.connectedComponents((darker | core).view(np.uint8), connectivity=8)
    touching = np.unique(labels[core & (cv2.dilate(darker.view(np.uint8), np.ones((3, 3))) > 0)])
    return np.isin(labels, touching[touching > 0]) & darker


@pytest.mark.parametrize("seed", range(6))
def test_rim_of_a_scattered_burst_equals_the_definition(seed):
    """A burst of dark patches all over the frame (its box is the whole frame), each with a soft
    edge, over textured scene: the rim found per darkened pixel equals the plain definition."""
    rng = np.random.default_rng(seed)
    previous = cv2.GaussianBlur(rng.integers(40, 220, (180, 320)).astype(np.uint8), (0, 0), 3)
    cover = np.zeros((180, 320), np.float32)
    for _ in range(12):
        y, x = rng.integers(0, 170), rng.integers(0, 310)
        cover[y : y + rng.integers(6, 30), x : x + rng.integers(6, 30)] = 1.0
    cover = cv2.GaussianBlur(cover, (0, 0), 2.5)  # soft edges
    now = np.rint(cover * 4 + (1 - cover) * previous).astype(np.uint8)
    core = cover > 0.9
    reach = int(rng.integers(3, 12))
    found = darkened_rim(now, previous, core, level=4.0, reach_px=reach)
    assert found.any()
    assert np.array_equal(found, _plain_rim(now, previous, core, 4.0, reach))


def test_the_fitted_share_keeps_a_soft_edge_and_drops_scene_changing_beside_it():
    """A blob covering textured scene part of the way moves each pixel by that share of its
    distance to the blob's level; scene changing beside the blob (lamps, the next view) moves
    pixels by amounts that do not follow that distance. Over a 9-pixel window the first fits
    its share, the second does not. Top half: a soft edge over still texture; bottom half: a
    hard edge, and beside it the texture replaced by another."""
    rng = np.random.default_rng(3)
    previous = rng.integers(40, 220, (100, 200)).astype(np.uint8)
    x = np.arange(200, dtype=np.float32)
    weight = np.clip(1.0 - (x - 60.0) / 40.0, 0.0, 1.0)[None, :].repeat(100, axis=0)
    weight[50:] = weight[50:] >= 0.999  # 1 up to x=60, then 0
    now = np.rint(weight * 4.0 + (1.0 - weight) * previous).astype(np.uint8)
    now[50:, 61:] = rng.integers(40, 220, (50, 139))
    core = weight >= 0.95
    plain = darkened_rim(now, previous, core, level=4.0, reach_px=90, darkening=0.9)
    fitted = darkened_rim(now, previous, core, level=4.0, reach_px=90, darkening=0.9, fit_window=9)
    soft = np.zeros_like(core)
    soft[2:48, 62:93] = True  # weight 0.2-0.95, away from the blur's reach of the other half
    assert plain[soft].mean() >= 0.95 and fitted[soft].mean() >= 0.95, fitted[soft].mean()
    beside = np.zeros_like(core)
    beside[52:, 61:] = True
    assert plain[beside].mean() > 0.01, "the plain rule joins changed scene beside the blob"
    assert fitted[beside].mean() < 0.25 * plain[beside].mean()
    assert not (fitted & ~plain).any(), "the fit only ever takes pixels away"


@pytest.mark.parametrize("reach", [1, 7, 14, 36, 42, 49, 55])
def test_within_reach_equals_the_full_distance_transform(reach):
    """The square bounds and the transform on the pixels in between give exactly OpenCV's 5x5
    chamfer distance test, at reaches a multiple of 1.4 too (where 1.4 x the inner bound
    sums to a hair above the reach in OpenCV's arithmetic)."""
    rng = np.random.default_rng(reach)
    for _ in range(40):
        height, width = (int(side) for side in rng.integers(20, 240, 2))
        inside = np.zeros((height, width), np.uint8)
        for _ in range(int(rng.integers(0, 6))):
            y, x = rng.integers(0, height), rng.integers(0, width)
            inside[y : y + rng.integers(1, 30), x : x + rng.integers(1, 30)] = 255
        asked = ((rng.random((height, width)) < rng.random()) * 255).astype(np.uint8) & ~inside
        distance = cv2.distanceTransform(cv2.bitwise_not(inside), cv2.DIST_L2, 5)
        expected = asked & cv2.compare(distance, reach, cv2.CMP_LE)
        assert np.array_equal(within_reach(inside, asked, reach), expected)

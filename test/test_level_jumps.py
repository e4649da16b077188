"""Level-jump helpers (detection/level_jumps.py): something landing on the lens."""

from __future__ import annotations

import numpy as np

from frame_restore_ros.detection.level_jumps import (
    compact_regions,
    drawn_rim,
    drop_scene_objects,
    looks_seen_nearby,
    novel_levels,
)


def test_novel_levels_compare_with_the_extremes_within_reach():
    before = np.full((7, 7), 100.0, np.float32)
    before[0, 0] = 160.0  # a bright cell 3 cells from the centre: out of reach 2
    gray = before.copy()
    gray[3, 3] = 100.0 + 10.0  # exactly the margin: not beyond it
    gray[3, 4] = 100.0 + 10.5
    gray[5, 1] = 100.0 - 10.5
    brighter, darker = novel_levels(gray, before, before, margin=10.0, reach=2)
    assert np.argwhere(brighter).tolist() == [[3, 4]]
    assert np.argwhere(darker).tolist() == [[5, 1]]
    # Within reach of the bright cell, 110.5 is no new level.
    gray[1, 1] = 110.5
    brighter, _ = novel_levels(gray, before, before, margin=10.0, reach=2)
    assert not brighter[1, 1]


def test_looks_seen_nearby_need_one_cell_with_every_feature_close():
    """A look is seen when one cell within reach had the level and both shares within margins;
    a level from one cell and a colour from another is a new look."""
    before = np.zeros((3, 7, 7), np.float32)
    before[:, :, :] = np.array([80.0, 85.0, 85.0], np.float32)[:, None, None]  # grey at 80
    before[:, 1, 1] = (35.0, 48.0, 125.0)  # a dark brown window
    now = before.copy()
    now[:, 3, 3] = (80.0, 48.0, 125.0)  # brown at the grey's level: each feature seen apart
    now[:, 3, 2] = (85.0, 95.0, 80.0)  # within the margins (5, 10, 5) of the grey: seen
    now[:, 3, 4] = (80.0, 95.5, 85.0)  # blue share 10.5 off the grey, the window's far: new
    cells = np.zeros((7, 7), dtype=bool)
    cells[3, 2:5] = True
    margins = (10.0, 10.0, 10.0)
    seen = looks_seen_nearby(list(now), _history(before), cells, reach=2, margins=margins)
    assert np.argwhere(seen).tolist() == [[3, 2]], "only cells of `cells`, only the grey's look"
    # The brown look shown 2 cells away (within reach) in a second earlier look: seen.
    earlier = before.copy()
    earlier[:, 5, 5] = (75.0, 50.0, 120.0)
    seen = looks_seen_nearby(list(now), _history(before, earlier), cells, reach=2, margins=margins)
    assert np.argwhere(seen).tolist() == [[3, 2], [3, 3]]
    # 3 cells away: out of reach; and the margins are inclusive.
    far = before.copy()
    far[:, 6, 6] = (80.0, 48.0, 125.0)
    assert not looks_seen_nearby(list(now), _history(far), cells, reach=2, margins=margins)[3, 3]
    edge = before.copy()
    edge[:, 4, 4] = (90.0, 58.0, 115.0)
    assert looks_seen_nearby(list(now), _history(edge), cells, reach=2, margins=margins)[3, 3]


def _history(*looks: np.ndarray) -> list[np.ndarray]:
    """(F, rows, cols) looks -> a list of looks, each F (rows, cols) grids."""
    return [list(look) for look in looks]


def test_compact_regions_keep_blobs_and_drop_strips():
    mask = np.zeros((12, 20), dtype=bool)
    mask[1:5, 1:5] = True  # 16 cells, 4 wide: a core survives the erosion
    mask[7:9, 1:19] = True  # 36 cells but 2 wide: the leading edge of a fast object
    mask[1:4, 10:13] = True  # 9 cells: too small
    kept = compact_regions(mask, min_cells=12)
    expected = np.zeros_like(mask)
    expected[1:5, 1:5] = True
    np.testing.assert_array_equal(kept, expected)
    strips_too = compact_regions(mask, min_cells=12, core=0)
    np.testing.assert_array_equal(strips_too, mask & ~_box(mask, 1, 4, 10, 13))


def _box(like: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    out = np.zeros_like(like)
    out[top:bottom, left:right] = True
    return out


def test_drop_scene_objects_keeps_a_blob_with_no_body_beyond_itself():
    gray = np.full((12, 16), 100.0, np.float32)
    gray[4:8, 5:9] = 170.0  # a blob at a new level, the scene around it at another
    blob = gray == 170.0
    nothing = np.zeros_like(blob)
    np.testing.assert_array_equal(drop_scene_objects(blob, (gray,), nothing, 5.0, 2, 0.25), blob)


def test_drop_scene_objects_drops_what_entered_from_the_frame_edge():
    """The new part of an object (the blob) joins the part seen before, which reaches the edge."""
    gray = np.full((12, 16), 100.0, np.float32)
    gray[4:12, 5:9] = 60.0  # a flat object rising from the bottom edge
    gray[9:12, 5:9] = 62.0  # its part seen in the previous frame (within the tolerance)
    blob = np.zeros(gray.shape, dtype=bool)
    blob[4:8, 5:9] = True  # only the top is new against the memory
    nothing = np.zeros_like(blob)
    assert not drop_scene_objects(blob, (gray,), nothing, 5.0, 2, 0.25).any()
    gray[8:12, 5:9] = 80.0  # the rest is other scene: the blob has no body beyond itself
    np.testing.assert_array_equal(drop_scene_objects(blob, (gray,), nothing, 5.0, 2, 0.25), blob)


def test_drop_scene_objects_counts_what_jumped_the_other_way_near_the_body():
    gray = np.full((10, 16), 100.0, np.float32)
    gray[3:7, 3:7] = 200.0  # 16 cells got brighter
    blob = gray == 200.0
    uncovered = np.zeros_like(blob)
    uncovered[3:7, 8] = True  # 4 cells 1-2 cells away got darker: a quarter of the blob
    assert not drop_scene_objects(blob, (gray,), uncovered, 5.0, 2, 0.25).any()
    np.testing.assert_array_equal(drop_scene_objects(blob, (gray,), uncovered, 5.0, 2, 0.3), blob)
    far = np.zeros_like(blob)
    far[3:7, 12] = True  # out of reach: the scene elsewhere
    np.testing.assert_array_equal(drop_scene_objects(blob, (gray,), far, 5.0, 2, 0.25), blob)


def test_drop_scene_objects_does_not_count_the_blobs_own_cells_as_uncovered():
    """Mud over light and dark scene: some of its own cells got darker, none around it."""
    gray = np.full((10, 16), 100.0, np.float32)
    gray[3:7, 3:7] = 120.0  # a blob of one new colour (one look: its level here)
    blob = gray == 120.0
    own = np.zeros_like(blob)
    own[3:7, 5:7] = True  # half the blob darker than the light scene it covers
    np.testing.assert_array_equal(drop_scene_objects(blob, (gray,), own, 5.0, 2, 0.25), blob)
    beside = np.roll(own, 3, axis=1)  # the same cells beside it: background it uncovered
    assert not (beside & blob).any()
    assert not drop_scene_objects(blob, (gray,), beside, 5.0, 2, 0.25).any()


def test_drop_scene_objects_takes_a_rim_drawn_toward_the_blob_for_no_uncovered_background():
    """Mud brighter than the dark scene it mostly covers darkens its soft rim over a light patch
    beside it: those cells jumped the other way, but toward the blob's look. What an object
    uncovers moves away from the object's look, and still counts; so do cells drawn toward it
    that do not touch it (a tone change at a bridge's exit pulls scene toward mid-grey)."""
    before = np.full((10, 16), 80.0, np.float32)
    before[3:7, 8] = 160.0  # a light patch right beside where the blob lands
    gray = before.copy()
    gray[3:7, 3:8] = 120.0  # 20 cells got brighter: the blob
    gray[3:7, 8] = 130.0  # its rim over the light patch: darker by 30, 3/4 of the way to 120
    blob = gray == 120.0
    darker = gray < before - 10.0
    assert darker.sum() == 4, "precondition: 4 cells jumped the other way, a fifth of the blob"
    assert not drop_scene_objects(blob, (gray,), darker, 5.0, 2, 0.2).any(), "without the looks"
    np.testing.assert_array_equal(
        drop_scene_objects(blob, (gray,), darker, 5.0, 2, 0.2, looks_before=(before,)), blob
    )
    # The same cells were the object's look before and are background now: uncovered.
    uncovered_before, uncovered_now = before.copy(), gray.copy()
    uncovered_before[3:7, 8], uncovered_now[3:7, 8] = 121.0, 90.0
    uncovered = uncovered_now < uncovered_before - 10.0
    assert not drop_scene_objects(
        blob, (uncovered_now,), uncovered, 5.0, 2, 0.2, looks_before=(uncovered_before,)
    ).any()
    # Drawn toward the blob two cells away from it, not against it: no rim of it.
    apart_before, apart_now = before.copy(), gray.copy()
    apart_before[3:7, 8], apart_now[3:7, 8] = 80.0, 80.0
    apart_before[3:7, 10], apart_now[3:7, 10] = 160.0, 130.0
    apart = apart_now < apart_before - 10.0
    assert not drop_scene_objects(
        blob, (apart_now,), apart, 5.0, 3, 0.2, looks_before=(apart_before,)
    ).any()


def test_a_layers_rim_drawn_toward_it_over_several_cells_is_no_uncovered_background():
    """A grey film fades out over several cells: its rim over darker hills brightens toward
    the film's level, three cells deep, and keeps its colour's distance. With ``layer_rim``
    the rim is every cell joined to the body through cells drawn toward it (within ``reach``);
    without, only the cells against the body count, and the film is dropped as a moved object.
    Background an object uncovered moves away from its look in some feature: still counted."""
    shape = (14, 20)
    level_before = np.full(shape, 80.0, np.float32)
    level_before[:5] = 180.0  # a pale sky above hills at 80
    blue_before = np.full(shape, 80.0, np.float32)
    level_now, blue_now = level_before.copy(), blue_before.copy()
    level_now[2:5, 6:14] = 170.0  # the film's body over the sky
    blob = np.zeros(shape, dtype=bool)
    blob[2:5, 6:14] = True
    for depth, level in enumerate((150.0, 120.0, 100.0)):  # its soft rim over the hills
        level_now[5 + depth, 6:14] = level
    brighter = level_now > level_before + 10.0
    looks, befores = (level_now, blue_now), (level_before, blue_before)
    assert np.count_nonzero(brighter) == 24, "precondition: the rim jumped the other way"
    assert not drop_scene_objects(blob, looks, brighter, 5.0, 3, 0.25, looks_before=befores).any()
    kept = drop_scene_objects(blob, looks, brighter, 5.0, 3, 0.25, befores, layer_rim=True)
    np.testing.assert_array_equal(kept, blob)
    # The rim's first row within the tolerance of the film: part of the body grown beyond the
    # region, and drawn toward it: still its own.
    inner_now = level_now.copy()
    inner_now[5, 6:14] = 167.0
    np.testing.assert_array_equal(
        drop_scene_objects(
            blob, (inner_now, blue_now), brighter, 5.0, 3, 0.25, befores, layer_rim=True
        ),
        blob,
    )
    # The same rows uncovered by an object: they turned blue, away from the body's colour.
    blue_moved = blue_now.copy()
    blue_moved[5:8, 6:14] = 100.0
    assert not drop_scene_objects(
        blob, (level_now, blue_moved), brighter, 5.0, 3, 0.25, befores, layer_rim=True
    ).any()


def test_a_layers_drawn_rim_grows_from_the_body_for_reach_cells_only():
    """The rim grows one cell a step through cells drawn toward the body: along a drawn line
    4 cells long, 2 steps of reach take 2 of them; a body cell that was not drawn is no rim."""
    body = np.zeros((9, 9), bool)
    body[4, 4] = True
    before = np.full(body.shape, 50.0, np.float32)
    now = before.copy()
    now[4, 4] = before[4, 4] = 100.0  # the body kept its look: not drawn
    now[4, 5:9] = 90.0  # a line drawn toward 100 from 50
    centre = (np.float32(100.0),)
    rim = drawn_rim(body, (now,), (before,), centre, 5.0, 2)
    np.testing.assert_array_equal(np.argwhere(rim), [[4, 5], [4, 6]])
    rim = drawn_rim(body, (now,), (before,), centre, 5.0, 10)
    np.testing.assert_array_equal(np.argwhere(rim), [[4, 5], [4, 6], [4, 7], [4, 8]])

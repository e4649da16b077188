"""New dark edges (detection/new_edges.py) on exact synthetic luma."""

from __future__ import annotations

import numpy as np

from frame_restore_ros.detection.new_edges import new_edge_pixels, steady_edge_pixels


def _night_with_road() -> np.ndarray:
    """(60, 80) luma: night (3) in columns 0-19, a lit road (40) in columns 20-79."""
    gray = np.full((60, 80), 3, np.uint8)
    gray[:, 20:] = 40
    return gray


def test_a_block_appearing_over_the_road_has_new_edges_all_round():
    before = _night_with_road()
    now = before.copy()
    now[10:30, 40:60] = 1  # over the road, 20 px from the night
    dark = now <= 9
    lit, new = new_edge_pixels(now, before, dark, level=1.0, step=8.0, reach_px=2)
    # Lit border: column 20 beside the night (60 px, old: the night was there) and the ring
    # of 22 + 22 + 20 + 20 road pixels around the block (new: nothing dark was near them).
    assert (lit, new) == (60 + 84, 84)


def test_dark_that_moved_a_few_pixels_brings_its_edge_along():
    before = _night_with_road()
    now = before.copy()
    now[:, 20:23] = 3  # the night's edge moved 3 px into the road
    dark = now <= 9
    # Its lit border (column 23) lies 4 px from where the night ended a frame ago.
    assert new_edge_pixels(now, before, dark, level=3.0, step=8.0, reach_px=4) == (60, 0)
    # With a reach shorter than that the same edge is new.
    assert new_edge_pixels(now, before, dark, level=3.0, step=8.0, reach_px=3) == (60, 60)


def test_ignored_pixels_and_empty_regions_count_nothing():
    before = _night_with_road()
    now = before.copy()
    now[10:30, 50:70] = 1
    dark = now <= 9
    lit, new = new_edge_pixels(now, before, dark, 1.0, 8.0, 2)
    assert (lit, new) == (60 + 84, 84)
    ignore = np.ones_like(dark)
    assert new_edge_pixels(now, before, dark, 1.0, 8.0, 2, ignore) == (0, 0)
    assert new_edge_pixels(now, before, np.zeros_like(dark), 1.0, 8.0, 2) == (0, 0)


def _lit_texture(shift: int) -> np.ndarray:
    """(60, 80) luma: a lit textured road (30-90), panned ``shift`` px to the left."""
    columns = 60 + 30 * np.sin(np.arange(shift, shift + 80) / 3.0)
    return np.tile(columns, (60, 1)).astype(np.uint8)


def test_a_block_fixed_on_the_sensor_keeps_its_edge_while_the_scene_moves():
    """The scene pans 4 px between the frames; the dead block stays on the same pixels: every
    lit border pixel kept its place."""
    before, now = _lit_texture(0), _lit_texture(4)
    before[20:40, 30:50] = 1
    now[20:40, 30:50] = 1
    dark = now <= 10
    assert steady_edge_pixels(now, before, dark, dark_level=10.0, lit_level=9.0) == (84, 84)


def test_a_dark_object_that_moved_carries_its_edge_along_a_soft_edge_that_shifted_a_pixel_not():
    """A dark object 3 px further right: its leading and trailing edges moved (its top and
    bottom rows stayed: the border pixels above and below it away from both ends); one pixel
    further is within the tolerance (a soft edge over moving scene)."""
    before, now = _lit_texture(0), _lit_texture(0)
    before[20:40, 30:50] = 1
    now[20:40, 33:53] = 1
    dark = now <= 10
    lit, steady = steady_edge_pixels(now, before, dark, dark_level=10.0, lit_level=9.0)
    assert lit == 84 and steady < 0.5 * lit
    # The 40 border pixels beside the leading and trailing edges moved, and along the top and
    # bottom rows the 4 pixels by the leading corner (within a pixel of what advanced) and the
    # 2 by the trailing one (within two of what withdrew, columns 30-31): 16 stay in each row.
    assert steady == 2 * (22 - 4 - 2)
    shifted = _lit_texture(0)
    shifted[20:40, 31:51] = 1
    lit, steady = steady_edge_pixels(shifted, before, shifted <= 10, 10.0, 9.0)
    assert (lit, steady) == (84, 84)
    assert steady_edge_pixels(shifted, before, shifted <= 10, 10.0, 9.0, tolerance_px=0)[1] < 84
    assert steady_edge_pixels(now, before, np.zeros_like(dark), 10.0, 9.0) == (0, 0)

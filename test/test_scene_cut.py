"""Scene-cut helpers (detection/scene_cut.py): the unfailed part of a new scene is new too."""

from __future__ import annotations

import numpy as np

from frame_restore_ros.detection.scene_cut import (
    match_tolerance,
    new_everywhere,
    new_structure_everywhere,
    unmatched,
)


def test_unmatched_looks_for_the_level_within_reach_at_every_offset():
    previous = np.full((9, 9), 50.0, np.float32)
    previous[4, 6] = 120.0  # two cells right of the centre
    gray = np.full((9, 9), 50.0, np.float32)
    gray[4, 4] = 120.0  # the bright cell moved two cells: matched
    gray[1, 1] = 62.0  # exactly the level away: matched
    gray[7, 7] = 62.5  # beyond it: new
    new = unmatched(gray, previous, level=12.0, reach=2)
    assert np.argwhere(new).tolist() == [[7, 7]]
    assert unmatched(gray, previous, level=12.0, reach=1)[4, 4]  # out of reach 1


def test_dim_cells_match_within_a_share_of_their_level():
    tolerance = match_tolerance(np.array([[10.0, 42.0, 200.0]], np.float32), 0.25, 4.0, 12.0)
    np.testing.assert_allclose(tolerance, [[4.0, 10.5, 12.0]])
    # A dim night road at 42 where the previous scene showed 30 near by: new with the share,
    # matched with a fixed 12.
    previous = np.full((5, 5), 30.0, np.float32)
    gray = np.full((5, 5), 42.0, np.float32)
    assert not unmatched(gray, previous, 12.0, 2).any()
    assert unmatched(gray, previous, match_tolerance(gray, 0.25, 4.0, 12.0), 2).all()


def _scene(seed: int, shape=(45, 80)) -> np.ndarray:
    """(rows, cols) float32 cell levels of a lit scene: smooth blotches, 30-230."""
    import cv2

    rng = np.random.default_rng(seed)
    coarse = rng.uniform(30.0, 230.0, size=(6, 10)).astype(np.float32)
    return cv2.resize(coarse, shape[::-1], interpolation=cv2.INTER_CUBIC)


def test_new_scene_everywhere_is_a_cut_but_a_compact_new_blob_is_not():
    before = _scene(0)
    lit = np.ones(before.shape, dtype=bool)
    args = dict(level=12.0, share=0.25, spread=0.8)
    # The same scene shifted by a cell: matched nearly everywhere.
    assert not new_everywhere(lit, np.roll(before, 1, axis=1), before, **args)
    # Another scene: most cells match nothing near them, all over the frame.
    other = _scene(1)
    assert new_everywhere(lit, other, before, **args)
    # A bright veil over 28 % of a darker scene (the largest
    # the corruption library lays), in one compact blob: every cell under it is
    # new, but it is a lens failure, not a cut.
    before = 0.5 * before
    veiled = before.copy()
    rows, cols = before.shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    blob = ((yy - rows / 2) / (0.3 * rows)) ** 2 + ((xx - cols / 2) / (0.3 * cols)) ** 2 <= 1
    assert 0.25 < blob.mean() < 0.32
    veiled[blob] = 0.2 * veiled[blob] + 180.0
    assert (unmatched(veiled, before, 12.0, 2) == blob).all()
    assert not new_everywhere(lit, veiled, before, **args)
    # The same share of new cells scattered over the frame (another scene's): a cut.
    scattered = before.copy()
    spots = np.zeros_like(blob)
    spots[::2, ::2] = True  # a quarter of the cells, everywhere
    scattered[spots] = 200.0
    assert new_everywhere(lit, scattered, before, **args)
    # Only the candidates count: a new scene over cells that look failed is no cut by itself.
    assert not new_everywhere(np.zeros_like(lit), other, before, **args)


def _textured(seed: int, shape=(360, 640)) -> np.ndarray:
    """(H, W) float32 luma of a finely textured scene: blotches of ~5 pixels, 0-255."""
    import cv2

    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.0, 255.0, size=(shape[0] // 5 + 1, shape[1] // 5 + 1))
    return cv2.resize(coarse.astype(np.float32), shape[::-1], interpolation=cv2.INTER_CUBIC)


def _luma(values: np.ndarray) -> np.ndarray:
    return np.clip(values, 0, 255).astype(np.uint8)


STRUCTURE_ARGS = dict(cell=8, reach_px=11, share=0.6, spread=0.8)


def test_new_structure_is_a_cut_at_any_light_but_moved_structure_is_not():
    before, other = _textured(0), _textured(1)
    moved = np.roll(before, (3, -4), axis=(0, 1))  # the camera moved a few pixels
    cells = np.ones((45, 80), dtype=bool)
    assert not new_structure_everywhere(_luma(moved), _luma(before), cells, **STRUCTURE_ARGS)
    assert new_structure_everywhere(_luma(other), _luma(before), cells, **STRUCTURE_ARGS)

    # At a tenth of the contrast over a dim level (dusk), the same answers: the correlation is
    # free of gain and offset.
    def dim(values: np.ndarray) -> np.ndarray:
        return _luma(30.0 + 0.1 * values)

    assert not new_structure_everywhere(dim(moved), dim(before), cells, **STRUCTURE_ARGS)
    assert new_structure_everywhere(dim(other), dim(before), cells, **STRUCTURE_ARGS)
    # Only whole candidate blocks are read: another scene under cells that look failed, or a
    # flat frame (nothing textured to match), is no cut.
    assert not new_structure_everywhere(
        _luma(other), _luma(before), np.zeros_like(cells), **STRUCTURE_ARGS
    )
    flat = np.full(before.shape, 90, np.uint8)
    assert not new_structure_everywhere(flat, _luma(before), cells, **STRUCTURE_ARGS)


def test_new_structure_in_one_compact_part_is_no_cut():
    """Something smeared over the left two thirds of the lens changes the structure there, all
    in one part: most of the right third is beyond the spread's reach of a new block. The same
    share of new blocks scattered over the frame is a cut."""
    before, other = _textured(0), _textured(1)
    cells = np.ones((45, 80), dtype=bool)
    compact = before.copy()
    compact[:, :416] = other[:, :416]  # 13 of the 20 block columns
    assert not new_structure_everywhere(_luma(compact), _luma(before), cells, **STRUCTURE_ARGS)
    scattered = before.copy()
    for column in range(0, 640, 96):  # 2 of every 3 block columns, across the frame
        scattered[:, column : column + 64] = other[:, column : column + 64]
    assert new_structure_everywhere(_luma(scattered), _luma(before), cells, **STRUCTURE_ARGS)

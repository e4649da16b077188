"""The corruption library: exact ground truth, untouched good pixels, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.synthetic import corruption

GENERATORS = {
    "dead_block": lambda f, r: corruption.blocks(f, r, FailureKind.DEAD, 2),
    "saturated_block": lambda f, r: corruption.blocks(f, r, FailureKind.SATURATED, 2),
    "noise_block": lambda f, r: corruption.blocks(f, r, FailureKind.NOISE, 2),
    "cast_block": lambda f, r: corruption.blocks(f, r, FailureKind.CAST, 2),
    "rows": lambda f, r: corruption.line_dropout(f, r, 6, axis=0),
    "columns": lambda f, r: corruption.line_dropout(f, r, 6, axis=1),
    "bottom": corruption.bottom_loss,
    "whole": corruption.whole_frame,
    "patches": lambda f, r: corruption.random_patches(f, (14, 25), 0.75, r),
}


@pytest.mark.parametrize("name", GENERATORS)
def test_generators_touch_only_labelled_pixels_and_are_seeded(name, bikes_frames):
    frame = bikes_frames[3]
    result = GENERATORS[name](frame, np.random.default_rng(5))
    assert result.damaged.shape == frame.shape and result.damaged.dtype == np.uint8
    assert result.labels.shape == frame.shape[:2] and result.mask.any()
    assert np.array_equal(result.damaged[~result.mask], frame[~result.mask])
    again = GENERATORS[name](frame, np.random.default_rng(5))
    assert np.array_equal(again.damaged, result.damaged)
    assert np.array_equal(again.labels, result.labels)


def test_frozen_blocks_show_the_stale_frame(bikes_frames):
    now, stale = bikes_frames[10], bikes_frames[2]
    result = corruption.frozen_blocks(now, stale, np.random.default_rng(0))
    assert (result.labels[result.mask] == FailureKind.FROZEN).all()
    assert np.array_equal(result.damaged[result.mask], stale[result.mask])
    with pytest.raises(ValueError, match="stale frame"):
        corruption.frozen_blocks(now, stale[:10], np.random.default_rng(0))


def test_bottom_loss_reaches_the_last_row_with_one_colour(bikes_frames):
    result = corruption.bottom_loss(bikes_frames[0], np.random.default_rng(2))
    rows = np.flatnonzero(result.mask.any(axis=1))
    assert rows[-1] == bikes_frames[0].shape[0] - 1
    assert len(np.unique(result.damaged[result.mask].reshape(-1, 3), axis=0)) == 1


def test_apply_all_composes_and_later_labels_win(bikes_frames):
    rng = np.random.default_rng(3)
    result = corruption.apply_all(
        bikes_frames[0],
        [
            lambda f: corruption.blocks(f, rng, FailureKind.DEAD, 1),
            lambda f: corruption.bottom_loss(f, rng, (0.8, 0.9)),
        ],
    )
    assert {FailureKind.DEAD, FailureKind.LOST_ROWS} <= set(np.unique(result.labels).tolist())
    assert np.array_equal(result.damaged[~result.mask], bikes_frames[0][~result.mask])

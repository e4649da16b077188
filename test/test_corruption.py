"""The corruption library: exact ground truth, untouched good pixels, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.synthetic import corruption
from frame_restore_ros.synthetic.injection import InjectionItem, parse_item
from frame_restore_ros.synthetic.registry import FAILURES

ITEMS = [
    "patches:0.75",
    "dead:2",
    "saturated:2",
    "noise:2",
    "cast:2",
    "lines:6",
    "columns:6",
    "frozen",
    "bottom",
    "whole",
]


def test_items_cover_the_registry():
    assert {parse_item(text).name for text in ITEMS} == set(FAILURES)


@pytest.mark.parametrize("text", ITEMS)
def test_generators_touch_only_labelled_pixels_and_are_seeded(text, bikes_frames):
    item, frame = parse_item(text), bikes_frames[3]

    def damage(seed: int) -> corruption.Corruption:
        rng = np.random.default_rng(seed)
        return item.apply(frame, rng, previous=bikes_frames[0], grid=(14, 25))

    result = damage(5)
    assert result.damaged.shape == frame.shape and result.damaged.dtype == np.uint8
    assert result.labels.shape == frame.shape[:2] and result.mask.any()
    assert np.array_equal(result.damaged[~result.mask], frame[~result.mask])
    kind = item.failure.kind
    if kind is not None:
        assert (result.labels[result.mask] == kind).all()
    again = damage(5)
    assert np.array_equal(again.damaged, result.damaged)
    assert np.array_equal(again.labels, result.labels)


def test_registry_items_draw_what_the_corruption_functions_draw(bikes_frames):
    frame = bikes_frames[3]
    item = InjectionItem("noise", 2).apply(frame, np.random.default_rng(4))
    direct = corruption.blocks(frame, np.random.default_rng(4), FailureKind.NOISE, 2)
    assert np.array_equal(item.damaged, direct.damaged)
    drawn = InjectionItem("dead").apply(frame, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    count = int(rng.integers(1, 4))
    assert np.array_equal(
        drawn.labels, corruption.blocks(frame, rng, FailureKind.DEAD, count).labels
    )


@pytest.mark.parametrize(("text", "missing"), [("frozen", "previous"), ("patches:0.5", "grid")])
def test_a_missing_input_is_named(text, missing, bikes_frames):
    with pytest.raises(ValueError, match=missing):
        parse_item(text).apply(bikes_frames[0], np.random.default_rng(0))


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

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
    "blockage:2",
    "mud",
    "veil",
    "drops:5",
    "bottom_black",
    "smear",
    "night_noise:2",
    "freeze:2",
    "repeat",
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
    assert result.labels.shape == frame.shape[:2]
    assert result.mask.any() or result.event is FailureKind.REPEATED_FRAME
    assert np.array_equal(result.damaged[~result.changed], frame[~result.changed])
    assert (result.changed | ~result.mask).all()  # changed covers the failed pixels
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


def test_blend_labels_exactly_where_the_weight_reaches_the_level(bikes_frames):
    frame = bikes_frames[3]
    weight = np.zeros(frame.shape[:2], np.float32)
    weight[10:20, 10:40] = 0.3  # touched, below the level: not failed
    weight[20:30, 10:40] = corruption.BLEND_LEVEL
    weight[30:40, 10:40] = 1.0
    layer = np.full(frame.shape, 7, np.float32)
    result = corruption.blend(frame, layer, weight, FailureKind.BLOCKAGE)
    expected = np.zeros(frame.shape[:2], bool)
    expected[20:40, 10:40] = True
    np.testing.assert_array_equal(result.mask, expected)
    assert (result.labels[expected] == FailureKind.BLOCKAGE).all()
    np.testing.assert_array_equal(result.changed, weight > 0)
    assert (result.damaged[30:40, 10:40] == 7).all()
    mixed = np.rint(0.3 * 7 + 0.7 * frame[10:20, 10:40].astype(np.float32))
    np.testing.assert_array_equal(result.damaged[10:20, 10:40], mixed.astype(np.uint8))
    np.testing.assert_array_equal(result.damaged[~result.changed], frame[~result.changed])


def test_dark_blockage_is_dark_but_not_black_and_soft_edged(bikes_frames):
    result = corruption.dark_blockage(bikes_frames[3], np.random.default_rng(1))
    inside = result.damaged[result.mask].max(axis=1)
    assert np.median(inside) <= 8 and inside.min() <= 8
    assert len(np.unique(inside[inside <= 8])) > 3  # sensor noise, not one flat value
    assert (result.changed & ~result.mask).any()  # a soft edge below the level


def test_mud_is_brown_and_blotchy(bikes_frames):
    result = corruption.mud(bikes_frames[3], np.random.default_rng(2))
    blue, green, red = result.damaged[result.mask].astype(float).mean(axis=0)
    assert red > green > blue
    assert result.damaged[result.mask].std() > 5


def test_freeze_shows_the_frame_before_for_its_length_with_streaks(bikes_frames):
    before = bikes_frames[4]
    first = corruption.frozen_tiles(bikes_frames[5], before, np.random.default_rng(0), frames=3)
    tops, lefts = np.nonzero(first.mask)
    assert tops.min() % corruption.TILE == 0 and lefts.min() % corruption.TILE == 0
    results = [first]
    while results[-1].episode is not None:
        results.append(results[-1].episode.next(bikes_frames[5 + len(results)]))
    assert [r.streak for r in results] == [1, 2, 3]
    for offset, result in enumerate(results):
        np.testing.assert_array_equal(result.labels, first.labels)
        np.testing.assert_array_equal(result.damaged[result.mask], before[result.mask])
        now = bikes_frames[5 + offset]
        np.testing.assert_array_equal(result.damaged[~result.mask], now[~result.mask])
    with pytest.raises(ValueError, match="lasted"):
        first.episode.next(bikes_frames[9])


def test_repeated_frame_has_no_failed_pixel(bikes_frames):
    result = corruption.repeated_frame(bikes_frames[6], bikes_frames[5])
    np.testing.assert_array_equal(result.damaged, bikes_frames[5])
    assert not result.mask.any() and result.event is FailureKind.REPEATED_FRAME
    np.testing.assert_array_equal(result.changed, (bikes_frames[5] != bikes_frames[6]).any(2))


@pytest.mark.parametrize("fill", list(corruption.RowFill))
def test_lost_rows_fills(fill, bikes_frames):
    frame = bikes_frames[0]
    result = corruption.bottom_loss(frame, np.random.default_rng(2), fill=fill)
    start = int(np.flatnonzero(result.mask.any(axis=1))[0])
    assert result.mask[start:].all() and not result.mask[:start].any()
    lost = result.damaged[start:]
    if fill is corruption.RowFill.BLACK:
        assert (lost == 0).all()
    elif fill is corruption.RowFill.REPEAT:
        assert (lost == frame[start - 1]).all()
    else:
        assert len(np.unique(lost.reshape(-1, 3), axis=0)) == 1


def test_night_noise_scales_with_brightness(bikes_frames):
    frame = bikes_frames[3]
    spread = []
    for scale in (0.1, 1.0):
        dimmed = np.clip(frame * scale, 0, 255).astype(np.uint8)
        result = corruption.noise_burst(dimmed, np.random.default_rng(3))
        diff = result.damaged[result.mask].astype(float) - dimmed[result.mask]
        spread.append(diff.std())
    assert 5 < spread[0] < spread[1] / 2

"""The translucent-layer measures (detection/translucent_layer.py) on exact grids and blocks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from frame_restore_ros.detection.translucent_layer import (
    DetailMatch,
    attenuated_cells,
    best_correlation,
    colour_levels,
    detail,
    faded_colours,
    faded_layer_levels,
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
    assert found.correlation.shape == found.spread.shape == found.spread_before.shape == (24,)
    assert found.correlation.min() > 0.95, found.correlation.min()
    # the film kept a fifth of the detail; the spread before is measured in place (the scene
    # moved 3 px, so the blocks compared hold nearly the same texture)
    assert np.median(found.spread / found.spread_before) == pytest.approx(0.2, abs=0.03)
    too_far = best_correlation(faded, before, cells, cell=8, search=1)
    assert np.median(too_far.correlation) < 0.6, "the shift lies outside a 1 px search"


def test_new_content_does_not_correlate_and_a_flat_block_has_no_score():
    before = _scene((48, 64), seed=1)
    other = _scene((48, 64), seed=2)
    cells = np.ones((6, 8), bool)
    found = best_correlation(other, before, cells, cell=8, search=4)
    assert np.median(found.correlation) < 0.75, np.median(found.correlation)
    flat = best_correlation(np.full((48, 64), 150, np.uint8), before, cells, 8, 4)
    assert np.isnan(flat.correlation).all(), "no detail left: NaN"
    assert not flat.spread.any() and flat.spread_before.min() > 1.0


def test_best_correlation_pads_frames_that_are_no_multiple_of_the_cell():
    before = _scene((45, 61))
    cells = np.zeros((6, 8), bool)
    cells[-1, -1] = cells[0, 0] = True  # the padded corner cell and the first one
    found = best_correlation(before, before, cells, cell=8, search=2)
    assert found.correlation == pytest.approx([1.0, 1.0], abs=1e-5)
    assert found.spread == pytest.approx(found.spread_before)
    none = best_correlation(before, before, np.zeros((6, 8), bool), 8, 2)
    assert none.correlation.shape == none.spread.shape == none.spread_before.shape == (0,)


def test_best_correlation_is_the_best_pearson_correlation_over_the_shifts():
    """Against its definition, in float64: the detail of each cell now (luma minus its blur),
    its Pearson correlation with the same-size block of the frame before's detail at every
    shift within the search (a block with no variance scores 0), the best of them; cells of
    the first row and column read the edge-replicated padding. Half of the frame before is
    flat, so some shifted blocks have no variance at all."""
    before = _scene((40, 56), seed=3)
    before[:, 28:] = 120  # flat: no detail to correlate with
    now = np.roll(_scene((40, 56), seed=3), (1, 2), axis=(0, 1))
    now[:8, :8] = _scene((8, 8), seed=4)
    cells = np.zeros((5, 7), bool)
    cells[0, 0] = cells[2, 1:4] = cells[4, 3] = cells[1, 6] = True
    search = 3
    found = best_correlation(now, before, cells, cell=8, search=search)

    def detail64(gray: np.ndarray) -> np.ndarray:
        return detail(gray).astype(np.float64)

    now_detail = detail64(now)
    padded = np.pad(detail64(before), search, mode="edge")
    expected = []
    for row, col in zip(*np.nonzero(cells), strict=True):
        block = now_detail[row * 8 : row * 8 + 8, col * 8 : col * 8 + 8].ravel()
        block = block - block.mean()
        scores = []
        for dy in range(2 * search + 1):
            for dx in range(2 * search + 1):
                window = padded[row * 8 + dy : row * 8 + dy + 8, col * 8 + dx : col * 8 + dx + 8]
                window = window.ravel() - window.mean()
                scale = np.sqrt((block @ block) * (window @ window))
                scores.append(block @ window / scale if scale > 1e-9 else 0.0)
        expected.append(max(scores) if np.sqrt(block @ block) >= 0.5 * 8 else np.nan)
    np.testing.assert_allclose(found.correlation, expected, atol=1e-5)


def _match(correlation: list[float], spread: list[float], before: list[float]) -> DetailMatch:
    return DetailMatch(*(np.array(values, np.float32) for values in (correlation, spread, before)))


def test_layer_regions_keep_regions_by_the_median_of_their_cells():
    candidates = np.array([[1, 1, 0, 1], [1, 0, 0, 1]], bool)
    labels = np.array([[1, 1, 0, 2], [1, 0, 0, 2]], np.int32)
    # row-major order of the candidates: (0,0) (0,1) (0,3) (1,0) (1,3)
    match = _match([0.9, 0.95, 0.5, 0.2, 0.9], [2.0] * 5, [8.0] * 5)
    kept = layer_regions(candidates, labels, match, min_correlation=0.8)
    # region 1: 0.9, 0.95, 0.2 -> median 0.9 kept; region 2: 0.5, 0.9 -> median 0.7 dropped
    assert kept.tolist() == [[True, True, False, False], [True, False, False, False]]


# One region of 5 cells and one of 2; row-major: (0,0) (0,1) (0,2) (0,4) (1,0) (1,1) (1,4).
_CANDIDATES = np.array([[1, 1, 1, 0, 1], [1, 1, 0, 0, 1]], bool)
_LABELS = np.array([[1, 1, 1, 0, 2], [1, 1, 0, 0, 2]], np.int32)
NAN = float("nan")


def test_a_cell_faded_flat_by_what_its_region_kept_does_not_vote():
    """Region 1's matched cells kept a fifth of their detail (spread 1 of 5): a flat cell whose
    detail spread 3 before would keep 0.6, flat too (< 2 x 0.5), so it does not vote."""
    match = _match(
        [0.9, NAN, NAN, NAN, 0.85, NAN, NAN], [1, 0, 0, 0, 1, 0, 0], [5, 3, 3, 3, 5, 3, 3]
    )
    kept = layer_regions(_CANDIDATES, _LABELS, match, min_correlation=0.8)
    # region 1: 0.9 and 0.85 vote (as 0, its three flat cells made the median 0); region 2 has
    # no cell with detail left to judge
    assert kept.tolist() == [[True, True, True, False, False], [True, True, False, False, False]]
    mismatched = match._replace(correlation=match.correlation.copy())
    mismatched.correlation[4] = 0.3
    assert not layer_regions(_CANDIDATES, _LABELS, mismatched, 0.8).any(), "median 0.6"


def test_a_cell_left_flat_where_its_region_kept_detail_votes_as_a_mismatch():
    """An edge that moved away: two cells had detail spreading 20, which a fifth kept would
    leave at 4, far from flat; flat now, they count 0 against the two matched cells."""
    match = _match(
        [0.9, NAN, NAN, NAN, 0.85, NAN, NAN], [1, 0, 0, 0, 1, 0, 0], [5, 20, 20, 20, 5, 3, 3]
    )
    kept = layer_regions(_CANDIDATES, _LABELS, match, min_correlation=0.8)
    assert not kept.any(), "region 1: 0.9, 0.85, 0, 0 (the third flat cell fits) -> 0.425"
    one_edge = match._replace(spread_before=match.spread_before.copy())
    one_edge.spread_before[1] = 3.0  # one flat cell of the edge left: 0.9, 0.85, 0
    kept = layer_regions(_CANDIDATES, _LABELS, one_edge, 0.8)
    assert kept[_LABELS == 1].all() and not kept[_LABELS == 2].any()


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


def _shares(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(blue, red) shares of (rows, cols, 3) float BGR colours, as CellStats.chromaticity."""
    total = bgr.sum(axis=2) + 1.0
    return (
        (255.0 * bgr[..., 0] / total).astype(np.float32),
        (255.0 * bgr[..., 2] / total).astype(np.float32),
    )


def test_a_grey_layer_fades_a_colour_toward_grey_with_its_hue_and_exposure_does_not():
    sky = np.array([220.0, 190.0, 150.0])
    before = np.tile(sky, (1, 7, 1))
    lightness = np.full((1, 7), 190.0, np.float32)
    now = before.copy()
    now[0, 0] = 0.8 * 170.0 + 0.2 * sky  # a film of 170 at 80 %: faded, same hue
    now[0, 1] = 0.6 * sky  # a shadow or an exposure drop: the shares stay
    now[0, 2] = [60.0, 110.0, 150.0]  # brown mud: a hue of its own
    now[0, 3] = 0.4 * 170.0 + 0.6 * sky  # a film of 40 %: more than half the colour left
    now[0, 4] = [200.0, 200.0, 200.0]  # grey: no colour left (the region rules judge it)
    now[0, 5] = [150.0, 190.0, 220.0]  # the opposite hue at the same distance from grey
    now[0, 6] = [188.0, 190.0, 192.0]  # just beyond grey: the hue turned over
    faded = faded_colours(_shares(now), _shares(before), lightness, 6.0, 0.5)
    np.testing.assert_array_equal(faded, [[True, False, False, False, True, False, False]])
    # The same colour offset in shares on dark pixels is a few levels: nothing judged.
    dark = faded_colours(_shares(now), _shares(before), lightness / 10.0, 6.0, 0.5)
    assert not dark.any()


def test_colour_levels_are_the_offset_from_grey_in_levels():
    colours = np.array([[[100.0, 100.0, 100.0], [130.0, 100.0, 70.0]]])
    levels = colour_levels(_shares(colours), np.full((1, 2), 100.0, np.float32))
    # grey: 0; (130, 100, 70): shares (110.1, 59.3) of 255 against 85 each, times 300 / 255
    np.testing.assert_allclose(levels, [[0.0, 42.3]], atol=0.5)  # the shares take sum + 1


def test_the_faded_layer_level_is_what_the_blend_mixed_in_and_black_for_a_shadow():
    sky = np.array([220.0, 190.0, 150.0])
    luma = float(sky @ [0.114, 0.587, 0.299])
    before = np.tile(sky, (1, 2, 1))
    now = before.copy()
    now[0, 0] = 0.8 * 170.0 + 0.2 * sky  # a grey film of 170 at 80 %
    now[0, 1] = 0.5 * sky  # a shadow: the shares stay
    gray_before = np.full((1, 2), luma, np.float32)
    gray = np.array([[0.8 * 170.0 + 0.2 * luma, 0.5 * luma]], np.float32)
    levels = faded_layer_levels(_shares(now), _shares(before), gray, gray_before)
    # the channels' sums are taken as 3 x luma: within a few levels of the film's 170
    np.testing.assert_allclose(levels[0, 0], 170.0, atol=4.0)
    np.testing.assert_allclose(levels[0, 1], 0.0, atol=3.0)  # the shares take sum + 1

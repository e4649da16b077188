"""The per-region measures of the night dead-block rule, against their plain definitions.

They were rewritten for speed (a burst of failures brings dozens of regions a frame): the
shifted correlation as one masked template match, the depth on the region's box, the outline
match at half resolution. Each must still measure what its docstring says.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import frame_restore_ros.detection.cell_stats as cell_stats
from frame_restore_ros.detection.detector import FailureDetector
from frame_restore_ros.detection.detector_config import DetectorConfig
from frame_restore_ros.detection.onset import nearby_any
from frame_restore_ros.detection.region_measures import (
    best_shifted_correlation,
    depth_cells,
    glow_rings,
    halved,
    label_where,
    local_glow,
    mostly,
    region_medians,
    window_around,
    window_sums,
)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    norm = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b)) / norm if norm > 0.0 else 0.0


def _plain_best_shifted_correlation(
    now: np.ndarray, before: np.ndarray, where: np.ndarray, shift: int
) -> float:
    """The definition: Pearson over ``where`` for every offset, indices clamped to the crop."""
    ys, xs = np.nonzero(where)
    if ys.size < 3:
        return 0.0
    height, width = before.shape
    samples = now[ys, xs].astype(np.float64)
    best = -1.0
    for dy in range(-shift, shift + 1):
        rows = np.clip(ys + dy, 0, height - 1)
        for dx in range(-shift, shift + 1):
            cols = np.clip(xs + dx, 0, width - 1)
            best = max(best, _pearson(samples, before[rows, cols].astype(np.float64)))
    return best


def _smooth(
    rng: np.random.Generator, shape: tuple[int, int], level: int, spread: int
) -> np.ndarray:
    noise = rng.normal(0.0, 1.0, shape).astype(np.float32)
    field = cv2.GaussianBlur(noise, (0, 0), 2.0)
    field = field / (np.abs(field).max() + 1e-6)
    return np.clip(level + spread * field, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", range(6))
def test_shifted_correlation_is_pearson_at_the_best_offset(seed):
    rng = np.random.default_rng(seed)
    now = _smooth(rng, (56, 72), level=40 + 30 * seed, spread=25)
    # before: now moved by a few pixels, plus independent noise, or unrelated content
    dy, dx = rng.integers(-4, 5, size=2)
    before = np.roll(now, (dy, dx), axis=(0, 1))
    before = np.clip(before + rng.normal(0, 6, before.shape), 0, 255).astype(np.uint8)
    if seed % 3 == 2:
        before = _smooth(rng, now.shape, level=90, spread=40)
    where = np.zeros(now.shape, bool)
    # a region touching the crop's edge on some seeds: the clamp matters there
    top, left = (0, 0) if seed % 2 else (12, 20)
    where[top : top + 30, left : left + 26] = True
    where[top : top + 6, left : left + 6] = False  # not a rectangle
    fast = best_shifted_correlation(now, before, where, 3)
    assert fast == pytest.approx(_plain_best_shifted_correlation(now, before, where, 3), abs=1e-4)


@pytest.mark.parametrize("seed", range(4))
def test_shifted_correlation_of_a_rectangle_is_pearson_too(seed):
    """A rectangular region (most blocks) takes OpenCV's unmasked path: the same definition."""
    rng = np.random.default_rng(100 + seed)
    now = _smooth(rng, (48, 64), level=30 + 50 * seed, spread=30)
    before = np.clip(
        np.roll(now, (seed, -seed), axis=(0, 1)) + rng.normal(0, 8, now.shape), 0, 255
    )
    before = before.astype(np.uint8)
    where = np.zeros(now.shape, bool)
    where[seed * 5 : seed * 5 + 20, 0 if seed % 2 else 30 : 64 if seed % 2 else 60] = True
    fast = best_shifted_correlation(now, before, where, 3)
    assert fast == pytest.approx(_plain_best_shifted_correlation(now, before, where, 3), abs=1e-4)
    dark = np.full(now.shape, 3, np.uint8)  # a dead block now: nothing to correlate
    assert best_shifted_correlation(dark, before, where, 3) == 0.0


def test_shifted_correlation_finds_content_moved_within_reach_only():
    rng = np.random.default_rng(7)
    now = _smooth(rng, (64, 64), level=120, spread=60)
    where = np.zeros(now.shape, bool)
    where[16:48, 16:48] = True
    assert best_shifted_correlation(now, np.roll(now, (2, -3), axis=(0, 1)), where, 3) > 0.999
    far = best_shifted_correlation(now, np.roll(now, (9, 9), axis=(0, 1)), where, 3)
    assert far < 0.9
    assert far == pytest.approx(
        _plain_best_shifted_correlation(now, np.roll(now, (9, 9), axis=(0, 1)), where, 3), abs=1e-4
    )


def test_shifted_correlation_of_a_constant_side_or_too_few_pixels_is_zero():
    rng = np.random.default_rng(3)
    textured = _smooth(rng, (40, 40), level=100, spread=50)
    flat = np.full((40, 40), 2, np.uint8)  # a dead block: one level
    where = np.zeros((40, 40), bool)
    where[10:30, 10:30] = True
    assert best_shifted_correlation(flat, textured, where, 3) == 0.0
    assert best_shifted_correlation(textured, flat, where, 3) == 0.0
    two = np.zeros((40, 40), bool)
    two[5, 5:7] = True
    assert best_shifted_correlation(textured, textured, two, 3) == 0.0
    assert best_shifted_correlation(textured, textured, np.zeros((40, 40), bool), 3) == 0.0


@pytest.mark.parametrize("seed", range(8))
def test_depth_on_the_regions_box_equals_the_depth_on_the_whole_grid(seed):
    rng = np.random.default_rng(seed)
    cells = cv2.dilate(
        (rng.random((40, 60)) > 0.93).astype(np.uint8), np.ones((3, 5), np.uint8), iterations=2
    ).view(bool)
    if seed == 0:
        cells[:, :] = False
        cells[0:9, 50:60] = True  # at the grid's corner
    whole = cv2.distanceTransform(np.pad(cells, 1).view(np.uint8), cv2.DIST_L2, 3).max()
    assert depth_cells(cells) == pytest.approx(float(whole))
    assert depth_cells(np.zeros((5, 5), bool)) == 0.0


@pytest.mark.parametrize("seed", range(6))
def test_a_regions_window_holds_its_dilation_as_on_the_whole_grid(seed):
    """`window_around`: per-region passes on the region's box and a margin give the whole grid's
    values (a region at the grid's edge too), and nothing of the dilation lies outside."""
    rng = np.random.default_rng(seed)
    cells = cv2.dilate((rng.random((45, 80)) > 0.96).astype(np.uint8), np.ones((2, 3), np.uint8))
    cells[0:3, 70:80] = 1  # at the grid's corner
    count, labels, boxes, _ = cv2.connectedComponentsWithStats(cells, connectivity=8)
    assert count > 5
    for region in range(1, count):
        for margin in (1, 2, 5):
            window = window_around(boxes[region], margin, labels.shape)
            whole = nearby_any(labels == region, margin)
            assert np.array_equal(nearby_any(labels[window] == region, margin), whole[window])
            outside = whole.copy()
            outside[window] = False
            assert not outside.any()


def _two_frames(shape=(240, 320), seed=11) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scene = cv2.cvtColor(_smooth(rng, shape, level=110, spread=70), cv2.COLOR_GRAY2BGR)
    return scene, np.roll(scene, 3, axis=1)


def _box_cells(box: np.ndarray, shape: tuple[int, int] = (30, 40)) -> np.ndarray:
    """(rows, cols) bool: the cells of a box (x, y, w, h) in cells, on 8-px cells."""
    x, y, w, h = (int(value) for value in box)
    cells = np.zeros(shape, bool)
    cells[y : y + h, x : x + w] = True
    return cells


def _outline_match(
    before: np.ndarray, now: np.ndarray, box: np.ndarray, config: DetectorConfig | None = None
) -> float:
    """``_moved_here`` of the region ``box`` (cells) in ``now`` against ``before``."""
    detector = FailureDetector(config)
    detector.detect(before)
    stats = detector._previous
    detector.detect(now)
    current = detector._previous
    detector._previous = stats
    return detector._moved_here(current, _box_cells(box), box)


def test_outline_match_finds_a_dark_object_that_moved_not_a_block_that_appeared():
    """`_moved_here` at half resolution: a dark object's patch is found displaced, by odd
    pixel offsets too; a block appearing in place over moving scene matches nothing."""
    before, now = _two_frames()
    box = np.array([10, 8, 6, 5])  # cells: x, y, w, h (the region), 8-px cells
    y, x, h, w = 8 * 8, 10 * 8, 5 * 8, 6 * 8
    matched = []
    for dy, dx in ((0, 0), (5, -7), (-11, 13)):
        moved_before, moved_now = before.copy(), now.copy()
        moved_before[y - dy : y - dy + h, x - dx : x - dx + w] = 3  # the object a frame ago
        moved_now[y : y + h, x : x + w] = 3  # here now
        matched.append(_outline_match(moved_before, moved_now, box))
    assert min(matched) > 0.85, matched
    appeared = now.copy()
    appeared[y : y + h, x : x + w] = 3
    assert _outline_match(before, appeared, box) < 0.7


def test_outline_match_needs_the_objects_contrast_or_darkness_where_it_came_from():
    """A dark block on a dim night road correlates with any dim, soft shade of its shape near
    it a frame ago (the normalised match ignores level and contrast): measured on night_rural,
    blocks at 0-2 in road at 10-16 matched shades 2.5 levels below the road at 0.72-0.83. A
    dark object brings its contrast against what is around it along, or at least its own
    darkness: a place where the region's pixels were darker than the rest of the patch by
    under half of their depth now, and which the region is now twice as dark as (from the
    black floor, +2), is no place it came from. The same object moved (its contrast kept, or
    lit by half again, or smeared by motion blur) is still matched; the gain's part is checked
    against the definition in the next test."""
    rng = np.random.default_rng(5)
    road = np.clip(14 + rng.normal(0, 1.0, (240, 320)), 0, 255).astype(np.uint8)
    road = cv2.cvtColor(road, cv2.COLOR_GRAY2BGR)
    box = np.array([10, 8, 6, 5])
    y, x, h, w = 8 * 8, 10 * 8, 5 * 8, 6 * 8
    block = road.copy()
    block[y : y + h, x : x + w] = 1  # 13 levels below the road
    shade = road.copy()  # a soft, dim shade of the block's shape 9 px lower a frame ago
    shade[y + 9 : y + 9 + h, x : x + w] = 9  # 5 levels below
    shade = cv2.GaussianBlur(shade, (0, 0), 1.5)
    assert _outline_match(shade, block, box, DetectorConfig(dead_region_match_contrast=0)) > 0.8
    assert _outline_match(shade, block, box) < 0.7  # 5 of 13 levels deep, (9 + 2) / (1 + 2)
    assert _outline_match(shade, block, box, DetectorConfig(dead_region_match_darker=4)) > 0.8
    moved = road.copy()  # the same dark object a frame ago, 9 px lower
    moved[y + 9 : y + 9 + h, x : x + w] = 1
    assert _outline_match(moved, block, box) > 0.85
    # A frame ago lit by half again (the scene too dark for a measured gain): still matched.
    brighter = np.clip(moved.astype(np.float32) * 1.5, 0, 255).astype(np.uint8)
    assert _outline_match(brighter, block, box) > 0.85
    blurred = cv2.blur(moved, (9, 1))  # it moved fast a frame ago: smeared along its motion
    assert _outline_match(blurred, block, box) > 0.7


def _plain_outline_match(detector: FailureDetector, stats, region: np.ndarray, box) -> float:
    """``_moved_here`` by its definition: every offset's means over the region's own pixels
    and the rest of the patch, one by one; the region's pixels built from pixel coordinates."""
    cfg, cell = detector.config, detector.config.cell
    height, width = stats.gray_full.shape
    x, y, w, h = (int(value) * cell for value in box)
    top, left = max(0, y - cell), max(0, x - cell)
    bottom, right = min(height, y + h + cell), min(width, x + w + cell)
    reach = 2 * int(np.ceil(detector._interval_scale * cfg.dead_region_match_reach * height / 2))
    rows, cols = np.mgrid[top:bottom, left:right]
    own = halved(region[rows // cell, cols // cell].astype(np.uint8) * np.uint8(255)) >= 128
    patch = halved(stats.gray_full[top:bottom, left:right])
    up, down = max(0, top - reach), min(height, bottom + reach)
    start, stop = max(0, left - reach), min(width, right + reach)
    search = halved(detector._previous.gray_full)[
        up // 2 : up // 2 + (down - up) // 2, start // 2 : start // 2 + (stop - start) // 2
    ]
    scores = cv2.matchTemplate(search, patch, cv2.TM_CCOEFF_NORMED)
    level, depth = patch[own].mean(), patch[~own].mean() - patch[own].mean()
    gain = detector._gain
    for row in range(scores.shape[0]):
        for col in range(scores.shape[1]):
            place = search[row : row + own.shape[0], col : col + own.shape[1]].astype(np.float64)
            faded = (place[~own].mean() - place[own].mean()) * gain < 0.5 * depth
            lighter = place[own].mean() * gain + 2.0 >= 2.0 * (level + 2.0)
            if faded and lighter:
                scores[row, col] = -1.0
    return float(scores.max())


@pytest.mark.parametrize("shape", [(250, 330), (249, 331)])
def test_outline_match_clauses_follow_their_definition_on_regions_of_any_shape(shape):
    """Frames that are no multiple of the cell, regions of partial cells at the bottom-right
    corner and an L-shaped one, and an exposure change (gain != 1): the map arithmetic of
    ``_moved_here`` (one correlation for the region's sum, window sums for the rest) gives what
    the means over each offset give."""
    rng = np.random.default_rng(shape[1])
    scene = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), 6)
    scene = np.clip(60 + 400 * scene + rng.normal(0, 2, shape), 0, 255).astype(np.uint8)
    rows, cols = -(-shape[0] // 8), -(-shape[1] // 8)
    corner = np.zeros((rows, cols), bool)
    corner[rows - 2 :, cols - 3 :] = True
    ell = np.zeros((rows, cols), bool)
    ell[10:18, 8:11] = True
    ell[15:18, 11:20] = True
    for region in (corner, ell):
        ys, xs = np.nonzero(region)
        box = np.array([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1])
        pixels = cv2.resize(region.view(np.uint8), (cols * 8, rows * 8), interpolation=0)
        inside = pixels[: shape[0], : shape[1]] > 0
        now = np.roll(scene, 3, axis=1)
        now[inside] = 2  # dark now
        before = scene.copy()  # a frame ago 11 px up and 6 left, dim: some places keep it
        before[np.roll(inside, (-11, -6), axis=(0, 1))] = 30
        for gain in (1.0, 1.3):
            brighter = np.clip(now.astype(np.float32) * gain, 0, 255).astype(np.uint8)
            detector = FailureDetector()
            detector.detect(cv2.cvtColor(before, cv2.COLOR_GRAY2BGR))
            stats = detector._previous
            detector.detect(cv2.cvtColor(brighter, cv2.COLOR_GRAY2BGR))
            current = detector._previous
            detector._previous = stats
            assert (detector._gain != 1.0) == (gain != 1.0)
            plain = _plain_outline_match(detector, current, region, box)
            assert detector._moved_here(current, region, box) == pytest.approx(plain, abs=1e-5)


@pytest.mark.parametrize("size", [(1, 1), (3, 5), (8, 8), (12, 7)])
def test_window_sums_are_each_windows_pixel_sum_as_matchtemplate_lays_them_out(size):
    rng = np.random.default_rng(size[0] * 31 + size[1])
    image = rng.integers(0, 256, (20, 24), dtype=np.uint8)
    sums = window_sums(image, size)
    height, width = size
    assert sums.shape == cv2.matchTemplate(image, image[:height, :width], cv2.TM_CCORR).shape
    for y in range(sums.shape[0]):
        for x in range(sums.shape[1]):
            assert sums[y, x] == int(image[y : y + height, x : x + width].astype(np.int64).sum())


@pytest.mark.parametrize("seed", range(4))
def test_local_glow_is_the_median_near_pixel_above_its_far_neighbours_mean(seed):
    """Integer box sums from uint8 passes: the same figure as the float definition."""
    rng = np.random.default_rng(seed)
    crop = _smooth(rng, (90, 120), 120, 100)
    core = np.zeros((90, 120), np.uint8)
    core[30:60, 40:80] = 1
    near = cv2.dilate(core, np.ones((5, 5), np.uint8)).view(bool) & ~core.view(bool)
    far = cv2.dilate(core, np.ones((17, 17), np.uint8)).view(bool)
    far &= ~cv2.dilate(core, np.ones((9, 9), np.uint8)).view(bool)
    weight = far.astype(np.float32)
    count = cv2.boxFilter(weight, -1, (9, 9), normalize=False)
    total = cv2.boxFilter(crop.astype(np.float32) * weight, -1, (9, 9), normalize=False)
    judged = near & (count > 0)
    expected = float(np.median(crop[judged] - total[judged] / count[judged]))
    assert local_glow(crop, near, far) == expected
    assert local_glow(crop, near, np.zeros_like(far)) == 0.0  # nothing far: nothing judged


@pytest.mark.parametrize("share", [0.05, 0.5, 1.0])
def test_cell_share_is_the_same_per_selected_block_or_over_the_whole_grid(share, monkeypatch):
    """Both paths (the selected cells' blocks, the whole grid's integral image) give each
    selected cell's share of pixels at or above the level, partial edge cells padded alike,
    and NaN elsewhere."""
    rng = np.random.default_rng(7)
    gray = rng.integers(0, 256, (203, 331), dtype=np.uint8)  # partial cells at both edges
    cells = rng.random((13, 21)) < share
    rows, cols = np.nonzero(cells)
    padded = cv2.copyMakeBorder(gray, 0, 5, 0, 5, cv2.BORDER_REPLICATE)
    for level in (21.0, 200.5, 235.0):
        expected = np.full(cells.shape, np.nan, np.float32)
        for r, c in zip(rows, cols, strict=True):
            expected[r, c] = (padded[16 * r : 16 * r + 16, 16 * c : 16 * c + 16] >= level).mean()
        for whole in (0.0, 2.0):  # every selection over the whole grid, or none
            monkeypatch.setattr(cell_stats, "WHOLE_GRID_SHARE", whole)
            found = cell_stats.cell_share_at_least(gray, cells, 16, level)
            assert np.array_equal(found, expected, equal_nan=True)


@pytest.mark.parametrize("seed", range(4))
def test_region_medians_are_each_regions_numpy_median(seed):
    """One sort for every region: the same float32 values as np.median region by region,
    odd and even sizes (the mean of the two middle values), ties and one-cell regions."""
    rng = np.random.default_rng(seed)
    cells = rng.random((45, 80)) < 0.35
    values = rng.choice(np.float32([-0.3, 0.1, 0.25, 0.7]), cells.shape)
    values += rng.normal(0, 0.2, cells.shape).astype(np.float32) * (rng.random(cells.shape) < 0.5)
    count, labels = cv2.connectedComponents(cells.view(np.uint8), connectivity=8)
    medians = region_medians(values, labels, count)
    assert medians.dtype == np.float32 and np.isnan(medians[0])
    sizes = np.bincount(labels.ravel(), minlength=count)
    assert (sizes[1:] % 2 == 0).any() and (sizes[1:] == 1).any()
    for region in range(1, count):
        assert medians[region] == np.median(values[labels == region])
    # A NaN in a region makes its median NaN; huge values do not overflow an odd-sized one.
    values[labels == 1] = np.nan
    odd = next(region for region in range(2, count) if sizes[region] % 2)
    values[labels == odd] = np.float32(3e38)
    medians = region_medians(values, labels, count)
    assert np.isnan(medians[1]) and medians[odd] == np.float32(3e38)
    assert not np.isnan(np.delete(medians, [0, 1])).any()


def test_label_where_sets_exactly_the_selected_pixels():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 9, (61, 83), dtype=np.uint8)
    where = rng.random(labels.shape) < 0.3
    expected = labels.copy()
    expected[where] = 7
    label_where(labels, where, 7)
    assert np.array_equal(labels, expected)


@pytest.mark.parametrize("seed", range(3))
def test_glow_rings_are_the_rings_of_the_cores_square_dilations(seed):
    """1-2 px and 5-8 px outside a bright core, as its 5x5, 9x9 and 17x17 dilations define
    them (scattered cores, a block, the crop's edges)."""
    rng = np.random.default_rng(seed)
    core = (rng.random((70, 90)) < 0.02).astype(np.uint8)
    core[20:30, 40:52] = 1
    core[:3, -4:] = 1
    near = cv2.dilate(core, np.ones((5, 5), np.uint8)).view(bool) & ~core.view(bool)
    grown = cv2.dilate(core, np.ones((9, 9), np.uint8)).view(bool)
    far = cv2.dilate(core, np.ones((17, 17), np.uint8)).view(bool) & ~grown
    found_near, found_far = glow_rings(core.view(bool))
    assert np.array_equal(found_near, near) and np.array_equal(found_far, far)
    assert not any(ring.any() for ring in glow_rings(np.zeros((20, 30), bool)))


def test_mostly_takes_the_regions_of_which_a_share_is_marked():
    regions = np.zeros((5, 9), bool)
    regions[1:4, 1:3] = True  # 6 cells
    regions[1:4, 5:8] = True  # 9 cells
    marked = np.zeros_like(regions)
    marked[1:4, 1] = True  # half of the first
    marked[1, 5:7] = True  # 2 of 9 of the second
    marked[0, :] = True  # outside every region: does not count
    chosen = mostly(marked, regions, 0.5)
    np.testing.assert_array_equal(chosen, regions & (np.arange(9) < 4))
    assert not mostly(marked, regions, 0.6).any()
    assert not mostly(marked, np.zeros_like(regions), 0.0).any()

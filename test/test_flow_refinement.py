"""Dense motion inside enclosed failures (``pipeline/flow_refinement.py``)."""

from __future__ import annotations

import cv2
import numpy as np
from fakes import CopyBackend

from frame_restore_ros.media.resize import downscale
from frame_restore_ros.media.tensors import frame_to_array
from frame_restore_ros.pipeline.alignment import warp_full
from frame_restore_ros.pipeline.compositing import detail_from_small, to_model_size
from frame_restore_ros.pipeline.flow_refinement import (
    bracketed_failures,
    enclosed_failures,
    refine_reference,
    remap_detail,
)
from frame_restore_ros.pipeline.repair import RepairOptions, RepairPipeline

SIZE = (224, 400)


def locally_moved(frame: np.ndarray, centre: tuple[float, float], shift: float) -> np.ndarray:
    """``frame`` with the content around ``centre`` (x, y) moved right by up to ``shift`` px.

    A smooth bump of motion, as an object or near scenery moves against the background: no
    single affine warp describes it.
    """
    height, width = frame.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    spread = 0.2 * width
    bump = np.float32(shift) * np.exp(
        -((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * spread**2)
    )
    return cv2.remap(
        frame, (xs - bump).astype(np.float32), ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def central_block(shape: tuple[int, int]) -> np.ndarray:
    height, width = shape
    failed = np.zeros(shape, bool)
    failed[height // 3 : height // 3 + height // 4, width // 3 : width // 3 + width // 4] = True
    return failed


def inputs(reference: np.ndarray, damaged: np.ndarray, failed: np.ndarray):
    small_reference = downscale(reference, SIZE)
    small = to_model_size(damaged, failed, SIZE)
    detail = detail_from_small(reference, small_reference)
    return frame_to_array(small_reference), detail, small


def test_only_failures_bracketed_by_clean_pixels_along_a_row_or_column_count():
    clean = np.ones((20, 30), bool)
    clean[5:9, 10:14] = False  # a block: clean on every side
    clean[15:, :] = False  # lost bottom rows: clean above only
    clean[:3, 25:] = False  # a failed corner: clean below and to the left only
    clean[0:3, 3:6] = False  # a notch at the top edge: clean to its left and right
    expected = np.zeros_like(clean)
    expected[5:9, 10:14] = True
    expected[0:3, 3:6] = True
    np.testing.assert_array_equal(bracketed_failures(clean), expected)
    assert not enclosed_failures(clean)  # the rows and the corner reach the frame's edge
    enclosed = np.ones_like(clean)
    enclosed[5:9, 10:14] = enclosed[0:3, 3:6] = False
    assert enclosed_failures(enclosed)
    assert enclosed_failures(np.ones_like(clean))  # nothing failed


def textured(frame: np.ndarray) -> np.ndarray:
    """``frame`` with fine texture (4-pixel grain) the model's input size cannot hold."""
    grain = np.random.default_rng(3).integers(-30, 30, (frame.shape[0] // 4, frame.shape[1] // 4))
    grain = np.repeat(np.repeat(grain, 4, axis=0), 4, axis=1)[..., None]
    return np.clip(frame.astype(int) + grain, 0, 255).astype(np.uint8)


def moved_block(reference: np.ndarray):
    """(truth, damaged, failed): ``reference`` moved around a central block that then fails."""
    failed = central_block(reference.shape[:2])
    rows, cols = np.nonzero(failed)
    truth = locally_moved(reference, (cols.mean(), rows.mean()), 8.0)
    damaged = truth.copy()
    damaged[failed] = 0
    return truth, damaged, failed


def test_the_reference_under_a_failed_block_follows_the_motion_around_it(bikes_frames):
    truth, damaged, failed = moved_block(bikes_frames[30])
    model_input, detail, small = inputs(bikes_frames[30], damaged, failed)
    kept_input, kept_detail = model_input.copy(), detail.copy()
    result = refine_reference(model_input, detail, small.image, small.valid)
    assert result.refined, result.reason
    # the inputs are never modified (the restorer caches them per reference)
    np.testing.assert_array_equal(model_input, kept_input)
    np.testing.assert_array_equal(detail, kept_detail)
    truth_small = frame_to_array(downscale(truth, SIZE))[0]
    inside = cv2.resize(failed.view(np.uint8), SIZE[::-1], interpolation=cv2.INTER_NEAREST) > 0
    before = np.abs(model_input[0] - truth_small)[:, inside].mean()
    after = np.abs(result.model_input[0] - truth_small)[:, inside].mean()
    assert after < 0.7 * before, (before, after)


def test_its_detail_is_moved_too_and_only_computed_around_the_failure(bikes_frames):
    reference = textured(bikes_frames[30])
    height, width = reference.shape[:2]
    truth, damaged, failed = moved_block(reference)
    model_input, detail, small = inputs(reference, damaged, failed)
    result = refine_reference(model_input, detail, small.image, small.valid)
    assert result.refined, result.reason
    truth_detail = detail_from_small(truth, downscale(truth, SIZE))
    moved = np.abs(result.detail.astype(float) - truth_detail)[failed].mean()
    kept = np.abs(detail.astype(float) - truth_detail)[failed].mean()
    assert moved < 0.8 * kept, (moved, kept)
    far = np.ones_like(failed)
    far[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = False
    assert not result.detail[far].any()


def test_the_detail_is_moved_by_the_ecc_warp_and_the_flow_in_one_pass():
    height, width = 272, 640
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 300, (height, width, 3)).astype(np.float32)
    detail = cv2.GaussianBlur(noise, (0, 0), 3)  # smooth: resampling is exact
    failed = central_block((height, width))
    warp = cv2.getRotationMatrix2D((width / 2, height / 2), 1.0, 1.03)  # reference -> frame
    flow = cv2.GaussianBlur(rng.normal(0, 20, (*SIZE, 2)).astype(np.float32), (0, 0), 15)
    not_clean = cv2.resize(failed.view(np.uint8), SIZE[::-1], cv2.INTER_NEAREST) > 0
    once = remap_detail(detail, flow, not_clean, warp)
    twice = remap_detail(warp_full(detail, warp), flow, not_clean, None)
    assert np.abs(flow).max() > 1.0  # a flow of a pixel or more
    difference = np.abs(once - twice)[failed].mean()
    magnitude = np.abs(once[failed]).mean()
    assert difference < 0.05 * magnitude, (difference, magnitude)
    still = remap_detail(detail, np.zeros_like(flow), not_clean, warp)
    inner = cv2.erode(failed.view(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert np.abs(still - warp_full(detail, warp))[inner].max() <= 1  # no flow: ECC


def test_lost_rows_at_the_edge_keep_the_ecc_reference(bikes_frames):
    reference, current = bikes_frames[30], bikes_frames[32]
    failed = np.zeros(reference.shape[:2], bool)
    failed[-60:] = True  # lost bottom rows: motion measured on one side only
    damaged = current.copy()
    damaged[failed] = 0
    model_input, detail, small = inputs(reference, damaged, failed)
    result = refine_reference(model_input, detail, small.image, small.valid)
    assert not result.refined and "bracketed" in result.reason
    assert result.model_input is model_input and result.detail is detail


def test_scattered_patches_are_refined_unless_too_few_are_clean_or_nothing_moved(bikes_frames):
    reference, current = bikes_frames[30], bikes_frames[34]

    def patches(ratio: float) -> np.ndarray:
        cells = np.random.default_rng(0).random((14, 25)) < ratio
        return cv2.resize(cells.view(np.uint8), reference.shape[1::-1], cv2.INTER_NEAREST) > 0

    for ratio, refined in ((0.75, True), (0.95, False)):
        failed = patches(ratio)
        model_input, detail, small = inputs(reference, current, failed)
        result = refine_reference(model_input, detail, small.image, small.valid)
        assert result.refined == refined, (ratio, result.reason)
    assert "too few clean pixels" in result.reason
    block = central_block(reference.shape[:2])
    model_input, detail, small = inputs(reference, reference, block)
    result = refine_reference(model_input, detail, small.image, small.valid)
    assert not result.refined and "does not explain" in result.reason  # nothing moved


def test_the_repair_pipeline_applies_it_and_touches_only_failed_pixels(bikes_frames):
    reference = bikes_frames[30]
    truth, damaged, failed = moved_block(reference)
    errors = {}
    for align in ("ecc", "ecc_flow"):
        options = RepairOptions(align=align, change_tau=None, feather_px=0)
        repair = RepairPipeline(CopyBackend(), options).repair(reference, damaged, failed)
        np.testing.assert_array_equal(repair.frame[~failed], damaged[~failed])
        errors[align] = np.abs(repair.frame.astype(float) - truth)[failed].mean()
    assert errors["ecc_flow"] < 0.8 * errors["ecc"], errors

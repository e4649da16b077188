"""Reference alignment (ECC) and full-resolution detail transfer."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from fakes import CopyBackend, repair

from frame_restore_ros.pipeline.alignment import align_reference, estimate_warp
from frame_restore_ros.pipeline.repair import RepairOptions, RepairPipeline
from frame_restore_ros.pipeline.restorer import Restorer, RestorerConfig, Status
from frame_restore_ros.synthetic.corruption import random_patches


def gated(backend, reference, damaged, failed, detail: bool, tau: float | None) -> np.ndarray:
    """Repair without alignment or feathering, with detail transfer and gate as given."""
    options = RepairOptions(feather_px=0, detail_transfer=detail, change_tau=tau, align="none")
    return RepairPipeline(backend, options).repair(reference, damaged, failed).frame


def shifted(frame: np.ndarray, dx: float, dy: float, zoom: float = 1.0) -> np.ndarray:
    height, width = frame.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, zoom)
    matrix[:, 2] += (dx, dy)
    return cv2.warpAffine(frame, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


def test_ecc_recovers_a_known_camera_motion_from_clean_pixels_only(bikes_frames):
    reference = bikes_frames[30]  # textured (frame 10 is mostly the flat side of a bus)
    current = shifted(reference, 6.0, -3.0, 1.02)
    damage = random_patches(current, (14, 25), 0.6, np.random.default_rng(0))
    warp = estimate_warp(reference, damage.damaged, ~damage.mask)
    assert warp is not None
    height, width = reference.shape[:2]
    expected = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, 1.02)
    expected[:, 2] += (6.0, -3.0)
    # where the central half of the frame lands, to within a few pixels
    ys, xs = np.mgrid[height // 4 : 3 * height // 4 : 8, width // 4 : 3 * width // 4 : 8]
    points = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    assert np.abs(warp @ points - expected @ points).max() < 2.0
    aligned, used = align_reference(reference, damage.damaged, ~damage.mask)
    failed = damage.mask & (np.abs(np.arange(width) - width / 2) < width / 3)[None, :]
    before = np.abs(reference.astype(float) - current)[failed].mean()
    after = np.abs(aligned.astype(float) - current)[failed].mean()
    assert used and after < 0.5 * before


def test_alignment_is_skipped_without_motion_or_clean_pixels(bikes_frames):
    frame = bikes_frames[10]
    valid = np.ones(frame.shape[:2], bool)
    aligned, used = align_reference(frame, frame, valid)
    assert not used and aligned is frame
    assert estimate_warp(bikes_frames[9], frame, np.zeros_like(valid)) is None


def test_detail_transfer_gives_the_full_resolution_reference_where_the_model_copies(
    bikes_frames,
):
    reference, current = bikes_frames[10], bikes_frames[11]
    backend = CopyBackend((224, 400), 16)
    damage = random_patches(current, (14, 25), 0.5, np.random.default_rng(1))
    restored = gated(backend, reference, damage.damaged, damage.mask, True, None)
    failed = damage.mask
    # away from patch edges (where upsampling blends in the neighbouring patch) it is exact
    inner = cv2.erode(failed.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    np.testing.assert_array_equal(restored[inner], reference[inner])
    np.testing.assert_array_equal(restored[~failed], damage.damaged[~failed])
    blurry, _ = repair(backend, reference, damage.damaged, failed)
    assert (blurry[inner] != reference[inner]).mean() > 0.2  # without it: model resolution


def test_restorer_options_are_validated_and_alignment_runs(bikes_frames):
    with pytest.raises(ValueError, match="align must be one of"):
        RepairOptions(align="sift")
    with pytest.raises(ValueError, match="feather_px"):
        RepairOptions(feather_px=-1)
    restorer = Restorer(CopyBackend(), RestorerConfig(repair=RepairOptions(align="ecc")))
    for index in range(4):
        restorer.process(bikes_frames[index], index * 0.04)
    damage = random_patches(bikes_frames[4], (14, 25), 0.5, np.random.default_rng(2))
    result = restorer.process(damage.damaged, 0.16)
    assert result.status is Status.REPAIRED
    np.testing.assert_array_equal(result.frame[~result.mask], damage.damaged[~result.mask])


class JunkBackend(CopyBackend):
    """Predicts mid-gray in every failed patch: a model that is always wrong."""

    def infer(self, reference, damaged, patch_mask):
        pixels = np.repeat(np.repeat(patch_mask > 0.5, self.patch_size, 1), self.patch_size, 2)
        return np.where(pixels[:, None], np.float32(0.5), damaged)


def test_change_gate_keeps_the_reference_where_nothing_changed(bikes_frames):
    from frame_restore_ros.pipeline.change_gate import change_weight

    reference = bikes_frames[30]
    failed = np.zeros(reference.shape[:2], bool)
    failed[100:160, 200:320] = True
    damaged = reference.copy()
    damaged[failed] = 0
    backend = JunkBackend((224, 400), 16)
    static = gated(backend, reference, damaged, failed, True, 16.0)
    inner = cv2.erode(failed.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    np.testing.assert_array_equal(static[inner], reference[inner])  # hold, not the junk
    # the scene changed everywhere (+60 gray levels): the model's output is used as is
    changed = np.clip(reference.astype(int) + 60, 0, 255).astype(np.uint8)
    changed[failed] = 0
    moved = gated(backend, reference, changed, failed, False, 16.0)
    assert np.abs(moved[inner].astype(int) - 128).max() <= 1
    ungated, _ = repair(backend, reference, damaged, failed)
    assert np.abs(ungated[inner].astype(int) - 128).max() <= 1
    # the weight grows with the change and is 1 where no valid pixel is near
    small = np.zeros((64, 64, 3), np.float32)
    valid = np.ones((64, 64), np.float32)
    weights = [
        float(change_weight(small, small + delta, valid, 16.0).mean()) for delta in (0, 8, 16, 40)
    ]
    assert weights == sorted(weights) and weights[0] == 0.0 and weights[-1] == 1.0
    assert (change_weight(small, small, np.zeros_like(valid), 16.0) == 1).all()
    with pytest.raises(ValueError, match="change_tau"):
        RepairOptions(change_tau=0)


def test_change_weight_on_a_crop_equals_the_whole_frame_inside_its_reach():
    # compositing runs the gate on a crop: pixels gate_reach or more inside an even-aligned
    # crop get exactly the whole frame's weights (float32, bit for bit).
    from frame_restore_ros.pipeline.change_gate import change_weight, gate_reach

    rng = np.random.default_rng(4)
    reference = rng.uniform(0, 255, (224, 400, 3)).astype(np.float32)
    damaged = np.clip(reference + rng.normal(0, 20, reference.shape), 0, 255).astype(np.float32)
    valid = np.ones((224, 400), np.float32)
    valid[90:140, 150:260] = 0.0
    valid[88:90, 150:260] = 0.5
    whole = change_weight(reference, damaged, valid, 24.0)
    reach = gate_reach(400)
    rows, cols = slice(90 - reach, 140 + reach), slice(150 - reach, 260 + reach)
    assert (rows.start % 2, cols.start % 2, (rows.stop - rows.start) % 2) == (0, 0, 0)
    crop = change_weight(reference[rows, cols], damaged[rows, cols], valid[rows, cols], 24.0, 400)
    inner = (slice(reach, -reach), slice(reach, -reach))
    assert np.array_equal(crop[inner], whole[90:140, 150:260])
    assert 0 < whole[90:140, 150:260].mean() < 1
    # Without the whole frame's width the sigma would follow the crop: not the same weights.
    assert not np.array_equal(
        change_weight(reference[rows, cols], damaged[rows, cols], valid[rows, cols], 24.0)[inner],
        whole[90:140, 150:260],
    )

"""Thin failures (lines, a few rows or columns) go to inpainting; blocks go to the model."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import CopyBackend

from frame_restore_ros.evaluation.metrics import psnr_from_mse
from frame_restore_ros.pipeline.repair import RepairOptions, RepairPipeline
from frame_restore_ros.pipeline.thin_routing import thin_failures


def test_thin_structures_are_found_and_blocks_are_not():
    failed = np.zeros((80, 120), bool)
    failed[10:12, :] = True  # a 2-row dropout
    failed[:, 100:104] = True  # a 4-column dropout
    failed[40:72, 20:60] = True  # a block
    thin = thin_failures(failed, 4)
    assert thin[10:12, :100].all() and thin[:, 100:104].all()
    assert not thin[40:72, 20:60].any(), "a block, corners included, is not thin"
    assert not thin[~failed].any()
    assert not thin_failures(failed, 0).any()
    assert thin_failures(failed, 1)[10:12].sum() == 0  # 2 rows are thicker than 1


class NoModel(CopyBackend):
    def infer(self, *args):
        raise AssertionError("the model ran for thin failures only")


def test_lines_only_are_inpainted_without_the_model_and_good_pixels_stay(two_frames):
    reference, truth = two_frames
    damaged, failed = truth.copy(), np.zeros(truth.shape[:2], bool)
    failed[100:103, :] = True
    failed[:, 200:202] = True
    damaged[failed] = 0
    routed = RepairPipeline(NoModel(), RepairOptions(thin_inpaint_px=4))
    out = routed.repair(reference, damaged, failed).frame
    assert np.array_equal(out[~failed], damaged[~failed])
    error = (out[failed].astype(float) - truth[failed]).__pow__(2).mean()
    assert psnr_from_mse(error) > 24  # neighbours 1-2 px away predict a line well
    with pytest.raises(AssertionError, match="model ran"):
        RepairPipeline(NoModel(), RepairOptions(thin_inpaint_px=0)).repair(
            reference, damaged, failed
        )


def test_blocks_and_lines_together_use_both(two_frames):
    reference, truth = two_frames
    damaged, failed = truth.copy(), np.zeros(truth.shape[:2], bool)
    failed[100:102, :] = True
    failed[20:80, 40:140] = True
    damaged[failed] = 0
    options = RepairOptions(thin_inpaint_px=4, align="none", change_tau=None)
    out = RepairPipeline(CopyBackend(), options).repair(reference, damaged, failed).frame
    plain = RepairPipeline(
        CopyBackend(), RepairOptions(thin_inpaint_px=0, align="none", change_tau=None)
    )
    model = plain.repair(reference, damaged, failed).frame
    block = np.zeros_like(failed)
    block[20:80, 40:140] = True
    assert np.array_equal(out[block], model[block])  # the block: the model's pixels
    line = failed & ~block
    assert not np.array_equal(out[line], model[line])  # the line: inpainted
    assert np.array_equal(out[~failed], damaged[~failed])
    with pytest.raises(ValueError, match="thin_inpaint_px"):
        RepairOptions(thin_inpaint_px=-1)


@pytest.fixture
def two_frames(bikes_frames):
    """(reference, truth): frames 20 and 21 of bikes.mp4, (272, 640, 3) uint8 BGR."""
    return bikes_frames[20], bikes_frames[21]

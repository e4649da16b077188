"""Temporal smoothing of lasting repairs (pipeline/temporal_blend.py), used by the Restorer."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import CopyBackend

from frame_restore_ros.evaluation.persistent import ScriptedDetector
from frame_restore_ros.pipeline.repair import RepairOptions
from frame_restore_ros.pipeline.restorer import Restorer, RestorerConfig, Status
from frame_restore_ros.pipeline.temporal_blend import RepairBlender


def _mask(shape, rows, cols) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[rows, cols] = True
    return mask


def test_blend_is_an_exact_moving_average_of_pixels_repaired_twice_and_nothing_else():
    rng = np.random.default_rng(0)
    first = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    second = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    before = _mask((20, 30), slice(2, 14), slice(3, 20))
    now = _mask((20, 30), slice(4, 16), slice(5, 22))  # IoU 150 / 258: the same failure
    blender = RepairBlender(0.25)
    assert np.array_equal(blender.blend(first.copy(), before), first), "first repair as it is"
    out = blender.blend(second.copy(), now)
    both = before & now
    expected = np.rint(0.25 * second.astype(np.float64) + 0.75 * first)
    assert np.abs(out[both].astype(int) - expected[both]).max() <= 1  # OpenCV rounding
    assert np.array_equal(out[~both], second[~both]), "other pixels untouched, byte for byte"


def test_a_different_failure_touching_the_same_pixels_is_not_blended():
    rng = np.random.default_rng(2)
    first = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    second = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    blender = RepairBlender(0.5)
    blender.blend(first.copy(), _mask((20, 30), slice(0, 10), slice(0, 30)))
    lines = _mask((20, 30), slice(8, 20), slice(0, 30))  # IoU 60 / 600: another failure
    assert np.array_equal(blender.blend(second.copy(), lines), second)


def test_forget_and_weight_one_leave_the_repair_as_it_is():
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(3)]
    everywhere = np.ones((8, 8), bool)
    blender = RepairBlender(0.5)
    blender.blend(frames[0].copy(), everywhere)
    blender.forget()
    assert np.array_equal(blender.blend(frames[1].copy(), everywhere), frames[1])
    off = RepairBlender(1.0)
    off.blend(frames[0].copy(), everywhere)
    assert np.array_equal(off.blend(frames[2].copy(), everywhere), frames[2])
    with pytest.raises(ValueError, match="temporal blend weight"):
        RepairBlender(0.0)
    with pytest.raises(ValueError, match="temporal_blend"):
        RepairOptions(temporal_blend=1.5)


def _restorer(weight: float) -> Restorer:
    options = RepairOptions(temporal_blend=weight, align="none", change_tau=None, feather_px=0)
    restorer = Restorer(CopyBackend((64, 160), 16), RestorerConfig(repair=options))
    restorer.detector = ScriptedDetector()
    return restorer


def test_restorer_smooths_a_lasting_block_and_restarts_after_a_clean_frame(bikes_frames):
    frames = [np.ascontiguousarray(f[:128, :320]) for f in bikes_frames[20:26]]
    block = _mask(frames[0].shape[:2], slice(32, 96), slice(64, 192))
    plain, smooth = _restorer(1.0), _restorer(0.5)
    outputs = {}
    for name, restorer in (("plain", plain), ("smooth", smooth)):
        restorer.process(frames[0], 0.0)  # clean: the reference
        restorer.detector.mask = block
        outs = []
        for index in (1, 2):
            damaged = frames[index].copy()
            damaged[block] = 0
            result = restorer.process(damaged, index / 30)
            assert result.status is Status.REPAIRED
            assert np.array_equal(result.frame[~block], damaged[~block]), "good pixels untouched"
            outs.append(result.frame)
        outputs[name] = outs
    assert np.array_equal(outputs["smooth"][0], outputs["plain"][0]), "first repair unsmoothed"
    expected = 0.5 * outputs["plain"][1].astype(np.float64) + 0.5 * outputs["plain"][0]
    difference = np.abs(outputs["smooth"][1][block].astype(int) - np.rint(expected[block]))
    assert difference.max() <= 1
    # A clean frame ends the failure: the next repair starts afresh.
    smooth.detector.mask = None
    plain.detector.mask = None
    smooth.process(frames[3], 3 / 30)
    plain.process(frames[3], 3 / 30)
    smooth.detector.mask = block
    plain.detector.mask = block
    damaged = frames[4].copy()
    damaged[block] = 0
    assert np.array_equal(
        smooth.process(damaged, 4 / 30).frame, plain.process(damaged.copy(), 4 / 30).frame
    )


def test_persistent_evaluation_factories_set_the_blend():
    from frame_restore_ros.evaluation.persistent import restorer_method
    from frame_restore_ros.pipeline.temporal_blend import DEFAULT_TEMPORAL_BLEND

    default = restorer_method(CopyBackend(), propagate=False)()
    off = restorer_method(CopyBackend(), propagate=False, temporal_blend=1.0)()
    assert default.blender.weight == DEFAULT_TEMPORAL_BLEND < 1.0
    assert off.blender.weight == 1.0 and isinstance(off.detector, ScriptedDetector)

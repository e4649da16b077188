"""The reference mosaic: per-region content and age, so partial failures never stop repairs."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import CopyBackend

from frame_restore_ros.detection.detector import DetectorConfig
from frame_restore_ros.evaluation.persistent import ScriptedDetector
from frame_restore_ros.pipeline.reference import (
    REGION_PX,
    ReferenceTracker,
    TrackerConfig,
    Unavailable,
)
from frame_restore_ros.pipeline.restorer import Restorer, RestorerConfig, Status

SHAPE = (64, 96)  # 4 x 6 regions of 16 px
HELD = TrackerConfig(propagate_followed=False, propagate_enclosed=False)  # repairs never enter


@pytest.fixture(scope="module")
def frames(bikes_frames) -> list[np.ndarray]:
    """Return bikes.mp4 (640x272) from frame 17 on, clean to the detector."""
    return bikes_frames[17:]


def block(top: int, left: int, height: int, width: int, shape=SHAPE) -> np.ndarray:
    """(H, W) bool with one True rectangle."""
    mask = np.zeros(shape, bool)
    mask[top : top + height, left : left + width] = True
    return mask


def scripted(config: RestorerConfig) -> Restorer:
    restorer = Restorer(CopyBackend((64, 160), 16), config)
    restorer.detector = ScriptedDetector()
    return restorer


def run(restorer: Restorer, frame: np.ndarray, mask: np.ndarray, stamp: float):
    """Process ``frame`` with its failed ``mask`` zeroed (a dead block)."""
    damaged = frame.copy()
    damaged[mask] = 0
    restorer.detector.mask = mask
    return damaged, restorer.process(damaged, stamp)


def test_good_pixels_update_the_mosaic_and_only_good_regions_refresh():
    tracker = ReferenceTracker()
    tracker.observe(np.zeros((*SHAPE, 3), np.uint8), 0.0)
    tracker.update(np.full((*SHAPE, 3), 10, np.uint8), 0.0)
    failed = block(48, 80, 2, 2)  # 4 of a region's 256 pixels: it still refreshes
    frame = np.full((*SHAPE, 3), 20, np.uint8)
    frame[failed] = 200
    tracker.observe(frame, 0.04)
    lookup = tracker.lookup(0.04, failed)
    assert lookup.reference is not None and lookup.reference.repairable is failed
    tracker.update(frame, 0.04, failed, repaired=failed)
    mosaic = tracker.frame
    assert (mosaic[~failed] == 20).all(), "good pixels are the newest"
    assert (mosaic[48:50, 80:82] == 200).all(), "a refreshed region takes its repaired pixels"
    ages = tracker.region_ages
    assert ages.shape == (SHAPE[0] // REGION_PX, SHAPE[1] // REGION_PX)
    assert ages.max() == 0 and tracker.age(0.04) == (0, 0.0)


def test_the_mosaic_holds_one_moment_while_a_failure_is_repaired_and_renews_in_time():
    """A failed region's content and its surroundings come from the same frame (one ECC warp)."""
    tracker = ReferenceTracker(TrackerConfig(max_age_frames=6, max_age_s=100.0))
    tracker.observe(np.zeros((*SHAPE, 3), np.uint8), 0.0)
    tracker.update(np.full((*SHAPE, 3), 10, np.uint8), 0.0)
    failed = block(0, 0, 32, 32)  # 4 regions failed whole
    versions, mosaics = [], []
    for index in range(1, 10):
        frame = np.full((*SHAPE, 3), 10 + index, np.uint8)
        frame[failed] = 0
        tracker.observe(frame, index * 0.04)
        lookup = tracker.lookup(index * 0.04, failed)
        tracker.update(frame, index * 0.04, failed, repaired=lookup.reference and failed)
        versions.append(tracker.version)
        mosaics.append(int(tracker.frame[40, 40, 0]))
    # held for max_age_frames // 2 = 3 frames, then that frame taken, held again; from frame 7
    # the failed region is older than max_age (6): it passes through and holds nothing back
    assert mosaics == [10, 10, 13, 13, 13, 16, 17, 18, 19]
    assert versions[0] == versions[1] and versions[3] == versions[4]  # prepared once per moment
    assert (tracker.frame[:32, :32] == 10).all(), "the failed region kept its last good content"
    ages = tracker.region_ages
    assert ages[0, 0] == 9 and ages[3, 3] == 0  # the failed region aged out; the rest is fresh


def test_a_region_failed_longer_than_max_age_passes_through_while_fresh_ones_are_repaired(
    frames,
):
    frames = [f[:128, :320] for f in frames]
    config = RestorerConfig(tracker=TrackerConfig(max_age_frames=5, max_age_s=100.0))
    restorer = scripted(config)
    old = block(16, 16, 48, 64, (128, 320))  # fails from frame 2 on
    fresh = block(64, 192, 32, 64, (128, 320))  # fails at frame 9 only
    none = np.zeros((128, 320), bool)
    statuses = []
    for index, frame in enumerate(frames[:9]):
        damaged, result = run(restorer, frame, none if index < 2 else old, index * 0.04)
        statuses.append(result.status)
        if index < 2:
            assert result.frame is damaged, "a clean frame is returned as the same array"
    # the old block is 1..5 frames old at frames 2-6, 6 and 7 at frames 7 and 8
    assert statuses[2:7] == [Status.REPAIRED] * 5
    assert statuses[7:] == [Status.STALE_REFERENCE] * 2 and result.frame is damaged
    assert "frames old (max 5)" in result.reason
    damaged, result = run(restorer, frames[9], old | fresh, 9 * 0.04)
    assert result.status is Status.REPAIRED, result.reason
    assert result.unrepaired_pixels == old.sum() and "passed through" in result.reason
    assert np.array_equal(result.frame[old], damaged[old]), "a stale region is not invented"
    assert np.array_equal(result.frame[~fresh], damaged[~fresh])
    assert (result.frame[fresh] != 0).any(), "the fresh region is repaired"
    assert result.reference_age_frames == 1


def test_region_staleness_by_header_seconds(frames):
    frames = [f[:128, :320] for f in frames]
    config = RestorerConfig(tracker=TrackerConfig(max_age_frames=100, max_age_s=0.5))
    restorer = scripted(config)
    old = block(16, 16, 48, 64, (128, 320))
    fresh = block(64, 192, 32, 64, (128, 320))
    run(restorer, frames[0], np.zeros((128, 320), bool), 0.0)
    for index in range(1, 4):  # 0.2, 0.4, 0.6 s: the old block is then 0.6 s old
        _, result = run(restorer, frames[index], old, index * 0.2)
    assert result.status is Status.STALE_REFERENCE and "0.60 s old (max 0.50 s)" in result.reason
    _, result = run(restorer, frames[4], old | fresh, 0.8)
    assert result.status is Status.REPAIRED and result.unrepaired_pixels == old.sum()
    assert result.reference_age_seconds == pytest.approx(0.2)


def test_a_persistent_five_percent_failure_never_stops_other_repairs(frames):
    """A dead corner (5 % of the frame, in the defect map) for the whole stream."""
    corner = np.zeros(frames[0].shape[:2], bool)
    corner[:64, :136] = True  # 64 x 136 = 5 % of 272 x 640
    assert corner.mean() == pytest.approx(0.05)
    config = RestorerConfig(detector=DetectorConfig(defect_mask=corner))
    restorer = Restorer(CopyBackend(), config)
    injected = np.zeros_like(corner)
    injected[150:220, 300:420] = True
    for index, frame in enumerate(frames[:12]):
        damaged = frame.copy()
        damaged[corner] = 0
        if index >= 6:
            damaged[injected] = 0  # a dead block appears at frame 6 and stays
        result = restorer.process(damaged, index * 0.04)
        assert np.array_equal(result.frame[corner], damaged[corner])
        if index < 6:  # only the corner failed: nothing to repair it from, the same array
            assert result.status is Status.NO_REFERENCE and result.frame is damaged
            continue
        assert result.status is Status.REPAIRED, f"frame {index}: {result.reason}"
        assert result.unrepaired_pixels >= corner.sum()
        assert result.mask[injected].mean() > 0.95
        assert (result.frame[injected] != 0).mean() > 0.9, "the injected block is repaired"
        assert np.array_equal(result.frame[~result.mask], damaged[~result.mask])


def test_lookup_without_a_mask_and_reasons_for_no_reference():
    tracker = ReferenceTracker(TrackerConfig(max_age_frames=1))
    assert tracker.lookup(0.0).unavailable is Unavailable.NONE_YET
    frame = np.full((*SHAPE, 3), 50, np.uint8)
    failed = block(0, 0, 16, 16)
    tracker.observe(frame, 0.0)
    tracker.update(frame, 0.0, failed)  # first frame already damaged: that region never seen
    tracker.observe(frame, 0.04)
    lookup = tracker.lookup(0.04, failed)
    assert lookup.reference is None and lookup.unavailable is Unavailable.NONE_YET
    assert tracker.lookup(0.04).reference.frame is tracker.frame
    for stamp in (0.08, 0.12):
        tracker.observe(frame, stamp)
    lookup = tracker.lookup(0.12, ~failed)
    assert lookup.unavailable is Unavailable.TOO_OLD and lookup.age_frames == 3
    assert tracker.lookup(0.12).reference is None


def test_the_reference_is_prepared_at_most_once_per_held_moment(frames):
    frames = [f[:128, :320] for f in frames]
    # the held mosaic (a followed or enclosed repair would enter it: tested below)
    restorer = scripted(RestorerConfig(tracker=HELD))
    run(restorer, frames[0], np.zeros((128, 320), bool), 0.0)
    failed = block(16, 16, 48, 64, (128, 320))
    versions = []
    for index in range(1, 4):
        version = restorer.tracker.version
        restorer.prepare_reference()
        prepared = restorer.pipeline._cached[1]
        restorer.prepare_reference()  # idle twice: nothing more to do
        assert restorer.pipeline._cached[1] is prepared
        run(restorer, frames[index], failed, index * 0.04)
        assert restorer.pipeline._cached[:2] == (version, prepared), "the idle-prepared one used"
        versions.append(restorer.tracker.version)
    assert versions == [versions[0]] * 3  # held during the failure: one preparation in all


def test_propagated_repairs_enter_the_mosaic_each_frame_but_do_not_reset_ages():
    """With propagate_repairs the next frame is repaired from this repaired frame (one moment)."""
    tracker = ReferenceTracker(TrackerConfig(max_age_frames=4, propagate_repairs=True))
    tracker.observe(np.zeros((*SHAPE, 3), np.uint8), 0.0)
    tracker.update(np.full((*SHAPE, 3), 10, np.uint8), 0.0)
    failed = block(0, 0, 32, 32)
    repairable = []
    for index in range(1, 7):
        output = np.full((*SHAPE, 3), 10 + index, np.uint8)  # repaired everywhere: one moment
        tracker.observe(output, index * 0.04)
        lookup = tracker.lookup(index * 0.04, failed)
        ok = lookup.reference is not None and lookup.reference.repairable is not None
        repairable.append(bool(ok and lookup.reference.repairable.any()))
        tracker.update(output, index * 0.04, failed, repaired=failed if repairable[-1] else None)
        if repairable[-1]:
            assert (tracker.frame == 10 + index).all(), "not held: the whole output entered"
    assert repairable == [True] * 4 + [False] * 2, "the failed regions still age out"
    assert tracker.region_ages[0, 0] == 6 and tracker.region_ages[3, 3] == 0


def test_persistent_evaluation_runs_the_node_restorer_and_scores_temporal_error(bikes_frames):
    from frame_restore_ros.backends.hold import HoldBackend
    from frame_restore_ros.evaluation.intervals import interval_rows
    from frame_restore_ros.evaluation.persistent import evaluate_persistent, restorer_method

    clips = {"bikes": bikes_frames[:24]}
    factories = {
        "hold": restorer_method(HoldBackend(), propagate=False),
        "copy+propagate": restorer_method(CopyBackend(), propagate=True),
    }
    rows = evaluate_persistent(clips, factories, length=6, per_clip=1, progress=False)
    psnr = {r["method"]: r for r in interval_rows(rows, "failed", "psnr")}
    assert {r["frames"] for r in psnr.values()} == {6}  # 2 kinds x 1 episode, 6 frames each
    temporal = [r for r in rows if r["metric"] == "temporal_error" and r["method"] == "hold"]
    assert len(temporal) == 2 * 5 and all(r["value"] > 0 for r in temporal)  # scene moves


def test_repairs_that_followed_the_motion_enter_the_reference_and_edge_failures_are_held(
    frames,
):
    """A failed block the dense motion covered propagates; lost bottom rows keep the hold."""
    frames = [f[:128, :320] for f in frames]
    for failed, followed in ((block(40, 100, 40, 80, (128, 320)), True),
                             (block(96, 0, 32, 320, (128, 320)), False)):  # fmt: skip
        restorer = scripted(RestorerConfig())
        run(restorer, frames[0], np.zeros((128, 320), bool), 0.0)
        held = restorer.tracker.frame.copy()
        for index in range(1, 4):
            _, result = run(restorer, frames[2 * index], failed, index * 0.04)
            assert result.status is Status.REPAIRED
        mosaic = restorer.tracker.frame
        if followed:  # the last output, repaired block included, is the reference now
            np.testing.assert_array_equal(mosaic, result.frame)
        else:  # held: the moment before the failure
            np.testing.assert_array_equal(mosaic, held)
        off = scripted(RestorerConfig(tracker=HELD))
        run(off, frames[0], np.zeros((128, 320), bool), 0.0)
        for index in range(1, 4):
            run(off, frames[2 * index], failed, index * 0.04)
        np.testing.assert_array_equal(off.tracker.frame, held)  # switched off: always held


@pytest.mark.parametrize("propagate_enclosed", [True, False])
def test_enclosed_repairs_enter_the_reference_followed_or_not(frames, propagate_enclosed):
    """Without the dense motion (``align: ecc``) no repair follows the scene; a block enclosed
    by clean scene still enters the reference (``reference.propagate_enclosed``), lost rows at
    the bottom edge never do."""
    from dataclasses import replace

    from frame_restore_ros.pipeline.repair import RepairOptions

    frames = [f[:128, :320] for f in frames]
    tracker = TrackerConfig(propagate_followed=False, propagate_enclosed=propagate_enclosed)
    config = RestorerConfig(tracker=tracker, repair=replace(RepairOptions(), align="ecc"))
    for failed, enclosed in ((block(40, 100, 40, 80, (128, 320)), True),
                             (block(96, 0, 32, 320, (128, 320)), False)):  # fmt: skip
        restorer = scripted(config)
        run(restorer, frames[0], np.zeros((128, 320), bool), 0.0)
        held = restorer.tracker.frame.copy()
        for index in range(1, 4):
            _, result = run(restorer, frames[2 * index], failed, index * 0.04)
            assert result.status is Status.REPAIRED
        if enclosed and propagate_enclosed:  # the last output is the reference now
            np.testing.assert_array_equal(restorer.tracker.frame, result.frame)
        else:  # held: the moment before the failure
            np.testing.assert_array_equal(restorer.tracker.frame, held)

"""The per-frame pipeline: statuses, bit-exact good pixels, reference handling, bounded memory."""

from __future__ import annotations

import logging
import tracemalloc

import cv2
import numpy as np
import pytest
import torch

from frame_restore_ros.backends.torch_backend import TorchBackend
from frame_restore_ros.detection.detector import DetectorConfig
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.evaluation.injection_schedule import CASES
from frame_restore_ros.model import SiamMCVAE, preset
from frame_restore_ros.pipeline.reference import ResetCause, TrackerConfig
from frame_restore_ros.pipeline.repair import RepairOptions
from frame_restore_ros.pipeline.restorer import Restorer, RestorerConfig, Status
from frame_restore_ros.synthetic import corruption


@pytest.fixture(scope="module")
def backend() -> TorchBackend:
    torch.manual_seed(0)
    return TorchBackend(SiamMCVAE(preset("tiny")))


@pytest.fixture(scope="module")
def frames(bikes_frames) -> list[np.ndarray]:
    """Return bikes.mp4 from frame 17 on.

    Frames 17-28 are clean to the detector; earlier ones show a saturated street lamp that is,
    correctly, flagged.
    """
    return bikes_frames[17:]


def warm(restorer: Restorer, frames: list[np.ndarray], count: int = 4, t0: float = 0.0) -> float:
    stamp = t0
    for frame in frames[:count]:
        assert restorer.process(frame, stamp).status is Status.CLEAN
        stamp += 0.04
    return stamp


def test_clean_frame_passes_through_as_the_same_object(backend, frames):
    restorer = Restorer(backend)
    result = restorer.process(frames[0], 0.0)
    assert result.status is Status.CLEAN and result.frame is frames[0]
    assert not result.mask.any() and result.timings_ms["total"] >= 0


@pytest.mark.parametrize("kind", [k for k in CASES if k != "whole_frame"])
def test_pixels_outside_the_mask_never_change(backend, frames, kind):
    restorer = Restorer(backend)
    stamp = warm(restorer, frames)
    damaged = CASES[kind].apply(frames[5], np.random.default_rng(1))
    original = damaged.damaged.copy()
    result = restorer.process(damaged.damaged, stamp)
    assert result.status is Status.REPAIRED, result.reason
    assert np.array_equal(result.frame[~result.mask], original[~result.mask])
    assert np.array_equal(damaged.damaged, original), "the input is never modified"
    assert result.mask[damaged.mask].mean() > 0.95
    assert not np.array_equal(result.frame[result.mask], original[result.mask])


def test_frozen_failure_is_repaired_after_it_is_detected(backend, frames):
    restorer = Restorer(backend)
    stamp = warm(restorer, frames, 8)
    stale = frames[8].copy()
    statuses = []
    for frame in frames[9:20]:
        damaged = frame.copy()
        damaged[60:200, 100:400] = stale[60:200, 100:400]
        result = restorer.process(damaged, stamp)
        stamp += 0.04
        statuses.append(result.status)
        assert np.array_equal(result.frame[~result.mask], damaged[~result.mask])
    assert Status.REPAIRED in statuses[5:]


def test_no_reference_when_the_stream_starts_damaged(backend, frames):
    damaged = corruption.blocks(frames[0], np.random.default_rng(0), FailureKind.DEAD, 2)
    # A failure present from the first frame has no onset: only a defect map makes it one.
    config = RestorerConfig(detector=DetectorConfig(defect_mask=damaged.mask))
    result = Restorer(backend, config).process(damaged.damaged, 0.0)
    assert result.status is Status.NO_REFERENCE and result.frame is damaged.damaged
    assert result.mask.any() and "no clean reference" in result.reason


def test_stale_reference_by_frames_and_by_seconds(backend, frames):
    rng = np.random.default_rng(0)
    config = RestorerConfig(tracker=TrackerConfig(max_age_frames=2, max_age_s=10.0))
    restorer = Restorer(backend, config)
    stamp = warm(restorer, frames, 4)  # the reference and the detector's warm-up
    statuses = []
    for frame in frames[4:8]:
        # the same rows lost in every frame: their regions of the reference age, no others do
        damaged = corruption.bottom_loss(frame, np.random.default_rng(5), (0.15, 0.15))
        statuses.append(restorer.process(damaged.damaged, stamp).status)
        stamp += 0.04
    assert statuses == [Status.REPAIRED] * 2 + [Status.STALE_REFERENCE] * 2
    restorer = Restorer(backend, RestorerConfig(tracker=TrackerConfig(max_age_s=0.5)))
    stamp = warm(restorer, frames, 4)
    late = corruption.blocks(frames[5], rng, FailureKind.DEAD, 1).damaged
    result = restorer.process(late, stamp + 5.0)
    assert result.status is Status.STALE_REFERENCE and "s old" in result.reason
    assert result.frame is late


def test_whole_frame_loss_passes_through(backend, frames):
    restorer = Restorer(backend)
    stamp = warm(restorer, frames)
    lost = corruption.whole_frame(frames[5], np.random.default_rng(0)).damaged
    result = restorer.process(lost, stamp)
    assert result.status is Status.WHOLE_FRAME and result.frame is lost and result.mask.all()


def test_missing_backend_and_failing_backend_pass_through(frames):
    class Broken:
        name, input_size, patch_size = "broken", (32, 48), 8

        def infer(self, *args):
            raise RuntimeError("CUDA error: device lost")

    for backend, status in ((None, Status.NO_BACKEND), (Broken(), Status.ERROR)):
        restorer = Restorer(backend)
        stamp = warm(restorer, frames)
        damaged = corruption.blocks(
            frames[5], np.random.default_rng(0), FailureKind.DEAD, 1
        ).damaged
        result = restorer.process(damaged, stamp)
        assert result.status is status and result.frame is damaged
    assert "CUDA error: device lost" in result.reason


def test_a_failing_inference_is_returned_to_the_caller_not_logged_per_frame(frames, caplog):
    """The restorer cannot throttle (the node's ``log_throttle_s`` is not its own): it returns
    the exception with status ``error`` and its reason, and the caller logs it at its rate."""
    from fakes import FailingBackend

    restorer = Restorer(FailingBackend())
    stamp = warm(restorer, frames)
    caplog.set_level(logging.DEBUG)
    results = []
    for index in range(5, 9):
        damaged = corruption.blocks(
            frames[index], np.random.default_rng(index), FailureKind.DEAD, 1
        ).damaged
        results.append((damaged, restorer.process(damaged, stamp + 0.04 * index)))
    assert not [r for r in caplog.records if r.levelno >= logging.INFO or r.exc_info]
    for damaged, result in results:
        assert result.status is Status.ERROR and result.frame is damaged
        assert result.reason == "inference failed: RuntimeError: CUDA error: device lost"
        assert isinstance(result.error, RuntimeError) and result.error.__traceback__ is not None


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_backend_returning_non_finite_values_passes_the_frame_through(frames, bad):
    """Broken weights (a NaN in a norm) or an fp16 overflow give NaN / inf: never "repaired"
    black pixels, but the input's bytes and status ``error`` naming the cause."""

    class NonFinite:
        name, input_size, patch_size = "nan-weights", (32, 48), 8

        def infer(self, reference, damaged, mask):
            out = np.full((1, 3, 32, 48), 0.5, np.float32)
            out[0, :, :4, :4] = bad
            return out

    restorer = Restorer(NonFinite())
    stamp = warm(restorer, frames)
    damaged = corruption.blocks(frames[5], np.random.default_rng(0), FailureKind.DEAD, 1).damaged
    original = damaged.copy()
    result = restorer.process(damaged, stamp)
    assert result.status is Status.ERROR and "non-finite" in result.reason
    assert np.array_equal(result.frame, original)


def test_resolution_change_and_time_going_backwards_reset_the_reference(backend, frames):
    restorer = Restorer(backend)
    stamp = warm(restorer, frames)
    small = [cv2.resize(frame, (320, 136)) for frame in frames[5:11]]
    assert restorer.process(small[0], stamp).status is Status.CLEAN
    assert restorer.tracker.last_reset.cause is ResetCause.RESOLUTION_CHANGE
    assert "resolution changed" in restorer.tracker.last_reset.reason
    assert restorer.tracker.frame.shape == small[0].shape  # nothing of the old size is kept
    # The detector starts again too: onsets wait for its warm-up (onset_warmup_frames).
    stamp = warm(restorer, small[1:4], 3, stamp + 0.04)
    damaged = corruption.blocks(small[4], np.random.default_rng(0), FailureKind.DEAD, 1).damaged
    result = restorer.process(damaged, stamp)
    assert result.status is Status.REPAIRED and result.frame.shape == small[4].shape
    assert restorer.process(small[5], 0.0).status is Status.CLEAN  # bag loop: time jumps back
    assert restorer.tracker.last_reset.cause is ResetCause.CLOCK_JUMP
    assert "time went backwards" in restorer.tracker.last_reset.reason
    assert restorer.tracker.resets == {ResetCause.RESOLUTION_CHANGE: 1, ResetCause.CLOCK_JUMP: 1}
    assert restorer.tracker.region_ages.max() == 0  # the mosaic restarted from that frame


def test_a_scene_cut_during_a_failure_drops_the_reference_under_it(bikes_frames):
    """The bottom fifth of the rows is lost (black) for ten frames; four frames in, the topic
    switches to other footage (a camera switch, a stream restart). The lost rows were repaired
    from bikes.mp4 until the cut; from the cut on, the reference under them shows another
    scene: they pass through (no_reference) instead of showing bikes.mp4 in the new scene, the
    reset is counted, and once the rows are back the new scene is the reference."""
    from frame_restore_ros.backends.hold import HoldBackend
    from frame_restore_ros.media.video import read_frames, sample_video_path

    height, width = bikes_frames[0].shape[:2]
    other = read_frames(sample_video_path("bigbuckbunny.mp4"), max_frames=10)
    other = [cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA) for frame in other]
    stream, band = bikes_frames[:14] + other, slice(height - height // 5, height)
    restorer = Restorer(HoldBackend())  # repairs copy the reference: what it holds is visible
    results = []
    for index, frame in enumerate(stream):
        if 10 <= index < 20:
            frame = frame.copy()
            frame[band] = 0
        results.append(restorer.process(frame, index / 25))
    lost = FailureKind.LOST_ROWS
    assert all((results[i].labels[band] == lost).all() for i in range(10, 20))
    assert [r.status for r in results[10:14]] == [Status.REPAIRED] * 4
    assert np.array_equal(results[13].frame[band], bikes_frames[9][band])  # the held reference
    assert results[14].status is Status.NO_REFERENCE
    assert restorer.tracker.resets == {ResetCause.SCENE_CUT: 1}
    assert "scene cut" in restorer.tracker.last_reset.reason
    for result in results[14:20]:  # whatever else is repaired, the lost rows pass through
        assert not result.frame[band].any()
    assert results[20].status is Status.CLEAN
    assert np.array_equal(restorer.tracker.frame, other[-1])  # the new scene, taken whole


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((0, 0, 3), np.uint8), "empty"),
        (np.zeros((8, 8, 3), np.float32), "uint8"),
        (np.full((8, 8, 3), np.nan, np.float32), "uint8"),
        (np.zeros((8, 8, 4), np.uint8), "\\(H, W, 3\\)"),
        ([[1, 2]], "numpy array"),
    ],
)
def test_bad_frames_are_clear_errors(backend, bad, message):
    with pytest.raises(ValueError, match=message):
        Restorer(backend).process(bad, 0.0)


def test_a_long_stream_keeps_memory_flat(backend, frames):
    rng = np.random.default_rng(0)
    small = [cv2.resize(f, (160, 68)) for f in frames[:40]]
    restorer = Restorer(backend)
    kinds = list(CASES)

    def run(count: int, start: int) -> None:
        for i in range(start, start + count):
            frame = small[i % len(small)]
            if rng.random() < 0.5:
                frame = CASES[kinds[int(rng.integers(len(kinds)))]].apply(frame, rng).damaged
            restorer.process(frame, i * 0.04)

    run(200, 0)
    mosaic = restorer.tracker.frame
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    run(400, 200)
    middle, _ = tracemalloc.get_traced_memory()
    run(400, 600)
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Bounded caches (the prepared references: ~190 kB at this size) may fill in the first
    # window; in the second nothing may grow: a leak of 250 bytes per frame fails.
    assert after - before < 400_000, f"memory grew by {after - before} bytes over 800 frames"
    assert after - middle < 100_000, f"memory grew by {after - middle} bytes over 400 frames"
    assert restorer.tracker.frame is mosaic, "the mosaic buffer is reused, never reallocated"


def test_uncertainty_map_is_zero_on_good_pixels_and_positive_on_failed(frames):
    torch.manual_seed(0)
    backend = TorchBackend(SiamMCVAE(preset("tiny")), uncertainty_samples=4)
    restorer = Restorer(backend, RestorerConfig(repair=RepairOptions(uncertainty=True)))
    stamp = warm(restorer, frames)
    damaged = corruption.blocks(frames[5], np.random.default_rng(0), FailureKind.NOISE, 2)
    result = restorer.process(damaged.damaged, stamp)
    assert result.status is Status.REPAIRED and result.uncertainty is not None
    assert result.uncertainty.shape == result.mask.shape and result.uncertainty.dtype == np.float32
    assert (result.uncertainty[~result.mask] == 0).all()
    assert result.uncertainty[result.mask].mean() > 0
    assert np.array_equal(result.frame[~result.mask], damaged.damaged[~result.mask])


def test_uncertainty_with_a_backend_that_cannot_sample_is_an_error_status(backend, frames):
    restorer = Restorer(backend, RestorerConfig(repair=RepairOptions(uncertainty=True)))
    stamp = warm(restorer, frames)
    damaged = corruption.blocks(frames[5], np.random.default_rng(0), FailureKind.DEAD, 1).damaged
    result = restorer.process(damaged, stamp)
    assert result.status is Status.ERROR and "uncertainty" in result.reason
    assert result.frame is damaged


def test_reference_prepared_when_idle_is_the_one_a_damaged_frame_uses(backend, frames):
    from frame_restore_ros.pipeline.reference_inputs import prepare_reference

    restorer = Restorer(backend, RestorerConfig(repair=RepairOptions(align="ecc")))
    stamp = warm(restorer, frames)
    restorer.prepare_reference()  # what the node does after publishing a clean frame
    version, prepared, moment = restorer.pipeline._cached
    assert moment == restorer.tracker.moment  # the stamp of the frame it shows
    assert version == restorer.tracker.version
    expected = prepare_reference(restorer.tracker.frame, backend.input_size, True, True)
    np.testing.assert_array_equal(prepared.model_input, expected.model_input)
    np.testing.assert_array_equal(prepared.detail, expected.detail)
    np.testing.assert_array_equal(prepared.gray, expected.gray)
    damaged = CASES["dead"].apply(frames[5], np.random.default_rng(3)).damaged
    result = restorer.process(damaged, stamp)
    assert result.status is Status.REPAIRED
    assert restorer.pipeline._cached[1] is prepared  # reused, not converted again

"""The reference's motion carried forward (``pipeline/motion_prior.py``) and where it is used."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from fakes import CopyBackend

from frame_restore_ros.backends.hold import HoldBackend
from frame_restore_ros.evaluation.persistent import ScriptedDetector
from frame_restore_ros.media.resize import downscale
from frame_restore_ros.pipeline.flow_refinement import compose
from frame_restore_ros.pipeline.motion_prior import (
    MAX_STEPS,
    FollowedFlows,
    ReferenceMotion,
    carried_flow,
    followed,
    velocity,
)
from frame_restore_ros.pipeline.reference import ReferenceTracker
from frame_restore_ros.pipeline.repair import RepairOptions, RepairPipeline
from frame_restore_ros.pipeline.restorer import Restorer, RestorerConfig, Status

SIZE = (224, 400)


def gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def remap(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    height, width = flow.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return cv2.remap(
        image, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, cv2.BORDER_REPLICATE
    )


def drifting(scene: np.ndarray, shift: float) -> np.ndarray:
    """``scene`` with its right half streaming left by up to ``shift`` px, its left half still.

    Near scenery against a far background: no affine warp describes it (ECC cannot follow it).
    """
    height, width = scene.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    bump = np.float32(shift) * np.exp(-((xs - 0.8 * width) ** 2) / (2 * (0.15 * width) ** 2))
    return cv2.remap(scene, xs + bump, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def object_stream(background: np.ndarray, count: int, speed: float) -> list[np.ndarray]:
    """``count`` frames of a moving camera: a textured object crossing at ``speed`` px/frame.

    The scene drifts (:func:`drifting`, 3 px/frame at most) and the object (a quarter of each
    side, its own texture) moves right at constant velocity over it: no single warp describes
    the frame, and the motion inside the object differs from the motion around it.
    """
    height, width = background.shape[:2]
    rng = np.random.default_rng(5)
    side_h, side_w = height // 4, width // 4
    texture = cv2.resize(
        rng.integers(0, 255, (side_h // 6, side_w // 6, 3), dtype=np.uint8),
        (side_w, side_h),
        interpolation=cv2.INTER_CUBIC,
    )
    frames = []
    for k in range(count):
        frame = drifting(background, 3.0 * k)
        left = int(round(width // 4 + k * speed))
        top = height // 3
        frame[top : top + side_h, left : left + side_w] = texture
        frames.append(frame)
    return frames


def object_box(shape: tuple[int, int], left_shift: int) -> np.ndarray:
    """(H, W) bool: the object's box in the frame where it moved ``left_shift`` px, padded."""
    height, width = shape
    failed = np.zeros(shape, bool)
    top, left = height // 3 - 4, width // 4 + left_shift - 4
    failed[top : top + height // 4 + 8, left : left + width // 4 + 8] = True
    return failed


@pytest.fixture(scope="module")
def scene(bikes_frames) -> np.ndarray:
    return cv2.resize(bikes_frames[30], (640, 352))


def test_carried_flow_predicts_the_next_frame_where_the_scene_moves(scene):
    frames = [downscale(f, SIZE) for f in object_stream(scene, 4, 6.0)]
    before, reference, damaged, later = frames
    flow = carried_flow(gray(reference), ReferenceMotion(gray(before), 1.0))
    predicted = remap(reference, flow)
    box = object_box(SIZE, int(round(6.0 * 400 / 640 * 2)))
    hold_error = np.abs(reference.astype(int) - damaged)[box].mean()
    carried_error = np.abs(predicted.astype(int) - damaged)[box].mean()
    assert carried_error < 0.4 * hold_error, (carried_error, hold_error)
    # Twice the steps: the frame after (constant velocity).
    flow2 = carried_flow(gray(reference), ReferenceMotion(gray(before), 2.0))
    assert (
        np.abs(remap(reference, flow2).astype(int) - later)[box].mean()
        < 0.5 * np.abs(reference.astype(int) - later)[box].mean()
    )


def zoom_field(shape: tuple[int, int], rate: float) -> tuple[np.ndarray, np.ndarray]:
    """A camera driving towards the centre: the steady field v(x) = (rate - 1)(x - c).

    Returns ((h, w, 2) float32 v, (h, w, 2) float32 x - c). Each frame shows the one before
    shrunk by ``rate`` about the centre c, so after n frames frame_n(x) = frame_0(c +
    rate**n (x - c)): the exact flow is (rate**n - 1)(x - c), not n v(x).
    """
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    offset = np.dstack([xs - (width - 1) / 2, ys - (height - 1) / 2]).astype(np.float32)
    return np.float32(rate - 1.0) * offset, offset


@pytest.mark.parametrize("steps", [1, 2, 3, 8, 12, 30])
def test_followed_walks_a_steady_field_exactly(steps):
    field, offset = zoom_field(SIZE, 0.95)
    expected = np.float32(0.95**steps - 1.0) * offset
    # cv2.remap interpolates at 1/32 px: a few hundredths of a pixel over many steps.
    np.testing.assert_allclose(followed(field, float(steps)), expected, atol=0.1)
    # Scaling reads the field at x alone: for a vehicle driving on, it overshoots.
    overshoot = np.abs(field * np.float32(steps) - expected).max()
    assert steps < 3 or overshoot > 1.0, overshoot


def test_followed_scales_a_uniform_motion_and_takes_fractional_steps():
    uniform = np.zeros((*SIZE, 2), np.float32)
    uniform[..., 0], uniform[..., 1] = 1.5, -0.25
    for steps in (0.4, 1.0, 2.5, 7.0):
        np.testing.assert_allclose(
            followed(uniform, steps), uniform * np.float32(steps), atol=1e-4
        )
    field, offset = zoom_field(SIZE, 0.95)
    # A fractional step first, then the whole ones.
    expected = np.float32(0.95**2 * (1 - 0.5 * 0.05) - 1.0) * offset
    np.testing.assert_allclose(followed(field, 2.5), expected, atol=2e-3)
    assert followed(field, 1.0) is not field  # the caller may keep the measured field


@pytest.mark.parametrize("steps", [0.97, 1.003, 2.04, 7.96])
def test_jittered_step_counts_follow_the_whole_count_scaled(steps):
    """A camera's intervals jitter: 2.04 intervals is two steps scaled by 1.02 (no 3rd remap)."""
    field, _ = zoom_field(SIZE, 0.95)
    whole = round(steps)
    np.testing.assert_allclose(
        followed(field, steps),
        followed(field, float(whole)) * np.float32(steps / whole),
        atol=1e-4,
    )


def test_a_lasting_failure_follows_the_field_one_step_a_frame():
    """Steps 1, 2, 3, ... of one field: each from the last (one remap), equal to from scratch."""
    field, offset = zoom_field(SIZE, 0.95)
    flows = FollowedFlows(field)
    for steps in (1.0, 2.0, 3.0, 3.0, 4.02, 5.0, 9.0, 10.0, 2.0):  # repeats, jitter, jumps
        kept = followed(field, steps, flows)
        np.testing.assert_allclose(kept, followed(field, steps), atol=0.05)
        whole = round(steps)
        expected = np.float32((0.95**whole - 1.0) * steps / whole) * offset
        np.testing.assert_allclose(kept, expected, atol=0.1)
    kept[:] = 0.0  # the caller's copy: the kept flow is not touched
    np.testing.assert_allclose(followed(field, 2.0, flows), followed(field, 2.0), atol=0.05)
    other, _ = zoom_field(SIZE, 0.9)  # another field's flows are not used for this one
    np.testing.assert_allclose(followed(other, 3.0, flows), followed(other, 3.0), atol=1e-6)


def test_a_lasting_failure_costs_one_remap_a_frame(monkeypatch):
    import frame_restore_ros.pipeline.motion_prior as motion_prior

    calls = []
    real = motion_prior.compose
    monkeypatch.setattr(motion_prior, "compose", lambda *a: calls.append(1) or real(*a))
    field, _ = zoom_field(SIZE, 0.95)
    flows = FollowedFlows(field)
    for steps in range(1, 13):
        followed(field, float(steps), flows)
    assert len(calls) == 11  # steps 2..12: one step more each
    calls.clear()
    followed(field, 12.0)  # from scratch: doubling to 2, 4 and 8, then 8 and 4 joined
    assert len(calls) == 4


def test_flows_of_another_velocity_are_a_clear_error():
    field, _ = zoom_field((8, 8), 0.95)
    with pytest.raises(ValueError, match="own velocity"):
        ReferenceMotion(np.zeros((8, 8), np.uint8), 1.0, field, FollowedFlows(field.copy()))


def test_carried_flow_follows_a_forward_drive_over_many_frames(scene):
    """The reference held 8 frames while the camera drives on: the road streams, the motion
    stays put in the image; following it predicts the frame, scaling it does not."""
    big = cv2.resize(scene, (SIZE[1] * 2, SIZE[0] * 2))

    def frame(n: int) -> np.ndarray:  # zoomed in by 4 % a frame about the centre
        scale = 1.04**n
        matrix = cv2.getRotationMatrix2D((big.shape[1] / 2, big.shape[0] / 2), 0.0, scale)
        zoomed = cv2.warpAffine(big, matrix, big.shape[1::-1], flags=cv2.INTER_LINEAR)
        return gray(downscale(zoomed, SIZE))

    before, reference, truth = frame(0), frame(1), frame(9)
    flow = carried_flow(reference, ReferenceMotion(before, 8.0))
    scaled = velocity(reference, before) * np.float32(8.0)
    inner = np.zeros(SIZE, bool)
    inner[40:-40, 80:-80] = True  # away from the zoom's borders
    followed_error = np.abs(remap(reference, flow).astype(int) - truth)[inner].mean()
    scaled_error = np.abs(remap(reference, scaled).astype(int) - truth)[inner].mean()
    hold_error = np.abs(reference.astype(int) - truth)[inner].mean()
    assert followed_error < 0.6 * scaled_error < hold_error, (
        followed_error,
        scaled_error,
        hold_error,
    )


def test_flows_compose_like_two_remaps():
    rng = np.random.default_rng(0)
    first = np.zeros((40, 60, 2), np.float32)
    first[..., 0], first[..., 1] = 2.0, -1.0
    then = np.zeros((40, 60, 2), np.float32)
    then[..., 0] = 0.5
    np.testing.assert_allclose(compose(first, then)[..., 0], 2.5, atol=1e-5)
    np.testing.assert_allclose(compose(first, then)[..., 1], -1.0, atol=1e-5)
    smooth = cv2.GaussianBlur(rng.normal(0, 3, (40, 60, 2)).astype(np.float32), (0, 0), 6)
    np.testing.assert_allclose(compose(smooth, np.zeros_like(smooth)), smooth, atol=1e-5)
    np.testing.assert_allclose(compose(np.zeros_like(smooth), smooth), smooth, atol=1e-5)


@pytest.mark.parametrize(
    ("before", "steps", "message"),
    [
        (np.zeros((8, 8), np.float32), 1.0, "uint8"),
        (np.zeros((8, 8, 3), np.uint8), 1.0, "luma"),
        (np.zeros((8, 8), np.uint8), 0.0, "steps"),
        (np.zeros((8, 8), np.uint8), MAX_STEPS + 1, "steps"),
    ],
)
def test_bad_motion_inputs_are_clear_errors(before, steps, message):
    with pytest.raises(ValueError, match=message):
        ReferenceMotion(before, steps)


def test_a_velocity_of_another_size_is_a_clear_error():
    with pytest.raises(ValueError, match="velocity must be"):
        ReferenceMotion(np.zeros((8, 8), np.uint8), 1.0, np.zeros((8, 9, 2), np.float32))


def test_a_size_mismatch_is_a_clear_error():
    motion = ReferenceMotion(np.zeros((10, 20), np.uint8), 1.0)
    with pytest.raises(ValueError, match="differ in size"):
        carried_flow(np.zeros((10, 21), np.uint8), motion)


def failed_error(output: np.ndarray, truth: np.ndarray, failed: np.ndarray) -> float:
    return float(np.abs(output.astype(int) - truth)[failed].mean())


def test_the_pipeline_repairs_a_moving_object_from_its_carried_motion(scene):
    before, reference, truth = object_stream(scene, 3, 10.0)
    failed = object_box(truth.shape[:2], 20)
    damaged = truth.copy()
    damaged[failed] = 0
    motion = ReferenceMotion.from_frame(before, SIZE, 1.0)
    carried = RepairPipeline(CopyBackend(), RepairOptions())
    plain = RepairPipeline(CopyBackend(), RepairOptions(motion_prior=False))
    with_motion = carried.repair(reference, damaged, failed, motion=motion).frame
    without = plain.repair(reference, damaged, failed, motion=motion).frame
    assert np.array_equal(without, plain.repair(reference, damaged, failed).frame)
    np.testing.assert_array_equal(with_motion[~failed], damaged[~failed])  # bit for bit
    error, error_without = (failed_error(o, truth, failed) for o in (with_motion, without))
    assert error < 0.6 * error_without, (error, error_without)


def test_a_carried_motion_that_does_not_explain_the_clean_pixels_changes_nothing(bikes_frames):
    """The vehicle stopped (or turned): its motion before is the wrong prediction; ECC stays."""
    reference, truth = bikes_frames[30], bikes_frames[32]
    failed = np.zeros(truth.shape[:2], bool)
    failed[100:160, 250:350] = True
    damaged = truth.copy()
    damaged[failed] = 0
    pipeline = RepairPipeline(CopyBackend(), RepairOptions())
    # A moment "before" that is a shifted copy: its motion says 25 px/frame to the right.
    shifted = np.roll(reference, -25, axis=1)
    wrong = ReferenceMotion.from_frame(shifted, SIZE, 1.0)
    assert np.array_equal(
        pipeline.repair(reference, damaged, failed, motion=wrong).frame,
        pipeline.repair(reference, damaged, failed).frame,
    )


def test_the_moment_before_is_the_reference_prepared_before_it(bikes_frames):
    pipeline = RepairPipeline(CopyBackend(), RepairOptions())
    assert pipeline.carried_motion("a", 0.08) is None  # nothing prepared
    pipeline.prepare(bikes_frames[0], "a", 0.0)
    assert pipeline.carried_motion("a", 0.08) is None  # no moment before it
    pipeline.prepare(bikes_frames[1], "b", 0.04)
    motion = pipeline.carried_motion("b", 0.08)
    assert motion is not None and motion.steps == 1.0
    expected = gray(downscale(bikes_frames[0], SIZE))
    np.testing.assert_array_equal(motion.before, expected)
    # Measured when the reference was prepared (the node's idle time), as on use.
    reference_gray = gray(downscale(bikes_frames[1], SIZE))
    np.testing.assert_array_equal(motion.velocity, velocity(reference_gray, expected))
    np.testing.assert_array_equal(
        carried_flow(reference_gray, motion),
        carried_flow(reference_gray, ReferenceMotion(expected, 1.0)),
    )
    assert pipeline.carried_motion("b", 0.10).steps == 1.5
    assert pipeline.carried_motion("a", 0.08) is None  # not the newest reference
    assert pipeline.carried_motion("b", 0.04) is None  # not after the reference
    assert pipeline.carried_motion("b", 0.04 + 0.04 * (MAX_STEPS + 1)) is None  # too far
    pipeline.prepare(bikes_frames[2], "c", None)  # a mosaic of several moments
    assert pipeline.carried_motion("c", 0.12) is None
    pipeline.prepare(bikes_frames[3], "d", 0.12)
    assert pipeline.carried_motion("d", 0.16) is None  # the one before had no moment
    for options in (RepairOptions(align="ecc"), RepairOptions(motion_prior=False)):
        other = RepairPipeline(CopyBackend(), options)
        other.prepare(bikes_frames[0], "a", 0.0)
        other.prepare(bikes_frames[1], "b", 0.04)
        assert other.carried_motion("b", 0.08) is None
    assert not RepairPipeline(HoldBackend()).carries_motion


def test_the_mosaic_has_a_moment_only_when_it_shows_one_frame(bikes_frames):
    tracker = ReferenceTracker()
    frame = bikes_frames[0]
    assert tracker.moment is None
    tracker.observe(frame, 0.0)
    tracker.update(frame, 0.0)
    assert tracker.moment == 0.0
    failed = np.zeros(frame.shape[:2], bool)
    failed[:40, :40] = True  # whole regions failed: the mosaic is held
    tracker.observe(frame, 0.04)
    tracker.update(frame, 0.04, failed)
    assert tracker.moment == 0.0
    tracker.observe(frame, 0.08)
    tracker.update(frame, 0.08, failed, repaired=failed, followed=True)  # propagated
    assert tracker.moment == 0.08
    speck = np.zeros(frame.shape[:2], bool)
    speck[100, 100] = True  # its region refreshes: good pixels taken, the speck keeps older
    tracker.observe(frame, 0.12)
    tracker.update(frame, 0.12, speck)
    assert tracker.moment is None
    tracker.reset()
    assert tracker.moment is None


def stream_errors(scene: np.ndarray, carry: bool, idle: bool, blend: float = 0.5) -> list[float]:
    frames = object_stream(scene, 9, 8.0)
    options = replace(RepairOptions(), motion_prior=carry, temporal_blend=blend)
    restorer = Restorer(CopyBackend(), RestorerConfig(repair=options))
    restorer.detector = ScriptedDetector()
    errors = []
    for index, frame in enumerate(frames):
        failed = object_box(frame.shape[:2], int(round(8.0 * index))) if index >= 4 else None
        restorer.detector.mask = failed
        damaged = frame.copy()
        if failed is not None:
            damaged[failed] = 0
        result = restorer.process(damaged, index * 0.04)
        if idle:
            restorer.prepare_reference()  # the node, once it published the frame
        if failed is not None:
            assert result.status is Status.REPAIRED
            errors.append(failed_error(result.frame, frame, failed))
    return errors


def test_the_restorer_carries_the_motion_through_a_lasting_failure(scene):
    carried = stream_errors(scene, carry=True, idle=True)
    plain = stream_errors(scene, carry=False, idle=True)
    assert carried[0] < 0.3 * plain[0], (carried, plain)
    assert np.mean(carried) < 0.85 * np.mean(plain), (carried, plain)


def test_the_prepared_luma_is_the_model_inputs_own(bikes_frames):
    """Computed once from the uint8 downscale; equal to converting the float model input."""
    from frame_restore_ros.pipeline.motion_prior import model_input_gray
    from frame_restore_ros.pipeline.reference_inputs import prepare_reference

    for frame in bikes_frames[:3]:
        prepared = prepare_reference(frame, SIZE, True, True)
        np.testing.assert_array_equal(prepared.luma, model_input_gray(prepared.model_input))
    assert prepare_reference(bikes_frames[0], SIZE, True, False).luma is None

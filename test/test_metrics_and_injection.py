"""Quality metrics cross-checked against scikit-image and hand values; the --inject parser."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.evaluation.metrics import psnr_from_mse, quality, ssim_map
from frame_restore_ros.synthetic.injection import InjectionSpec, Injector, parse_item


@pytest.fixture(scope="module")
def pair(bikes_frames):
    return bikes_frames[10], bikes_frames[12]


def test_psnr_and_ssim_match_scikit_image(pair):
    prediction, truth = pair
    scores = quality(prediction, truth)["frame"]
    assert scores["psnr"] == pytest.approx(
        peak_signal_noise_ratio(truth, prediction, data_range=255), abs=1e-9
    )
    reference_ssim = structural_similarity(
        truth,
        prediction,
        data_range=255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        channel_axis=-1,
    )
    assert scores["ssim"] == pytest.approx(reference_ssim, abs=1e-9)


def test_region_metrics_use_only_failed_pixels():
    truth = np.zeros((40, 40, 3), np.uint8)
    prediction = truth.copy()
    failed = np.zeros((40, 40), bool)
    failed[:10] = True
    prediction[:10] = 10  # error 10 everywhere in the failed region, none elsewhere
    scores = quality(prediction, truth, failed)
    assert scores["failed"]["mse"] == 100.0 and scores["failed"]["mae"] == 10.0
    assert scores["failed"]["psnr"] == pytest.approx(10 * math.log10(255**2 / 100))
    assert scores["frame"]["mse"] == pytest.approx(25.0)  # a quarter of the pixels
    assert scores["failed"]["ssim"] == pytest.approx(ssim_map(prediction, truth)[1][failed].mean())
    assert "failed" not in quality(prediction, truth, np.zeros_like(failed))


def test_identical_images_have_infinite_psnr_and_unit_ssim(pair):
    scores = quality(pair[0], pair[0])["frame"]
    assert scores["psnr"] == math.inf and scores["ssim"] == pytest.approx(1.0)
    assert psnr_from_mse(255.0**2) == 0.0


def test_shape_mismatch_is_an_error(pair):
    with pytest.raises(ValueError, match="differ in shape"):
        quality(pair[0][:10], pair[1])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("smoke", "unknown failure 'smoke'"),
        ("patches", "patches needs a ratio"),
        ("patches:1.5", "ratio must be in"),
        ("lines:x", "positive count"),
        ("dead:0", "positive count"),
        ("whole:3", "takes no value"),
        ("veil:2", "takes no value"),
        ("freeze:0", "positive count"),
    ],
)
def test_bad_inject_items_are_named(text, words):
    with pytest.raises(ValueError, match=words):
        parse_item(text)


def test_inject_spec_parses_and_validates_rate():
    spec = InjectionSpec.parse("patches:0.5, dead,lines:3,frozen,cast:2", rate=0.4, seed=3)
    assert str(spec) == "patches:0.5,dead,lines:3,frozen,cast:2"
    with pytest.raises(ValueError, match="inject-rate"):
        InjectionSpec.parse("dead", rate=0.0)
    with pytest.raises(ValueError, match="at least one"):
        InjectionSpec.parse(" , ")


def test_injector_is_seeded_leaves_first_frame_clean_and_marks_ground_truth(bikes_frames):
    spec = InjectionSpec.parse("patches:0.5,dead,lines,columns,frozen,bottom,whole", rate=0.7)
    runs = []
    for _ in range(2):
        injector = Injector(spec, (14, 25), "/cam")
        runs.append([injector(frame) for frame in bikes_frames[:20]])
    first, second = runs
    assert first[0] == (None, None)
    damaged = [(t, c, item) for t, (c, item) in enumerate(first) if c is not None]
    assert 8 <= len(damaged) <= 19
    for (c1, i1), (c2, i2) in zip(first, second, strict=True):
        assert i1 == i2
        if c1 is not None:
            np.testing.assert_array_equal(c1.damaged, c2.damaged)
    for t, corruption, item in damaged:
        assert corruption.mask.any(), item
        failed = corruption.mask
        assert (corruption.damaged[failed] != bikes_frames[t][failed]).any(), item
        assert set(np.unique(corruption.labels)) <= {int(k) for k in FailureKind}
    other = Injector(spec, (14, 25), "/other")
    assert [i for _, i in (other(f) for f in bikes_frames[:20])] != [i for _, i in first]


def test_injected_pixels_outside_the_mask_are_untouched(bikes_frames):
    injector = Injector(InjectionSpec.parse("patches:0.75", rate=1.0), (14, 25))
    injector(bikes_frames[0])
    corruption, _ = injector(bikes_frames[1])
    keep = ~corruption.mask
    np.testing.assert_array_equal(corruption.damaged[keep], bikes_frames[1][keep])
    assert 0.6 < corruption.mask.mean() < 0.9


def test_injector_runs_a_freeze_over_its_frames_before_drawing_again(bikes_frames):
    injector = Injector(InjectionSpec.parse("freeze:3", rate=1.0), (14, 25))
    assert injector(bikes_frames[0]) == (None, None)
    results = [injector(frame)[0] for frame in bikes_frames[1:6]]
    assert [r.streak for r in results] == [1, 2, 3, 1, 2]
    for result in results[:3]:
        np.testing.assert_array_equal(result.labels, results[0].labels)
        np.testing.assert_array_equal(result.damaged[result.mask], bikes_frames[0][result.mask])
    np.testing.assert_array_equal(
        results[3].damaged[results[3].mask], bikes_frames[3][results[3].mask]
    )


def test_injected_repeat_publishes_the_previous_frame(bikes_frames):
    injector = Injector(InjectionSpec.parse("repeat", rate=1.0), (14, 25))
    injector(bikes_frames[0])
    corruption, item = injector(bikes_frames[1])
    assert str(item) == "repeat" and corruption.event is FailureKind.REPEATED_FRAME
    np.testing.assert_array_equal(corruption.damaged, bikes_frames[0])
    assert not corruption.mask.any() and corruption.changed.any()


def test_injector_leaves_the_lead_in_clean_after_a_start_and_a_resolution_change(bikes_frames):
    """With ``lead_in`` (the detector's onset warm-up) the first frames of a stream stay clean."""
    spec = InjectionSpec.parse("dead", rate=1.0)
    injector = Injector(spec, (14, 25), "/cam", lead_in=3)
    damaged = [injector(frame)[0] is not None for frame in bikes_frames[:6]]
    assert damaged == [False, False, False, True, True, True]
    small = [frame[::2, ::2].copy() for frame in bikes_frames[6:11]]
    assert [injector(frame)[0] is not None for frame in small] == [False] * 3 + [True] * 2
    # The default keeps the first frame clean only (it is the reference).
    default = Injector(spec, (14, 25), "/cam")
    assert [default(frame)[0] is not None for frame in bikes_frames[:3]] == [False, True, True]


def test_detection_schedule_injects_after_the_lead_in():
    from frame_restore_ros.evaluation.injection_schedule import InjectionSchedule

    frames = [np.full((64, 96, 3), 90 + i, np.uint8) for i in range(12)]
    for lead_in, first in ((0, 2), (3, 5)):
        schedule = InjectionSchedule(["dead"], 3, np.random.default_rng(0), lead_in)
        hits, previous = [], None
        for index, frame in enumerate(frames):
            if schedule.damage(index, frame, previous) is not None:
                hits.append(index)
            previous = frame
        assert hits[0] == first and all(index % 3 == 2 for index in hits)

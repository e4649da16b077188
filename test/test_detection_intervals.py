"""The 95 % intervals of the clip-averaged detection scores (clips and frames resampled)."""

from __future__ import annotations

import numpy as np
import pytest

from frame_restore_ros.evaluation.detection_intervals import clip_average_intervals
from frame_restore_ros.evaluation.detection_scores import (
    ClipReport,
    DetectionReport,
    Score,
    format_report,
)


def _clip(found: list[int], missed: list[int], false: list[int]) -> np.ndarray:
    return np.stack([found, missed, false], axis=1)


def test_identical_clips_of_identical_frames_have_no_spread():
    clips = [_clip([3] * 6, [1] * 6, [1] * 6)] * 4
    intervals = clip_average_intervals(clips)
    assert intervals["recall"] == pytest.approx((0.75, 0.75))
    assert intervals["precision"] == pytest.approx((0.75, 0.75))


def test_the_interval_holds_the_point_figure_and_is_reproducible():
    rng = np.random.default_rng(1)
    clips = [
        _clip(rng.integers(0, 9, n), rng.integers(0, 5, n), rng.integers(0, 3, n))
        for n in (5, 12, 30, 8)
    ]
    point = {
        "recall": np.mean([c[:, 0].sum() / c[:, :2].sum() for c in clips]),
        "precision": np.mean([c[:, 0].sum() / (c[:, 0].sum() + c[:, 2].sum()) for c in clips]),
    }
    intervals = clip_average_intervals(clips, seed=3)
    for figure, (low, high) in intervals.items():
        assert low < point[figure] < high, figure
    assert clip_average_intervals(clips, seed=3) == intervals
    assert clip_average_intervals(clips, seed=4) != intervals


def test_clips_that_disagree_give_a_wider_interval_than_clips_that_agree():
    # The same mean recall (0.5); in one set every clip finds half, in the other a clip finds
    # everything or nothing: which footage was measured decides, and the interval says so.
    agree = [_clip([2] * 10, [2] * 10, [0] * 10)] * 6
    disagree = [_clip([4] * 10, [0] * 10, [0] * 10), _clip([0] * 10, [4] * 10, [0] * 10)] * 3
    narrow, wide = clip_average_intervals(agree), clip_average_intervals(disagree)
    assert narrow["recall"][1] - narrow["recall"][0] < 1e-9
    assert wide["recall"][1] - wide["recall"][0] > 0.3


def test_clips_without_a_positive_are_left_out_as_in_the_point_figure():
    # A clip with only false positives counts neither for recall nor for precision.
    scored = _clip([2] * 5, [2] * 5, [0] * 5)
    none = _clip([0] * 5, [0] * 5, [7] * 5)
    assert clip_average_intervals([scored, none]) == clip_average_intervals([scored])
    assert clip_average_intervals([none]) == {}
    # Nothing flagged in a clip: precision 1, as Score.precision says.
    blind = clip_average_intervals([_clip([0] * 4, [3] * 4, [0] * 4)])
    assert blind["precision"] == (1.0, 1.0) and blind["recall"] == (0.0, 0.0)


def test_report_averages_carry_the_intervals_of_their_frames():
    report = DetectionReport()
    for name, found in (("a", [4, 4, 0, 4]), ("b", [1, 2, 3, 2])):
        clip = ClipReport()
        for hit in found:
            score = clip.ours.setdefault("dead", Score())
            truth = np.zeros((4, 4), bool)
            truth[0, :] = True
            predicted = np.zeros_like(truth)
            predicted[0, :hit] = True
            score.add(truth, predicted, np.ones_like(truth))
            clip.baseline.setdefault("dead", Score()).add(truth, truth, np.ones_like(truth))
        report.clips[name] = clip
    dead = report.averages()["dead"]
    assert report.clips["a"].ours["dead"].per_frame == [(4, 0, 0), (4, 0, 0), (0, 4, 0), (4, 0, 0)]
    low, high = dead["recall_ci95"]
    assert low < dead["recall"] < high
    assert report.averages("baseline")["dead"]["recall_ci95"] == [1.0, 1.0]
    assert f"{dead['recall']:.3f} [{low:.3f}, {high:.3f}]" in format_report(report)


def test_a_drawn_clip_left_without_positives_counts_for_neither_figure():
    # One frame of ten holds the clip's positive, so most draws of its frames hold none: such
    # a draw leaves the clip out of that resample's average, as a clip without positives is
    # left out of the point figure; counted as recall 0 it would pull the interval below 1.
    always = _clip([2] * 10, [0] * 10, [0] * 10)
    rare = _clip([1] + [0] * 9, [0] * 10, [0] * 10)
    intervals = clip_average_intervals([always, rare])
    assert intervals == {"precision": (1.0, 1.0), "recall": (1.0, 1.0)}

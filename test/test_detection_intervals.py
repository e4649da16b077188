"""The 95 % intervals of the clip-averaged detection scores (clips and frames resampled)."""

from __future__ import annotations

import numpy as np
import pytest

from frame_restore_ros.evaluation.detection_intervals import (
    clip_average_intervals,
    schedule_average_intervals,
)
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


def test_clips_without_a_positive_count_for_precision_only_as_in_the_point_figure():
    # A clip with only false positives counts for precision (0: every flag was false), not
    # for recall; a clip with neither counts for nothing.
    scored = _clip([2] * 5, [2] * 5, [0] * 5)
    none = _clip([0] * 5, [0] * 5, [7] * 5)
    empty = _clip([0] * 5, [0] * 5, [0] * 5)
    both = clip_average_intervals([scored, none] * 10, seed=2)
    assert both["recall"] == clip_average_intervals([scored], seed=2)["recall"] == (0.5, 0.5)
    low, high = both["precision"]
    assert low < 0.5 < high  # the point figure: mean(1.0, 0.0)
    assert clip_average_intervals([scored, empty]) == clip_average_intervals([scored])
    # Without a positive there is no point figure (the class is not reported), nor interval;
    # a resample that drew only clips without one is left out alike: perfect clip a and
    # false-only clip b (point figure P 0.5) give [0.5, 1], never a draw of b alone at 0.
    assert clip_average_intervals([none]) == clip_average_intervals([empty]) == {}
    perfect = _clip([2] * 5, [0] * 5, [0] * 5)
    assert clip_average_intervals([perfect, none])["precision"] == (0.5, 1.0)
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


def test_a_clip_with_false_positives_but_no_positive_scores_precision_zero():
    # Clip a finds 3 of 4 positives with 1 false patch (P 0.75, R 0.75); clip b had no
    # positive of the class, but 2 false patches on its injected frames (P 0): precision
    # averages both, 0.375, recall clip a alone.
    report = DetectionReport()
    truth = np.zeros((4, 4), bool)
    truth[0, :] = True
    for name, (positive, flagged) in {"a": (truth, [0, 1, 2, 4]), "b": (None, [5, 6])}.items():
        predicted = np.zeros_like(truth)
        predicted.flat[flagged] = True
        clip = ClipReport()
        shown = np.zeros_like(truth) if positive is None else positive
        clip.ours["dead"] = Score()
        clip.ours["dead"].add(shown, predicted, np.ones_like(truth))
        clip.baseline["dead"] = Score()
        clip.baseline["dead"].add(shown, np.zeros_like(truth), np.ones_like(truth))
        report.clips[name] = clip
    dead = report.averages()["dead"]
    assert dead["precision"] == pytest.approx(0.375) and dead["recall"] == pytest.approx(0.75)
    assert dead["clips"] == 1 and dead["precision_clips"] == 2 and dead["positives"] == 4
    assert dead["precision_ci95"][0] <= 0.375 <= dead["precision_ci95"][1]
    # The baseline flagged nothing in either clip: precision 1 in a, b does not count.
    assert report.averages("baseline")["dead"]["precision_clips"] == 1
    assert "0.375" in format_report(report)


def test_a_drawn_clip_left_without_positives_counts_for_neither_figure():
    # One frame of ten holds the clip's positive, so most draws of its frames hold none: such
    # a draw leaves the clip out of that resample's average, as a clip without positives is
    # left out of the point figure; counted as recall 0 it would pull the interval below 1.
    always = _clip([2] * 10, [0] * 10, [0] * 10)
    rare = _clip([1] + [0] * 9, [0] * 10, [0] * 10)
    intervals = clip_average_intervals([always, rare])
    assert intervals == {"precision": (1.0, 1.0), "recall": (1.0, 1.0)}


def test_over_schedules_the_interval_is_of_the_mean_of_each_schedules_clip_average():
    # Frames alike within a clip and schedule: only the clip draw moves the figure, and both
    # clips are the same, so the interval is the point figure. Schedule 0 finds every positive
    # with as many false patches (P 0.5, R 1), schedule 1 a quarter and nothing false (P 1,
    # R 0.25): the mean of the schedules' figures is P 0.75, R 0.625. Pooling a clip's frames
    # of both schedules into one figure would give P 3 / 5 = 0.6, R 3 / 6 = 0.5; resampling
    # them as one pool would mix the schedules' frames and spread the interval.
    first, second = _clip([2] * 5, [0] * 5, [2] * 5), _clip([1] * 5, [3] * 5, [0] * 5)
    intervals = schedule_average_intervals([[first, first], [second, second]])
    assert intervals == {"precision": (0.75, 0.75), "recall": (0.625, 0.625)}


def test_over_schedules_a_clip_is_drawn_in_every_schedule_at_once():
    # A clip finds all (A) or nothing (B), the same in both schedules. Drawn once for both
    # schedules, 6 clips give the one-schedule interval of k / 6 (k of 6 drawn are A): [1/6,
    # 5/6]. Drawn apart per schedule the mean of two draws would be k / 12: [0.25, 0.75].
    found, lost = _clip([4] * 10, [0] * 10, [0] * 10), _clip([0] * 10, [4] * 10, [0] * 10)
    clips = [found, lost] * 3
    intervals = schedule_average_intervals([clips, clips])
    assert intervals["recall"] == pytest.approx((1 / 6, 5 / 6), abs=0.01)
    assert clip_average_intervals(clips)["recall"] == pytest.approx((1 / 6, 5 / 6), abs=0.01)


def test_over_schedules_a_clip_without_positives_in_a_schedule_counts_in_the_others_only():
    # Clip b is missed in schedule 0 and not scored at all in schedule 1 (no frame, or frames
    # without a positive or a false one): schedule 1's average is clip a's alone, R = mean(0.5,
    # 1.0) = 0.75 whenever both clips are drawn. Counting b as recall 0 in schedule 1 would pull
    # it down. Frames with false positives only count for precision, not for recall.
    a, b = _clip([2] * 4, [0] * 4, [0] * 4), _clip([0] * 4, [2] * 4, [0] * 4)
    unscored, nothing = np.zeros((0, 3), int), _clip([0] * 4, [0] * 4, [0] * 4)
    negatives = _clip([0] * 4, [0] * 4, [1] * 4)
    intervals = schedule_average_intervals([[a, b], [a, unscored]], resamples=400)
    assert intervals == schedule_average_intervals([[a, b], [a, nothing]], resamples=400)
    falsely = schedule_average_intervals([[a, b], [a, negatives]], resamples=400)
    assert falsely["recall"] == intervals["recall"]
    assert falsely["precision"][0] < intervals["precision"][0] == 1.0
    with pytest.raises(ValueError, match="same clips"):
        schedule_average_intervals([[a, b], [a]])
    # The only draws: (a, a) -> 1, (a, b) or (b, a) -> 0.75, (b, b) -> schedule 0 alone, 0.
    draws = schedule_average_intervals([[a, b] * 20, [a, unscored] * 20])
    assert 0.6 < draws["recall"][0] < 0.75 < draws["recall"][1] < 0.9


def test_over_schedules_the_interval_holds_the_mean_figure_and_one_schedule_is_one_schedule():
    rng = np.random.default_rng(7)
    schedules = [
        [
            _clip(rng.integers(0, 9, n), rng.integers(0, 5, n), rng.integers(0, 3, n))
            for n in (6, 14, 25, 9, 11)
        ]
        for _ in range(3)
    ]

    def average(clips, figure):
        found, missed, false = (np.array([c[:, i].sum() for c in clips]) for i in range(3))
        per_clip = found / (found + missed) if figure == "recall" else found / (found + false)
        return per_clip.mean()

    intervals = schedule_average_intervals(schedules, seed=2)
    for figure, (low, high) in intervals.items():
        point = np.mean([average(clips, figure) for clips in schedules])
        assert low < point < high, figure
    assert schedule_average_intervals(schedules[:1], seed=2) == clip_average_intervals(
        schedules[0], seed=2
    )


def _report(per_clip: dict[str, list[int]], positives: int = 4) -> DetectionReport:
    """A report of dead blocks: clip name -> patches found per frame (of ``positives``)."""
    report = DetectionReport()
    for name, found in per_clip.items():
        clip = report.clips.setdefault(name, ClipReport())
        for hit in found:
            truth = np.zeros((4, 4), bool)
            truth[0, :positives] = True
            predicted = np.zeros_like(truth)
            predicted[0, :hit] = True
            for scores in (clip.ours, clip.baseline):
                scores.setdefault("dead", Score()).add(truth, predicted, np.ones_like(truth))
    return report


def test_the_mean_over_schedules_of_hand_made_reports():
    """Schedule 0: clip a finds all (R 1), b half (R 0.5); schedule 1: a a quarter (R 0.25),
    b has no positive. The mean of the schedules' clip averages: (0.75 + 0.25) / 2 = 0.5 (over
    the (clip, schedule) pairs it would be 0.583, pooled per clip 0.5625)."""
    from frame_restore_ros.evaluation.detection_schedules import SchedulesReport

    first = _report({"a": [4, 4], "b": [2, 2, 2, 2]})
    second = _report({"a": [1, 1], "b": []})
    second.clips["b"].ours["dead"] = Score()  # injected, nothing visible: no positive
    dead = SchedulesReport({3: first, 8: second}).averages()["dead"]
    assert dead["recall"] == 0.5 and dead["precision"] == 1.0
    assert dead["per_seed"] == {
        "3": {"precision": 1.0, "recall": 0.75},
        "8": {"precision": 1.0, "recall": 0.25},
    }
    assert dead["recall_range"] == [0.25, 0.75]
    assert (dead["schedules"], dead["clips"], dead["positives"]) == (2, 2, 8 + 16 + 8)
    frames = [
        [np.array(first.clips[c].ours["dead"].per_frame) for c in "ab"],
        [np.array(second.clips["a"].ours["dead"].per_frame), np.zeros((0, 3), int)],
    ]
    low, high = schedule_average_intervals(frames)["recall"]
    assert dead["recall_ci95"] == [round(low, 4), round(high, 4)]
    # Frames alike per clip and schedule: only the clips drawn matter. (a, a): (1 + 0.25) / 2;
    # a and b: (0.75 + 0.25) / 2; (b, b): schedule 0 alone, 0.5.
    assert (low, high) == (0.5, 0.625)
    # One schedule: DetectionReport.averages, key for key, plus the range and per_seed.
    alone = SchedulesReport({3: first}).averages()["dead"]
    assert {k: v for k, v in alone.items() if k in first.averages()["dead"]} == (
        first.averages()["dead"]
    )

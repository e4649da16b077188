"""95 % bootstrap intervals of the detection scores averaged over clips (and schedules).

A class's precision and recall are averages over the clips of per-clip figures, each from a few
injected frames (a failure every third frame, the classes taking turns: 5-30 frames per class
and clip). Two things move them: which clips were measured (footage the detector was never
tuned on differs most) and which frames of each clip were damaged. The interval resamples both,
a two-level percentile bootstrap: the clips with replacement, then each drawn clip's scored
frames with replacement, and the same per-clip figures as :class:`~.detection_scores.Score`
(recall = found / positives; precision = found / flagged, 1 when nothing was flagged), averaged
as the point figure is: recall over the drawn clips that hold a positive, precision also over
those that hold a false positive but no positive.

Over several schedules of failures (``eval-detection --seeds``) the point figure is the mean over
the schedules of each one's clip average. Its interval draws the clips once for all schedules (a
clip drawn is drawn in every schedule: the footage is shared), then each drawn clip's scored
frames within each schedule apart, and computes the same statistic: per schedule the average over
the drawn clips that count for the figure, then the mean over the schedules left with one. The
frames of all schedules are pooled per clip, but never mixed across schedules: a frame drawn for
one schedule stands in for that schedule's frames only, so the schedule-to-schedule variation of
the damage is in the interval, and the figure resampled is the one reported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RESAMPLES = 1000  # bootstrap draws: the interval's ends move by ~0.005 between seeds


def clip_average_intervals(
    per_clip: Sequence[np.ndarray], resamples: int = RESAMPLES, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """95 % intervals of the clip-averaged precision and recall (one schedule).

    Args:
        per_clip: one (frames, 3) int array per clip of (found, missed, false) patch counts per
            scored frame (true positives, false negatives, false positives); clips without a
            positive are left out of recall's average, and of precision's unless they hold a
            false positive, as in the point figure.
        resamples: bootstrap draws; seed: of the draws (the same counts give the same interval).
    Returns:
        {"precision": (low, high), "recall": (low, high)}; empty when no clip holds a
        positive.
    """
    return schedule_average_intervals([per_clip], resamples, seed)


def schedule_average_intervals(
    per_schedule: Sequence[Sequence[np.ndarray]], resamples: int = RESAMPLES, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """95 % intervals of the mean over schedules of the clip-averaged precision and recall.

    Args:
        per_schedule: per schedule, one (frames, 3) int array per clip as in
            :func:`clip_average_intervals`, the same clips in the same order in every schedule
            (a clip the schedule scored no frame of: an empty array). A schedule's average
            leaves out the clips that do not count for the figure, and the mean leaves out the
            schedules left without one, as the point figure does.
        resamples: bootstrap draws; seed: of the draws. With one schedule the draws, and so the
            interval, are those of :func:`clip_average_intervals`.
    Returns:
        {"precision": (low, high), "recall": (low, high)}; empty when no clip holds a
        positive.
    """
    schedules = [[_counts(counts) for counts in per_clip] for per_clip in per_schedule]
    if len({len(per_clip) for per_clip in schedules}) > 1:
        raise ValueError("every schedule must list the same clips")
    # The clips with a positive or a false positive in some schedule, each as (schedules,
    # frames x 3) counts.
    clips = [counts for counts in zip(*schedules, strict=True) if any(_scored(f) for f in counts)]
    if not clips:
        return {}
    rng = np.random.default_rng(seed)
    # Each clip's frames of each schedule resampled `resamples` times, summed per draw.
    sums = np.zeros((len(schedules), len(clips), resamples, 3), np.int64)
    for index, counts in enumerate(clips):
        for schedule, frames in enumerate(counts):
            if _scored(frames):  # else no draw counts: the clip never counts here
                picks = rng.integers(0, len(frames), size=(resamples, len(frames)))
                sums[schedule, index] = frames[picks].sum(axis=1)
    # The clips drawn with replacement, the same clips in every schedule; a clip drawn twice
    # takes two independent frame draws (schedules' frame draws are independent already).
    chosen = rng.integers(0, len(clips), size=(resamples, len(clips)))
    which = rng.integers(0, resamples, size=(resamples, len(clips)))
    totals = {"precision": np.zeros(resamples), "recall": np.zeros(resamples)}
    # per figure, the schedules whose drawn clips count for it, per resample
    counted = {name: np.zeros(resamples, np.int64) for name in totals}
    for schedule_sums in sums:
        means = _clip_means(schedule_sums[chosen, which])
        for name, values in means.items():
            usable = ~np.isnan(values)
            counted[name] += usable
            totals[name][usable] += values[usable]
    out = {}
    for name, total in totals.items():
        held = counted[name] > 0
        if held.any():
            means = total[held] / counted[name][held]
            low, high = np.percentile(means, [2.5, 97.5])
            out[name] = (float(low), float(high))
    return out


def _counts(counts: np.ndarray) -> np.ndarray:
    return np.asarray(counts, dtype=np.int64).reshape(-1, 3)


def _scored(counts: np.ndarray) -> bool:
    """Whether a clip's (frames, 3) counts hold a positive or a false positive."""
    return bool(counts.sum() > 0)


def _clip_means(drawn: np.ndarray) -> dict[str, np.ndarray]:
    """Average the per-clip figures of (resamples, clips, 3) drawn counts over their clips.

    Recall over the clips with a positive, precision also over those with a false positive
    (as :func:`.detection_scores.averaged_in`); both NaN where a resample drew no positive
    (the point figure exists only for a class with a positive).
    """
    found, missed, false = np.moveaxis(drawn, -1, 0)  # each (resamples, clips)
    positives = found + missed
    flagged = found + false
    recall = np.divide(found, positives, out=np.zeros(found.shape), where=positives > 0)
    precision = np.divide(found, flagged, out=np.ones(found.shape), where=flagged > 0)
    out = {}
    for name, values, held in (
        ("precision", precision, (positives > 0) | (false > 0)),
        ("recall", recall, positives > 0),
    ):
        counted = held.sum(axis=1)
        usable = (counted > 0) & (positives > 0).any(axis=1)
        means = np.full(len(counted), np.nan)
        means[usable] = (values * held).sum(axis=1)[usable] / counted[usable]
        out[name] = means
    return out


__all__ = ["RESAMPLES", "clip_average_intervals", "schedule_average_intervals"]

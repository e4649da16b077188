"""95 % bootstrap intervals of the detection scores averaged over clips.

A class's precision and recall are averages over the clips of per-clip figures, each from a few
injected frames (a failure every third frame, the classes taking turns: 5-30 frames per class
and clip). Two things move them: which clips were measured (footage the detector was never
tuned on differs most) and which frames of each clip were damaged. The interval resamples both,
a two-level percentile bootstrap: the clips with replacement, then each drawn clip's scored
frames with replacement, and the same per-clip figures as :class:`~.detection_scores.Score`
(recall = found / positives; precision = found / flagged, 1 when nothing was flagged), averaged
over the drawn clips that hold a positive (as the point figure is).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RESAMPLES = 1000  # bootstrap draws: the interval's ends move by ~0.005 between seeds


def clip_average_intervals(
    per_clip: Sequence[np.ndarray], resamples: int = RESAMPLES, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """95 % intervals of the clip-averaged precision and recall.

    Args:
        per_clip: one (frames, 3) int array per clip of (found, missed, false) patch counts per
            scored frame (true positives, false negatives, false positives); clips without a
            positive are left out of the average, as in the point figure.
        resamples: bootstrap draws; seed: of the draws (the same counts give the same interval).
    Returns:
        {"precision": (low, high), "recall": (low, high)}; empty when no clip holds a positive.
    """
    clips = [np.asarray(counts, dtype=np.int64).reshape(-1, 3) for counts in per_clip]
    clips = [counts for counts in clips if counts[:, :2].sum() > 0]
    if not clips:
        return {}
    rng = np.random.default_rng(seed)
    # Each clip's frames resampled `resamples` times: (resamples, 3) summed counts per draw.
    draws = []
    for counts in clips:
        picks = rng.integers(0, len(counts), size=(resamples, len(counts)))
        draws.append(counts[picks].sum(axis=1))
    sums = np.stack(draws)  # (clips, resamples, 3)
    # The clips drawn with replacement; a clip drawn twice takes two independent frame draws.
    chosen = rng.integers(0, len(clips), size=(resamples, len(clips)))
    which = rng.integers(0, resamples, size=(resamples, len(clips)))
    found, missed, false = np.moveaxis(sums[chosen, which], -1, 0)  # each (resamples, clips)
    positives = found + missed
    held = positives > 0
    recall = np.divide(found, positives, out=np.zeros(found.shape), where=held)
    flagged = found + false
    precision = np.divide(found, flagged, out=np.ones(found.shape), where=flagged > 0)
    counted = held.sum(axis=1)
    usable = counted > 0
    out = {}
    for name, values in (("precision", precision), ("recall", recall)):
        means = (values * held).sum(axis=1)[usable] / counted[usable]
        low, high = np.percentile(means, [2.5, 97.5])
        out[name] = (float(low), float(high))
    return out


__all__ = ["RESAMPLES", "clip_average_intervals"]

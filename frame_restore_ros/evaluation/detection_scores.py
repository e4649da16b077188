"""Score failure detectors on real video with injected failures, at patch level.

Protocol (docs/detection.md, "Evaluating detection"):
  * each clip is streamed once, in order, through two fresh detectors: one sees the untouched clip
    (false alarms: flagged pixels per frame, frames that would be altered), the other the same clip
    with a failure injected every ``every``-th frame (default 3), the classes of :data:`CLASSES`
    taking turns; the frames between stay clean, so the detector's history is realistic. A lasting
    failure (a freeze) runs its frames before the next injection;
  * frames are scored on a grid of ``patch`` x ``patch`` pixels (:data:`PATCH`; a smaller frame is
    skipped, a clip left without a frame left out, each with a warning): a patch is positive
    when at least half of it failed, negative when none of its pixels was touched, and ignored
    otherwise; a patch is predicted failed when at least half of its pixels are flagged;
  * a soft-edged failure (mud, a veil, drops) failed where its blend weight is >= 0.5, and on
    its soft edge beyond where the damage is plain (|damaged - true| >= :data:`RIM_VISIBLE`
    levels, 5x5 mean): a rim that visibly covers the scene is failure to repair, a faint one is
    ignored (:func:`failed_pixels`);
  * a failed patch counts only where the damage is visible: its mean |damaged - true| (the largest
    of the three colour channels per pixel) is above 3 levels; an invisible one (a dead block
    over a black night sky, a freeze of a patch that did not change) is ignored, neither
    positive nor negative;
  * frozen tiles count from their second frozen frame on; on the first they are ignored;
  * a frozen tile counts only while its surroundings move (the target's condition): the true
    frames' luma changed by more than :data:`SURROUNDINGS_MOVE` levels on average over the band
    of ``patch`` pixels around it since the moment the tile shows (the true frame of the frame
    the stream showed before the freeze began, or of an earlier freeze's moment where the tile
    overlaps that freeze: a slow scene moves a visible amount over a long freeze). A tile over
    still surroundings (a stopped vehicle, a static camera, a black night) is ignored by its
    class and scored apart, recall only (``still_surroundings``): there a frozen tile and the
    scene agree;
  * a freeze and a repeated frame keep what the stream showed before them (the damaged frame
    when a failure preceded them: a decoder holds its last output, a driver re-sends it);
  * a repeated frame has no new failed pixel: every flagged pixel on it outside the failure it
    shows again is a false alarm;
  * the injected stream's clean frames, once it has shown a failure, are false alarms wherever
    flagged (``after_failures``): a failure's end must leave the scene it uncovers untouched
    (the untouched stream never saw a failure, so it cannot tell);
  * per class, recall is averaged over the clips that had positives, precision also over the
    clips whose injected frames had false positives but no positive (precision 0); recall is
    also reported per damage magnitude (:data:`MAGNITUDE_EDGES`, pooled over the clips): what a
    detector misses is then told apart as faint damage (a dead block over a black night sky
    changes a patch by a few levels) or plain damage;
  * the same rules per pixel (:func:`truth_pixels`), pooled over the clips, score the thin
    failures (dead lines and columns of 1-4 pixels) that never cover half a patch.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np
from tqdm import tqdm

from frame_restore_ros.detection.detector import Detection, DetectorConfig, FailureDetector
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.evaluation.detection_intervals import clip_average_intervals
from frame_restore_ros.evaluation.injection_schedule import (
    CLASSES,
    InjectionSchedule,
    held_bucket,
)
from frame_restore_ros.synthetic.corruption import Corruption

if TYPE_CHECKING:
    from frame_restore_ros.evaluation.detection_schedules import SchedulesReport

log = logging.getLogger(__name__)
PATCH = 16  # side (pixels) of the square patches frames are scored on
FROZEN_SCORED_FROM = 2  # the target counts frozen tiles from their second frozen frame
VISIBLE = 3.0  # mean |damaged - true| level of a patch for its failure to be visible
SURROUNDINGS_MOVE = 3.0  # mean |true - its freeze's source| luma around a frozen tile: moving
# |damaged - true| (5x5 mean of the largest channel) at which a soft edge's pixel counts as failed
RIM_VISIBLE = 10.0
# Lower edges (levels) of the damage-magnitude bins recall is also reported in: a patch's mean
# |damaged - true| (the largest channel per pixel); the first edge is VISIBLE.
MAGNITUDE_EDGES = (VISIBLE, 6.0, 10.0, 20.0)

# A detected positive has the right class when labelled with one of these (dark blockage and a
# dead block look alike).
_SAME_CLASS: dict[FailureKind, tuple[FailureKind, ...]] = {
    FailureKind.DEAD: (FailureKind.DEAD, FailureKind.BLOCKAGE),
    FailureKind.BLOCKAGE: (FailureKind.BLOCKAGE, FailureKind.DEAD),
}


@dataclass
class Score:
    """Patch counts for one failure class (or for false alarms on clean frames)."""

    true_positive: int = 0
    false_negative: int = 0
    false_positive: int = 0
    true_negative: int = 0
    right_class: int = 0
    frames: int = 0
    # (true positives, false negatives, false positives) of each frame added, for the intervals
    per_frame: list[tuple[int, int, int]] = field(default_factory=list)

    def add(self, truth: np.ndarray, predicted: np.ndarray, valid: np.ndarray) -> None:
        """Count one frame's (rows, cols) bool patch maps."""
        found = int((truth & predicted & valid).sum())
        missed = int((truth & ~predicted & valid).sum())
        false = int((~truth & predicted & valid).sum())
        self.true_positive += found
        self.false_negative += missed
        self.false_positive += false
        self.true_negative += int((~truth & ~predicted & valid).sum())
        self.frames += 1
        self.per_frame.append((found, missed, false))

    def merge(self, other: Score) -> None:
        """Add ``other``'s counts."""
        for name in ("true_positive", "false_negative", "false_positive", "true_negative"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.right_class += other.right_class
        self.frames += other.frames
        self.per_frame.extend(other.per_frame)

    @property
    def positives(self) -> int:
        return self.true_positive + self.false_negative

    @property
    def recall(self) -> float:
        return self.true_positive / max(1, self.positives)

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when nothing was flagged."""
        flagged = self.true_positive + self.false_positive
        return self.true_positive / flagged if flagged else 1.0

    @property
    def class_accuracy(self) -> float:
        """Of the detected positives, the fraction labelled with the injected class."""
        return self.right_class / max(1, self.true_positive)

    @property
    def flagged_rate(self) -> float:
        """Fraction of the scored patches predicted failed."""
        total = self.positives + self.false_positive + self.true_negative
        return (self.false_positive + self.true_positive) / max(1, total)

    def as_dict(self) -> dict[str, float]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "class_accuracy": round(self.class_accuracy, 4),
            "positives": self.positives,
            "false_positives": self.false_positive,
            "frames": self.frames,
        }


@dataclass
class FalseAlarms:
    """Flagged pixels per frame of an untouched clip."""

    flagged: list[float] = field(default_factory=list)  # fraction of pixels, per frame
    patches: Score = field(default_factory=Score)

    def add(self, mask: np.ndarray, patch: int) -> None:
        """Count one frame's (H, W) bool flagged mask."""
        self.flagged.append(cv2.countNonZero(mask.view(np.uint8)) / mask.size)
        predicted = patch_coverage(mask, patch) >= 0.5
        nothing = np.zeros_like(predicted)
        self.patches.add(nothing, predicted, ~nothing)

    @property
    def flagged_rate(self) -> float:
        """Fraction of patches flagged (the older, patch-level false-alarm rate)."""
        return self.patches.flagged_rate

    def merge(self, other: FalseAlarms) -> None:
        """Add ``other``'s frames to these (the same clip on another schedule)."""
        self.flagged.extend(other.flagged)
        self.patches.merge(other.patches)

    def as_dict(self) -> dict[str, float]:
        values = np.asarray(self.flagged or [0.0])
        return {
            "frames": len(self.flagged),
            "mean_pct": round(100 * float(values.mean()), 4),
            "p99_pct": round(100 * float(np.percentile(values, 99)), 4),
            "altered_frames": round(float((values > 0).mean()), 4),
            "patch_rate": round(self.flagged_rate, 5),
        }


@dataclass(order=True)
class Shot:
    """One frame kept for the report's gallery (ordered by ``flagged``).

    frame: (H, W, 3) uint8 as the detector saw it; labels: (H, W) uint8 detected classes;
    truth: (H, W) uint8 injected classes (None on clean frames).
    """

    flagged: float
    index: int
    frame: np.ndarray = field(compare=False)
    labels: np.ndarray = field(compare=False)
    truth: np.ndarray | None = field(default=None, compare=False)


@dataclass
class ClipReport:
    """Everything measured on one clip."""

    shape: tuple[int, int] = (0, 0)
    false_alarms: FalseAlarms = field(default_factory=FalseAlarms)
    false_alarms_baseline: FalseAlarms = field(default_factory=FalseAlarms)
    ours: dict[str, Score] = field(default_factory=dict)
    baseline: dict[str, Score] = field(default_factory=dict)
    pixels: dict[str, Score] = field(default_factory=dict)  # ours, pixel level
    # ours, frozen tiles over still surroundings (positives only: recall)
    still: dict[str, Score] = field(default_factory=dict)
    # ours, per class: (2, len(MAGNITUDE_EDGES)) int counts, positives and found per magnitude bin
    magnitudes: dict[str, np.ndarray] = field(default_factory=dict)
    repeated: FalseAlarms = field(default_factory=FalseAlarms)  # ours, on repeated frames
    # ours, on the injected stream's clean frames after its first failure
    after_failures: FalseAlarms = field(default_factory=FalseAlarms)
    worst: list[Shot] = field(default_factory=list)  # a min-heap of the most flagged clean frames
    # ours, the untouched stream's frames read as scene cuts (no onsets there; a failure in a
    # frame wrongly read as a cut is missed, and the node resets its reference)
    scene_cuts: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "resolution": list(self.shape),
            "false_alarms": {
                "ours": self.false_alarms.as_dict(),
                "autoware": self.false_alarms_baseline.as_dict(),
            },
            "classes": {
                name: {"ours": score.as_dict(), "autoware": self.baseline[name].as_dict()}
                for name, score in self.ours.items()
            },
            "repeated_frames": self.repeated.as_dict(),
            "clean_frames_after_failures": self.after_failures.as_dict(),
            "scene_cuts": list(self.scene_cuts),
            "still_surroundings": {
                name: {"recall": round(score.recall, 4), "positives": score.positives}
                for name, score in self.still.items()
                if score.positives
            },
        }


def pooled(scores: Iterable[dict[str, Score]]) -> dict[str, Score]:
    """Per class, the counts of ``scores`` (per-class dicts) added up."""
    total: dict[str, Score] = {}
    for per_class in scores:
        for name, score in per_class.items():
            total.setdefault(name, Score()).merge(score)
    return total


@dataclass
class DetectionReport:
    """Per-clip reports, pooled views and per-class averages over the clips."""

    clips: dict[str, ClipReport] = field(default_factory=dict)
    examples: dict[str, Shot] = field(default_factory=dict)  # class -> one injected frame

    @property
    def ours(self) -> dict[str, Score]:
        """Per class, counts pooled over the clips."""
        return pooled(clip.ours for clip in self.clips.values())

    @property
    def baseline(self) -> dict[str, Score]:
        return pooled(clip.baseline for clip in self.clips.values())

    @property
    def pixels(self) -> dict[str, Score]:
        return pooled(clip.pixels for clip in self.clips.values())

    @property
    def false_alarms(self) -> dict[str, FalseAlarms]:
        return {name: clip.false_alarms for name, clip in self.clips.items()}

    @property
    def false_alarms_baseline(self) -> dict[str, FalseAlarms]:
        return {name: clip.false_alarms_baseline for name, clip in self.clips.items()}

    def averages(self, which: str = "ours") -> dict[str, dict]:
        """Per class: precision, recall and class accuracy averaged over the clips.

        Recall and class accuracy over the clips with positives (``clips``), precision also over
        those with false positives but no positive (``precision_clips``). With each figure's 95 %
        interval (``precision_ci95``, ``recall_ci95``: [low, high]), clips and their scored frames
        resampled (:mod:`.detection_intervals`). Unrounded: the JSON rounds them (:func:`rounded`),
        the tables show them to 3 places, rounded once.
        """
        out: dict[str, dict] = {}
        for name, per_clip in class_scores(self.clips, which).items():
            scores = list(per_clip.values())
            out[name] = {figure: mean_figure(scores, figure) for figure in AVERAGED} | {
                "clips": sum(averaged_in(s, "recall") for s in scores),
                "precision_clips": len(scores),
                "positives": sum(s.positives for s in scores),
            }
            intervals = clip_average_intervals([np.array(s.per_frame) for s in scores])
            for figure, (low, high) in intervals.items():
                out[name][f"{figure}_ci95"] = [low, high]
        return out

    def still_surroundings(self) -> dict[str, dict[str, float]]:
        """Per frozen class: recall on tiles over still surroundings, averaged over the clips.

        Only clips with such positives count; those tiles are outside the class's own score.
        """
        return {
            name: {
                "recall": round(mean_figure(scores.values(), "recall"), 4),
                "clips": len(scores),
                "positives": sum(s.positives for s in scores.values()),
            }
            for name, scores in still_scores(self.clips).items()
        }

    def recall_by_magnitude(self) -> dict[str, dict[str, dict[str, float]]]:
        """Per class, per damage-magnitude bin ("3-6" levels ... ">=20"): positives and recall.

        Pooled over the clips (a bin holds few patches per clip); bins without positives are
        left out.
        """
        return magnitude_recalls(self.clips.values())

    def pixel_level(self) -> dict[str, dict[str, float]]:
        """Per class, pixel-level precision and recall pooled over the clips (thin lines)."""
        return pooled_figures(self.pixels)

    def patch_pooled(self) -> dict[str, dict[str, float]]:
        """Per class, patch-level precision and recall pooled over the clips."""
        return patch_figures(self.ours)

    def repeated_mean_pct(self) -> float:
        """Return the flagged % of repeated frames' pixels beyond the failure they show again.

        The mean over the clips with repeated frames of each clip's (rounded) mean.
        """
        repeated = [clip.repeated for clip in self.clips.values() if clip.repeated.flagged]
        return float(np.mean([r.as_dict()["mean_pct"] for r in repeated])) if repeated else 0.0

    def after_failures(self) -> dict[str, FalseAlarms]:
        """Per clip, ours on the injected stream's clean frames after its first failure."""
        return {name: clip.after_failures for name, clip in self.clips.items()}

    def as_dict(self) -> dict:
        return {
            "clips": {name: clip.as_dict() for name, clip in self.clips.items()},
            "classes": {
                "ours": rounded(self.averages("ours")),
                "autoware": rounded(self.averages("baseline")),
            },
            "ours_patch_pooled": self.patch_pooled(),  # every patch of every clip once
            "ours_pixel_level": self.pixel_level(),  # pooled over the clips; thin lines
            "still_surroundings": self.still_surroundings(),
            "ours_recall_by_magnitude": self.recall_by_magnitude(),
            "false_alarms": worst_false_alarms(self.clips.values()),
            "repeated_frames_flagged_mean_pct": round(self.repeated_mean_pct(), 4),
            "clean_frames_after_failures": after_failures_figures(self.after_failures()),
        }


def after_failures_figures(per_clip: dict[str, FalseAlarms]) -> dict[str, float | str | None]:
    """Return the worst clip's mean flagged % and share of frames altered after failures.

    Each figure is the worst over the clips that had such frames (they may be two clips);
    ``worst_clip`` is the clip of the worst mean.
    """
    clips = {name: alarms.as_dict() for name, alarms in per_clip.items() if alarms.flagged}
    return {
        "ours_worst_mean_pct": max((a["mean_pct"] for a in clips.values()), default=0),
        "ours_worst_altered_frames": max((a["altered_frames"] for a in clips.values()), default=0),
        "worst_clip": max(clips, key=lambda name: clips[name]["mean_pct"], default=None),
    }


AVERAGED = ("precision", "recall", "class_accuracy")  # the figures averaged over the clips


def rounded(figures: object, places: int = 4) -> object:
    """Return ``figures`` (dicts and lists of them) with every float rounded to ``places``."""
    if isinstance(figures, dict):
        return {key: rounded(value, places) for key, value in figures.items()}
    if isinstance(figures, list):
        return [rounded(value, places) for value in figures]
    return round(figures, places) if isinstance(figures, float) else figures


def class_scores(clips: dict[str, ClipReport], which: str = "ours") -> dict[str, dict[str, Score]]:
    """Per class, clip name -> its ``which`` score ("ours", "baseline"), in the clips' order.

    The classes with a positive in some clip; of those, the clips that enter an average
    (:func:`averaged_in`: a positive, or a false positive of ``which``).
    """
    out: dict[str, dict[str, Score]] = {}
    names = dict.fromkeys(n for clip in clips.values() for n in clip.ours)
    for name in names:
        if not any(name in clip.ours and clip.ours[name].positives for clip in clips.values()):
            continue
        scores = {
            clip_name: getattr(clip, which)[name]
            for clip_name, clip in clips.items()
            if name in clip.ours and averaged_in(getattr(clip, which)[name], "precision")
        }
        if scores:
            out[name] = scores
    return out


def averaged_in(score: Score, figure: str) -> bool:
    """Whether a clip's ``score`` enters the clip average of ``figure``.

    Recall and class accuracy: a clip with a positive. Precision: also a clip whose injected
    frames had false positives but no positive (precision 0 there: every flag was false).
    """
    if figure == "precision":
        return bool(score.positives or score.false_positive)
    return bool(score.positives)


def mean_figure(scores: Iterable[Score], figure: str) -> float:
    """Return the mean of one figure ("precision", "recall", ...) over the ``scores`` it counts.

    The scores :func:`averaged_in` keeps for that figure; NaN when it keeps none.
    """
    values = [getattr(score, figure) for score in scores if averaged_in(score, figure)]
    return float(np.mean(values)) if values else float("nan")


def still_scores(clips: dict[str, ClipReport]) -> dict[str, dict[str, Score]]:
    """Per frozen class, clip name -> its score over still surroundings.

    Only the clips where the class had positives over still surroundings.
    """
    out: dict[str, dict[str, Score]] = {}
    names = dict.fromkeys(n for clip in clips.values() for n in clip.still)
    for name in names:
        scores = {
            clip_name: clip.still[name]
            for clip_name, clip in clips.items()
            if name in clip.still and clip.still[name].positives
        }
        if scores:
            out[name] = scores
    return out


def magnitude_recalls(clips: Iterable[ClipReport]) -> dict[str, dict[str, dict[str, float]]]:
    """Per class and magnitude bin: positives and recall, pooled over ``clips``."""
    totals: dict[str, np.ndarray] = {}
    for clip in clips:
        for name, counts in clip.magnitudes.items():
            totals[name] = totals.get(name, 0) + counts
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, (positives, found) in totals.items():
        bins = {
            label: {"positives": int(p), "recall": round(float(f) / float(p), 4)}
            for label, p, f in zip(magnitude_labels(), positives, found, strict=True)
            if p
        }
        if bins:
            out[name] = bins
    return out


def pooled_figures(scores: dict[str, Score]) -> dict[str, dict[str, float]]:
    """Per class, the rounded precision and recall of pooled counts (pixels or patches)."""
    return {
        name: {"precision": round(s.precision, 4), "recall": round(s.recall, 4)}
        for name, s in scores.items()
    }


def patch_figures(ours: dict[str, Score]) -> dict[str, dict[str, float]]:
    """Per class with positives, precision and recall of patch counts pooled over the clips.

    Every scored patch of every clip counts once, so a clip with few positives weighs as
    little as it holds; the clip average (:meth:`DetectionReport.averages`, the target's
    figure) weighs every clip alike, and one false patch where a clip's only tile was missed
    sets that clip's precision to 0.
    """
    return pooled_figures({name: s for name, s in ours.items() if s.positives})


def worst_false_alarms(clips: Iterable[ClipReport]) -> dict[str, float]:
    """Return the worst clip's mean flagged % and share of frames altered (untouched)."""
    alarms = [clip.false_alarms.as_dict() for clip in clips]
    return {
        "ours_worst_mean_pct": max((a["mean_pct"] for a in alarms), default=0),
        "ours_worst_altered_frames": max((a["altered_frames"] for a in alarms), default=0),
    }


def patch_coverage(mask: np.ndarray, patch: int) -> np.ndarray:
    """(H, W) bool -> (H/patch, W/patch) float fraction covered (partial edge patches dropped)."""
    rows, cols = mask.shape[0] // patch, mask.shape[1] // patch
    cropped = mask[: rows * patch, : cols * patch].view(np.uint8) * np.uint8(255)
    return cv2.resize(cropped, (cols, rows), interpolation=cv2.INTER_AREA) / 255.0


def magnitude_labels() -> list[str]:
    """Labels of the :data:`MAGNITUDE_EDGES` bins: "3-6", "6-10", "10-20", ">=20"."""
    edges = [f"{edge:g}" for edge in MAGNITUDE_EDGES]
    spans = [f"{low}-{high}" for low, high in zip(edges[:-1], edges[1:], strict=True)]
    return [*spans, f">={edges[-1]}"]


def counts_by_magnitude(
    truth: np.ndarray, predicted: np.ndarray, magnitude: np.ndarray
) -> np.ndarray:
    """(2, bins) int: positives and found positives per :data:`MAGNITUDE_EDGES` bin.

    truth, predicted: (rows, cols) bool patch maps; magnitude: (rows, cols) mean |damaged -
    true| per patch. A positive below the first edge (none are, by :func:`truth_patches`)
    falls in the first bin.
    """
    bins = np.clip(np.searchsorted(MAGNITUDE_EDGES, magnitude[truth], side="right") - 1, 0, None)
    size = len(MAGNITUDE_EDGES)
    positives = np.bincount(bins, minlength=size)
    found = np.bincount(bins[predicted[truth]], minlength=size)
    return np.stack([positives, found])


def frozen_over_still_surroundings(
    corruption: Corruption, clean: np.ndarray, source: np.ndarray | None, band: int = 16
) -> np.ndarray:
    """(H, W) bool: the frozen pixels of tiles whose surroundings did not move.

    ``clean`` and ``source`` (H, W, 3) are the true frame and the true frame of the moment the
    frozen tiles show (``_InjectedStream._freeze_source``; None: no history, every tile counts
    as moving). A tile (a connected frozen region) moved when the mean |luma change| between
    them over the ``band`` pixels around it exceeds :data:`SURROUNDINGS_MOVE`: a scene that
    changes a level a frame has moved a visible amount by a long freeze's tenth frame.
    """
    frozen = (corruption.labels == FailureKind.FROZEN).view(np.uint8)
    still = np.zeros(frozen.shape, bool)
    if source is None or source.shape != clean.shape or not frozen.any():
        return still
    change = cv2.absdiff(
        cv2.cvtColor(clean, cv2.COLOR_BGR2GRAY), cv2.cvtColor(source, cv2.COLOR_BGR2GRAY)
    )
    count, tiles = cv2.connectedComponents(frozen, connectivity=8)
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    for tile in range(1, count):
        inside = tiles == tile
        ring = cv2.dilate(inside.view(np.uint8), kernel).view(bool) & ~frozen.view(bool)
        motion = float(change[ring].mean()) if ring.any() else 0.0
        if motion <= SURROUNDINGS_MOVE:
            still |= inside
    return still


def failed_pixels(corruption: Corruption, difference: np.ndarray) -> np.ndarray:
    """(H, W) bool: the failed pixels, with the soft edge's where its damage is plain.

    A blended failure (mud, a veil, drops) is labelled where its weight is at least
    ``BLEND_LEVEL``; beyond, its soft edge still covers the scene part of the way. Those pixels
    count as failed too where the damage is plain: ``difference`` (H, W) uint8, |damaged - true|
    (the largest channel), averaged over 5x5, is at least :data:`RIM_VISIBLE`. A repeated frame's
    changed pixels are no failure's (it has none).
    """
    mask = corruption.mask
    if corruption.touched is None or corruption.event is not None:
        return mask
    rim = corruption.changed & ~mask
    if not rim.any():
        return mask
    plain = cv2.blur(difference.astype(np.float32), (5, 5)) >= RIM_VISIBLE
    return mask | (rim & plain)


def truth_patches(
    corruption: Corruption,
    clean: np.ndarray,
    patch: int,
    source: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (truth, valid) (rows, cols) bool patch maps of one injected frame.

    ``clean``: the true frame (H, W, 3); ``source``: the true frame of the moment the frozen
    tiles show (frozen tiles over surroundings still since then are ignored; None: every tile
    counts). See the module docstring.
    """
    difference = cv2.absdiff(corruption.damaged, clean).max(axis=2)
    coverage = patch_coverage(failed_pixels(corruption, difference), patch)
    truth = coverage >= 0.5
    valid = truth | (patch_coverage(corruption.changed, patch) == 0)
    frozen = (corruption.labels == FailureKind.FROZEN).any()
    if frozen and corruption.streak < FROZEN_SCORED_FROM:
        return np.zeros_like(truth), valid & ~truth
    visible = _patch_means(difference, patch) > VISIBLE
    valid &= ~truth | visible
    truth &= visible
    if frozen:
        still = patch_coverage(frozen_over_still_surroundings(corruption, clean, source), patch)
        valid &= ~(truth & (still >= 0.5))
        truth &= valid
    return truth, valid


def truth_pixels(
    corruption: Corruption, clean: np.ndarray, source: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (truth, valid) (H, W) bool pixel maps of one injected frame.

    The patch rules of :func:`truth_patches`, per pixel: failed pixels are positive, untouched
    ones negative, the partly blended rim ignored; frozen pixels count from the second frozen
    frame, where their tile's surroundings moved since ``source`` (the true frame of the
    moment the tiles show; None: every tile counts); a failed pixel counts only where the
    damage is visible (mean |damaged - true| over its 5x5 neighbourhood above
    :data:`VISIBLE`, so a 1-pixel dead line still counts).
    """
    difference = cv2.absdiff(corruption.damaged, clean).max(axis=2)
    truth = failed_pixels(corruption, difference)
    valid = truth | ~corruption.changed
    frozen = (corruption.labels == FailureKind.FROZEN).any()
    if frozen and corruption.streak < FROZEN_SCORED_FROM:
        return np.zeros_like(truth), valid & ~truth
    difference = difference.astype(np.float32)
    visible = cv2.blur(difference, (5, 5)) > VISIBLE
    valid &= ~truth | visible
    truth &= visible
    if frozen:
        valid &= ~(truth & frozen_over_still_surroundings(corruption, clean, source))
        truth &= valid
    return truth, valid


def still_truth_patches(
    corruption: Corruption, clean: np.ndarray, patch: int, source: np.ndarray | None
) -> np.ndarray:
    """(rows, cols) bool: visible frozen patches whose tile's surroundings did not move.

    :func:`truth_patches` ignores them (given ``source``); they are scored apart, recall only.
    """
    if corruption.streak < FROZEN_SCORED_FROM:
        return np.zeros(patch_coverage(corruption.mask, patch).shape, bool)
    everything, _ = truth_patches(corruption, clean, patch)
    moving, _ = truth_patches(corruption, clean, patch, source)
    return everything & ~moving


def _patch_means(image: np.ndarray, patch: int) -> np.ndarray:
    rows, cols = image.shape[0] // patch, image.shape[1] // patch
    return cv2.resize(
        image[: rows * patch, : cols * patch], (cols, rows), interpolation=cv2.INTER_AREA
    )


def evaluate_clip(
    name: str,
    frames: Iterable[np.ndarray],
    make_detector: Callable[[], FailureDetector],
    baseline: Callable[[np.ndarray], np.ndarray] | None,
    report: DetectionReport,
    patch: int = PATCH,
    seed: int = 0,
    kinds: Sequence[str] = tuple(CLASSES),
    every: int = 3,
    gallery: int = 3,
    frame_rate: float | None = None,
    hold: int = 1,
) -> ClipReport:
    """Stream one clip (frames: (H, W, 3) uint8) and add its scores to ``report``.

    ``kinds``: names of :data:`CLASSES` to inject; ``gallery``: how many of the most flagged
    clean frames to keep for the report; ``frame_rate``: the clip's frames per second (after
    any stride), which stamps the frames for the detectors as a camera would (None: no stamps,
    the detector's nominal rate); ``hold``: frames each failure stays, the next beginning
    ``every`` clean frames after it, its frames scored in rows of :func:`held_bucket` (1: one
    frame each, every ``every``-th frame). Frames smaller than one patch are skipped, with a
    warning naming the clip and the first one's size; a clip left without a frame is left out
    of ``report`` (:func:`_note_too_small`).
    """
    schedule = [(report, seed)]
    clips = evaluate_clip_schedules(
        name, frames, make_detector, baseline, schedule, patch, kinds, every, gallery, frame_rate,
        hold,
    )  # fmt: skip
    return clips[0]


def evaluate_clip_schedules(
    name: str,
    frames: Iterable[np.ndarray],
    make_detector: Callable[[], FailureDetector],
    baseline: Callable[[np.ndarray], np.ndarray] | None,
    schedules: Sequence[tuple[DetectionReport, int]],
    patch: int = PATCH,
    kinds: Sequence[str] = tuple(CLASSES),
    every: int = 3,
    gallery: int = 3,
    frame_rate: float | None = None,
    hold: int = 1,
) -> list[ClipReport]:
    """Stream one clip once: untouched, and injected on each schedule; return its reports.

    ``schedules``: (report, seed of the clip's schedule) pairs; each report gets the clip's
    scores under its schedule, as :func:`evaluate_clip` with that seed gives them. The
    untouched stream runs once, through one detector (and the baseline once): its false
    alarms, scene cuts and gallery are the same objects in every schedule's clip report. Each
    frame goes through the untouched detector, then each schedule's injected detector in turn.
    Other arguments as in :func:`evaluate_clip`.
    """
    unknown = [kind for kind in kinds if kind not in CLASSES]
    if unknown:
        raise ValueError(f"unknown classes {unknown}; choose from {', '.join(CLASSES)}")
    clean_detector = make_detector()
    streams = [
        _InjectedStream.start(name, report, make_detector(), kinds, every, seed, hold)
        for report, seed in schedules
    ]
    clip = streams[0].clip  # holds the untouched stream's scores
    previous_true: np.ndarray | None = None  # the true frame before this one
    skipped, first_skipped = 0, ""  # frames smaller than a patch, and why the first was skipped
    for index, frame in enumerate(frames):
        if problem := _too_small(frame, index, patch):
            skipped, first_skipped = skipped + 1, first_skipped or problem
            continue
        clip.shape = frame.shape[:2]
        stamp = None if frame_rate is None else index / frame_rate
        detection = clean_detector.detect(frame, stamp)
        clip.false_alarms.add(detection.mask, patch)
        if getattr(detection, "scene_cut", False):
            clip.scene_cuts.append(index)
        _keep_worst(clip.worst, clip.false_alarms.flagged[-1], index, frame, detection, gallery)
        base_clean = baseline(frame) if baseline is not None else None
        if base_clean is not None:
            clip.false_alarms_baseline.add(base_clean, patch)
        for stream in streams:
            stream.step(index, frame, previous_true, stamp, patch, baseline)
        previous_true = frame
    for stream in streams:
        _share_untouched(clip, stream.clip)
    if skipped:
        _note_too_small([stream.report for stream in streams], name, skipped, first_skipped)
    return [stream.clip for stream in streams]


def _share_untouched(source: ClipReport, target: ClipReport) -> None:
    """Give ``target`` the untouched stream's scores of ``source`` (the same objects)."""
    target.shape = source.shape
    target.false_alarms = source.false_alarms
    target.false_alarms_baseline = source.false_alarms_baseline
    target.worst = source.worst
    target.scene_cuts = source.scene_cuts


@dataclass
class _InjectedStream:
    """One schedule's injected stream through a clip: its detector, schedule and scores."""

    clip: ClipReport
    report: DetectionReport
    detector: FailureDetector
    schedule: InjectionSchedule
    previous: np.ndarray | None = None  # the frame the stream showed last
    previous_failed: np.ndarray | None = None  # its failed pixels (None: it showed no failure)
    shown_true: np.ndarray | None = None  # the true frame of the moment ``previous`` was shown
    shown_frozen: np.ndarray | None = None  # (H, W) bool, ``previous``'s frozen tiles (or None)
    freeze_source: np.ndarray | None = None  # the true frame the current freeze's tiles show
    failed_before: bool = False  # whether the stream has shown a failure yet
    hold: int = 1  # frames each failure stays (> 1: scored per second of the failure)

    @classmethod
    def start(
        cls,
        name: str,
        report: DetectionReport,
        detector: FailureDetector,
        kinds: Sequence[str],
        every: int,
        seed: int,
        hold: int = 1,
    ) -> _InjectedStream:
        """Open clip ``name`` in ``report`` for a stream damaged on the schedule of ``seed``.

        ``hold``: frames each failure stays (:class:`InjectionSchedule`).
        """
        # No injection during the detector's onset warm-up (stand-ins without a config: none).
        config = getattr(detector, "config", None)
        lead_in = config.onset_warmup_frames if isinstance(config, DetectorConfig) else 0
        schedule = InjectionSchedule(kinds, every, np.random.default_rng(seed), lead_in, hold)
        clip = report.clips.setdefault(name, ClipReport())
        return cls(clip, report, detector, schedule, hold=hold)

    def step(
        self,
        index: int,
        frame: np.ndarray,
        before: np.ndarray | None,
        stamp: float | None,
        patch: int,
        baseline: Callable[[np.ndarray], np.ndarray] | None,
    ) -> None:
        """Damage frame ``index`` if the schedule says so, detect and score it.

        ``frame``: the true frame; ``before``: the true frame before it (None: the first). A
        frozen frame's tiles are judged against :meth:`_freeze_source`.
        """
        damage = self.schedule.damage(index, frame, self.previous)
        if damage is None:
            self.previous, self.previous_failed = frame, None
            self.shown_true, self.shown_frozen = frame, None
            found = self.detector.detect(frame, stamp)
            if self.failed_before:
                self.clip.after_failures.add(found.mask, patch)
            return
        kind, corruption = damage
        self.failed_before |= corruption.event is not FailureKind.REPEATED_FRAME
        frozen = corruption.labels == FailureKind.FROZEN
        if frozen.any():
            # Frozen tiles show an earlier frame: their surroundings moved when the scene
            # changed since then, however slowly it changed from frame to frame.
            before = self._freeze_source(corruption.streak, frozen)
        found = self.detector.detect(corruption.damaged, stamp)
        if corruption.event is FailureKind.REPEATED_FRAME:
            # The driver sent the shown frame again, with its failure if it had one: only flags
            # beyond that failure are false.
            failed = self.previous_failed
            extra = found.mask if failed is None else found.mask & ~failed
            self.clip.repeated.add(extra, patch)
            # A repeat of a clean frame shows no failure: what follows is no failure's end.
            self.failed_before |= failed is not None
            return
        # What the stream showed: a freeze or a repeat right after a failure keeps it.
        self.previous, self.previous_failed = corruption.damaged, corruption.changed
        self.shown_true, self.shown_frozen = frame, (frozen if frozen.any() else None)
        row = held_bucket(kind, corruption.streak, self.hold) if self.hold > 1 else kind
        _score(self.clip, row, kind, corruption, frame, before, found, patch, baseline)
        if kind not in self.report.examples and corruption.mask.any():
            self.report.examples[kind] = Shot(
                0.0, index, corruption.damaged, found.labels.copy(), corruption.labels
            )

    def _freeze_source(self, streak: int, frozen: np.ndarray) -> np.ndarray | None:
        """Return the true frame of the moment a freeze's (H, W) bool ``frozen`` tiles show.

        Fixed on the freeze's first frame (``streak`` 1): the true frame of the moment the
        stream showed its last frame (after a repeated frame, of the frame it repeated). Where
        the new tiles overlap the tiles of a freeze that last frame showed, they show that
        freeze's older moment: its source then holds for the whole new freeze (the older of
        the two: every pixel of the tiles shows that moment or a later one).
        """
        if streak == 1:
            overlap = self.shown_frozen is not None and bool((frozen & self.shown_frozen).any())
            if not overlap or self.freeze_source is None:
                self.freeze_source = self.shown_true
        return self.freeze_source


def _too_small(frame: np.ndarray, index: int, patch: int) -> str | None:
    """Say why frame ``index`` cannot be scored (a side under ``patch`` pixels), or None."""
    height, width = frame.shape[:2]
    if min(height, width) >= patch:
        return None
    return f"frame {index} is {height}x{width}, smaller than one {patch}x{patch} scoring patch"


def _note_too_small(
    reports: Sequence[DetectionReport], name: str, skipped: int, first: str
) -> None:
    """Warn that ``skipped`` frames of clip ``name`` were too small (``first``: the first's why).

    A clip none of whose frames was scored is left out of ``reports`` (one per schedule).
    """
    scored = len(reports[0].clips[name].false_alarms.flagged)
    if scored:
        log.warning(
            "clip %s: skipped %d of %d frames (first: %s)", name, skipped, skipped + scored, first
        )
        return
    for report in reports:
        del report.clips[name]
    log.warning(
        "clip %s: left out, all its %d frames are too small (first: %s)", name, skipped, first
    )


def _score(
    clip: ClipReport,
    row: str,
    kind: str,
    corruption: Corruption,
    clean: np.ndarray,
    source: np.ndarray | None,
    found: Detection,
    patch: int,
    baseline: Callable[[np.ndarray], np.ndarray] | None,
) -> None:
    """Add one injected frame's patch and pixel scores to ``clip``, in its class's ``row``.

    ``row``: the class ``kind``, or a held failure's row (:func:`held_bucket`); ``clean``: the
    true frame (H, W, 3); ``source``: the true frame before it, or for a frozen frame the true
    frame of the moment its tiles show.
    """
    ours = clip.ours.setdefault(row, Score())
    base = clip.baseline.setdefault(row, Score())
    truth, valid = truth_patches(corruption, clean, patch, source)
    predicted = patch_coverage(found.mask, patch) >= 0.5
    ours.add(truth, predicted, valid)
    if truth.any():
        magnitude = _patch_means(cv2.absdiff(corruption.damaged, clean).max(axis=2), patch)
        counts = counts_by_magnitude(truth & valid, predicted, magnitude)
        clip.magnitudes[row] = clip.magnitudes.get(row, 0) + counts
    if (corruption.labels == FailureKind.FROZEN).any():
        still = still_truth_patches(corruption, clean, patch, source)
        clip.still.setdefault(kind, Score()).add(still, predicted, still)
    injected = CLASSES[kind].failure.kind
    same = _SAME_CLASS.get(injected, (injected,))
    labelled = patch_coverage(np.isin(found.labels, [int(k) for k in same]), patch) >= 0.5
    ours.right_class += int((truth & predicted & labelled & valid).sum())
    truth_px, valid_px = truth_pixels(corruption, clean, source)
    clip.pixels.setdefault(row, Score()).add(truth_px, found.mask, valid_px)
    if baseline is not None:
        base.add(truth, patch_coverage(baseline(corruption.damaged), patch) >= 0.5, valid)


def _keep_worst(
    heap: list[Shot],
    flagged: float,
    index: int,
    frame: np.ndarray,
    detection: Detection,
    size: int,
) -> None:
    """Keep the ``size`` clean frames with the most flagged pixels (copies only when kept)."""
    if size <= 0 or flagged <= 0 or (len(heap) >= size and flagged <= heap[0].flagged):
        return
    shot = Shot(flagged, index, frame.copy(), detection.labels.copy())
    if len(heap) < size:
        heapq.heappush(heap, shot)
    else:
        heapq.heapreplace(heap, shot)


def clean_statistics(frames: Iterable[np.ndarray], cell: int = 8) -> dict[str, float]:
    """Statistics of clean real frames that the default thresholds were chosen against.

    Returns percentiles of the per-cell texture (mean |Laplacian|) and the share of cells that
    already satisfy each intensity rule, so a new camera can be checked in one command.
    """
    from frame_restore_ros.detection.cell_stats import compute_cell_stats

    config = FailureDetector().config
    texture, dark_flat, bright_flat = [], 0, 0
    previous = None
    for frame in frames:
        stats = compute_cell_stats(frame, previous, cell)
        previous = stats.gray_full
        texture.append(stats.texture.ravel())
        dark_flat += int(
            (
                (stats.gray <= config.dead_max_gray) & (stats.texture <= config.dead_max_texture)
            ).sum()
        )
        bright_flat += int(
            (
                (stats.gray >= config.saturated_min_gray)
                & (stats.texture <= config.saturated_max_texture)
            ).sum()
        )
    all_texture = np.concatenate(texture)
    cells = all_texture.size
    p50, p99, p999 = np.percentile(all_texture, [50, 99, 99.9])
    return {
        "cells": cells,
        "texture_p50": round(float(p50), 2),
        "texture_p99": round(float(p99), 2),
        "texture_p99_9": round(float(p999), 2),
        "texture_max": round(float(all_texture.max()), 2),
        "dead_rule_share": round(dark_flat / cells, 6),
        "saturated_rule_share": round(bright_flat / cells, 6),
    }


def _cuts_note(cuts: list[int], shown: int = 8) -> str:
    """Return the terminal's note of the frames read as scene cuts ("" when none)."""
    if not cuts:
        return ""
    frames = ", ".join(str(index) for index in cuts[:shown])
    more = f", ... ({len(cuts)} in all)" if len(cuts) > shown else ""
    return f"; read as scene cuts: frame{'s' if len(cuts) > 1 else ''} {frames}{more}"


def with_interval(score: dict, figure: str) -> str:
    """Render an ``averages()`` figure with its interval: "0.855 [0.723, 0.968]"."""
    interval = score.get(f"{figure}_ci95")
    if interval is None:
        return f"{score[figure]:.3f}"
    return f"{score[figure]:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def with_range(score: dict, figure: str) -> str:
    """Render the schedules' range of an averaged figure: "0.912-0.981" ("-" without one)."""
    spread = score.get(f"{figure}_range")
    return "-" if spread is None else f"{spread[0]:.3f}-{spread[1]:.3f}"


def format_report(report: DetectionReport | SchedulesReport) -> str:
    """Render the report as plain-text tables (per-class averages, per-clip false alarms).

    ``report``: a :class:`DetectionReport`, or a :class:`.SchedulesReport` (several schedules
    of failures): then the class table gives the mean over the schedules with
    the range of their figures, and a table per schedule follows it.
    """
    seeds = getattr(report, "seeds", [])
    several = len(seeds) > 1
    lines = _class_lines(report, several)
    if several:
        lines += _seed_lines(report.averages("ours"), seeds)
    for name, still in report.still_surroundings().items():
        lines.append(
            f"  {name} over still surroundings (not in the class's score): recall"
            f" {still['recall']:.3f} on {still['positives']} patches, {still['clips']} clips"
        )
    magnitudes = report.recall_by_magnitude()
    if magnitudes:
        lines.append(
            "recall by damage magnitude (a patch's mean |damaged - true|, levels; pooled over"
            f" the clips{' and schedules' if several else ''}; positives in brackets):"
        )
        for name, bins in magnitudes.items():
            cells = "  ".join(
                f"{label} {b['recall']:.2f} ({b['positives']})" for label, b in bins.items()
            )
            lines.append(f"  {name:<16}{cells}")
    lines.append(
        "false alarms on the untouched clips (flagged % of pixels per frame: mean, p99; "
        "share of frames altered):"
    )
    for name, clip in report.clips.items():
        mine, theirs = clip.false_alarms.as_dict(), clip.false_alarms_baseline.as_dict()
        lines.append(
            f"  {name}: ours {mine['mean_pct']:.3f} %, p99 {mine['p99_pct']:.3f} %, "
            f"altered {100 * mine['altered_frames']:.1f} %; autoware {theirs['mean_pct']:.3f} %, "
            f"altered {100 * theirs['altered_frames']:.1f} %{_cuts_note(clip.scene_cuts)}"
        )
    repeated = round(report.repeated_mean_pct(), 4)
    lines.append(
        f"repeated frames (no new failed pixel): ours flagged {repeated:.3f} % of pixels"
        f" beyond the failure they show again{' (mean over the schedules)' if several else ''}"
    )
    return "\n".join(lines + _after_failure_lines(report.after_failures(), several))


def _after_failure_lines(per_clip: dict[str, FalseAlarms], several: bool) -> list[str]:
    """Return the terminal's lines on the injected streams' clean frames after a failure."""
    clips = {name: alarms.as_dict() for name, alarms in per_clip.items() if alarms.flagged}
    if not clips:
        return []
    pooled_note = ", every schedule's pooled" if several else ""
    lines = [
        "false alarms on the injected streams' clean frames after their first failure (what a"
        f" failure's end leaves flagged{pooled_note}; flagged % of pixels: mean, p99; altered):"
    ]
    for name, figures in clips.items():
        lines.append(
            f"  {name}: ours {figures['mean_pct']:.3f} %, p99 {figures['p99_pct']:.3f} %, "
            f"altered {100 * figures['altered_frames']:.1f} % of {figures['frames']} frames"
        )
    return lines


def _class_lines(report: DetectionReport | SchedulesReport, several: bool) -> list[str]:
    """Return the class table's lines; with ``several`` schedules, their mean and range."""
    ours, base = report.averages("ours"), report.averages("baseline")
    pixels, patches = report.pixel_level(), report.patch_pooled()
    width = _name_width([*ours, *pixels])
    spread, no_range = (
        (f"{'P seeds':>13}{'R seeds':>13}", f"{'-':>13}{'-':>13}") if several else ("", "")
    )
    lines = [
        _class_title(getattr(report, "seeds", []) if several else []),
        f"  {'class':<{width}}{'ours P [95 %]':>24}{'ours R [95 %]':>24}{spread}{'class ok':>9}"
        f"{'autoware P':>12}{'autoware R':>12}{'positives':>11}{'clips R/P':>10}"
        f"{'pooled P':>9}{'pooled R':>9}{'pixel P':>9}{'pixel R':>9}",
    ]
    nan = {"precision": float("nan"), "recall": float("nan")}
    for name, score in ours.items():
        other, pixel = base.get(name, nan), pixels.get(name, nan)
        patch = patches.get(name, nan)
        ranges = f"{with_range(score, 'precision'):>13}{with_range(score, 'recall'):>13}"
        clips = f"{score['clips']}/{score['precision_clips']}"
        lines.append(
            f"  {name:<{width}}{with_interval(score, 'precision'):>24}"
            f"{with_interval(score, 'recall'):>24}{ranges if several else ''}"
            f"{score['class_accuracy']:>9.3f}{other['precision']:>12.3f}{other['recall']:>12.3f}"
            f"{score['positives']:>11}{clips:>10}"
            f"{patch['precision']:>9.3f}{patch['recall']:>9.3f}"
            f"{pixel['precision']:>9.3f}{pixel['recall']:>9.3f}"
        )
    for name, pixel in pixels.items():  # no patch was half failed: thin lines
        if name not in ours:
            lines.append(
                f"  {name:<{width}}{'-':>24}{'-':>24}{no_range}{'-':>9}{'-':>12}{'-':>12}{0:>11}"
                f"{'-':>10}{'-':>9}{'-':>9}{pixel['precision']:>9.3f}{pixel['recall']:>9.3f}"
            )
    return lines


def _class_title(seeds: Sequence[int]) -> str:
    """Say what the class table holds: one schedule's figures, or the mean over ``seeds``."""
    if not seeds:
        return (
            "per class, patch level, averaged over the clips (recall: those with positives;"
            " precision: also those with false patches only; frozen: from the second frozen"
            " frame, where the surroundings moved since the freeze began), ours with a 95 %"
            " interval (clips and frames resampled); pooled: patch level, every patch of every"
            " clip counted once; pixel level pooled over the clips (thin lines cover under half"
            " a patch):"
        )
    return (
        f"per class, patch level: the mean over {len(seeds)} schedules of failures (seeds"
        f" {', '.join(map(str, seeds))}) of the averages over the clips (recall: those with"
        " positives; precision: also those with false patches only; frozen: from the second"
        " frozen frame, where the surroundings moved since the freeze began), ours with a 95 %"
        " interval (clips"
        " resampled, then each schedule's scored frames of each clip) and the range of the"
        " schedules' figures; pooled: patch level, every patch of every clip and schedule"
        " counted once; pixel level pooled over the clips and schedules (thin lines cover"
        " under half a patch):"
    )


def _seed_lines(ours: dict[str, dict], seeds: Sequence[int]) -> list[str]:
    """Per class, each schedule's precision / recall averaged over the clips."""
    width = _name_width(ours)
    lines = [
        "per schedule (seed), ours precision / recall averaged over the clips:",
        f"  {'class':<{width}}" + "".join(f"{f'seed {seed}':>16}" for seed in seeds),
    ]
    for name, score in ours.items():
        cells = []
        for seed in seeds:
            figures = score["per_seed"].get(str(seed))
            text = (
                "-" if figures is None else f"{figures['precision']:.3f} / {figures['recall']:.3f}"
            )
            cells.append(f"{text:>16}")
        lines.append(f"  {name:<{width}}{''.join(cells)}")
    return lines


def _name_width(names: Iterable[str]) -> int:
    """Return the class column's width: 16, or wider for a held failure's rows."""
    return max([16, *(len(name) + 2 for name in names)])


def evaluate_detection(
    clips: dict[str, Callable[[], Iterable[np.ndarray]]],
    make_detector: Callable[[], FailureDetector],
    baseline: Callable[[np.ndarray], np.ndarray] | None = None,
    patch: int = PATCH,
    seed: int = 0,
    kinds: Sequence[str] = tuple(CLASSES),
    every: int = 3,
    gallery: int = 3,
    progress: bool = True,
    total: int | None = None,
    frame_rates: dict[str, float] | None = None,
    hold: int = 1,
) -> DetectionReport:
    """Score ``make_detector()`` (and ``baseline``) on every clip; see the module docstring.

    ``clips``: name -> a callable opening the clip's frames (streamed, never all in memory);
    ``total``: the expected number of frames, for the progress bar; ``frame_rates``: name ->
    frames per second of the clips whose rate is known (their frames are stamped); ``hold``:
    frames each failure stays (:func:`evaluate_clip`). A clip without a frame of at least one
    patch is left out of the report (:func:`evaluate_clip`).
    """
    reports = evaluate_schedules(
        clips, make_detector, baseline, patch, [seed], kinds, every, gallery, progress, total,
        frame_rates, hold,
    )  # fmt: skip
    return reports[seed]


def evaluate_schedules(
    clips: dict[str, Callable[[], Iterable[np.ndarray]]],
    make_detector: Callable[[], FailureDetector],
    baseline: Callable[[np.ndarray], np.ndarray] | None = None,
    patch: int = PATCH,
    seeds: Sequence[int] = (0,),
    kinds: Sequence[str] = tuple(CLASSES),
    every: int = 3,
    gallery: int = 3,
    progress: bool = True,
    total: int | None = None,
    frame_rates: dict[str, float] | None = None,
    hold: int = 1,
) -> dict[int, DetectionReport]:
    """Score every clip on the schedule of failures of each of ``seeds``; return seed -> report.

    Each report is what :func:`evaluate_detection` with that seed returns (clip ``k`` of
    ``clips`` is damaged on the random stream of :func:`schedule_stream`), but every clip is
    read and streamed untouched once for all the seeds (:func:`evaluate_clip_schedules`): the
    reports share their clips' untouched scores. ``seeds``: distinct, >= 0. Other arguments as
    in :func:`evaluate_detection`.
    """
    check_seeds(seeds)
    rates = frame_rates or {}
    reports = {seed: DetectionReport() for seed in seeds}
    several = len(seeds) > 1
    what = f"frames (untouched + {len(seeds)} schedules)" if several else "frames"
    with tqdm(total=total, desc=what, unit="frame", disable=not progress) as bar:
        for offset, (name, open_frames) in enumerate(clips.items()):
            bar.set_postfix_str(name)
            if several:
                log.info(
                    "clip %d/%d %s: untouched once, injected on the schedules of seeds %s",
                    offset + 1, len(clips), name, ", ".join(map(str, seeds)),
                )  # fmt: skip
            schedules = [
                (report, schedule_stream(seed, offset)) for seed, report in reports.items()
            ]
            frames = _counting(open_frames(), bar)
            evaluate_clip_schedules(
                name, frames, make_detector, baseline, schedules, patch, kinds, every, gallery,
                rates.get(name), hold,
            )  # fmt: skip
    return reports


SCHEDULE_STRIDE = 1_000_003  # random streams from one seed's clips to the next seed's


def schedule_stream(seed: int, clip_index: int) -> int:
    """Return the random stream that damages clip ``clip_index`` (from 0) of a run on ``seed``.

    Seed 0's clip k: stream k (the schedule every single-seed figure of docs/detection.md was
    measured on). Seed s's: s x ``SCHEDULE_STRIDE`` + k, so that two seeds share no stream in a
    run of fewer clips than the stride (with seed + k, seed 1's clip k had seed 0's clip k + 1's
    schedule of failures, and a mean over seeds averaged partly repeated draws).
    """
    return seed * SCHEDULE_STRIDE + clip_index


def check_seeds(seeds: Sequence[int]) -> None:
    """Raise ValueError unless ``seeds`` are one or more distinct integers >= 0."""
    if not seeds:
        raise ValueError("no seed given: name at least one schedule of failures")
    negative = [seed for seed in seeds if seed < 0]
    if negative:
        raise ValueError(f"seeds must be >= 0, got {', '.join(map(str, negative))}")
    repeated = sorted({seed for seed in seeds if list(seeds).count(seed) > 1})
    if repeated:
        raise ValueError(f"each seed once: {', '.join(map(str, repeated))} given twice or more")


def _counting(frames: Iterable[np.ndarray], bar: tqdm) -> Iterable[np.ndarray]:
    for frame in frames:
        yield frame
        bar.update(1)

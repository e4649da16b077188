"""The detection scores over several schedules of failures (``eval-detection --seeds``).

One schedule (``--seed``) is one draw of which frames get which failure: the per-class averages
move by up to 0.15 between seeds. :class:`SchedulesReport` holds one
:class:`~.detection_scores.DetectionReport` per seed (each what ``--seed`` gives; the untouched
streams ran once and are shared) and reports over them:

  * per class, the mean over the schedules of the clip-averaged precision, recall and class
    accuracy (the schedules where the class had positives count; precision's clip average also
    counts the clips with false positives but no positive), each schedule's figures and
    their range, and a 95 % interval of that mean (clips drawn once for all schedules, then each
    schedule's scored frames of each clip, :func:`.schedule_average_intervals`);
  * figures pooled over the clips (pixel level, recall by damage magnitude) pooled over the
    schedules too; those averaged over the clips (over still surroundings, repeated frames) as
    the mean over the schedules; per clip, the injected streams' clean frames after their
    first failure pooled over the schedules;
  * the untouched clips' false alarms as one schedule does (they do not depend on it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from frame_restore_ros.evaluation.detection_intervals import schedule_average_intervals
from frame_restore_ros.evaluation.detection_scores import (
    AVERAGED,
    ClipReport,
    DetectionReport,
    FalseAlarms,
    Score,
    Shot,
    after_failures_figures,
    check_seeds,
    class_scores,
    magnitude_recalls,
    mean_figure,
    patch_figures,
    pooled,
    pooled_figures,
    rounded,
    still_scores,
    worst_false_alarms,
)

UNTOUCHED = ("resolution", "false_alarms", "scene_cuts")  # a clip's keys that no schedule moves


@dataclass
class SchedulesReport:
    """Scores of the same clips on several schedules of failures, and their means."""

    reports: dict[int, DetectionReport]  # seed -> its report (untouched scores shared)

    def __post_init__(self) -> None:
        check_seeds(list(self.reports))

    @property
    def seeds(self) -> list[int]:
        return list(self.reports)

    @property
    def clips(self) -> dict[str, ClipReport]:
        """The first schedule's clips: their untouched scores are every schedule's."""
        return next(iter(self.reports.values())).clips

    @property
    def examples(self) -> dict[str, Shot]:
        """One injected frame per class, from the first schedule that injected it."""
        out: dict[str, Shot] = {}
        for report in self.reports.values():
            for kind, shot in report.examples.items():
                out.setdefault(kind, shot)
        return out

    def averages(self, which: str = "ours") -> dict[str, dict]:
        """Per class: the mean over the schedules of the figures averaged over the clips.

        ``precision``, ``recall``, ``class_accuracy``: the mean over the schedules where the class
        had positives (``schedules``) of :meth:`DetectionReport.averages`'s figures;
        ``precision_ci95``, ``recall_ci95``: that mean's 95 % interval; ``per_seed``: seed -> that
        schedule's precision and recall; ``precision_range``, ``recall_range``: their [min, max];
        ``clips``: clips with positives in any schedule, ``precision_clips``: also those with false
        positives but no positive (precision's average counts them, :func:`.averaged_in`);
        ``positives``: summed over the schedules. Unrounded, as :meth:`DetectionReport.averages`.
        """
        per_seed = {seed: class_scores(r.clips, which) for seed, r in self.reports.items()}
        names = dict.fromkeys(name for scored in per_seed.values() for name in scored)
        out: dict[str, dict] = {}
        for name in names:
            scored = {seed: s[name] for seed, s in per_seed.items() if name in s}
            out[name] = self._class_average(scored)
        return out

    def _class_average(self, scored: dict[int, dict[str, Score]]) -> dict:
        """Average one class's scores (seed -> clip name -> score) over the schedules.

        The schedules in the order of their seeds: the interval's draws do not depend on the
        order ``--seeds`` lists them in.
        """
        scored = dict(sorted(scored.items()))
        figures = {
            seed: {figure: mean_figure(scores.values(), figure) for figure in AVERAGED}
            for seed, scores in scored.items()
        }
        out: dict = {
            figure: float(np.mean([f[figure] for f in figures.values()])) for figure in AVERAGED
        }
        out |= {
            "schedules": len(scored),
            "clips": len(
                {c for scores in scored.values() for c, s in scores.items() if s.positives}
            ),
            "precision_clips": len({clip for scores in scored.values() for clip in scores}),
            "positives": sum(s.positives for scores in scored.values() for s in scores.values()),
        }
        empty = np.zeros((0, 3), np.int64)
        per_schedule = [
            [np.array(scores[c].per_frame) if c in scores else empty for c in self.clips]
            for scores in scored.values()
        ]
        for figure, (low, high) in schedule_average_intervals(per_schedule).items():
            out[f"{figure}_ci95"] = [low, high]
        for figure in ("precision", "recall"):
            values = [f[figure] for f in figures.values()]
            out[f"{figure}_range"] = [min(values), max(values)]
        out["per_seed"] = {
            str(seed): {figure: f[figure] for figure in ("precision", "recall")}
            for seed, f in figures.items()
        }
        return out

    def still_surroundings(self) -> dict[str, dict[str, float]]:
        """Per frozen class: recall over still surroundings, the mean over the schedules.

        Each schedule's average over its clips with such positives; ``positives`` summed,
        ``clips`` with such positives in any schedule, ``schedules`` that had them.
        """
        per_seed = [still_scores(report.clips) for report in self.reports.values()]
        names = dict.fromkeys(name for scored in per_seed for name in scored)
        out: dict[str, dict[str, float]] = {}
        for name in names:
            scored = [scores[name] for scores in per_seed if name in scores]
            recalls = [mean_figure(scores.values(), "recall") for scores in scored]
            out[name] = {
                "recall": round(float(np.mean(recalls)), 4),
                "clips": len({clip for scores in scored for clip in scores}),
                "positives": sum(s.positives for scores in scored for s in scores.values()),
                "schedules": len(scored),
            }
        return out

    def recall_by_magnitude(self) -> dict[str, dict[str, dict[str, float]]]:
        """Per class and damage-magnitude bin: positives and recall, pooled over all clips.

        The clips of every schedule: pooled over the schedules too.
        """
        return magnitude_recalls(c for r in self.reports.values() for c in r.clips.values())

    def pixel_level(self) -> dict[str, dict[str, float]]:
        """Per class, pixel-level precision and recall pooled over the clips and schedules."""
        return pooled_figures(pooled(r.pixels for r in self.reports.values()))

    def patch_pooled(self) -> dict[str, dict[str, float]]:
        """Per class, patch-level precision and recall pooled over the clips and schedules."""
        return patch_figures(pooled(r.ours for r in self.reports.values()))

    def repeated_mean_pct(self) -> float:
        """Return the mean of :meth:`DetectionReport.repeated_mean_pct` over the schedules.

        Only the schedules that repeated a frame (0 when none did), as the other figures leave
        out the schedules without positives.
        """
        repeated = [
            report.repeated_mean_pct()
            for report in self.reports.values()
            if any(clip.repeated.flagged for clip in report.clips.values())
        ]
        return float(np.mean(repeated)) if repeated else 0.0

    def after_failures(self) -> dict[str, FalseAlarms]:
        """Per clip, ours on the clean frames after a failure, every schedule's frames pooled."""
        pooled_alarms: dict[str, FalseAlarms] = {}
        for report in self.reports.values():
            for name, alarms in report.after_failures().items():
                pooled_alarms.setdefault(name, FalseAlarms()).merge(alarms)
        return pooled_alarms

    def as_dict(self) -> dict:
        """Return the JSON: the untouched clips, the figures over the schedules, each one's.

        ``over_seeds`` holds the keys of :meth:`DetectionReport.as_dict` that the schedules
        move, over all of them; ``per_seed`` each seed's :meth:`DetectionReport.as_dict`.
        """
        return {
            "seeds": self.seeds,
            "clips": {
                name: {key: value for key, value in clip.as_dict().items() if key in UNTOUCHED}
                for name, clip in self.clips.items()
            },
            "false_alarms": worst_false_alarms(self.clips.values()),
            "over_seeds": {
                "classes": {
                    "ours": rounded(self.averages("ours")),
                    "autoware": rounded(self.averages("baseline")),
                },
                "ours_patch_pooled": self.patch_pooled(),
                "ours_pixel_level": self.pixel_level(),
                "still_surroundings": self.still_surroundings(),
                "ours_recall_by_magnitude": self.recall_by_magnitude(),
                "repeated_frames_flagged_mean_pct": round(self.repeated_mean_pct(), 4),
                "clean_frames_after_failures": {
                    "clips": {name: a.as_dict() for name, a in self.after_failures().items()},
                    **after_failures_figures(self.after_failures()),
                },
            },
            "per_seed": {str(seed): report.as_dict() for seed, report in self.reports.items()},
        }


__all__ = ["SchedulesReport"]

"""Score failure detectors on real video with injected failures, at patch level.

Protocol (docs/detection.md):
  * each clip is streamed in order through a fresh detector once per failure class; every third
    frame gets that class injected (the others stay clean, so the detector's history is realistic);
    frozen failures are episodes: a box keeps showing frame t0 for ``FROZEN_EPISODE`` frames;
  * frames are scored on a grid of ``patch`` x ``patch`` pixels: a patch is positive when at least
    half of it failed, negative when none of it did, and ignored when partly failed; a patch is
    predicted failed when at least half of its pixels are flagged;
  * frozen patches are positive only where the stale content visibly differs from the true frame
    (mean |difference| > 3) and only once frozen for the detector's ``frozen_frames``;
  * false alarms: the fraction of patches flagged on the untouched clip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from frame_restore_ros.detection.detector import FailureDetector
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.synthetic.injection import InjectionItem

FROZEN_EPISODE = 12

# Report name -> the registry failure injected (frozen is scored as episodes, see below).
CASES: dict[str, InjectionItem] = {
    "dead": InjectionItem("dead", 2),
    "saturated": InjectionItem("saturated", 2),
    "noise": InjectionItem("noise", 2),
    "cast": InjectionItem("cast", 2),
    "dead_lines": InjectionItem("lines"),
    "lost_rows": InjectionItem("bottom"),
    "whole_frame": InjectionItem("whole"),
}


@dataclass
class Score:
    """Patch counts for one failure class (or for false alarms on clean frames)."""

    true_positive: int = 0
    false_negative: int = 0
    false_positive: int = 0
    true_negative: int = 0
    right_class: int = 0

    def add(self, truth: np.ndarray, predicted: np.ndarray, valid: np.ndarray) -> None:
        self.true_positive += int((truth & predicted & valid).sum())
        self.false_negative += int((truth & ~predicted & valid).sum())
        self.false_positive += int((~truth & predicted & valid).sum())
        self.true_negative += int((~truth & ~predicted & valid).sum())

    @property
    def recall(self) -> float:
        return self.true_positive / max(1, self.true_positive + self.false_negative)

    @property
    def precision(self) -> float:
        return self.true_positive / max(1, self.true_positive + self.false_positive)

    @property
    def class_accuracy(self) -> float:
        """Of the detected positives, the fraction labelled with the injected class."""
        return self.right_class / max(1, self.true_positive)

    @property
    def flagged_rate(self) -> float:
        total = self.false_positive + self.true_negative + self.true_positive + self.false_negative
        return (self.false_positive + self.true_positive) / max(1, total)

    def as_dict(self) -> dict[str, float]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "class_accuracy": round(self.class_accuracy, 4),
            "positives": self.true_positive + self.false_negative,
        }


@dataclass
class DetectionReport:
    ours: dict[str, Score] = field(default_factory=dict)
    baseline: dict[str, Score] = field(default_factory=dict)
    false_alarms: dict[str, Score] = field(default_factory=dict)  # per clip, ours
    false_alarms_baseline: dict[str, Score] = field(default_factory=dict)
    pixels: dict[str, Score] = field(default_factory=dict)  # ours, pixel level

    def as_dict(self) -> dict:
        return {
            "ours": {k: s.as_dict() for k, s in self.ours.items()},
            "ours_pixel_level": {
                k: {"precision": round(s.precision, 4), "recall": round(s.recall, 4)}
                for k, s in self.pixels.items()
            },
            "autoware_baseline": {k: s.as_dict() for k, s in self.baseline.items()},
            "false_alarm_rate": {
                k: round(s.flagged_rate, 5) for k, s in self.false_alarms.items()
            },
            "false_alarm_rate_baseline": {
                k: round(s.flagged_rate, 5) for k, s in self.false_alarms_baseline.items()
            },
        }


def patch_coverage(mask: np.ndarray, patch: int) -> np.ndarray:
    """(H, W) bool -> (H/patch, W/patch) float fraction covered (partial edge patches dropped)."""
    rows, cols = mask.shape[0] // patch, mask.shape[1] // patch
    cropped = mask[: rows * patch, : cols * patch].astype(np.uint8) * 255
    return cv2.resize(cropped, (cols, rows), interpolation=cv2.INTER_AREA) / 255.0


def _truth_and_valid(coverage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return coverage >= 0.5, (coverage >= 0.5) | (coverage == 0)


def evaluate_clip(
    name: str,
    frames: Sequence[np.ndarray],
    make_detector: Callable[[], FailureDetector],
    baseline: Callable[[np.ndarray], np.ndarray] | None,
    report: DetectionReport,
    patch: int = 16,
    seed: int = 0,
    kinds: Sequence[str] = (*CASES, "frozen"),
) -> None:
    """Add one clip's scores to ``report``."""
    rng = np.random.default_rng(seed)
    clean_ours = report.false_alarms.setdefault(name, Score())
    clean_base = report.false_alarms_baseline.setdefault(name, Score())
    detector = make_detector()
    for frame in frames:
        nothing = np.zeros(frame.shape[:2], dtype=bool)
        truth, valid = _truth_and_valid(patch_coverage(nothing, patch))
        clean_ours.add(truth, patch_coverage(detector.detect(frame).mask, patch) >= 0.5, valid)
        if baseline is not None:
            clean_base.add(truth, patch_coverage(baseline(frame), patch) >= 0.5, valid)
    for kind_name in kinds:
        if kind_name == "frozen":
            _evaluate_frozen(frames, make_detector(), baseline, report, patch, rng)
            continue
        item = CASES[kind_name]
        ours = report.ours.setdefault(kind_name, Score())
        base = report.baseline.setdefault(kind_name, Score())
        pixels = report.pixels.setdefault(kind_name, Score())
        detector = make_detector()
        for index, frame in enumerate(frames):
            if index % 3 != 2:
                detector.detect(frame)
                continue
            damaged = item.apply(frame, rng)
            detection = detector.detect(damaged.damaged)
            truth, valid = _truth_and_valid(patch_coverage(damaged.mask, patch))
            predicted = patch_coverage(detection.mask, patch) >= 0.5
            ours.add(truth, predicted, valid)
            pixels.add(damaged.mask, detection.mask, np.ones_like(damaged.mask))
            labelled = patch_coverage(detection.labels == item.failure.kind, patch) >= 0.5
            ours.right_class += int((truth & predicted & labelled & valid).sum())
            if baseline is not None:
                base.add(truth, patch_coverage(baseline(damaged.damaged), patch) >= 0.5, valid)


def _evaluate_frozen(
    frames: Sequence[np.ndarray],
    detector: FailureDetector,
    baseline: Callable[[np.ndarray], np.ndarray] | None,
    report: DetectionReport,
    patch: int,
    rng: np.random.Generator,
) -> None:
    ours = report.ours.setdefault("frozen", Score())
    base = report.baseline.setdefault("frozen", Score())
    wait = detector.config.frozen_frames
    episode: tuple[int, np.ndarray, np.ndarray] | None = None
    for index, frame in enumerate(frames):
        if episode is None and index % (2 * FROZEN_EPISODE) == FROZEN_EPISODE:
            box = np.zeros(frame.shape[:2], dtype=bool)
            rows, cols = frame.shape[0], frame.shape[1]
            top, left = int(rng.integers(0, rows // 2)), int(rng.integers(0, cols // 2))
            box[top : top + rows // 3, left : left + cols // 3] = True
            episode = (index, frame.copy(), box)
        if episode is None or index - episode[0] > FROZEN_EPISODE:
            episode = None
            detector.detect(frame)
            continue
        start, stale, box = episode
        damaged = frame.copy()
        damaged[box] = stale[box]
        detection = detector.detect(damaged)
        if index - start < wait:
            continue
        visible_change = cv2.absdiff(
            cv2.cvtColor(stale, cv2.COLOR_BGR2GRAY), cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        )
        rows, cols = frame.shape[0] // patch, frame.shape[1] // patch
        change = cv2.resize(
            visible_change[: rows * patch, : cols * patch],
            (cols, rows),
            interpolation=cv2.INTER_AREA,
        )
        coverage = patch_coverage(box, patch)
        truth = (coverage >= 0.5) & (change > 3)
        valid = truth | (coverage == 0)
        predicted = patch_coverage(detection.mask, patch) >= 0.5
        ours.add(truth, predicted, valid)
        labelled = patch_coverage(detection.labels == FailureKind.FROZEN, patch) >= 0.5
        ours.right_class += int((truth & predicted & labelled & valid).sum())
        if baseline is not None:
            base.add(truth, patch_coverage(baseline(damaged), patch) >= 0.5, valid)


def clean_statistics(frames: Sequence[np.ndarray], cell: int = 8) -> dict[str, float]:
    """Statistics of clean real frames that the default thresholds were chosen against.

    Returns percentiles of the per-cell texture (mean |Laplacian|) and the share of cells that
    already satisfy each intensity rule, so a new camera can be checked in one command.
    """
    from frame_restore_ros.detection.cell_stats import compute_cell_stats

    config = FailureDetector().config
    texture, gray, dark_flat, bright_flat = [], [], 0, 0
    previous = None
    for frame in frames:
        stats = compute_cell_stats(frame, previous, cell)
        previous = stats.gray_full
        texture.append(stats.texture.ravel())
        gray.append(stats.gray.ravel())
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


def save_examples(
    frames: Sequence[np.ndarray], make_detector: Callable[[], FailureDetector], out_dir: str
) -> list[str]:
    """Write one PNG per injected class: damaged | detected classes | ground truth."""
    import pathlib

    from frame_restore_ros.detection.overlay import caption, overlay_labels

    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    written = []
    for kind_name, item in CASES.items():
        detector = make_detector()
        for frame in frames[:9]:
            detector.detect(frame)
        damaged = item.apply(frames[9], rng)
        detection = detector.detect(damaged.damaged)
        strip = np.concatenate(
            [
                caption(damaged.damaged, f"injected: {kind_name}"),
                caption(overlay_labels(damaged.damaged, detection.labels), "detected"),
                caption(overlay_labels(frames[9], damaged.labels), "ground truth"),
            ],
            axis=1,
        )
        path = out / f"detection_{kind_name}.png"
        cv2.imwrite(str(path), strip)
        written.append(str(path))
    return written


def format_report(report: DetectionReport) -> str:
    """Render the report as a plain-text table."""
    data = report.as_dict()
    lines = [
        f"{'class':<12}{'ours P':>8}{'ours R':>8}{'class ok':>9}{'pixel P':>9}{'pixel R':>9}"
        f"{'autoware P':>12}{'autoware R':>12}{'patches':>9}"
    ]
    for name, ours in data["ours"].items():
        base = data["autoware_baseline"].get(
            name, {"precision": float("nan"), "recall": float("nan")}
        )
        pixel = data["ours_pixel_level"].get(
            name, {"precision": float("nan"), "recall": float("nan")}
        )
        lines.append(
            f"{name:<12}{ours['precision']:>8.3f}{ours['recall']:>8.3f}"
            f"{ours['class_accuracy']:>9.3f}"
            f"{pixel['precision']:>9.3f}{pixel['recall']:>9.3f}"
            f"{base['precision']:>12.3f}{base['recall']:>12.3f}{ours['positives']:>9}"
        )
    lines.append("false alarms on clean frames (fraction of patches flagged):")
    for clip, rate in data["false_alarm_rate"].items():
        baseline_rate = data["false_alarm_rate_baseline"].get(clip, float("nan"))
        lines.append(f"  {clip}: ours {rate:.4f}, autoware {baseline_rate:.4f}")
    return "\n".join(lines)


def evaluate_detection(
    clips: dict[str, Sequence[np.ndarray]],
    make_detector: Callable[[], FailureDetector],
    baseline: Callable[[np.ndarray], np.ndarray] | None = None,
    patch: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> DetectionReport:
    """Score ``make_detector()`` (and ``baseline``) on every clip; see the module docstring."""
    report = DetectionReport()
    for offset, (name, frames) in enumerate(
        tqdm(clips.items(), desc="clips", disable=not progress)
    ):
        evaluate_clip(name, frames, make_detector, baseline, report, patch, seed + offset)
    return report

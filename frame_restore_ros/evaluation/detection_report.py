"""The detection evaluation as a folder: index.html with the tables and a gallery of overlays.

Gallery: per clip, the clean frames with the most flagged pixels (every flagged pixel there is a
false alarm), and one injected example per class (damaged | detected | ground truth).
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING

import cv2

from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.detection.overlay import CLASS_COLOURS_BGR, side_by_side
from frame_restore_ros.evaluation.detection_scores import (
    SURROUNDINGS_MOVE,
    DetectionReport,
    magnitude_labels,
    with_interval,
    with_range,
)
from frame_restore_ros.evaluation.injection_schedule import HELD_BUCKET

if TYPE_CHECKING:
    from frame_restore_ros.evaluation.detection_schedules import SchedulesReport

    Report = DetectionReport | SchedulesReport

STYLE = (
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}th:first-child,"
    "td:first-child{text-align:left}.bad{background:#fdd}img{max-width:100%;margin:4px 0}"
    ".swatch{display:inline-block;width:1em;height:1em;margin:0 4px 0 12px}"
)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "clip"


def _table(header: list[str], rows: list[list[object]], bad: list[list[bool]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row, marks in zip(rows, bad, strict=True):
        cells = "".join(
            f"<td{' class=bad' if mark else ''}>{html.escape(str(value))}</td>"
            for value, mark in zip(row, marks, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def below(figure: float, target: float) -> bool:
    """Whether ``figure`` as the tables show it (3 places) is below ``target``."""
    return round(figure, 3) < target


def _class_table(report: Report, target: float) -> str:
    """Render the per-class table; over several schedules with the range of their figures."""
    several = len(getattr(report, "seeds", [])) > 1
    ours, base = report.averages("ours"), report.averages("baseline")
    pixels, patches = report.pixel_level(), report.patch_pooled()
    rows, bad = [], []
    for name, score in ours.items():
        other, pixel, patch = base.get(name, {}), pixels.get(name, {}), patches.get(name, {})
        ranges = [with_range(score, "precision"), with_range(score, "recall")]
        rows.append(
            [
                name,
                with_interval(score, "precision"),
                with_interval(score, "recall"),
                *(ranges if several else []),
                f"{score['class_accuracy']:.3f}",
                f"{other.get('precision', float('nan')):.3f}",
                f"{other.get('recall', float('nan')):.3f}",
                score["positives"],
                f"{score['clips']} / {score['precision_clips']}",
                f"{patch.get('precision', float('nan')):.3f}",
                f"{patch.get('recall', float('nan')):.3f}",
                f"{pixel.get('precision', float('nan')):.3f}",
                f"{pixel.get('recall', float('nan')):.3f}",
            ]
        )
        low = [below(score["precision"], target), below(score["recall"], target)]
        bad.append([False, *low, *[False] * (len(rows[-1]) - 3)])
    for name, pixel in pixels.items():  # no patch was half failed: thin lines
        if name not in ours:
            rows.append([name, *["-"] * (7 if several else 5), 0, "-", "-", "-"])
            rows[-1] += [f"{pixel['precision']:.3f}", f"{pixel['recall']:.3f}"]
            bad.append([False] * len(rows[-1]))
    header = ["class", "ours P [95 %]", "ours R [95 %]"]
    header += ["ours P, schedules' range", "ours R, schedules' range"] if several else []
    header += ["class ok", "autoware P", "autoware R"]
    extra = ["positive patches", "clips (recall / precision)"]
    extra += ["ours P (patches pooled)", "ours R (patches pooled)"]
    extra += ["ours pixel P (pooled)", "ours pixel R (pooled)"]
    return _table([*header, *extra], rows, bad)


def _seed_table(report: Report, target: float) -> str:
    """Render each schedule's precision / recall per class ("" for one schedule)."""
    seeds = getattr(report, "seeds", [])
    if len(seeds) < 2:
        return ""
    rows, bad = [], []
    for name, score in report.averages("ours").items():
        row: list[object] = [name]
        marks = [False]
        for seed in seeds:
            figures = score["per_seed"].get(str(seed))
            row.append(
                "-" if figures is None else f"{figures['precision']:.3f} / {figures['recall']:.3f}"
            )
            marks.append(
                figures is not None and below(min(figures["precision"], figures["recall"]), target)
            )
        rows.append(row)
        bad.append(marks)
    header = ["class", *(f"seed {seed}: P / R" for seed in seeds)]
    return (
        "<h3>Per schedule of failures</h3><p>Ours, precision / recall averaged over the clips, "
        "one column per seed (<code>--seed N</code> gives the same figures).</p>"
        + _table(header, rows, bad)
    )


def _false_alarm_table(report: Report, max_pct: float, min_clean: float) -> str:
    rows, bad = [], []
    for name, clip in report.clips.items():
        mine, theirs = clip.false_alarms.as_dict(), clip.false_alarms_baseline.as_dict()
        rows.append(
            [
                name,
                f"{clip.shape[1]}x{clip.shape[0]}",
                mine["frames"],
                f"{mine['mean_pct']:.3f}",
                f"{mine['p99_pct']:.3f}",
                f"{100 * mine['altered_frames']:.1f}",
                f"{theirs['mean_pct']:.3f}",
                f"{100 * theirs['altered_frames']:.1f}",
                ", ".join(str(index) for index in clip.scene_cuts) or "-",
            ]
        )
        too_many = mine["mean_pct"] > max_pct
        too_altered = 1 - mine["altered_frames"] < min_clean
        bad.append([False, False, False, too_many, False, too_altered, False, False, False])
    header = ["clip", "size", "frames", "ours mean %", "ours p99 %", "ours altered %"]
    extra = ["autoware mean %", "autoware altered %", "ours: frames read as scene cuts"]
    return _table([*header, *extra], rows, bad)


def _after_failures_table(report: Report, max_pct: float, min_clean: float) -> str:
    """Render ours on the injected streams' clean frames after a failure, per clip."""
    clips = {name: a.as_dict() for name, a in report.after_failures().items() if a.flagged}
    if not clips:
        return ""
    rows, bad = [], []
    for name, figures in clips.items():
        rows.append(
            [
                name,
                figures["frames"],
                f"{figures['mean_pct']:.3f}",
                f"{figures['p99_pct']:.3f}",
                f"{100 * figures['altered_frames']:.1f}",
            ]
        )
        too_many = figures["mean_pct"] > max_pct
        too_altered = 1 - figures["altered_frames"] < min_clean
        bad.append([False, False, too_many, False, too_altered])
    pooled = " (every schedule's frames pooled)" if len(getattr(report, "seeds", [])) > 1 else ""
    return (
        "<h2>False alarms on the clean frames after a failure</h2>"
        "<p>The injected streams' clean frames once they had shown a failure"
        f"{pooled}: every flagged pixel there is false, and a failure's end must leave the "
        "scene it uncovers untouched (the untouched clips above never saw a failure). Shaded "
        "as above.</p>"
        + _table(["clip", "frames", "ours mean %", "ours p99 %", "ours altered %"], rows, bad)
    )


def _still_surroundings(report: Report) -> str:
    """Render frozen tiles over still surroundings (outside their class's score) as a line."""
    still = report.still_surroundings()
    if not still:
        return ""
    items = "; ".join(
        f"{html.escape(name)}: recall {s['recall']:.3f} on {s['positives']} patches "
        f"({s['clips']} clips)"
        for name, s in still.items()
    )
    return f"<p>Frozen tiles over still surroundings (not in the table): {items}.</p>"


def _magnitude_table(report: Report, target: float) -> str:
    """Render recall per class and damage-magnitude bin (pooled over the clips) as a table."""
    magnitudes = report.recall_by_magnitude()
    if not magnitudes:
        return ""
    labels = magnitude_labels()
    rows, bad = [], []
    for name, bins in magnitudes.items():
        row: list[object] = [name]
        marks = [False]
        for label in labels:
            found = bins.get(label)
            row.append(f"{found['recall']:.3f} ({found['positives']})" if found else "-")
            marks.append(bool(found) and found["recall"] < target)
        rows.append(row)
        bad.append(marks)
    header = ["class", *(f"{label} levels" for label in labels)]
    return (
        "<h3>Recall by damage magnitude</h3><p>A failed patch's mean |damaged - true| (the "
        "largest channel per pixel), pooled over the clips; positives in brackets. Faint "
        "damage (a dead block over a black night sky) is told apart from plain damage.</p>"
        + _table(header, rows, bad)
    )


def _legend() -> str:
    return "".join(
        f"<span class=swatch style='background:rgb({r},{g},{b})'></span>{kind.label}"
        for kind, (b, g, r) in CLASS_COLOURS_BGR.items()
        if kind is not FailureKind.REPEATED_FRAME
    )


POOLED_NOTE = (
    "Patches pooled: every scored patch of every clip counted once, so a clip weighs as many "
    "patches as it holds; the average over the clips (the target's figure) weighs every clip "
    "alike, and one false patch where a clip's only failure was missed sets its precision to 0. "
    "Recall averages the clips with positives of the class; precision also those whose frames "
    "injected with it held false patches but no positive (precision 0 there)."
)


def _class_heading(report: Report) -> str:
    """Say what the class table holds: one schedule's averages, or their mean over several."""
    seeds = getattr(report, "seeds", [])
    if len(seeds) < 2:
        return (
            "<h2>Per class (patch level, averaged over the clips; pixel level pooled)</h2>"
            f"<p>{POOLED_NOTE}</p>"
        )
    return (
        f"<h2>Per class over {len(seeds)} schedules of failures (seeds "
        f"{', '.join(map(str, seeds))})</h2><p>Patch level: the mean over the schedules of "
        "each one's average over the clips, with a 95 % interval (the clips resampled, the "
        "same in every schedule, then each schedule's scored frames of each clip) and the "
        "range of the schedules' figures; pixel level and recall by magnitude pooled over the "
        "clips and schedules; over still surroundings and repeated frames, the mean over the "
        f"schedules. {POOLED_NOTE}</p>"
    )


def _held_note(hold: int) -> str:
    """Say how held failures were scored ("" for one-frame failures)."""
    if hold <= 1:
        return ""
    return (
        f"<p>Persistent failures: each failure held {hold} frames at the same pixels while the "
        f"scene moved; a row 'dead 1-{HELD_BUCKET}' scores frames 1-{HELD_BUCKET} of every dead "
        "failure, the next row the frames after. Freezes and repeated frames were left out.</p>"
    )


def _over_schedules(report: Report) -> str:
    """Return " (the mean over the N schedules)" for several schedules, else ""."""
    seeds = getattr(report, "seeds", [])
    return f" (the mean over the {len(seeds)} schedules)" if len(seeds) > 1 else ""


def write_report(
    report: Report,
    folder: Path,
    command: str,
    data: str,
    target: float = 0.95,
    max_false_alarm_pct: float = 0.2,
    min_clean_frames: float = 0.95,
    hold: int = 1,
) -> Path:
    """Write ``folder``/index.html and its PNGs; return the index's path.

    ``command`` and ``data`` are shown at the top; cells missing the targets are shaded;
    ``hold``: the frames each failure was held (rows per 30 frames of the failure when > 1).
    """
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    parts = [
        "<!doctype html><meta charset=utf-8><title>Failure detection</title>",
        f"<style>{STYLE}</style><h1>Failure detection</h1>",
        f"<p><code>{html.escape(command)}</code><br>data: {html.escape(data)}</p>",
        _class_heading(report),
        _held_note(hold),
        f"<p>Shaded: below {target:.2f}. Frozen classes count from the second frozen frame, "
        "where the tile's surroundings move (the band around it changed by more than "
        f"{SURROUNDINGS_MOVE:g} levels since the moment the frozen tile shows).</p>",
        _class_table(report, target) + _seed_table(report, target),
        _still_surroundings(report),
        _magnitude_table(report, target),
        "<h2>False alarms on the untouched clips</h2>",
        f"<p>Shaded: mean above {max_false_alarm_pct} % of pixels, or fewer than "
        f"{100 * min_clean_frames:.0f} % of frames left unaltered.</p>",
        _false_alarm_table(report, max_false_alarm_pct, min_clean_frames),
        f"<p>Repeated frames: ours flagged "
        f"{round(report.repeated_mean_pct(), 4):.3f} % of their pixels{_over_schedules(report)} "
        "beyond the failure they show again (a driver re-sends the frame it sent, failure "
        "included; nothing else in it is new).</p>",
        _after_failures_table(report, max_false_alarm_pct, min_clean_frames),
        f"<p>Colours: {_legend()}</p>",
        "<h2>Worst false alarms per clip</h2>",
    ]
    for name, clip in report.clips.items():
        parts.append(f"<h3>{html.escape(name)}</h3>")
        if not clip.worst:
            parts.append("<p>no pixel flagged on any frame</p>")
        for shot in sorted(clip.worst, reverse=True):
            path = images / f"false_alarm_{_slug(name)}_{shot.index:05d}.png"
            title = f"{name} frame {shot.index}: {100 * shot.flagged:.2f} % flagged"
            cv2.imwrite(str(path), side_by_side(shot.frame, shot.labels, None, title))
            parts.append(f"<img src='images/{path.name}' alt='{html.escape(title)}'>")
    parts.append("<h2>One example per injected class</h2>")
    for kind, shot in report.examples.items():
        path = images / f"class_{_slug(kind)}.png"
        cv2.imwrite(
            str(path), side_by_side(shot.frame, shot.labels, shot.truth, f"injected: {kind}")
        )
        parts.append(f"<h3>{html.escape(kind)}</h3><img src='images/{path.name}'>")
    index = folder / "index.html"
    index.write_text("\n".join(parts) + "\n")
    return index

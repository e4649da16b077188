"""Evaluation outputs: JSON and CSV tables, plots vs mask ratio and vs gap, before/after strips."""

from __future__ import annotations

import csv
import fnmatch
import json
from collections import defaultdict
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after selecting the headless backend)
import numpy as np  # noqa: E402

from frame_restore_ros.evaluation.harness import EvalConfig, EvalResult, summarize  # noqa: E402
from frame_restore_ros.evaluation.intervals import interval_markdown, interval_rows  # noqa: E402
from frame_restore_ros.media.strips import labelled_strip  # noqa: E402

PLOTTED = ("psnr", "ssim")
# The files write_outputs (and evaluate --persistent) put in an output folder: what
# ``evaluate --overwrite`` may replace, and nothing else.
OUTPUT_PATTERNS = (
    "evaluation.json", "frames.csv", "summary.csv", "table_*.md", "quality_vs_*.png",
    "strip_*.png",
)  # fmt: skip


def _pooled(summary: list[dict]) -> dict[tuple, float]:
    """Mean over clips: (kind, ratio, gap, method, region, metric) -> value."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for row in summary:
        key = (row["kind"], row["ratio"], row["gap"], row["method"], row["region"], row["metric"])
        groups[key].append(row["mean"])
    return {k: float(np.mean(v)) for k, v in groups.items()}


def _methods(summary: list[dict]) -> list[str]:
    return list(dict.fromkeys(row["method"] for row in summary))


def plot_curves(summary: list[dict], cfg: EvalConfig, out: Path) -> list[Path]:
    """Plot the paper's Figures 2 and 3: failed-region PSNR and SSIM vs mask ratio and vs gap."""
    pooled = _pooled(summary)
    methods = _methods(summary)
    written = []
    for axis, panels, label in (
        ("ratio", cfg.gaps, "gap"),
        ("gap", cfg.ratios, "mask ratio"),
    ):
        fig, axes = plt.subplots(
            len(PLOTTED), len(panels), figsize=(3.2 * len(panels), 5.6), squeeze=False
        )
        for col, panel in enumerate(panels):
            for row, metric in enumerate(PLOTTED):
                ax = axes[row, col]
                xs = cfg.ratios if axis == "ratio" else cfg.gaps
                for method in methods:
                    ys = [
                        pooled.get(
                            (
                                "patches",
                                x if axis == "ratio" else panel,
                                panel if axis == "ratio" else x,
                                method,
                                "failed",
                                metric,
                            ),
                            np.nan,
                        )
                        for x in xs
                    ]
                    ax.plot(xs, ys, "o-", ms=3, lw=1.2, label=method)
                ax.set_title(f"{label} {panel}", fontsize=9)
                ax.set_xlabel("mask ratio" if axis == "ratio" else "frame gap", fontsize=8)
                ax.set_ylabel(f"{metric.upper()} failed region", fontsize=8)
                if axis == "gap":
                    ax.set_xscale("log", base=2)
                    ax.set_xticks(xs, [str(x) for x in xs])
                ax.grid(alpha=0.3)
        axes[0, 0].legend(fontsize=7)
        fig.tight_layout()
        path = out / f"quality_vs_{axis}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def table(summary: list[dict], region: str = "failed") -> list[dict]:
    """Rows per condition with each method's PSNR / SSIM / FSIM (pooled over clips)."""
    pooled = _pooled(summary)
    methods = _methods(summary)
    conditions = list(dict.fromkeys((row["kind"], row["ratio"], row["gap"]) for row in summary))
    rows = []
    for kind, ratio, gap in conditions:
        row = {"kind": kind, "ratio": ratio, "gap": gap}
        for method in methods:
            for metric in ("psnr", "ssim", "fsim", "mse", "mae"):
                value = pooled.get((kind, ratio, gap, method, region, metric))
                if value is not None:
                    row[f"{method}_{metric}"] = round(value, 4)
        rows.append(row)
    return rows


def markdown_table(summary: list[dict], region: str = "failed") -> str:
    """PSNR / SSIM per condition and method, best PSNR in bold; for docs and the model card."""
    methods = _methods(summary)
    lines = [
        "| failure | gap | " + " | ".join(methods) + " |",
        "| --- | --- | " + " | ".join("---" for _ in methods) + " |",
    ]
    for row in table(summary, region):
        psnrs = {m: row.get(f"{m}_psnr") for m in methods}
        best = max((v for v in psnrs.values() if v is not None), default=None)
        cells = []
        for method in methods:
            psnr, ssim = psnrs[method], row.get(f"{method}_ssim")
            if psnr is None:
                cells.append("-")
                continue
            text = f"{psnr:.2f} / {ssim:.3f}"
            cells.append(f"**{text}**" if psnr == best else text)
        what = f"patches {row['ratio']:.2f}" if row["kind"] == "patches" else row["kind"]
        lines.append(f"| {what} | {row['gap']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save_strips(result: EvalResult, out: Path) -> list[Path]:
    written = []
    for sample in result.kept:
        names = list(sample.outputs)
        panels = [sample.damaged, *(sample.outputs[n] for n in names), sample.truth]
        captions = ("damaged", *names, "ground truth")
        path = out / f"strip_{Path(sample.clip).stem}_{sample.condition.label}_{sample.index}.png"
        cv2.imwrite(str(path), labelled_strip(panels, captions))
        written.append(path)
    return written


def is_output_file(path: Path) -> bool:
    """Whether ``path`` is a regular file named as one :func:`write_outputs` writes."""
    return path.is_file() and any(fnmatch.fnmatch(path.name, p) for p in OUTPUT_PATTERNS)


def why_not_replaceable(folder: Path) -> str | None:
    """Why ``evaluate --overwrite`` must not write into ``folder``, or None.

    Only an earlier evaluate output (it has evaluation.json) is written over: its evaluation
    files are replaced (:func:`remove_previous_outputs`); other files and subfolders stay.
    """
    if not (folder / "evaluation.json").is_file():
        return "it has no evaluation.json"
    return None


def foreign_files(folder: Path) -> list[str]:
    """Return the names of the files in ``folder`` that are not evaluation outputs."""
    return sorted(c.name for c in folder.iterdir() if not c.is_dir() and not is_output_file(c))


def remove_previous_outputs(folder: Path) -> list[Path]:
    """Remove the evaluation output files of an earlier run from ``folder``; return them."""
    if not folder.is_dir():
        return []
    removed = [c for c in sorted(folder.iterdir()) if is_output_file(c)]
    for path in removed:
        path.unlink()
    return removed


def write_outputs(result: EvalResult, cfg: EvalConfig, out: Path, meta: dict) -> dict:
    """Write evaluation.json, frames.csv, summary.csv, plots and strips under ``out``.

    Raises ValueError when ``result`` holds no score (nothing was evaluated).
    """
    if not result.rows:
        raise ValueError("no frame was scored: no clip had frames to evaluate")
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(result.rows)
    with (out / "frames.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(result.rows[0]))
        writer.writeheader()
        writer.writerows(result.rows)
    with (out / "summary.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(summary[0]))
        writer.writeheader()
        writer.writerows(summary)
    plots = plot_curves(summary, cfg, out)
    strips = save_strips(result, out)
    report = {
        "meta": meta,
        "config": dict(vars(cfg)),
        "failed_region": table(summary, "failed"),
        "whole_frame": table(summary, "frame"),
        "files": sorted(p.name for p in [*plots, *strips])
        + ["frames.csv", "summary.csv", "evaluation.json"],
    }
    (out / "evaluation.json").write_text(json.dumps(report, indent=2))
    (out / "table_failed_region.md").write_text(markdown_table(summary, "failed") + "\n")
    (out / "table_whole_frame.md").write_text(markdown_table(summary, "frame") + "\n")
    for region, name in (("failed", "failed_region"), ("frame", "whole_frame")):
        for metric in ("psnr", "ssim"):
            intervals = interval_rows(result.rows, region, metric)
            report[f"intervals_{name}_{metric}"] = intervals
            (out / f"table_intervals_{name}_{metric}.md").write_text(
                interval_markdown(intervals, metric) + "\n"
            )
    (out / "evaluation.json").write_text(json.dumps(report, indent=2))
    return report

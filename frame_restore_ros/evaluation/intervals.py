"""95 % bootstrap intervals over frames for the evaluation tables, and paired gains over hold.

One frame moves a row of a small table by more than a dB; the intervals say how much of a lead is
resolved. Frames are resampled with replacement (percentile bootstrap); for a gain over a baseline
the same resampled frames are used for both methods (paired), so the interval is on the
per-frame difference.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

PSNR_CAP = 100.0  # identical outputs give infinite PSNR; the tables cap it as summarize() does


def _per_frame(rows: list[dict], region: str, metric: str) -> dict[tuple, dict[str, dict]]:
    """(kind, ratio, gap) -> method -> {(clip, frame): value}."""
    table: dict[tuple, dict[str, dict]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        if row["region"] != region or row["metric"] != metric:
            continue
        value = float(row["value"])
        if np.isnan(value):
            continue
        if metric == "psnr":
            value = min(value, PSNR_CAP)
        condition = (row["kind"], row["ratio"], row["gap"])
        table[condition][row["method"]][(row["clip"], row["frame"])] = value
    return table


def bootstrap_mean(
    values: np.ndarray, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """(mean, low, high): the mean of (n,) values and its 95 % percentile-bootstrap interval."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no values to bootstrap")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, values.size, size=(resamples, values.size))
    means = values[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(values.mean()), float(low), float(high)


def interval_rows(
    rows: list[dict],
    region: str = "failed",
    metric: str = "psnr",
    baseline: str = "hold",
    resamples: int = 2000,
    seed: int = 0,
) -> list[dict]:
    """Return per condition and method: frames, mean and 95 % interval, gain over ``baseline``.

    The gain is the mean of per-frame differences (paired, with its interval) over the frames
    both methods scored.
    """
    out = []
    for (kind, ratio, gap), methods in _per_frame(rows, region, metric).items():
        base = methods.get(baseline, {})
        for method, scores in methods.items():
            mean, low, high = bootstrap_mean(np.fromiter(scores.values(), float), resamples, seed)
            row = {
                "kind": kind,
                "ratio": ratio,
                "gap": gap,
                "method": method,
                "frames": len(scores),
                "mean": mean,
                "low": low,
                "high": high,
            }
            shared = sorted(set(scores) & set(base))
            if method != baseline and shared:
                gain = np.array([scores[k] - base[k] for k in shared])
                row["gain"], row["gain_low"], row["gain_high"] = bootstrap_mean(
                    gain, resamples, seed
                )
            out.append(row)
    return out


def interval_markdown(rows: list[dict], metric: str = "psnr", baseline: str = "hold") -> str:
    """Return a markdown table: mean [95 % interval] per method, and gains over ``baseline``."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    conditions = list(dict.fromkeys((r["kind"], r["ratio"], r["gap"]) for r in rows))
    by_key = {(r["kind"], r["ratio"], r["gap"], r["method"]): r for r in rows}
    others = [m for m in methods if m != baseline]
    head = ["failure", "gap", "frames", *methods, *(f"{m} - {baseline}" for m in others)]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    for kind, ratio, gap in conditions:
        cells = []
        frames = max(
            by_key[(kind, ratio, gap, m)]["frames"]
            for m in methods
            if (kind, ratio, gap, m) in by_key
        )
        for method in methods:
            row = by_key.get((kind, ratio, gap, method))
            cells.append(
                "-" if row is None else f"{row['mean']:.2f} [{row['low']:.2f}, {row['high']:.2f}]"
            )
        for method in others:
            row = by_key.get((kind, ratio, gap, method))
            if row is None or "gain" not in row:
                cells.append("-")
            else:
                cells.append(
                    f"{row['gain']:+.2f} [{row['gain_low']:+.2f}, {row['gain_high']:+.2f}]"
                )
        what = f"patches {ratio:.2f}" if kind == "patches" else kind
        lines.append(f"| {what} | {gap} | {frames} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

"""The replay report: summary.json, plots, before/after strips and a self-contained index.html.

The report is built in ``.NAME.partial-PID`` and renamed into place when complete (as the bag),
so a full disk or Ctrl-C never leaves a truncated page under the final name; ``--overwrite``
replaces only a folder that carries this tool's report marker, and none of its old files stay.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import shutil
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after selecting the headless backend)
import numpy as np  # noqa: E402

from frame_restore_ros.bag.output_claim import (  # noqa: E402
    REPORT_MARKER,
    OutputClaim,
    OutputError,
    check_output,
    io_reason,
    partial_path,
    publish,
)
from frame_restore_ros.bag.replay import STAGES, CameraLog, ReplayResult  # noqa: E402
from frame_restore_ros.evaluation.metrics import METRICS  # noqa: E402
from frame_restore_ros.media.strips import labelled_strip  # noqa: E402

log = logging.getLogger(__name__)
MAX_LISTED = 1000  # skipped messages listed per camera in summary.json (all are counted)
PSNR_CAP_DB = 100.0  # identical images have infinite PSNR; averaged as this value
METHOD_COLOURS = {"restored": "tab:blue", "hold": "tab:orange", "damaged": "tab:gray"}


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean of ``values`` (ms), rounded; empty dict when there are none."""
    if not values:
        return {}
    array = np.asarray(values, dtype=np.float64)
    out = {f"p{q}": float(np.percentile(array, q)) for q in (50, 90, 99)}
    out.update(max=float(array.max()), mean=float(array.mean()))
    return {k: round(v, 2) for k, v in out.items()}


def mean_scores(scores: list[dict]) -> dict[str, dict[str, float | None]]:
    """Average per-frame ``metrics.quality`` dicts per region (PSNR capped at 100 dB).

    Undefined values (NaN: SSIM on frames smaller than its window) are left out of the mean;
    a metric undefined on every frame is None.
    """
    out = {}
    for region in ("frame", "failed"):
        rows = [s[region] for s in scores if region in s]
        if rows:
            out[region] = {m: _mean([_capped(m, r[m]) for r in rows]) for m in METRICS}
    return out


def _mean(values: list[float]) -> float | None:
    defined = [v for v in values if not math.isnan(v)]
    return round(float(np.mean(defined)), 4) if defined else None


def _capped(metric: str, value: float) -> float:
    return min(value, PSNR_CAP_DB) if metric == "psnr" else value


def camera_summary(camera: CameraLog) -> dict:
    summary = {
        "topic": camera.topic,
        "type": camera.msgtype,
        "messages": camera.messages,
        "frames": camera.frames,
        "encodings": dict(camera.encodings),
        "status": dict(camera.status),
        "skipped": dict(camera.skipped),
        "skipped_messages": [{"t_ns": t, "reason": k} for t, k in camera.skips[:MAX_LISTED]],
        "failure_frames_by_class": dict(camera.failure_frames),
        "failure_pixels_by_class": dict(camera.failure_pixels),
        "resolution_resets": camera.resolution_resets,
        "clock_jump_resets": camera.clock_jump_resets,
        "scene_cut_resets": camera.scene_cut_resets,
        "clock_jumps": [
            {"from_s": _stamp(before), "to_s": round(after, 6)}
            for before, after in camera.clock_jumps[:MAX_LISTED]
        ],
        "latency_ms": {
            "restorer": percentiles(camera.restorer_ms),
            "message_pipeline": percentiles(camera.pipeline_ms),
        },
    }
    if camera.injected:
        summary["injected"] = dict(camera.injected)
    if camera.detection:
        hit, detected, truth = (sum(values) for values in zip(*camera.detection, strict=True))
        summary["detection_vs_injected"] = {
            "pixel_precision": round(hit / detected, 4) if detected else None,
            "pixel_recall": round(hit / truth, 4) if truth else None,
        }
        summary["quality"] = {
            "frames_scored": len(camera.scores["restored"]),
            "methods": {m: mean_scores(s) for m, s in camera.scores.items()},
        }
    return summary


def _stamp(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def build_summary(result: ReplayResult, weights: str | None) -> dict:
    frames = sum(c.frames for c in result.cameras.values())
    io_seconds = result.stage_seconds["read"] + result.stage_seconds["write"]
    return {
        "input": str(result.input_bag),
        "output": str(result.output_bag),
        "backend": result.backend,
        "weights": weights,
        "inject": result.inject,
        "messages_copied": result.copied_messages,
        "image_frames": frames,
        "wall_seconds": round(result.wall_seconds, 2),
        "frames_per_second": _rate(frames, result.wall_seconds),
        "frames_per_second_without_scoring": _rate(
            frames, result.wall_seconds - result.stage_seconds["score"]
        ),
        "stage_seconds": {k: round(result.stage_seconds[k], 3) for k in STAGES},
        "bag_io_seconds": round(io_seconds, 3),
        "bag_io_share": round(io_seconds / result.wall_seconds, 3) if result.wall_seconds else 0,
        "cameras": {t: camera_summary(c) for t, c in result.cameras.items()},
        "lost_messages": [loss.as_dict() for loss in result.lost],
        "read_error": result.read_error,
    }


def _rate(frames: int, seconds: float) -> float:
    return round(frames / seconds, 2) if seconds > 0 else 0.0


def _plot_timeline(result: ReplayResult, path: Path) -> None:
    cameras = list(result.cameras.values())
    fig, axes = plt.subplots(len(cameras), 1, figsize=(10, 2.6 * len(cameras)), squeeze=False)
    for ax, camera in zip(axes[:, 0], cameras, strict=True):
        statuses = sorted({e["status"] for e in camera.timeline})
        for status in statuses:
            points = [e for e in camera.timeline if e["status"] == status]
            ax.scatter(
                [e["index"] for e in points],
                [100 * e["failed_ratio"] for e in points],
                s=8,
                label=status,
            )
        ax.set_title(camera.topic, fontsize=9)
        ax.set_ylabel("failed pixels %")
        if statuses:  # a camera none of whose frames decoded has nothing to label
            ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("frame")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_quality(result: ReplayResult, path: Path) -> bool:
    cameras = [c for c in result.cameras.values() if c.scores]
    if not cameras:
        return False
    fig, axes = plt.subplots(len(cameras), 1, figsize=(10, 2.8 * len(cameras)), squeeze=False)
    for ax, camera in zip(axes[:, 0], cameras, strict=True):
        scored = [e for e in camera.timeline if "psnr_failed_restored" in e]
        for method, colour in METHOD_COLOURS.items():
            ax.plot(
                [e["index"] for e in scored],
                [min(e[f"psnr_failed_{method}"], PSNR_CAP_DB) for e in scored],
                ".-",
                color=colour,
                lw=0.8,
                ms=3,
                label=method,
            )
        ax.set_title(f"{camera.topic}: PSNR of the failed region vs ground truth", fontsize=9)
        ax.set_ylabel("dB")
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel("frame")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _plot_latency(result: ReplayResult, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3))
    for camera in result.cameras.values():
        if camera.restorer_ms:
            ax.hist(camera.restorer_ms, bins=40, alpha=0.6, label=camera.topic)
    ax.set_xlabel("restorer latency per frame (ms)")
    ax.set_ylabel("frames")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _slug(topic: str) -> str:
    return topic.strip("/").replace("/", "_") or "root"


def write_report(
    result: ReplayResult,
    out: Path,
    weights: str | None = None,
    overwrite: bool = False,
    inputs: tuple[Path, ...] = (),
) -> dict:
    """Write summary.json, *.png and index.html as folder ``out``, atomically; return the summary.

    Raises OutputError naming ``out`` if it may not be written (see ``output_claim``) or if
    writing fails (full disk, read-only); nothing is left under ``out`` then.
    """
    out = Path(out)
    with OutputClaim(out, "report"):
        check_output(out, inputs, overwrite, kind="report")
        partial = partial_path(out)
        shutil.rmtree(partial, ignore_errors=True)
        try:
            partial.mkdir(parents=True)
            (partial / REPORT_MARKER).write_text("written by frame-restore replay\n")
            summary = _write_files(result, partial, weights)
            publish(partial, out, overwrite, "report")
        except BaseException as exc:
            shutil.rmtree(partial, ignore_errors=True)
            if isinstance(exc, OSError):
                raise OutputError(f"cannot write report {out}: {io_reason(exc)}") from exc
            raise
    log.info("report written to %s", out)
    return summary


def _imwrite(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), image):  # OpenCV returns False on a full disk
        raise OSError(f"could not write {path.name}")


def _write_files(result: ReplayResult, out: Path, weights: str | None) -> dict:
    summary = build_summary(result, weights)
    images = {"timeline.png": "failed pixels per frame, by status"}
    _plot_timeline(result, out / "timeline.png")
    if _plot_quality(result, out / "quality.png"):
        images["quality.png"] = "PSNR of the failed region per damaged frame"
    _plot_latency(result, out / "latency.png")
    images["latency.png"] = "restorer latency"
    for camera in result.cameras.values():
        for example in camera.examples:
            name = f"strip_{_slug(camera.topic)}_{example.index:05d}.png"
            strip = labelled_strip(example.panels, tuple(example.captions))
            _imwrite(out / name, strip)
            images[name] = f"{camera.topic}, frame {example.index}"
    summary["files"] = sorted(images) + ["summary.json", "index.html"]
    (out / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False, default=_num))
    (out / "index.html").write_text(_html(summary, out, images))
    return summary


def _num(value: object) -> object:
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _html(summary: dict, out: Path, images: dict[str, str]) -> str:
    """One page, images embedded as base64 so it can be mailed or attached as is."""
    parts = [
        "<!doctype html><meta charset='utf-8'><title>frame_restore replay</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}img{max-width:100%}"
        "</style>",
        f"<h1>Replay of {html.escape(summary['input'])}</h1>",
        f"<p>output bag {html.escape(summary['output'])}; backend {summary['backend']}; "
        f"injected failures: {html.escape(str(summary['inject']))}; "
        f"{summary['image_frames']} frames in {summary['wall_seconds']} s "
        f"({summary['frames_per_second']} frames/s; bag I/O {summary['bag_io_seconds']} s)</p>",
    ]
    if summary["lost_messages"] or summary["read_error"]:
        parts.append("<h2>Salvaged: messages lost from the input</h2>")
        if summary["read_error"]:
            parts.append(f"<p>{html.escape(summary['read_error'])}</p>")
        rows = [
            [loss["topic"], loss["declared"], loss["read"], loss["lost"]]
            for loss in summary["lost_messages"]
        ]
        parts.append(_table(rows, ["topic", "declared", "read", "lost"]))
    rows = []
    for topic, camera in summary["cameras"].items():
        latency = camera["latency_ms"]["restorer"]
        rows.append(
            [
                topic,
                camera["frames"],
                ", ".join(f"{k} {v}" for k, v in sorted(camera["status"].items())),
                ", ".join(f"{k} {v}" for k, v in sorted(camera["skipped"].items())) or "-",
                f"clock jump {camera['clock_jump_resets']}, "
                f"resolution {camera['resolution_resets']}",
                latency.get("p50", "-"),
                latency.get("p99", "-"),
            ]
        )
    header = ["camera", "frames", "status", "skipped", "resets", "p50 ms", "p99 ms"]
    parts.append(_table(rows, header))
    quality_rows = []
    for topic, camera in summary["cameras"].items():
        for method, regions in camera.get("quality", {}).get("methods", {}).items():
            failed = regions.get("failed", {})
            frame = regions.get("frame", {})
            quality_rows.append(
                [
                    topic,
                    method,
                    _fmt(failed.get("psnr")),
                    _fmt(failed.get("ssim")),
                    _fmt(frame.get("psnr")),
                    _fmt(frame.get("ssim")),
                ]
            )
    if quality_rows:
        parts.append("<h2>Quality against the real frames (injected failures)</h2>")
        header = ["camera", "method", "PSNR failed", "SSIM failed", "PSNR frame", "SSIM frame"]
        parts.append(_table(quality_rows, header))
    for name, caption in images.items():
        encoded = base64.b64encode((out / name).read_bytes()).decode()
        parts.append(f"<h3>{html.escape(caption)}</h3><img src='data:image/png;base64,{encoded}'>")
    return "\n".join(parts)


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}"

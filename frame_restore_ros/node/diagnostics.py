"""diagnostic_msgs content: one status per camera and one for the model, as plain data.

Levels (DiagnosticStatus constants): STALE when a camera has sent nothing for
``diagnostics.stale_after_s``; ERROR when restoration raised or stalled (one frame in it past the
pass-through hold), the whole frame failed, or no model is loaded while ``restore`` is on; WARN
when damaged frames passed through (no or stale reference), the reference reset on RESET_WARN_COUNT
of the last RESET_RECENT_FRAMES frames (so nothing can be detected), messages were malformed or
dropped, or the mean failed ratio exceeds ``diagnostics.warn_failed_ratio``; OK otherwise. The
message names the worst cause.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

from frame_restore_ros.node.camera_stats import (
    RESET_RECENT_FRAMES,
    CameraStats,
    DropCause,
    percentile,
)
from frame_restore_ros.pipeline.reference import ResetCause
from frame_restore_ros.pipeline.restorer import Status

#: Resets of one cause among the last RESET_RECENT_FRAMES frames that make a WARN: one is a mode
#: switch or a bag loop; more means the reference (and the detector's history) never lasts.
RESET_WARN_COUNT = 3
_RESET_HINTS = {
    ResetCause.RESOLUTION_CHANGE: "two publishers of different resolutions on {topic}?",
    ResetCause.CLOCK_JUMP: "header stamps go backwards: two publishers or clocks that disagree "
    "on {topic}?",
    ResetCause.SCENE_CUT: "the view of {topic} changes at once, again and again, while part of it "
    "fails: cameras switched on one topic, or stills played as a video?",
}


class Level(IntEnum):
    """diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


_DAMAGED_PASSTHROUGH = (Status.NO_REFERENCE, Status.STALE_REFERENCE, Status.NO_BACKEND)


@dataclass(frozen=True)
class DiagnosticReport:
    """What one diagnostic_msgs/DiagnosticStatus carries."""

    level: Level
    name: str
    message: str
    hardware_id: str
    values: tuple[tuple[str, str], ...]

    def value(self, key: str) -> str:
        return dict(self.values)[key]


@dataclass(frozen=True)
class ModelState:
    """The backend as the cameras see it."""

    backend: str  # concrete backend name, "" when none is loaded
    weights: str
    error: str  # why the last load failed, "" if it did not


@dataclass(frozen=True)
class CameraInfo:
    """What a camera's report states besides its counters."""

    name: str
    topic: str  # as resolved by the adapter
    defect_mask: str  # file of the calibrated defect map, "" for none
    defect_pixels: int  # pixels it marks
    restoring_s: float | None = None  # how long the frame in restoration has been; None: idle
    hold_s: float = math.inf  # a restoration longer than this has stalled (frame_slot)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "none" if value is None else f"{value:.{digits}f}"


def camera_report(
    node_name: str,
    camera: CameraInfo,
    stats: CameraStats,
    model: ModelState,
    restore: bool,
    stale_after_s: float,
    warn_failed_ratio: float,
    now: float,
    period_s: float,
) -> DiagnosticReport:
    """Summarise ``stats`` since the previous report (``now`` monotonic s) into a status."""
    window, latency, overhead = stats.take_window()
    frames = max(window.frames, 1)
    mean_failed = window.failed_ratio_sum / frames
    passed_damaged = sum(window.status[s] for s in _DAMAGED_PASSTHROUGH)
    whole = window.status[Status.WHOLE_FRAME]
    errors = window.status[Status.ERROR]
    bad = sum(window.bad_messages.values())
    dropped = sum(window.dropped.values())
    silent = None if stats.last_arrival is None else now - stats.last_arrival
    problems: list[tuple[Level, str]] = []
    unheard = stats.incompatible_qos
    if silent is None or silent > stale_after_s:
        waited = "no frame yet" if silent is None else f"no frame for {silent:.1f} s"
        problems.append(
            (Level.STALE, f"{waited} on {camera.topic}{f': {unheard}' if unheard else ''}")
        )
    elif unheard:  # frames come, from another publisher
        problems.append((Level.WARN, unheard))
    if camera.restoring_s is not None and camera.restoring_s >= camera.hold_s:
        problems.append(
            (
                Level.ERROR,
                f"restoration stalled: one frame has been in restoration for "
                f"{camera.restoring_s:.1f} s (backend {model.backend or 'none'}); frames pass "
                "through unrestored",
            )
        )
    if errors:
        problems.append(
            (Level.ERROR, f"restoration failed on {errors} frames: {stats.last_error}")
        )
    if whole:
        problems.append((Level.ERROR, f"whole frame failed on {whole} frames (passed through)"))
    if restore and not model.backend:
        problems.append((Level.ERROR, f"no model loaded: {model.error or 'not loaded yet'}"))
    if window.exceptions:
        problems.append(
            (
                Level.ERROR,
                f"{window.exceptions} frames passed through because the node raised "
                f"({stats.last_exception})",
            )
        )
    problems.extend(_reset_problems(camera, stats))
    if passed_damaged:
        problems.append((Level.WARN, f"{passed_damaged} damaged frames passed through unrepaired"))
    if window.unrepaired_frames:
        problems.append(
            (
                Level.WARN,
                f"{window.unrepaired_pixels} failed px of {window.unrepaired_frames} repaired "
                "frames passed through (reference too old or never good there)",
            )
        )
    repeated = window.status[Status.REPEATED_FRAME]
    if repeated:
        problems.append((Level.WARN, f"{repeated} frames repeated the previous one"))
    if bad:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(window.bad_messages.items()))
        problems.append((Level.WARN, f"{bad} bad messages passed through ({kinds})"))
    if dropped:
        kinds = ", ".join(f"{k.value} {v}" for k, v in sorted(window.dropped.items()))
        problems.append((Level.WARN, f"{dropped} frames dropped ({kinds})"))
    if window.overtaken:
        problems.append(
            (
                Level.WARN,
                f"{window.overtaken} frames passed through unrestored: their restoration "
                "outlasted the pass-through hold",
            )
        )
    if mean_failed > warn_failed_ratio:
        problems.append((Level.WARN, f"{mean_failed:.1%} of the image failed on average"))
    if problems:
        level = max(p[0] for p in problems)
        message = "; ".join(text for lvl, text in problems if lvl == level)
    else:
        level = Level.OK
        repaired = window.status[Status.REPAIRED]
        message = f"{window.frames} frames, {repaired} repaired" if window.frames else "idle"
    pixels = max(window.pixels, 1)
    values = [
        ("topic", camera.topic),
        ("defect_mask", camera.defect_mask or "none"),
        ("defect_mask.pixels", str(camera.defect_pixels)),
        ("backend", model.backend or "none"),
        ("frames", str(window.frames)),
        ("rate_hz", f"{window.frames / period_s:.2f}"),
        *((f"status.{s.value}", str(window.status[s])) for s in Status),
        ("failed_ratio.mean", f"{mean_failed:.4f}"),
        ("unrepaired_pixels", str(window.unrepaired_pixels)),
        *(
            (f"failed_ratio.{kind}", f"{count / pixels:.4f}")
            for kind, count in sorted(window.failed_pixels.items())
        ),
        ("reference_age.frames", _fmt(stats.reference_age_frames, 0)),
        ("reference_age.s", _fmt(stats.reference_age_s, 3)),
        ("latency_ms.p50", _fmt(percentile(latency, 50))),
        ("latency_ms.p99", _fmt(percentile(latency, 99))),
        ("node_overhead_ms.p50", _fmt(percentile(overhead, 50))),
        *((f"dropped.{c.value}", str(window.dropped[c])) for c in DropCause),
        ("dropped.total", str(sum(stats.totals.dropped.values()))),
        ("overtaken", str(window.overtaken)),
        ("overtaken.total", str(stats.totals.overtaken)),
        ("restoring_s", _fmt(camera.restoring_s, 3)),
        *(
            (f"bad_messages.{kind}", str(count))
            for kind, count in sorted(window.bad_messages.items())
        ),
        ("bad_messages.total", str(sum(stats.totals.bad_messages.values()))),
        ("last_bad_message", stats.last_bad_message or "none"),
        ("exceptions", str(window.exceptions)),
        ("exceptions.total", str(stats.totals.exceptions)),
        ("last_exception", stats.last_exception or "none"),
        *((f"resets.{c.value}", str(window.resets[c])) for c in ResetCause),
        ("resets.total", str(sum(stats.totals.resets.values()))),
        ("last_reset", stats.last_reset or "none"),
        ("incompatible_qos", unheard or "none"),
        ("frames.total", str(stats.totals.frames)),
        ("encoding", stats.encoding or "none"),
        ("resolution", stats.resolution or "none"),
        ("last_status", "none" if stats.last_status is None else stats.last_status.value),
        ("last_reason", stats.last_reason or "none"),
    ]
    return DiagnosticReport(
        level, f"{node_name}: {camera.name}", message, camera.name, tuple(values)
    )


def _reset_problems(camera: CameraInfo, stats: CameraStats) -> list[tuple[Level, str]]:
    """WARN for each cause that reset the reference on many recent frames."""
    problems = []
    for cause, count in sorted(stats.repeated_resets().items()):
        if count >= RESET_WARN_COUNT:
            hint = _RESET_HINTS.get(cause, "").format(topic=camera.topic)
            effect = (
                "failures pass through unrepaired"
                if cause is ResetCause.SCENE_CUT
                else "no failure can be detected"
            )
            problems.append(
                (
                    Level.WARN,
                    f"reference reset by {cause.value} on {count} of the last "
                    f"{RESET_RECENT_FRAMES} frames, so {effect} "
                    f"({stats.reset_reasons.get(cause, '')}): {hint}",
                )
            )
    return problems


def model_report(node_name: str, model: ModelState, restore: bool) -> DiagnosticReport:
    """Report the loaded model (ERROR when restoration is on and none is loaded)."""
    if model.backend:
        level = Level.WARN if model.error else Level.OK
        message = f"{model.backend} ready"
        if model.error:
            message += f"; last reload failed: {model.error}"
    elif restore:
        level, message = Level.ERROR, f"no model: frames pass through ({model.error or 'loading'})"
    else:
        level, message = Level.OK, "restoration off"
    values = (
        ("backend", model.backend or "none"),
        ("weights", model.weights or "none"),
        ("last_error", model.error or "none"),
    )
    return DiagnosticReport(level, f"{node_name}: model", message, node_name, values)

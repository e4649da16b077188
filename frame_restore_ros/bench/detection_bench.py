"""``frame-restore bench detection``: detector speed and false alarms on clean real clips.

Speed: consecutive frames of one clip resized to each size (1280x720, 1920x1080), a fresh
:class:`FailureDetector` per size, ``detect`` timed per frame after a warm-up; p50 and p90. The
same frames again with every other one damaged (a 75 % burst of failed patches, a dead block:
``bench_failures.py``, the frames ``bench end-to-end`` times), timed on the damaged frames.
False alarms: every clip streamed untouched through a fresh detector; every flagged pixel is a
false alarm. Per clip: the mean and p99 flagged share of pixels per frame, the share of frames
with no flagged pixel (the frames a restorer would publish untouched), and the flagged pixels
per failure class. The minor page faults per clean frame after the warm-up are counted too: in
a fresh process at 1920x1080, glibc's default malloc thresholds fault every frame's arrays in
afresh, a quarter of ``detect``'s time (``media/frame_memory.py``, which ``frame-restore``
applies; ``FRAME_RESTORE_MALLOC=default`` keeps glibc's own). This command resizes the whole
clip first, which raises glibc's own threshold: here both settings fault about 20 pages a frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import cv2
import numpy as np

from frame_restore_ros.bench.bench_failures import FAILURES, damage
from frame_restore_ros.detection.detector import DetectorConfig, FailureDetector
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.model.config import preset

SPEED_SIZES = ((1280, 720), (1920, 1080))
WARMUP_FRAMES = 5
BURST_PRESET = "small"  # bursts fail the cells of the default model's patch grid (14 x 25)


def time_detection(
    frames: list[np.ndarray],
    sizes: Iterable[tuple[int, int]] = SPEED_SIZES,
    config: DetectorConfig | None = None,
    damaged: Iterable[str] = FAILURES,
) -> dict[str, dict[str, object]]:
    """Time ``detect`` per frame on ``frames`` (each (H, W, 3) uint8) resized to each size.

    Returns {"WxH": {"p50_ms", "p90_ms", "frames", "page_faults_per_frame", "damaged"}}
    (the faults: the process's minor page faults per clean frame after the warm-up; absent
    where the platform does not count them); the first
    :data:`WARMUP_FRAMES` are not counted. ``damaged``: failures of ``bench_failures`` timed
    too, each on a fresh detector with every other frame after the warm-ups damaged (the
    frames between keep the history realistic): {"patches": {"p50_ms", "p90_ms", "frames",
    "flagged_pct", "found_pct"}, ...}, timed on the damaged frames only; ``found_pct``: the
    share of the failed pixels flagged (pooled over the damaged frames), so that a reader sees
    the failure path was timed and how much of the failure a restorer would be told of. A
    clean frame costs a few ms; a burst of failed regions is checked region by region and costs
    ten times that.
    """
    if len(frames) <= WARMUP_FRAMES:
        raise ValueError(f"need more than {WARMUP_FRAMES} frames to time, got {len(frames)}")
    lead_in = max(WARMUP_FRAMES, (config or DetectorConfig()).onset_warmup_frames)
    grid = preset(BURST_PRESET).grid_size
    results: dict[str, dict[str, object]] = {}
    for width, height in sizes:
        resized = [cv2.resize(f, (width, height), interpolation=cv2.INTER_LINEAR) for f in frames]
        samples, _, _, faults = _timed_stream(resized, config, {})
        row: dict[str, object] = _percentiles(samples[WARMUP_FRAMES:])
        if faults is not None:
            row["page_faults_per_frame"] = round(faults)
        row["damaged"] = {}
        hit = set(range(lead_in + 1, len(resized), 2))
        for failure in damaged:
            stream, failed = list(resized), {}
            for index in hit:
                stream[index], failed[index] = damage(failure, index, resized[index], grid)
            samples, flagged, found, _ = _timed_stream(stream, config, failed)
            if samples:
                timing = _percentiles(samples)
                timing["flagged_pct"] = round(100.0 * float(np.mean(flagged)), 1)
                total = sum(int(np.count_nonzero(mask)) for mask in failed.values())
                timing["found_pct"] = round(100.0 * found / max(total, 1), 1)
                row["damaged"][failure] = timing
        results[f"{width}x{height}"] = row
    return results


def minor_page_faults() -> int | None:
    """Minor page faults of this process so far; None where the platform does not count them."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)


def _timed_stream(
    frames: list[np.ndarray], config: DetectorConfig | None, timed: dict[int, np.ndarray]
) -> tuple[list[float], list[float], int, float | None]:
    """Run a fresh detector over ``frames``; return timings, flags, finds and page faults.

    Returns ms per frame, flagged shares, failed pixels found, and the minor page faults per
    frame after the first :data:`WARMUP_FRAMES`. ``timed``: {index: (H, W) bool failed pixels}
    of the damaged frames; every frame is timed when it is empty, else those indices only. The
    count is of the failed pixels flagged. The faults are None where the platform does not
    count them or no frame followed the warm-up.
    """
    detector = FailureDetector(config)
    samples: list[float] = []
    flagged: list[float] = []
    found_pixels = 0
    faults_before = None
    for index, frame in enumerate(frames):
        if index == WARMUP_FRAMES:
            faults_before = minor_page_faults()
        start = time.perf_counter()
        found = detector.detect(frame)
        if not timed or index in timed:
            samples.append((time.perf_counter() - start) * 1000.0)
            flagged.append(found.failed_ratio)
        if index in timed:
            found_pixels += int(np.count_nonzero(found.mask & timed[index]))
    faults_after = minor_page_faults()
    faults = None
    if faults_before is not None and faults_after is not None:
        faults = (faults_after - faults_before) / (len(frames) - WARMUP_FRAMES)
    return samples, flagged, found_pixels, faults


def _percentiles(samples: list[float]) -> dict[str, object]:
    values = np.asarray(samples)
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p90_ms": round(float(np.percentile(values, 90)), 2),
        "frames": int(values.size),
    }


def false_alarms(
    frames: Iterable[np.ndarray],
    config: DetectorConfig | None = None,
    frame_rate: float | None = None,
) -> dict[str, object]:
    """Stream clean frames (H, W, 3) uint8 through a fresh detector; summarise what it flags.

    ``frame_rate`` (frames per second) stamps the frames as a camera would; None: no stamps.

    Returns frames, mean_pct and p99_pct (flagged % of pixels per frame), untouched (share of
    frames with no flagged pixel) and per_class_pct (flagged % of all pixels per class).
    """
    detector = FailureDetector(config)
    ratios: list[float] = []
    per_class = np.zeros(len(FailureKind), dtype=np.int64)
    pixels = 0
    for index, frame in enumerate(frames):
        found = detector.detect(frame, None if frame_rate is None else index / frame_rate)
        ratios.append(found.failed_ratio)
        pixels += found.labels.size
        for label, count in found.counts.items():
            per_class[FailureKind[label.upper()]] += count
    values = np.asarray(ratios or [0.0])
    return {
        "frames": len(ratios),
        "mean_pct": round(100.0 * float(values.mean()), 4),
        "p99_pct": round(100.0 * float(np.percentile(values, 99)), 4),
        "untouched": round(float((values == 0).mean()), 4),
        "per_class_pct": {
            FailureKind(i).label: round(100.0 * int(c) / max(1, pixels), 4)
            for i, c in enumerate(per_class)
            if c
        },
    }


def run_detection_benchmark(
    clips: dict[str, Callable[[], Iterable[np.ndarray]]],
    speed_clip: str,
    speed_frames: int,
    config: DetectorConfig | None = None,
    frame_rates: dict[str, float] | None = None,
) -> dict[str, object]:
    """Time the detector on ``speed_clip`` and measure false alarms on every clip.

    ``clips``: clip name -> opener of its clean frames; ``speed_clip`` must be one of them and
    give more than :data:`WARMUP_FRAMES` frames (``speed_frames`` are timed after those);
    ``frame_rates``: clip name -> frames per second, where known (those frames are stamped).
    """
    rates = frame_rates or {}
    if speed_clip not in clips:
        raise ValueError(f"speed clip {speed_clip!r} is not among {', '.join(clips)}")
    speed_source = []
    for frame in clips[speed_clip]():
        speed_source.append(frame)
        if len(speed_source) >= speed_frames + WARMUP_FRAMES:
            break
    if len(speed_source) <= WARMUP_FRAMES:
        raise ValueError(
            f"speed clip {speed_clip} gave {len(speed_source)} frames; timing needs more than "
            f"the {WARMUP_FRAMES} warm-up frames"
        )
    return {
        "speed": time_detection(speed_source, config=config),
        "speed_clip": speed_clip,
        "false_alarms": {
            name: false_alarms(opener(), config, rates.get(name)) for name, opener in clips.items()
        },
    }


def format_detection(record: dict) -> str:
    """Return the speed and false-alarm tables as text."""
    lines = [f"detect() per frame, frames of {record['speed_clip']} resized:"]
    names = {"patches": "75 % burst", "block": "dead block"}
    for size, row in record["speed"].items():
        faults = row.get("page_faults_per_frame")  # absent in older records
        faults_text = "" if faults is None else f", {faults} page faults a frame"
        lines.append(
            f"  {size:>10}  {'clean':<10}  p50 {row['p50_ms']:7.2f} ms"
            f"  p90 {row['p90_ms']:7.2f} ms  ({row['frames']} frames{faults_text})"
        )
        for failure, timing in row.get("damaged", {}).items():
            # A record written before the found share was measured has none: nothing is shown.
            found = timing.get("found_pct")
            found_text = "" if found is None else f", {found:.1f} % of the failed pixels found"
            lines.append(
                f"  {'':>10}  {names.get(failure, failure):<10}  p50 {timing['p50_ms']:7.2f} ms"
                f"  p90 {timing['p90_ms']:7.2f} ms  ({timing['frames']} damaged frames,"
                f" {timing['flagged_pct']:.1f} % flagged{found_text})"
            )
    lines.append("false alarms on the clean clips (flagged % of pixels per frame):")
    lines.append(
        f"  {'clip':<44} {'frames':>6} {'mean %':>8} {'p99 %':>8} {'untouched':>9}  by class"
    )
    for name, row in record["false_alarms"].items():
        classes = " ".join(f"{k} {v:.3f}" for k, v in row["per_class_pct"].items())
        lines.append(
            f"  {name[:44]:<44} {row['frames']:>6} {row['mean_pct']:>8.3f} {row['p99_pct']:>8.3f}"
            f" {100 * row['untouched']:>8.1f}%  {classes}"
        )
    return "\n".join(lines)

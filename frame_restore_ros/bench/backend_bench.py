"""``frame-restore bench backends`` and ``bench end-to-end``: latency per backend.

``backends``: the model call per backend and preset, with K samples and N cameras.

Each backend is built as the node would build it (``backends.selection.create_backend``) for a
preset with random weights (weights do not change the cost) and fed real frames at 75 % masking.
Reported per (preset, backend): p50/p99 of one batch-1 inference, the same with K latent samples
(the uncertainty path, one batched call), and the throughput when N cameras share the backend
(frames in turn, as the node serves them). On a GPU the FLOPs give the fraction of peak reached.
``end-to-end``: the whole restorer per damaged 1280x720 frame on the bundled weights
(:func:`end_to_end`), alignment on and off, repeated over runs (:func:`end_to_end_runs`); the
hold baseline (no model) is timed once per run, with ``align="none"`` (it aligns nothing).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from frame_restore_ros.backends.selection import (
    BACKENDS,
    HOLD,
    LoadedBackend,
    create_backend,
    diagnose,
    load_backend,
    resolve,
)
from frame_restore_ros.bench.bench_failures import FAILURES, damage_frame
from frame_restore_ros.bench.model_bench import forward_flops
from frame_restore_ros.media.tensors import frame_to_array
from frame_restore_ros.media.video import read_frames, sample_video_path
from frame_restore_ros.model import SiamMCVAE, preset, random_patch_mask

log = logging.getLogger(__name__)
# Dense fp16/bf16 tensor-core peaks (TFLOP/s) from NVIDIA's data sheets, for the peak fraction.
GPU_PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "Orin": 85.0}
# End-to-end: the default (with the carried motion), the same without it, ECC alone, none.
NO_CARRY = "ecc_flow_no_carry"
ALIGNS = ("ecc_flow", NO_CARRY, "ecc", "none")


def _percentiles(samples: list[float]) -> dict[str, float]:
    array = np.asarray(samples)
    return {
        "p50_ms": round(float(np.percentile(array, 50)), 3),
        "p99_ms": round(float(np.percentile(array, 99)), 3),
    }


def _timed(fn, repeats: int, synchronize: bool) -> list[float]:
    for _ in range(5):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if synchronize:
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def bench_backend(
    preset_name: str,
    backend_name: str,
    repeats: int,
    samples: int,
    cameras: int,
    precision: str = "fp16",
) -> dict:
    torch.manual_seed(0)
    model = SiamMCVAE(preset(preset_name))
    cfg = model.cfg
    with tempfile.TemporaryDirectory() as cache:
        backend = create_backend(model, backend_name, samples, Path(cache), precision)
    frames = read_frames(sample_video_path(), max_frames=24)
    reference, damaged = (frame_to_array(frames[i], cfg.input_size) for i in (20, 22))
    mask = random_patch_mask(1, cfg.grid_size, 0.75, torch.Generator().manual_seed(0))
    mask = mask.float().numpy()
    gpu = backend_name != "torch-cpu" and not backend_name.endswith("cpu")
    single = _timed(lambda: backend.infer(reference, damaged, mask), repeats, gpu)
    row = {
        "preset": preset_name,
        "backend": backend.name,
        "batch1": _percentiles(single),
        "gflops": round(forward_flops(model) / 1e9, 2),
    }
    if samples:
        sampled = _timed(
            lambda: backend.infer_with_uncertainty(reference, damaged, mask), repeats, gpu
        )
        row[f"k{samples}"] = _percentiles(sampled)
    start = time.perf_counter()
    rounds = max(1, repeats // cameras)
    for _ in range(rounds):
        for _ in range(cameras):
            backend.infer(reference, damaged, mask)
    row[f"cameras{cameras}_frames_per_s"] = round(
        rounds * cameras / (time.perf_counter() - start), 1
    )
    if gpu and torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        peak = next((v for k, v in GPU_PEAK_TFLOPS.items() if k in name), None)
        if peak:
            achieved = forward_flops(model) / (row["batch1"]["p50_ms"] / 1000) / 1e12
            row["peak_fraction"] = round(achieved / peak, 4)
    return row


def run_backend_benchmark(
    presets: list[str],
    backends: list[str],
    repeats: int,
    samples: int,
    cameras: int,
    precision: str = "fp16",
) -> list[dict]:
    """Benchmark every usable (preset, backend) pair; return the rows (skips are logged).

    Raises ValueError, with every reason, when no backend of ``backends`` can run here, and
    unless ``repeats`` and ``cameras`` are >= 1.
    """
    if repeats < 1 or cameras < 1:
        raise ValueError(f"repeats and cameras must be >= 1, got {repeats} and {cameras}")
    usable, skipped = _usable_backends(backends)
    if not usable:
        raise ValueError("no backend to time: " + "; ".join(skipped))
    for reason in skipped:
        log.warning("skipping %s", reason)
    rows = []
    for resolved in usable:
        for preset_name in presets:
            rows.append(bench_backend(preset_name, resolved, repeats, samples, cameras, precision))
    return rows


def _usable_backends(backends: list[str]) -> tuple[list[str], list[str]]:
    """Resolve ``backends``; return (usable names, one "NAME: reason" per skipped one)."""
    statuses = diagnose()
    usable, skipped = [], []
    for name in backends:
        try:
            if name == HOLD:
                raise ValueError("it runs no model (time it with bench end-to-end or pipeline)")
            usable.append(resolve(name, statuses))
        except ValueError as exc:
            skipped.append(f"{name}: {exc}")
    return usable, skipped


def format_backend_table(rows: list[dict], samples: int, cameras: int) -> str:
    """One line per (preset, backend) row of :func:`run_backend_benchmark`, under a header."""
    header = f"{'preset':<8}{'backend':<22}{'p50 ms':>9}{'p99 ms':>9}"
    header += f"{f'K={samples} p50':>11}{'GFLOPs':>9}{f'{cameras} cams f/s':>13}"
    lines = [header]
    for row in rows:
        sampled = row.get(f"k{samples}", {}).get("p50_ms", float("nan"))
        lines.append(
            f"{row['preset']:<8}{row['backend']:<22}{row['batch1']['p50_ms']:>9.2f}"
            f"{row['batch1']['p99_ms']:>9.2f}{sampled:>11.2f}{row['gflops']:>9.1f}"
            f"{row[f'cameras{cameras}_frames_per_s']:>13.1f}"
        )
    return "\n".join(lines)


def end_to_end(
    backend_name: str,
    align: str,
    frames: int = 80,
    passes: int = 3,
    precision: str = "fp16",
    cache_dir: Path | None = None,
    failure: str = "patches",
) -> dict[str, float]:
    """Restorer latency per damaged 1280x720 frame, bundled weights (``hold``: no model).

    ``failure``: "patches" (75 % of the patches failed: ECC's hardest case, no enclosed failure)
    or "block" (one dead block of a quarter of each side, enclosed by clean pixels: the case the
    dense-flow refinement of ``align="ecc_flow"`` runs on).

    Every other frame of bigbuckbunny.mp4 (1280x720) is damaged; the clean ones keep the reference
    fresh. As in the node, a new reference is prepared for the model after its clean frame was
    published (``reference_prepare_ms``, off the damaged frames' critical path). Covers
    detection, alignment, inference, change gate, detail transfer and compositing. The clip runs
    ``passes`` times after a warm-up pass: the percentiles rest on ~36 x ``passes`` frames.
    """
    from frame_restore_ros.pipeline.repair import RepairOptions
    from frame_restore_ros.pipeline.restorer import Restorer, RestorerConfig, Status

    if failure not in FAILURES:  # before the backend loads (exports and compiles: seconds)
        raise ValueError(f"failure must be one of {FAILURES}, got {failure!r}")
    with tempfile.TemporaryDirectory() as scratch:  # ONNX exports of this model, if none given
        loaded = load_backend(
            backend_name, precision=precision, cache_dir=cache_dir or Path(scratch)
        )
    backend, grid = loaded.backend, _patch_grid(loaded)
    infer_ms: list[float] = []
    if loaded.config is not None:  # hold calls no model: its infer stage stays 0
        _time_calls(backend, infer_ms)
    if align == NO_CARRY:
        options = RepairOptions(align="ecc_flow", motion_prior=False)
    else:
        options = RepairOptions(align=align)
    restorer = Restorer(backend, RestorerConfig(repair=options))
    clip = read_frames(sample_video_path("bigbuckbunny.mp4"), max_frames=frames)
    # Every other frame, after the detector's warm-up (onsets wait for a short history).
    lead_in = restorer.config.detector.onset_warmup_frames
    damaged = {
        index: damage_frame(failure, index, frame, grid)
        for index, frame in enumerate(clip)
        if index % 2 and index >= lead_in
    }
    samples: list[float] = []
    damaged_timed = 0
    prepare: list[float] = []
    stages: dict[str, list[float]] = {"detect": [], "infer": [], "rest": []}
    for repeat in range(passes + 1):
        restorer.reset()
        for index, frame in enumerate(clip):
            stamp = index / 24
            if index not in damaged:
                restorer.process(frame, stamp)
                tick = time.perf_counter()
                restorer.prepare_reference()  # the node does this after publishing the frame
                prepare.append((time.perf_counter() - tick) * 1000)
                continue
            calls = len(infer_ms)
            start = time.perf_counter()
            result = restorer.process(damaged[index], stamp)
            total = (time.perf_counter() - start) * 1000
            damaged_timed += repeat > 0 and index > 8
            if result.status is Status.REPAIRED and repeat > 0 and index > 8:
                samples.append(total)
                inference = sum(infer_ms[calls:])
                stages["detect"].append(result.timings_ms["detect"])
                stages["infer"].append(inference)
                stages["rest"].append(total - result.timings_ms["detect"] - inference)
    if len(samples) < 0.9 * damaged_timed:  # the figures would describe another path
        log.warning(
            "only %d of %d damaged frames were repaired (%s, %s): the latency is not the "
            "repair path's",
            len(samples),
            damaged_timed,
            backend.name,
            align,
        )
    row = {"backend": backend.name, "align": align, "failure": failure, "frames": len(samples)}
    row["damaged_frames"] = damaged_timed
    row |= _percentiles(samples)
    row["reference_prepare_ms"] = round(float(np.percentile(prepare, 50)), 2)
    # Medians of the parts; "rest" = alignment, model-size conversion, gate, seams, compositing.
    row |= {f"{name}_p50_ms": round(float(np.median(v)), 2) for name, v in stages.items()}
    return row


def _patch_grid(loaded: LoadedBackend) -> tuple[int, int]:
    """Return the patch grid failures are drawn on: the model's, or hold's (small preset's)."""
    if loaded.config is not None:
        return loaded.config.grid_size
    (height, width), patch = loaded.backend.input_size, loaded.backend.patch_size
    return height // patch, width // patch


def _time_calls(backend: object, infer_ms: list[float]) -> None:
    """Wrap ``backend.infer``: append each call's duration (ms) to ``infer_ms``."""
    infer = backend.infer

    def timed_infer(*inputs: np.ndarray) -> np.ndarray:
        tick = time.perf_counter()
        out = infer(*inputs)
        infer_ms.append((time.perf_counter() - tick) * 1000)
        return out

    backend.infer = timed_infer


def alignments(backend: str) -> tuple[str, ...]:
    """Return the alignment modes timed for ``backend``: all, or only "none" for hold."""
    return ("none",) if backend == HOLD else ALIGNS


def check_backends(backends: list[str]) -> None:
    """Raise ValueError naming the first of ``backends`` (hold or a model) that cannot run here."""
    statuses = diagnose()
    for name in backends:
        if name not in (HOLD, *BACKENDS):
            choices = ", ".join((HOLD, *BACKENDS))
            raise ValueError(f"unknown backend {name!r}; choose from {choices}")
        if name != HOLD:
            resolve(name, statuses)


def end_to_end_runs(
    backends: list[str],
    runs: int,
    precision: str = "fp16",
    frames: int = 80,
    passes: int = 3,
    progress: bool = True,
    failure: str = "patches",
) -> dict:
    """Repeat :func:`end_to_end` for every backend, alignment on and off, ``runs`` times.

    A shared VM's speed drifts between minutes, so one run is one sample: the summary gives, per
    (backend, align), the median, min and max over runs of the per-run p50, and the median of
    each stage. ``hold`` is timed with align "none" only. Every backend is checked before the
    first is timed; ``runs`` must be >= 1. Returns {"machine", "precision", "summary", "runs"}.
    """
    from tqdm import tqdm

    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    check_backends(backends)
    every = []
    with tempfile.TemporaryDirectory() as cache:  # export once, not once per run
        for _ in tqdm(range(runs), desc="end-to-end runs", disable=runs < 2 or not progress):
            every.append(
                [
                    end_to_end(b, a, frames, passes, precision, Path(cache), failure)
                    for b in backends
                    for a in alignments(b)
                ]
            )
    return {
        "machine": machine_description(),
        "precision": precision,
        "failure": failure,
        "summary": summarize_runs(every),
        "runs": every,
    }


def format_end_to_end(record: dict) -> str:
    """One line per (backend, align) of an :func:`end_to_end_runs` record, under a header."""
    lines = [
        f"{'backend':<20}{'align':<19}{'p50 ms: median (min-max) of runs':<36}"
        f"{'detect':>8}{'infer':>8}{'rest':>8}"
    ]
    for name, entry in record["summary"].items():
        backend, align = name.split(" align=")
        spread = f"{entry['p50_median_ms']:.1f} ({entry['p50_min_ms']:.1f}-"
        spread += f"{entry['p50_max_ms']:.1f}), {entry['runs']} runs"
        lines.append(
            f"{backend:<20}{align:<19}{spread:<36}{entry['detect_median_ms']:>8.1f}"
            f"{entry['infer_median_ms']:>8.1f}{entry['rest_median_ms']:>8.1f}"
        )
    return "\n".join(lines)


def summarize_runs(every: list[list[dict]]) -> dict[str, dict]:
    """Per (backend, align) over runs: median/min/max of p50, median p99 and stage medians."""
    summary = {}
    for rows in zip(*every, strict=True):
        p50 = [row["p50_ms"] for row in rows]
        entry = {
            "p50_median_ms": round(float(np.median(p50)), 2),
            "p50_min_ms": round(min(p50), 2),
            "p50_max_ms": round(max(p50), 2),
            "p99_median_ms": round(float(np.median([row["p99_ms"] for row in rows])), 2),
            "runs": len(rows),
        }
        for stage in ("detect", "infer", "rest"):
            values = [row[f"{stage}_p50_ms"] for row in rows]
            entry[f"{stage}_median_ms"] = round(float(np.median(values)), 2)
        summary[f"{rows[0]['backend']} align={rows[0]['align']}"] = entry
    return summary


def machine_description() -> str:
    """CPU model, core count and library versions, for benchmark records."""
    import platform

    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                model,
            )
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__}"

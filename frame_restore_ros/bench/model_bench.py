"""``frame-restore bench model`` and ``bench pipeline``: the deploy graph per preset, and the rest.

``model``: parameter count, FLOPs and CPU latency per preset. Latency is the torch forward of the
deploy graph at batch 1 on random weights (weights do not change the cost), at the preset's input
size, after warm-up; p50 and p90 over ``repeats`` runs. With ``with_onnx`` each preset is also
exported and run in ONNX Runtime on real frames, reporting latency and the relative error
against torch fp32. ``pipeline``: detection and the hold repair without the model
(:func:`run_pipeline_benchmark`).
"""

from __future__ import annotations

import functools
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from frame_restore_ros.model import DeployGraph, SiamMCVAE, preset, random_patch_mask

FRAME_SIZES = ((1280, 720), (1920, 1080))
# Pipeline: frames 4, 5, ... are timed, damaged from the first odd one after the detector's
# warm-up (3 frames): 2 timed frames are the fewest that give both an undamaged and a damaged one.
PIPELINE_MIN_REPEATS = 2


def forward_flops(model: SiamMCVAE) -> int:
    """Count FLOPs (2 x multiply-accumulates) of one deploy forward at batch 1."""
    cfg = model.cfg
    tokens = cfg.num_patches + 1

    def stack(width: int, depth: int) -> int:
        hidden = int(width * cfg.mlp_ratio)
        linear = tokens * (3 * width * width + width * width + 2 * width * hidden)
        attention = 2 * tokens * tokens * width
        return depth * (linear + attention)

    encoder = 2 * (
        cfg.num_patches * cfg.patch_dim * cfg.enc_dim
        + stack(cfg.enc_dim, cfg.enc_depth)
        + tokens * cfg.enc_dim * cfg.latent_dim
    )
    heads = 3 * tokens * 2 * cfg.latent_dim * cfg.latent_dim  # W_m, W_s, W_d
    decoder = stack(cfg.latent_dim, cfg.dec_depth) + tokens * cfg.latent_dim * cfg.patch_dim
    return 2 * (encoder + heads + decoder)


def _time(fn, repeats: int) -> list[float]:
    for _ in range(3):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
    }


def _bench_end_to_end(model: SiamMCVAE, repeats: int, ratio: float) -> dict[str, dict[str, float]]:
    """Time the bare repair (resize in, infer, upsample, composite) on full-size frames."""
    from frame_restore_ros.backends.torch_backend import TorchBackend
    from frame_restore_ros.pipeline.repair import RepairOptions, RepairPipeline
    from frame_restore_ros.synthetic.corruption import random_patches

    pipeline = RepairPipeline(TorchBackend(model), RepairOptions.model_only())
    rng = np.random.default_rng(0)
    results = {}
    for width, height in FRAME_SIZES:
        reference = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        corruption = random_patches(reference, model.cfg.grid_size, ratio, rng)
        damaged, failed = corruption.damaged, corruption.mask
        run = functools.partial(pipeline.repair, reference, damaged, failed)
        samples = _time(run, repeats)
        results[f"{width}x{height}"] = _summary(samples)
    return results


def run_pipeline_benchmark(repeats: int = 30) -> dict[str, dict[str, float]]:
    """Time detection and the hold repair (no model: the reference copied) on real frames.

    Consecutive bikes.mp4 frames are resized to each size; every other frame gets a dead block
    and a noise block, so both the undamaged path and the repair path are timed: ``repeats``
    must be at least :data:`PIPELINE_MIN_REPEATS` (the first timed frame is undamaged).
    """
    if repeats < PIPELINE_MIN_REPEATS:
        raise ValueError(
            f"repeats must be >= {PIPELINE_MIN_REPEATS} (an undamaged and a damaged frame), "
            f"got {repeats}"
        )
    import cv2

    from frame_restore_ros.backends.hold import HoldBackend
    from frame_restore_ros.detection.failures import FailureKind
    from frame_restore_ros.media.video import read_frames, sample_video_path
    from frame_restore_ros.pipeline.restorer import Restorer
    from frame_restore_ros.synthetic.corruption import blocks

    clip = read_frames(sample_video_path(), max_frames=repeats + 4)
    rng = np.random.default_rng(0)
    results = {}
    for width, height in FRAME_SIZES:
        restorer = Restorer(HoldBackend())
        clean_ms, repair_ms, detect_ms = [], [], []
        for i, source in enumerate(clip):
            frame = cv2.resize(source, (width, height), interpolation=cv2.INTER_LINEAR)
            # Every other frame, after the detector's warm-up (onsets wait for a short history).
            injected = i % 2 == 1 and i >= restorer.config.detector.onset_warmup_frames
            if injected:
                frame = blocks(frame, rng, FailureKind.DEAD).damaged
                frame = blocks(frame, rng, FailureKind.NOISE).damaged
            result = restorer.process(frame, i * 0.04)
            if i < 4:
                continue
            (repair_ms if injected else clean_ms).append(result.timings_ms["total"])
            detect_ms.append(result.timings_ms["detect"])
        results[f"{width}x{height}"] = {
            "detect": _summary(detect_ms),
            "undamaged_frame_total": _summary(clean_ms),
            "damaged_frame_total": _summary(repair_ms),
        }
    return results


def bench_preset(name: str, repeats: int, ratio: float, with_onnx: bool) -> dict:
    torch.manual_seed(0)
    cfg = preset(name)
    model = SiamMCVAE(cfg).eval()
    graph = DeployGraph(model)
    height, width = cfg.input_size
    reference, damaged = torch.rand(2, 1, 3, height, width)
    mask = random_patch_mask(1, cfg.grid_size, ratio).float()
    with torch.inference_mode():
        samples = _time(lambda: graph(reference, damaged, mask), repeats)
    result = {
        "preset": name,
        "input_size": list(cfg.input_size),
        "patch_size": cfg.patch_size,
        "tokens": cfg.num_patches + 1,
        "parameters": sum(p.numel() for p in model.parameters()),
        "fp32_megabytes": round(sum(p.numel() for p in model.parameters()) * 4 / 2**20, 2),
        "gflops": round(forward_flops(model) / 1e9, 2),
        "torch_cpu": _summary(samples),
    }
    if name != "base":  # the base preset is a GPU model; its CPU end-to-end time says nothing new
        result["end_to_end_torch_cpu"] = _bench_end_to_end(model, repeats, ratio)
    if with_onnx:
        result["onnxruntime_cpu"] = _bench_onnx(model, repeats, ratio)
    return result


def _bench_onnx(model: SiamMCVAE, repeats: int, ratio: float) -> dict:
    import onnxruntime as ort

    from frame_restore_ros.backends.onnx_export import export_onnx
    from frame_restore_ros.media.tensors import frame_to_tensor
    from frame_restore_ros.media.video import read_frames, sample_video_path

    cfg = model.cfg
    frames = read_frames(sample_video_path(), max_frames=24)
    reference, damaged = (frame_to_tensor(frames[i], cfg.input_size) for i in (20, 22))
    mask = random_patch_mask(1, cfg.grid_size, ratio, torch.Generator().manual_seed(0)).float()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(model, path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feeds = {
        "reference": reference.numpy(),
        "damaged": damaged.numpy(),
        "patch_mask": mask.numpy(),
    }
    (restored,) = session.run(None, feeds)
    with torch.inference_mode():
        expected = DeployGraph(model)(reference, damaged, mask).numpy()
    samples = _time(lambda: session.run(None, feeds), repeats)
    relative = float(np.abs(restored - expected).max() / np.abs(expected).max())
    return _summary(samples) | {"relative_error_vs_torch": relative}


def run_model_benchmark(
    presets: list[str], repeats: int, ratio: float, with_onnx: bool = False
) -> dict:
    """Benchmark presets; return {"machine", "ratio", "results"} (:func:`format_model_table`)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    rows = [bench_preset(name, repeats, ratio, with_onnx) for name in presets]
    return {"machine": machine, "ratio": ratio, "results": rows}


def format_model_table(output: dict) -> str:
    """Format a model benchmark: the machine, one line per preset, the end-to-end times."""
    machine, rows, ratio = output["machine"], output["results"], output["ratio"]
    with_onnx = any("onnxruntime_cpu" in row for row in rows)
    header = (
        f"{'preset':<8}{'input':>10}{'tokens':>8}{'params':>10}{'MB fp32':>9}{'GFLOPs':>8}"
        f"{'torch p50':>11}{'p90':>9}"
    )
    if with_onnx:
        header += f"{'ORT p50':>10}{'ORT rel.err':>13}"
    lines = [
        f"CPU: {machine['cores']} cores, torch {machine['torch']} with "
        f"{machine['torch_threads']} threads, batch 1, mask ratio {ratio}",
        header,
    ]
    for row in rows:
        line = (
            f"{row['preset']:<8}{'x'.join(map(str, row['input_size'])):>10}{row['tokens']:>8}"
            f"{row['parameters'] / 1e6:>9.2f}M{row['fp32_megabytes']:>9}{row['gflops']:>8}"
            f"{row['torch_cpu']['p50_ms']:>9.1f}ms{row['torch_cpu']['p90_ms']:>7.1f}ms"
        )
        if with_onnx:
            ort_row = row["onnxruntime_cpu"]
            line += f"{ort_row['p50_ms']:>8.1f}ms{ort_row['relative_error_vs_torch']:>13.1e}"
        lines.append(line)
    for row in rows:
        for size, timing in row.get("end_to_end_torch_cpu", {}).items():
            lines.append(
                f"{row['preset']}: end to end per damaged {size} frame (resize, infer, upsample, "
                f"composite): p50 {timing['p50_ms']:.1f} ms, p90 {timing['p90_ms']:.1f} ms"
            )
    return "\n".join(lines)


def format_pipeline(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """One line per frame size of :func:`run_pipeline_benchmark`."""
    lines = []
    for size, timing in results.items():
        detect = timing["detect"]["p50_ms"]
        clean = timing["undamaged_frame_total"]["p50_ms"]
        damaged = timing["damaged_frame_total"]["p50_ms"]
        lines.append(
            f"pipeline without the model at {size}: detect p50 {detect:.1f} ms; undamaged "
            f"frame p50 {clean:.1f} ms; damaged frame (detect, resize, composite, feather) "
            f"p50 {damaged:.1f} ms"
        )
    return "\n".join(lines)

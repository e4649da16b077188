"""The evaluation protocol over real clips, every method in one run (docs/evaluation.md).

Conditions: the paper's random patch masking on the model's patch grid at each mask ratio and
frame gap (reference = real frame t-g, damaged = real frame t; the methods also get frame t-g-1,
the moment before the reference that a stream has), and each structured failure kind
of the corruption library at gap ``kind_gap``. The same frames t, masks and fills are used for
every method; metrics (MSE, MAE, PSNR, SSIM, FSIM; whole frame and failed region; 0-255 scale)
compare each method's full-resolution output with the real frame t. A calibrated defect mask
(``detection.defect_mask``) is OR-ed into every damaged frame's failed pixels, as the node's
detector does, so the methods also repair the pixels the camera is known to get wrong.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from frame_restore_ros.evaluation.fsim import FsimReference
from frame_restore_ros.evaluation.methods import Before, Method
from frame_restore_ros.evaluation.metrics import quality
from frame_restore_ros.synthetic.corruption import Corruption
from frame_restore_ros.synthetic.injection import InjectionItem

log = logging.getLogger(__name__)
STRUCTURED_KINDS = ("dead", "noise", "cast", "lines", "bottom", "frozen")


@dataclass
class EvalConfig:
    """Which conditions to run (``frame-restore evaluate --help``)."""

    ratios: tuple[float, ...] = (0.45, 0.6, 0.75, 0.9)
    gaps: tuple[int, ...] = (1, 2, 4, 8)
    kinds: tuple[str, ...] = STRUCTURED_KINDS
    kind_gap: int = 2
    frames_per_condition: int = 8
    grid: tuple[int, int] = (14, 25)  # the model's patch grid (small preset)
    fsim: bool = True
    seed: int = 0


@dataclass
class Condition:
    """One evaluation condition: random patches at ``ratio`` or a structured ``kind``."""

    gap: int
    ratio: float | None = None
    kind: str | None = None

    @property
    def label(self) -> str:
        what = f"ratio{self.ratio:.2f}" if self.kind is None else self.kind
        return f"{what}_gap{self.gap}"


@dataclass
class Sample:
    """One scored frame: every method's output and metrics for it."""

    clip: str
    condition: Condition
    index: int
    truth: np.ndarray
    damaged: np.ndarray
    failed: np.ndarray
    outputs: dict[str, np.ndarray]
    scores: dict[str, dict[str, dict[str, float]]]


@dataclass
class EvalResult:
    """All scores of a run, as rows, plus a few samples kept for strips."""

    rows: list[dict] = field(default_factory=list)
    kept: list[Sample] = field(default_factory=list)


@dataclass
class SizeRun:
    """Frames ``start`` to ``stop`` (exclusive) of a clip, all of one size."""

    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start


def size_runs(frames: list[np.ndarray]) -> list[SizeRun]:
    """Split a clip where its frame size changes: the runs of consecutive frames of one size."""
    runs: list[SizeRun] = []
    for index, frame in enumerate(frames):
        if runs and frame.shape == frames[runs[-1].start].shape:
            runs[-1].stop = index + 1
        else:
            runs.append(SizeRun(index, index + 1))
    return runs


def _size(frame: np.ndarray) -> str:
    return f"{frame.shape[1]}x{frame.shape[0]}"


def _where(frames: list[np.ndarray], index: int, times: list[int] | None) -> str:
    """Name where a clip's size changes: frame ``index`` (with its record time, ns), both sizes."""
    when = f" (t={times[index] / 1e9:.3f}s)" if times else ""
    return f"frame {index}{when}, {_size(frames[index - 1])} -> {_size(frames[index])}"


def split_size_runs(
    clips: dict[str, list[np.ndarray]],
    min_frames: int,
    record_times: dict[str, list[int]] | None = None,
) -> dict[str, list[np.ndarray]]:
    """Split each clip whose frame size changes into clips of one size (``NAME@FIRST``).

    No pair of frames then crosses a size change. A clip of one size is kept as it is; a run
    shorter than ``min_frames`` (what the gaps need) is dropped. Each split is logged with the
    clip, the frames (and record times, from ``record_times``: clip name -> ns per frame) where
    the size changed and the runs kept; raises ValueError naming the clip and the changes when
    no run of it is long enough.
    """
    out: dict[str, list[np.ndarray]] = {}
    for name, frames in clips.items():
        runs = size_runs(frames)
        if len(runs) == 1:
            out[name] = frames
            continue
        times = (record_times or {}).get(name)
        changes = "; ".join(_where(frames, run.start, times) for run in runs[1:])
        kept = [run for run in runs if len(run) >= min_frames]
        if not kept:
            raise ValueError(
                f"clip {name} changes frame size at {changes}, and no run of one size has the "
                f"{min_frames} frames the gaps need (runs of {[len(r) for r in runs]} frames)"
            )
        for run in kept:
            out[f"{name}@{run.start}"] = frames[run.start : run.stop]
        dropped = len(runs) - len(kept)
        log.warning(
            "clip %s changes frame size at %s: scored as %d clips of one size (%s), no pair "
            "crosses a change%s",
            name,
            changes,
            len(kept),
            ", ".join(f"{name}@{run.start}: {len(run)} frames" for run in kept),
            f"; {dropped} runs shorter than {min_frames} frames left out" if dropped else "",
        )
    return out


def check_one_size(clips: dict[str, list[np.ndarray]]) -> None:
    """Raise ValueError naming the first clip whose frame size changes, and where.

    Pairs across a size change cannot be scored: :func:`split_size_runs` splits such a clip.
    """
    for name, frames in clips.items():
        runs = size_runs(frames)
        if len(runs) > 1:
            raise ValueError(
                f"clip {name} changes frame size at {_where(frames, runs[1].start, None)}; "
                "split it into clips of one size (split_size_runs)"
            )


def conditions(cfg: EvalConfig) -> list[Condition]:
    out = [Condition(gap, ratio=ratio) for gap in cfg.gaps for ratio in cfg.ratios]
    out += [Condition(cfg.kind_gap, kind=kind) for kind in cfg.kinds]
    return out


def frame_indices(count: int, max_gap: int, wanted: int) -> list[int]:
    """``wanted`` frame indices spread evenly over [max_gap, count)."""
    if count <= max_gap:
        raise ValueError(f"a clip of {count} frames is too short for gap {max_gap}")
    return sorted({int(i) for i in np.linspace(max_gap, count - 1, wanted)})


def damage(
    frames: list[np.ndarray],
    index: int,
    condition: Condition,
    cfg: EvalConfig,
    rng: np.random.Generator,
) -> Corruption:
    """Damage frame ``index`` for ``condition`` (seeded by the caller's rng)."""
    truth = frames[index]
    if condition.kind is None:
        item = InjectionItem("patches", condition.ratio)
    else:
        item = InjectionItem(condition.kind)
    return item.apply(truth, rng, previous=frames[index - 1], grid=cfg.grid)


def score(
    output: np.ndarray, truth: np.ndarray, failed: np.ndarray, fsim: FsimReference | None
) -> dict[str, dict[str, float]]:
    """All metrics of one output; ``fsim`` is the truth's FSIM side (None: no FSIM)."""
    scores = quality(output, truth, failed)
    if fsim is not None:
        scores["frame"]["fsim"], scores["failed"]["fsim"] = fsim.score(output, failed)
    return scores


def evaluate_clips(
    clips: dict[str, list[np.ndarray]],
    methods: dict[str, Method],
    cfg: EvalConfig,
    keep: Callable[[Sample], bool] | None = None,
    save_frames: Path | None = None,
    progress: bool = True,
    defect_mask: np.ndarray | None = None,
) -> EvalResult:
    """Run every method on every condition of every clip; return the per-frame score rows.

    ``defect_mask`` (H, W) bool, True = defective pixel, is OR-ed into every failed mask; every
    clip must have its size (checked before any method runs). Every clip must keep one frame
    size (:func:`check_one_size`; :func:`split_size_runs` makes such clips).
    """
    check_one_size(clips)
    if defect_mask is not None:
        check_defect_mask(defect_mask, clips)
    result = EvalResult()
    plan = [(name, c) for name in clips for c in conditions(cfg)]
    max_gap = max([*cfg.gaps, cfg.kind_gap])
    total = len(plan) * cfg.frames_per_condition
    bar = tqdm(total=total, desc="evaluate", unit="frame", disable=not progress)
    for clip_name, condition in plan:
        frames = clips[clip_name]
        for index in frame_indices(len(frames), max_gap, cfg.frames_per_condition):
            seed = [cfg.seed, index, condition.gap, int(1000 * (condition.ratio or 0))]
            seed += list((condition.kind or "").encode())
            rng = np.random.default_rng(seed)
            corruption = damage(frames, index, condition, cfg, rng)
            truth, reference = frames[index], frames[index - condition.gap]
            # The frame before the reference: a stream has it (the node keeps it).
            first = index - condition.gap - 1
            before = Before(frames[first], condition.gap) if first >= 0 else None
            failed = corruption.mask if defect_mask is None else corruption.mask | defect_mask
            fsim = FsimReference(truth) if cfg.fsim else None
            outputs, scores = {}, {}
            for method_name, method in methods.items():
                output = method(reference, corruption.damaged, failed, before)
                if not np.array_equal(output[~failed], corruption.damaged[~failed]):
                    raise AssertionError(f"{method_name} changed pixels outside the failure mask")
                outputs[method_name] = output
                scores[method_name] = score(output, truth, failed, fsim)
                for region, values in scores[method_name].items():
                    for metric, value in values.items():
                        result.rows.append(
                            {
                                "clip": clip_name,
                                "condition": condition.label,
                                "kind": condition.kind or "patches",
                                "ratio": condition.ratio,
                                "gap": condition.gap,
                                "frame": index,
                                "method": method_name,
                                "region": region,
                                "metric": metric,
                                "value": value,
                            }
                        )
            sample = Sample(
                clip_name, condition, index, truth, corruption.damaged, failed, outputs, scores
            )
            if save_frames is not None:
                _save_frames(save_frames, sample)
            if keep is not None and keep(sample):
                result.kept.append(sample)
            bar.update()
    bar.close()
    return result


def check_defect_mask(defect_mask: np.ndarray, clips: dict[str, list[np.ndarray]]) -> None:
    """Raise ValueError naming the first clip whose frames are not the defect mask's size."""
    height, width = defect_mask.shape
    for name, frames in clips.items():
        if frames and frames[0].shape[:2] != (height, width):
            got = frames[0].shape
            raise ValueError(
                f"defect mask is {height}x{width} but clip {name} is {got[0]}x{got[1]}: a "
                "defect map belongs to one sensor resolution"
            )


def _save_frames(root: Path, sample: Sample) -> None:
    """root/clip/condition/FRAME_{truth,damaged,mask,<method>}.png for independent scoring."""
    folder = root / Path(sample.clip).stem / sample.condition.label
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{sample.index:05d}"
    images = {
        "truth": sample.truth,
        "damaged": sample.damaged,
        "mask": sample.failed.astype(np.uint8) * 255,
    }
    images.update(sample.outputs)
    for name, image in images.items():
        cv2.imwrite(str(folder / f"{stem}_{name}.png"), image)


def summarize(rows: list[dict]) -> list[dict]:
    """Mean of each metric per (clip, condition, method, region); PSNR capped at 100 dB."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for row in rows:
        value = row["value"]
        if row["metric"] == "psnr":
            value = min(value, 100.0)
        if isinstance(value, float) and math.isnan(value):
            continue
        key = (
            row["clip"],
            row["condition"],
            row["kind"],
            row["ratio"],
            row["gap"],
            row["method"],
            row["region"],
            row["metric"],
        )
        groups[key].append(value)
    names = ("clip", "condition", "kind", "ratio", "gap", "method", "region", "metric")
    return [
        dict(zip(names, key, strict=True)) | {"mean": float(np.mean(v)), "frames": len(v)}
        for key, v in groups.items()
    ]

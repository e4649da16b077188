"""The training loop: AdamW, warm-up + cosine schedule, validation, checkpoints and resume.

All settings come from :class:`TrainSettings`. Validation reports the PSNR of the failed region
against the "hold" baseline (copy the reference into the failed pixels) on a fixed set of pairs
from held-out clips, so progress is judged against what a user would do without the model. The
best weights go to ``output``; the full training state (weights, optimiser, RNGs) goes to
``output`` + ``.state`` every ``checkpoint_every`` steps, and ``resume`` continues from it exactly.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path

import torch
from tqdm import tqdm

from frame_restore_ros.evaluation.metrics import psnr_from_mse
from frame_restore_ros.model import (
    build_model,
    load_checkpoint,
    patch_mask_to_pixels,
    save_checkpoint,
)
from frame_restore_ros.model.build import RestorationModel
from frame_restore_ros.model.loss import siammcvae_loss
from frame_restore_ros.training.batch_stream import batch_stream
from frame_restore_ros.training.pairs import PairBatch, PairSampler
from frame_restore_ros.training.resume import (
    model_differences,
    nothing_to_train,
    recorded_settings,
)
from frame_restore_ros.training.settings import TrainSettings
from frame_restore_ros.training.state import load_state, save_state

log = logging.getLogger(__name__)


def learning_rate(step: int, cfg: TrainSettings) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


def masked_psnr(
    restored: torch.Tensor, clean: torch.Tensor, mask: torch.Tensor, patch_size: int
) -> float:
    """PSNR (0-255 scale) over failed pixels only; ``inf`` when they match.

    restored, clean: (B, 3, H, W) in [0, 1]; mask: (B, rows, cols) bool patch grid.
    """
    pixels = patch_mask_to_pixels(mask, patch_size).expand_as(clean)
    return psnr_from_mse(((restored - clean) * 255.0)[pixels].pow(2).mean().item())


def _damage(batch: PairBatch, patch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = patch_mask_to_pixels(batch.mask, patch_size).expand_as(batch.clean)
    return torch.where(pixels, torch.zeros_like(batch.clean), batch.clean), pixels


def per_frame_psnr(
    restored: torch.Tensor, clean: torch.Tensor, mask: torch.Tensor, patch_size: int
) -> list[float]:
    """PSNR (0-255 scale) over each frame's failed pixels; shapes as :func:`masked_psnr`."""
    return [
        masked_psnr(restored[i : i + 1], clean[i : i + 1], mask[i : i + 1], patch_size)
        for i in range(clean.shape[0])
        if mask[i].any()
    ]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


@torch.no_grad()
def evaluate(model: RestorationModel, batches: list[PairBatch]) -> dict[str, float]:
    """Masked-region PSNR of the model and of the hold baseline over fixed batches.

    ``psnr_failed``: mean over batches of each batch's pooled failed pixels (comparable with
    earlier runs); ``psnr_failed_frames``: mean of per-frame PSNR (the evaluation's figure),
    also for the frames of gap 1-2 alone (``*_gap12``), where hold is hardest to beat.
    """
    model.eval()
    patch = model.cfg.patch_size
    device = next(model.parameters()).device
    ours, hold = [], []
    frames: dict[str, list[float]] = {"ours": [], "hold": [], "ours_gap12": [], "hold_gap12": []}
    for batch in batches:
        damaged, pixels = _damage(batch, patch)
        restored = model.restore(
            batch.reference.to(device), damaged.to(device), batch.mask.to(device)
        ).cpu()
        held = torch.where(pixels, batch.reference, batch.clean)
        ours.append(masked_psnr(restored, batch.clean, batch.mask, patch))
        hold.append(masked_psnr(held, batch.clean, batch.mask, patch))
        short = [bool(g <= 2) for g, m in zip(batch.gaps, batch.mask, strict=True) if m.any()]
        for name, output in (("ours", restored), ("hold", held)):
            values = per_frame_psnr(output, batch.clean, batch.mask, patch)
            frames[name] += values
            frames[name + "_gap12"] += [v for v, s in zip(values, short, strict=True) if s]
    model.train()
    return {
        "psnr_failed": _mean(ours),
        "psnr_failed_hold": _mean(hold),
        "psnr_failed_frames": _mean(frames["ours"]),
        "psnr_failed_frames_hold": _mean(frames["hold"]),
        "psnr_failed_frames_gap12": _mean(frames["ours_gap12"]),
        "psnr_failed_frames_gap12_hold": _mean(frames["hold_gap12"]),
    }


def _optimizer(model: RestorationModel, cfg: TrainSettings) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "token" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "token" in n]
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
        betas=(0.9, 0.95),
    )


def _initial_model(cfg: TrainSettings) -> RestorationModel:
    """Return a fresh model, or the ``init_weights`` file's (same config as the settings)."""
    model_cfg = cfg.model_config()
    if not cfg.init_weights:
        return build_model(model_cfg)
    model = load_checkpoint(cfg.init_weights)
    if model.cfg != model_cfg:
        raise ValueError(
            f"init_weights {cfg.init_weights} hold model {model.cfg.name!r} "
            f"({model.cfg.architecture}, reference_skip={model.cfg.reference_skip}), which "
            "differs from the settings' preset/architecture/reference_skip"
        )
    log.info("starting from %s", cfg.init_weights)
    return model


class TrainingDivergedError(ValueError):
    """The loss became NaN or infinite: nothing more is written."""


def state_path(output: Path) -> Path:
    return output.with_name(output.name + ".state")


def train(
    cfg: TrainSettings,
    train_sampler: PairSampler,
    val_sampler: PairSampler | None,
    progress: bool = True,
    notes: dict[str, object] | None = None,
) -> RestorationModel:
    """Train ``cfg.model_config()`` (or with ``cfg.resume`` continue from ``output.state``).

    The weights kept, written to ``cfg.output``, are the best on validation (a fine-tune from
    ``init_weights`` validates its starting weights as step 0, so it never keeps worse ones), or
    the last ones without validation data; ``notes`` (JSON) are stored with them. The
    single-frame MAE baseline (``architecture="mae"``) is trained with beta = 0. With
    ``max_minutes`` the run stops after that much training time in this call (a resumed run gets
    its own), validated and resumable.
    """
    if not cfg.output:
        raise ValueError(
            "invalid training settings: output (the weight file to write) is required"
        )
    model_cfg = cfg.model_config()
    output = Path(cfg.output)
    device = torch.device(cfg.device)
    beta = 0.0 if model_cfg.architecture == "mae" else cfg.beta
    rngs = {"sampler": train_sampler.generator, "global": torch.default_generator}
    val_batches = (
        [val_sampler.sample(cfg.batch_size) for _ in range(cfg.eval_batches)]
        if val_sampler
        else []
    )
    history: list[dict[str, float | None]] = []
    best, first_step, spent_minutes = -math.inf, 0, 0.0
    if cfg.resume:
        model, optimizer, state = _resume(cfg, train_sampler, rngs)
        first_step, best = state["step"], state["best"]
        history, spent_minutes = state["history"], state["minutes"]
    else:
        torch.manual_seed(cfg.seed)
        model = _initial_model(cfg).to(device)
        optimizer = _optimizer(model, cfg)
    model.train()
    autocast = contextlib.nullcontext()
    if device.type == "cuda" or cfg.cpu_bf16:
        autocast = torch.autocast(device.type, dtype=torch.bfloat16)
    session_start = time.time()
    start = session_start - spent_minutes * 60  # minutes over every call, for the history
    saved_at = None  # the step whose weights this call wrote to output
    if val_batches and cfg.init_weights and first_step == 0:
        best, saved_at = _validate(
            model, val_batches, cfg, notes, history, 0, None, 0.0, best, saved_at
        )
    batches = batch_stream(train_sampler, cfg.batch_size, cfg.loader_workers, cfg.seed, first_step)
    bar = tqdm(
        range(first_step, cfg.steps),
        initial=first_step,
        total=cfg.steps,
        desc="train",
        disable=not progress,
        dynamic_ncols=True,
    )
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg)
        batch = next(batches).on(device)
        damaged, _ = _damage(batch, model_cfg.patch_size)
        reference, clean, mask = batch.reference, batch.clean, batch.mask
        with autocast:
            out = model(
                reference,
                damaged,
                mask,
                drop_tokens=cfg.drop_tokens and batch.same_count,
            )
            terms = siammcvae_loss(
                out,
                model.target_patches(clean),
                mask,
                beta,
                per_frame_log=cfg.reconstruction == "log_mse",
            )
        if not torch.isfinite(terms.total):  # stop before it reaches the weights or the state
            raise TrainingDivergedError(
                f"training diverged at step {step + 1}: the loss is {terms.total.item()} (lower "
                f"lr {cfg.lr} or grad_clip {cfg.grad_clip}); {output} and its state keep what "
                "the last validation and checkpoint wrote"
            )
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        bar.set_postfix(
            loss=f"{terms.total.item():.4f}",
            rec=f"{terms.reconstruction.item():.4f}",
            kl=f"{terms.kl.item():.3f}",
        )
        done = step + 1
        now = time.time()
        minutes = (now - start) / 60
        out_of_time = cfg.max_minutes is not None and now - session_start >= cfg.max_minutes * 60
        last = done == cfg.steps or out_of_time
        if val_batches and (done % cfg.eval_every == 0 or last):
            loss = terms.total.item()
            best, saved_at = _validate(
                model, val_batches, cfg, notes, history, done, loss, minutes, best, saved_at
            )
        elif not val_batches and last:
            _save(model, cfg, notes, history, minutes, done)
            saved_at = done
        if done % cfg.checkpoint_every == 0 or last:
            state = {
                "step": done,
                "best": best,
                "history": history,
                "minutes": minutes,
                "settings": recorded_settings(cfg),
                "clips": notes or {},
            }
            save_state(state_path(output), model, optimizer, rngs, train_sampler.rng, state)
        if out_of_time and done < cfg.steps:
            log.warning(
                "stopped at step %d of %d after %.1f minutes (max_minutes); --resume continues",
                done,
                cfg.steps,
                (now - session_start) / 60,
            )
            break
    _report_output(output, saved_at, best, cfg.select_metric)
    return model.eval()


def _resume(
    cfg: TrainSettings, sampler: PairSampler, rngs: dict[str, torch.Generator]
) -> tuple[RestorationModel, torch.optim.Optimizer, dict]:
    """Load ``output.state``; ValueError if it holds another model or is done already."""
    path = state_path(Path(cfg.output))
    model, optimizer, state = load_state(
        path, lambda m: _optimizer(m, cfg), rngs, sampler.rng, cfg.device
    )
    differences = model_differences(model.cfg, cfg)
    if differences:
        raise ValueError(f"cannot resume {path} with another model: " + "; ".join(differences))
    message = nothing_to_train(state["step"], cfg.steps)
    if message:
        raise ValueError(message)
    log.info("resuming %s at step %d (best %.3f dB)", path, state["step"], state["best"])
    return model, optimizer, state


def _report_output(output: Path, saved_at: int | None, best: float, metric: str) -> None:
    """Log what this call left in ``output``: written, kept, or (no file) nothing."""
    if saved_at is not None:
        log.info("wrote %s (the weights of step %d)", output, saved_at)
    elif output.exists():
        log.info("kept %s: no validation in this call beat its %s %.2f dB", output, metric, best)
    else:
        log.warning(
            "%s was not written: no validation in this call beat the state's best %s %.2f dB",
            output,
            metric,
            best,
        )


def _validate(
    model: RestorationModel,
    val_batches: list[PairBatch],
    cfg: TrainSettings,
    notes: dict[str, object] | None,
    history: list[dict[str, float | None]],
    step: int,
    loss: float | None,
    minutes: float,
    best: float,
    saved_at: int | None,
) -> tuple[float, int | None]:
    """Validate, log, write the weights if they are the best so far.

    ``loss``: the last training step's, None for the starting weights (step 0). Returns the
    best figure and the step whose weights this call wrote (``saved_at`` if not these).
    """
    metrics = evaluate(model, val_batches) | {
        "step": step,
        "loss": loss,
        "minutes": round(minutes, 2),
    }
    history.append(metrics)
    log.info("step %d: %s", step, json.dumps(metrics))
    figure = metrics[cfg.select_metric]
    if figure > best:
        _save(model, cfg, notes, history, minutes, step)
        verdict = f"wrote {cfg.output}"
    else:
        kept = f"kept {cfg.output}" if Path(cfg.output).exists() else "nothing written"
        verdict = f"{kept} (validation did not improve on {best:.2f} dB)"
    tqdm.write(f"step {step}: {validation_line(metrics)}; {verdict}")
    return (figure, step) if figure > best else (best, saved_at)


def validation_line(metrics: dict[str, float]) -> str:
    """Return a validation's figures in words; gaps 1-2 only when such pairs were drawn."""
    line = (
        f"PSNR failed region {metrics['psnr_failed']:.2f} dB (hold "
        f"{metrics['psnr_failed_hold']:.2f} dB); per frame "
        f"{metrics['psnr_failed_frames']:.2f} (hold {metrics['psnr_failed_frames_hold']:.2f})"
    )
    if math.isnan(metrics["psnr_failed_frames_gap12"]):
        return line + ", no gap 1-2 pairs"
    return (
        f"{line}, gaps 1-2 {metrics['psnr_failed_frames_gap12']:.2f} (hold "
        f"{metrics['psnr_failed_frames_gap12_hold']:.2f})"
    )


def _save(
    model: RestorationModel,
    cfg: TrainSettings,
    notes: dict[str, object] | None,
    history: list[dict[str, float | None]],
    minutes: float,
    step: int,
) -> None:
    extra = {
        "train": asdict(cfg) | {"notes": notes or {}},
        "step": step,
        "wall_minutes": round(minutes, 2),
        "history": history,
    }
    save_checkpoint(model, Path(cfg.output), extra=extra)

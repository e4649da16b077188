"""The training loop: AdamW, warm-up + cosine schedule, periodic validation and atomic checkpoints.

Validation reports the PSNR of the failed region against the "hold" baseline (copy the reference
into
the failed pixels) on a fixed set of pairs from held-out clips, so progress is judged against what
a
user would do without the model.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from ..model import (
    SiamMCVAE,
    SiamMCVAEConfig,
    patch_mask_to_pixels,
    save_checkpoint,
    siammcvae_loss,
)
from .pairs import PairBatch, PairSampler

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 8
    lr: float = 1e-3
    min_lr: float = 1e-5
    weight_decay: float = 0.05
    warmup_steps: int = 100
    beta: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 250
    eval_batches: int = 4
    seed: int = 0
    drop_tokens: bool = True
    notes: dict[str, object] = field(default_factory=dict)


def learning_rate(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


def masked_psnr(
    restored: torch.Tensor, clean: torch.Tensor, mask: torch.Tensor, patch_size: int
) -> float:
    """PSNR (0-255 scale) over failed pixels only. restored, clean: (B, 3, H, W) in [0, 1]."""
    pixels = patch_mask_to_pixels(mask, patch_size).expand_as(clean)
    error = ((restored - clean) * 255.0)[pixels].pow(2).mean().item()
    return 10 * math.log10(255.0**2 / max(error, 1e-10))


@torch.no_grad()
def evaluate(model: SiamMCVAE, batches: list[PairBatch]) -> dict[str, float]:
    """Masked-region PSNR of the model and of the hold baseline over fixed batches."""
    model.eval()
    patch = model.cfg.patch_size
    ours, hold = [], []
    for batch in batches:
        pixels = patch_mask_to_pixels(batch.mask, patch).expand_as(batch.clean)
        damaged = torch.where(pixels, torch.zeros_like(batch.clean), batch.clean)
        restored = model.restore(batch.reference, damaged, batch.mask)
        held = torch.where(pixels, batch.reference, batch.clean)
        ours.append(masked_psnr(restored, batch.clean, batch.mask, patch))
        hold.append(masked_psnr(held, batch.clean, batch.mask, patch))
    model.train()
    return {"psnr_failed": sum(ours) / len(ours), "psnr_failed_hold": sum(hold) / len(hold)}


def train(
    model_cfg: SiamMCVAEConfig,
    train_sampler: PairSampler,
    val_sampler: PairSampler | None,
    cfg: TrainConfig,
    output: Path,
    progress: bool = True,
) -> SiamMCVAE:
    """Train from scratch and write ``output``.

    The checkpoint kept is the best on validation, or the last one without validation data.
    """
    torch.manual_seed(cfg.seed)
    model = SiamMCVAE(model_cfg).train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "token" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "token" in n]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
        betas=(0.9, 0.95),
    )
    val_batches = (
        [val_sampler.sample(cfg.batch_size) for _ in range(cfg.eval_batches)]
        if val_sampler
        else []
    )
    history: list[dict[str, float]] = []
    best = -math.inf
    start = time.time()
    bar = tqdm(range(cfg.steps), desc="train", disable=not progress, dynamic_ncols=True)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg)
        batch = train_sampler.sample(cfg.batch_size)
        pixels = patch_mask_to_pixels(batch.mask, model_cfg.patch_size).expand_as(batch.clean)
        damaged = torch.where(pixels, torch.zeros_like(batch.clean), batch.clean)
        out = model(batch.reference, damaged, batch.mask, drop_tokens=cfg.drop_tokens)
        terms = siammcvae_loss(out, model.target_patches(batch.clean), batch.mask, cfg.beta)
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        bar.set_postfix(
            loss=f"{terms.total.item():.4f}",
            rec=f"{terms.reconstruction.item():.4f}",
            kl=f"{terms.kl.item():.3f}",
        )
        last = step + 1 == cfg.steps
        if val_batches and ((step + 1) % cfg.eval_every == 0 or last):
            metrics = evaluate(model, val_batches) | {
                "step": step + 1,
                "loss": terms.total.item(),
                "minutes": (time.time() - start) / 60,
            }
            history.append(metrics)
            log.info("step %d: %s", step + 1, json.dumps(metrics))
            bar.write(
                f"step {step + 1}: PSNR failed region {metrics['psnr_failed']:.2f} dB (hold "
                f"{metrics['psnr_failed_hold']:.2f} dB)"
            )
            if metrics["psnr_failed"] > best:
                best = metrics["psnr_failed"]
                _save(model, output, cfg, history, start, step + 1)
        elif not val_batches and last:
            _save(model, output, cfg, history, start, step + 1)
    return model.eval()


def _save(
    model: SiamMCVAE,
    output: Path,
    cfg: TrainConfig,
    history: list[dict[str, float]],
    start: float,
    step: int,
) -> None:
    extra = {
        "train": asdict(cfg),
        "step": step,
        "wall_minutes": round((time.time() - start) / 60, 2),
        "history": history,
    }
    save_checkpoint(model, output, extra=extra)

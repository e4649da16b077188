"""Seconds per training step on this CPU: visible-token encoding and bf16 autocast on or off.

Usage: .venv/bin/python scripts/measure_training_step.py [--threads 1] [--steps 6]

Same model (small preset, reference skip), same batches (8 pairs of bikes.mp4, random patch
masks), one optimiser step each; the median over the steps after the first is printed. This is
what `frame-restore train` spends its CPU time on (docs/training.md, model card).
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
import torch

from frame_restore_ros.model import build_model, preset
from frame_restore_ros.model.loss import siammcvae_loss
from frame_restore_ros.training.loop import _damage
from frame_restore_ros.training.pairs import PairSampler, load_clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = preset("small").replace(reference_skip=True)
    clips = load_clips("sample:bikes.mp4", cfg.input_size, 60)
    sampler = PairSampler(
        clips, seed=0, input_size=cfg.input_size, patch_size=cfg.patch_size, max_gap=8,
        structured_fraction=0.0,
    )  # fmt: skip
    batches = [sampler.sample(8) for _ in range(args.steps)]
    for drop in (True, False):
        for bf16 in (False, True):
            torch.manual_seed(0)
            model = build_model(cfg)
            optimizer = torch.optim.AdamW(model.parameters(), 1e-4)
            autocast = (
                torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
            )
            seconds = []
            for batch in batches:
                damaged, _ = _damage(batch, cfg.patch_size)
                start = time.perf_counter()
                with autocast:
                    out = model(
                        batch.reference, damaged, batch.mask, drop_tokens=drop and batch.same_count
                    )
                    terms = siammcvae_loss(
                        out, model.target_patches(batch.clean), batch.mask, 0.01
                    )
                optimizer.zero_grad()
                terms.total.backward()
                optimizer.step()
                seconds.append(time.perf_counter() - start)
            print(
                f"visible tokens only={drop!s:5} bf16 autocast={bf16!s:5}: "
                f"{np.median(seconds[1:]):.3f} s/step"
            )


if __name__ == "__main__":
    main()

"""``frame-restore train``: SiamMCVAE (or the single-frame MAE baseline) on paired frames."""

from __future__ import annotations

import argparse
from pathlib import Path

from frame_restore_ros.cli.common import SOURCE_HELP, add_command, add_output, non_negative_int


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` parser (defaults None: the YAML file or TrainSettings decide)."""
    p = add_command(
        sub,
        "train",
        "train SiamMCVAE (or the single-frame MAE baseline) on paired frames",
        "Train on pairs (reference = frame t-g, damaged = frame t) cut from videos and bags,\n"
        "g uniform in 1..--max-gap, plus pseudo-video pairs (one frame and an ego-motion\n"
        "warp of it); masks mix the paper's random patch masking (ratios 0.45-0.90) with\n"
        "structured failures (blocks, lines, bottom loss). Validation on whole held-out\n"
        "clips (--val-data) or the tail of --split sources compares the failed-region PSNR\n"
        "with the hold baseline; the best weights go to --output, the resumable state to\n"
        "OUTPUT.state every --checkpoint-every steps. Settings come from defaults, then\n"
        "--config FILE (YAML, same names), then flags.\n\n"
        "examples:\n"
        "  frame-restore train --data drive.mp4 --data drive2_bag --val-data city.mp4 \\\n"
        "      --steps 6000 --reference-skip -o weights.safetensors\n"
        "  frame-restore train --config config/train_small.yaml --resume",
    )
    p.add_argument("--config", type=Path, help="YAML file of settings (flags override it)")
    add_output(p, "weight file to write (.safetensors)", kind=str)
    p.add_argument("--data", action="append", help=f"training {SOURCE_HELP} (repeatable)")
    p.add_argument("--val-data", action="append", help=f"held-out {SOURCE_HELP} (repeatable)")
    p.add_argument(
        "--split", action="append", help="source whose tail validates and the rest trains"
    )
    p.add_argument("--split-fraction", type=float, help="tail fraction of --split (default 0.3)")
    p.add_argument("--preset", help="model size: tiny, small, base (default: small)")
    p.add_argument(
        "--architecture",
        choices=("siammcvae", "mae"),
        help="siammcvae, or mae: the single-frame baseline of the same size (default: siammcvae)",
    )
    p.add_argument(
        "--reference-skip",
        action="store_true",
        default=None,
        help="decoder predicts the change from the reference (starts as hold; docs/model.md)",
    )
    p.add_argument(
        "--init-weights",
        help="start from this weight file (fine-tune; same preset and architecture) "
        "instead of a random initialisation",
    )
    p.add_argument("--steps", type=int, help="optimiser steps (default: 2000)")
    p.add_argument("--batch-size", type=int, help="pairs per step (default: 8)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: 1e-3)")
    p.add_argument("--beta", type=float, help="KL weight (default 0.01; paper: 0.2 / 1e-2)")
    p.add_argument(
        "--reconstruction",
        choices=("mse", "log_mse"),
        help="mse: eq. 19 pooled over the batch (the paper, default); log_mse: mean of "
        "per-frame log MSE, every frame counts alike (the evaluation's mean per-frame PSNR)",
    )
    p.add_argument(
        "--select-metric",
        choices=("psnr_failed", "psnr_failed_frames"),
        help="validation figure that picks the weights kept (default psnr_failed: pooled per "
        "batch; psnr_failed_frames: mean per-frame PSNR)",
    )
    p.add_argument("--max-gap", type=int, help="largest frame gap g (default: 8)")
    p.add_argument("--pseudo-fraction", type=float, help="share of pseudo-video pairs (0.25)")
    p.add_argument(
        "--structured-fraction", type=float, help="share of batches with structured masks (0.3)"
    )
    p.add_argument("--eval-every", type=int, help="validate every N steps (default: 250)")
    p.add_argument("--checkpoint-every", type=int, help="save the state every N steps (250)")
    p.add_argument(
        "--max-frames", type=int, help="read at most this many frames per source (default: all)"
    )
    p.add_argument(
        "--seed", type=non_negative_int, help="seed of sampling and initialisation (default: 0)"
    )
    p.add_argument("--device", help="cpu or cuda (bf16 autocast on cuda) (default: cpu)")
    p.add_argument(
        "--loader-workers",
        type=int,
        help="processes that cut pairs beside the training step (default 0: in the loop; "
        "on a GPU the pairs limit the step rate; a resumed run then draws other pairs)",
    )
    p.add_argument(
        "--max-minutes",
        type=float,
        help="stop after this many minutes of training in this call: validate, save the "
        "state, and let --resume continue (with its own limit) (default: no limit)",
    )
    p.add_argument(
        "--resume", action="store_true", default=None, help="continue from OUTPUT.state"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Resolve the settings (defaults, YAML, flags) and train."""
    from frame_restore_ros.training.run import run_training
    from frame_restore_ros.training.settings import resolve_settings

    run_training(resolve_settings(args.config, vars(args)))
    return 0

"""SiamMCVAE training loss, eq. 18-20: L = L_r + beta * L_KL.

L_r (eq. 19) is the squared error over masked patches only, divided by P^2 C |P|.
L_KL is the closed-form KL divergence between N(M, S^2) and N(0, I), averaged over the (N+1) x D'
latent entries: mean(0.5 (M^2 + S^2 - log S^2 - 1)). The arXiv text of eq. 20 prints ``log S``
where the Gaussian KL has ``log S^2``; we use the correct closed form (docs/model.md).
beta: 0.2 in the arXiv version, 1e-2 in the ICLR submission; a parameter here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from frame_restore_ros.model.siammcvae import SiamMCVAEOutput


@dataclass
class LossTerms:
    total: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


def reconstruction_loss(
    prediction: torch.Tensor, target: torch.Tensor, masked: torch.Tensor
) -> torch.Tensor:
    """Compute eq. 19 over a batch: masked squared error / (P^2 C * number of masked patches).

    Args:
        prediction: O, (B, N, P^2 C).
        target: R, (B, N, P^2 C).
        masked: (B, N) or (B, rows, cols) bool, True = masked patch.
    Returns:
        Scalar. Zero when nothing is masked.
    """
    flat = masked.reshape(masked.shape[0], -1, 1)
    squared = torch.where(flat, (prediction - target) ** 2, torch.zeros_like(prediction))
    count = flat.sum() * prediction.shape[-1]
    return squared.sum() / count.clamp_min(1)


def kl_divergence(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(M, S^2) || N(0, I)) averaged over every latent entry (and the batch).

    Args:
        mean: M, (B, N+1, D').
        log_var: log S^2, (B, N+1, D').
    """
    return (0.5 * (mean.pow(2) + log_var.exp() - log_var - 1.0)).mean()


def siammcvae_loss(
    output: SiamMCVAEOutput, target: torch.Tensor, masked: torch.Tensor, beta: float
) -> LossTerms:
    """Eq. 18. ``target`` is R = model.target_patches(clean frame)."""
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    recon = reconstruction_loss(output.prediction, target, masked)
    kl = kl_divergence(output.mean, output.log_var)
    return LossTerms(total=recon + beta * kl, reconstruction=recon, kl=kl)

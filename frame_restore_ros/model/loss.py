"""SiamMCVAE training loss, eq. 18-20: L = L_r + beta * L_KL.

L_r (eq. 19) is the squared error over masked patches only, divided by P^2 C |P|.
L_KL is the closed-form KL divergence between N(M, S^2) and N(0, I), averaged over the (N+1) x D'
latent entries: mean(0.5 (M^2 + S^2 - log S^2 - 1)). The arXiv text of eq. 20 prints ``log S``
where the Gaussian KL has ``log S^2``; we use the correct closed form (docs/model.md).
beta: 0.2 in the arXiv version, 1e-2 in the ICLR submission; a parameter here.

Optional, not in the paper: ``per_frame_log`` replaces L_r by the mean over the batch of
log(L_r,b + eps), eq. 19 per frame. Pooled eq. 19 lets the frames with the largest error (long
gaps, pseudo pairs) dominate the gradient; the evaluation's metric is the mean of per-frame PSNR
= -10 log10(MSE_b), so each frame's share should scale with 1 / MSE_b: the frames where little
changed (hold is already good) then count as much as the hard ones (docs/model.md).
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


def _masked_squared_error(
    prediction: torch.Tensor, target: torch.Tensor, masked: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame sums of eq. 19: (squared error over masked patches, masked values), each (B,).

    prediction, target: (B, N, P^2 C); masked: (B, N) or (B, rows, cols) bool, True = masked.
    """
    flat = masked.reshape(masked.shape[0], -1, 1)
    squared = torch.where(flat, (prediction - target) ** 2, torch.zeros_like(prediction))
    return squared.sum(dim=(1, 2)), flat.sum(dim=(1, 2)) * prediction.shape[-1]


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
    squared, count = _masked_squared_error(prediction, target, masked)
    return squared.sum() / count.sum().clamp_min(1)


LOG_EPS = 1e-4  # normalised-pixel MSE floor of the log loss: about 60 dB, far above any frame


def per_frame_reconstruction(
    prediction: torch.Tensor, target: torch.Tensor, masked: torch.Tensor
) -> torch.Tensor:
    """Return eq. 19 for each frame of a batch separately (shapes as :func:`reconstruction_loss`).

    Returns:
        (B,) squared error over the frame's masked patches / (P^2 C * its masked patches); 0 for
        a frame with nothing masked.
    """
    squared, count = _masked_squared_error(prediction, target, masked)
    return squared / count.clamp_min(1)


def log_reconstruction_loss(
    prediction: torch.Tensor, target: torch.Tensor, masked: torch.Tensor
) -> torch.Tensor:
    """Mean over the batch of log(eq. 19 per frame + ``LOG_EPS``); shapes as eq. 19."""
    return torch.log(per_frame_reconstruction(prediction, target, masked) + LOG_EPS).mean()


def kl_divergence(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(M, S^2) || N(0, I)) averaged over every latent entry (and the batch).

    Args:
        mean: M, (B, N+1, D').
        log_var: log S^2, (B, N+1, D').
    """
    return (0.5 * (mean.pow(2) + log_var.exp() - log_var - 1.0)).mean()


def siammcvae_loss(
    output: SiamMCVAEOutput,
    target: torch.Tensor,
    masked: torch.Tensor,
    beta: float,
    per_frame_log: bool = False,
) -> LossTerms:
    """Eq. 18. ``target`` is R = model.target_patches(clean frame).

    ``per_frame_log``: L_r is :func:`log_reconstruction_loss` instead of eq. 19.
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    recon_of = log_reconstruction_loss if per_frame_log else reconstruction_loss
    recon = recon_of(output.prediction, target, masked)
    kl = kl_divergence(output.mean, output.log_var)
    return LossTerms(total=recon + beta * kl, reconstruction=recon, kl=kl)

"""The single-frame masked autoencoder baseline (the paper's MAE row), sized like a SiamMCVAE.

Same patching, encoder (one ViT + W_u projection), mask token, decoder width and depth and output
layer as the SiamMCVAE of the same config, but it sees only the damaged frame: no reference
branch, no latent sampling. It exposes the same named steps (``encode``, ``reparameterize``,
``decode``, ``compose``) so the deploy graph, the backends and the training loop run it
unchanged. It has no posterior: the training loop trains it with beta = 0 (reconstruction only).
"""

from __future__ import annotations

import torch
from torch import nn

from frame_restore_ros.model.config import SiamMCVAEConfig
from frame_restore_ros.model.layers import TransformerStack, init_weights, trunc_normal_
from frame_restore_ros.model.patches import patchify
from frame_restore_ros.model.siammcvae import PatchImageModel, SiamMCVAE, SiamMCVAEOutput, SiamViT
from frame_restore_ros.model.validation import check_model_inputs


class SingleFrameMAE(PatchImageModel):
    """MAE over the damaged frame only. Images (B, C, H, W) in [0, 1]; masks (B, H/P, W/P)."""

    def __init__(self, cfg: SiamMCVAEConfig) -> None:
        super().__init__(cfg)
        latent = cfg.latent_dim
        self.encoder = SiamViT(cfg)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, latent))
        self.decoder_embed = nn.Linear(latent, latent)
        self.decoder = TransformerStack(
            latent, cfg.dec_depth, cfg.dec_heads, cfg.mlp_ratio, cfg.norm_eps
        )
        self.to_pixels = nn.Linear(latent, cfg.patch_dim)
        self.apply(init_weights)
        trunc_normal_(self.encoder.cls_token)
        trunc_normal_(self.mask_token)

    def encode(
        self,
        reference: torch.Tensor,
        damaged: torch.Tensor,
        patch_mask: torch.Tensor,
        drop_tokens: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode the visible patches of ``damaged``; ``reference`` is ignored.

        Returns (X2, U, U): X2 (B, N, P^2 C) with failed patches zeroed, U (B, N+1, D') with the
        mask token at failed patches.
        """
        grid = self.grid_of(damaged)
        masked = patch_mask.reshape(patch_mask.shape[0], -1)
        x2 = patchify(self.normalize(damaged), self.cfg.patch_size)
        x2 = torch.where(masked[..., None], torch.zeros_like(x2), x2)
        if drop_tokens:
            keep = SiamMCVAE._keep_index(masked)
            visible = self.encoder.forward_visible(x2, grid, keep)
            u = SiamMCVAE._scatter_visible(visible, keep, masked)
        else:
            u = self.encoder(x2, grid, masked)
        masked_tokens = torch.cat([torch.zeros_like(masked[:, :1]), masked], dim=1)[..., None]
        u = torch.where(masked_tokens, self.mask_token.to(u.dtype).expand_as(u), u)
        return x2, u, u

    def reparameterize(
        self, u: torch.Tensor, noise: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """No latent sampling: Z = M = U and log S^2 = 0 (so a KL term is never computed)."""
        return u, u, torch.zeros_like(u)

    def decode(
        self,
        z: torch.Tensor,
        u1: torch.Tensor,
        grid: tuple[int, int],
        reference: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """O = W_o LN(ViT(W_d Z + P_d)) without the cls row, (B, N, P^2 C)."""
        v = self.decoder_embed(z) + self.decoder_pos(grid, z)
        return self.to_pixels(self.decoder(v))[:, 1:]

    def forward(
        self,
        reference: torch.Tensor,
        damaged: torch.Tensor,
        patch_mask: torch.Tensor,
        noise: torch.Tensor | None = None,
        drop_tokens: bool = False,
    ) -> SiamMCVAEOutput:
        """Predict the failed patches of ``damaged`` from its visible ones.

        Returns the SiamMCVAE output type with ``mean`` = ``latent`` = U and ``log_var`` = 0;
        train with beta = 0 (``siammcvae_loss`` is then the reconstruction loss alone).
        """
        masked = check_model_inputs(self.cfg, reference, damaged, patch_mask)
        x2, u, _ = self.encode(reference, damaged, masked, drop_tokens)
        prediction = self.decode(u, u, self.grid_of(damaged))
        merged = torch.where(masked.reshape(masked.shape[0], -1, 1), prediction, x2)
        return SiamMCVAEOutput(prediction, merged, u, torch.zeros_like(u), u)

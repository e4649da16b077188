"""The export-safe deployment graph: a pure function of fixed-shape tensors.

``(reference, damaged, patch_mask[, noise]) -> restored[, std]``

* inference decodes Z = M (the posterior mean);
* with ``num_samples = K > 0`` the K samples Z_k = M + S * E_k are decoded in the same batched call
as
  Z = M, and ``std`` is the per-pixel standard deviation of the K decoded frames (mean over
  channels),
  zero at visible pixels (they are copied, not predicted);
* no random ops, argsort, boolean indexing or tensor-to-int conversions: the noise is an input.
"""

from __future__ import annotations

import torch
from torch import nn

from frame_restore_ros.model.siammcvae import SiamMCVAE


class DeployGraph(nn.Module):
    """Wraps a trained :class:`SiamMCVAE` for export.

    Inputs:
        reference: (B, C, H, W) float32 in [0, 1].
        damaged: (B, C, H, W) float32 in [0, 1].
        patch_mask: (B, H/P, W/P) float32, > 0.5 = failed patch.
        noise (only when num_samples > 0): (B, K, N+1, D') float32 standard-normal samples.
    Outputs:
        restored: (B, C, H, W) in [0, 1]; visible pixels equal ``damaged`` exactly.
        std (only when num_samples > 0): (B, 1, H, W).
    """

    def __init__(self, model: SiamMCVAE, num_samples: int = 0) -> None:
        super().__init__()
        if num_samples < 0:
            raise ValueError(f"num_samples must be >= 0, got {num_samples}")
        if num_samples == 1:
            raise ValueError(
                "num_samples must be 0 (no uncertainty) or >= 2 (a std needs two samples)"
            )
        self.model = model.eval()
        self.num_samples = num_samples

    def noise_shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        cfg = self.model.cfg
        return (batch, self.num_samples, cfg.num_patches + 1, cfg.latent_dim)

    def forward(
        self,
        reference: torch.Tensor,
        damaged: torch.Tensor,
        patch_mask: torch.Tensor,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        model = self.model
        masked = patch_mask > 0.5
        _, u1, u = model.encode(reference, damaged, masked)
        _, mean, log_var = model.reparameterize(u, None)
        grid = model.grid_of(reference)
        if self.num_samples == 0:
            return model.compose(model.decode(mean, u1, grid, reference), damaged, masked)
        if noise is None:
            raise ValueError(
                f"this graph draws {self.num_samples} samples: pass noise of shape "
                f"{self.noise_shape(reference.shape[0])}"
            )
        batch, samples = reference.shape[0], self.num_samples
        tokens, width = mean.shape[1], mean.shape[2]
        sampled = mean[:, None] + torch.exp(0.5 * log_var)[:, None] * noise  # (B, K, N+1, D')
        # Sample-major stacking [Z=M for all B; Z_1 for all B; ...] so compose() can tile damaged.
        z = torch.cat(
            [mean, sampled.transpose(0, 1).reshape(samples * batch, tokens, width)], dim=0
        )
        u1_all = u1.repeat(samples + 1, 1, 1)
        frames = model.compose(
            model.decode(z, u1_all, grid, reference), damaged, masked
        )  # ((K+1) B, C, H, W)
        restored = frames[:batch]
        draws = frames[batch:].reshape(samples, batch, *frames.shape[1:])
        std = draws.std(dim=0, unbiased=True).mean(dim=1, keepdim=True)
        return restored, std


class VisibleTokenGraph(nn.Module):
    """The deploy graph that encodes only the damaged frame's visible patches (CPU runtimes).

    Inputs as :class:`DeployGraph` plus ``keep_index`` (B, V) int64: the visible patches in
    ascending order, V dynamic (1..N). Output: restored (B, C, H, W), equal to
    :class:`DeployGraph` to float rounding (the masking equivalence) at a fraction of the damaged
    branch's cost when most patches failed. No K-sample output: uncertainty uses DeployGraph.
    """

    def __init__(self, model: SiamMCVAE) -> None:
        super().__init__()
        if not isinstance(model, SiamMCVAE):
            raise TypeError(f"visible-token graphs need a SiamMCVAE, got {type(model).__name__}")
        self.model = model.eval()

    def forward(
        self,
        reference: torch.Tensor,
        damaged: torch.Tensor,
        patch_mask: torch.Tensor,
        keep_index: torch.Tensor,
    ) -> torch.Tensor:
        model = self.model
        masked = patch_mask > 0.5
        _, u1, u = model.encode(reference, damaged, masked, keep_index=keep_index)
        _, mean, _ = model.reparameterize(u, None)
        return model.compose(
            model.decode(mean, u1, model.grid_of(reference), reference), damaged, masked
        )

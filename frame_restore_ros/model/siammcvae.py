"""SiamMCVAE: siamese masked conditional VAE for frame restoration (arXiv 2401.10402, section 3).

Notation: A1 = reference (clean) frame, A2 = damaged frame, P = set of masked patch indices,
N = HW / P^2 patches, D = encoder width, D' = latent (and decoder) width.

Forward, as named steps (Algorithm 1):
  1. patchify            A1, A2 -> X1, X2                     (B, N, P^2 C)
  2. siamese encoder     X1 -> U1, X2 (visible only) -> U2      (B, N+1, D')   one ViT, shared
  weights
  3. convert / merge     U = [U1, U2 with mask token t at P]    (B, N+1, 2D')  eq. 6-7
  4. reparameterize      M = W_m U, S = exp(W_s U / 2), Z = M + S * E         eq. 8-10
  5. decoder             O = W_o LN(ViT(W_d [Z, U1] + P_d))     (B, N, P^2 C)  eq. 11-14
                         (+ X1 with the optional reference skip, not in the paper)
  6. output merge        G = X2 at visible patches, O at masked patches        eq. 15

The fixed-shape form (used for export and by default) runs encoder 2 over all N+1 tokens with an
attention bias that hides masked keys; at visible positions this equals encoding only the visible
patches (``drop_tokens=True``, the paper's form), which a test proves.

Implementation choices where the paper is loose (docs/model.md explains each):
  * the biases B_e, B_u, B_m, B_s, B_d, B_o are broadcast bias vectors (standard linear layers);
  * P_e and P_d are fixed 2-D sine-cosine embeddings (as in MAE), so any grid works;
  * S is parameterised through a log-variance, S = exp(0.5 * log_var) > 0;
  * pixels are normalised with ImageNet mean/std before patchify; the loss lives in that space.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from frame_restore_ros.model.config import SiamMCVAEConfig
from frame_restore_ros.model.layers import (
    TransformerStack,
    init_weights,
    key_padding_bias,
    sincos_pos_embed,
    trunc_normal_,
)
from frame_restore_ros.model.patches import patch_mask_to_pixels, patchify, unpatchify
from frame_restore_ros.model.validation import check_model_inputs

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LOG_VAR_RANGE = (-30.0, 20.0)


@dataclass
class SiamMCVAEOutput:
    """What one forward pass produces. Patch tensors live in normalised pixel space.

    Attributes:
        prediction: O without the cls row, (B, N, P^2 C).
        merged: G, eq. 15: X2 at visible patches, O at masked ones, (B, N, P^2 C).
        mean: M, (B, N+1, D').
        log_var: log S^2, (B, N+1, D').
        latent: Z actually decoded, (B, N+1, D').
    """

    prediction: torch.Tensor
    merged: torch.Tensor
    mean: torch.Tensor
    log_var: torch.Tensor
    latent: torch.Tensor

    @property
    def std(self) -> torch.Tensor:
        """S = exp(log_var / 2) > 0, (B, N+1, D')."""
        return torch.exp(0.5 * self.log_var)


class PositionTable(nn.Module):
    """Fixed sine-cosine positional embeddings, kept on the model's device.

    The table of the configured grid is a non-persistent buffer: it moves with ``model.to()``, so
    a forward at the deploy size copies nothing from the host (a host-to-device copy synchronizes
    and is not allowed while a CUDA graph is being captured). Other grids (training, tests) are
    computed once per grid and device and kept.
    """

    def __init__(self, dim: int, grid: tuple[int, int]) -> None:
        super().__init__()
        self.dim, self.grid = dim, tuple(grid)
        self.register_buffer("table", sincos_pos_embed(dim, self.grid)[None], persistent=False)
        self._other: dict[tuple[tuple[int, int], torch.device], torch.Tensor] = {}

    def forward(self, grid: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
        """Return the (1, N+1, dim) table of ``grid`` in ``like``'s dtype, on its device."""
        if tuple(grid) == self.grid and self.table.device == like.device:
            return self.table.to(dtype=like.dtype)  # no copy when the dtypes match
        key = (tuple(grid), like.device)
        if key not in self._other:
            self._other[key] = sincos_pos_embed(self.dim, tuple(grid))[None].to(like.device)
        return self._other[key].to(dtype=like.dtype)


class SiamViT(nn.Module):
    """The siamese encoder: one ViT applied to both frames (eq. 2-5)."""

    def __init__(self, cfg: SiamMCVAEConfig) -> None:
        super().__init__()
        self.patch_embed = nn.Linear(cfg.patch_dim, cfg.enc_dim)  # W_e, B_e
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.enc_dim))  # c
        self.transformer = TransformerStack(
            cfg.enc_dim, cfg.enc_depth, cfg.enc_heads, cfg.mlp_ratio, cfg.norm_eps
        )
        self.project = nn.Linear(cfg.enc_dim, cfg.latent_dim)  # W_u, B_u
        self.pos_table = PositionTable(cfg.enc_dim, cfg.grid_size)
        self.dim = cfg.enc_dim

    def pos_embed(self, grid: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
        """P_e for a grid: (1, N+1, D)."""
        return self.pos_table(grid, like)

    def embed(self, patches: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Eq. 2: Y_0 = [c, W_e X + B_e] + P_e. patches (B, N, P^2 C) -> (B, N+1, D)."""
        tokens = self.patch_embed(patches)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        return torch.cat([cls, tokens], dim=1) + self.pos_embed(grid, tokens)

    def forward(
        self,
        patches: torch.Tensor,
        grid: tuple[int, int],
        hidden_patches: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Encode all N patches; masked patches are hidden as attention keys.

        Args:
            patches: (B, N, P^2 C).
            hidden_patches: (B, N) bool, True = this patch is failed and must not be attended to.
        Returns:
            U: (B, N+1, D'). Rows of hidden patches are not meaningful (replaced by the
            mask token).
        """
        tokens = self.embed(patches, grid)
        bias = None
        if hidden_patches is not None:
            cls_visible = torch.zeros_like(hidden_patches[:, :1])
            bias = key_padding_bias(torch.cat([cls_visible, hidden_patches], dim=1), tokens.dtype)
        return self.project(self.transformer(tokens, bias))

    def forward_visible(
        self, patches: torch.Tensor, grid: tuple[int, int], keep_index: torch.Tensor
    ) -> torch.Tensor:
        """Encode only the visible patches (+ cls), dropping the rest: the paper's form.

        Args:
            patches: (B, N, P^2 C).
            keep_index: (B, V) int64 indices of visible patches (same V for every sample).
        Returns:
            (B, V+1, D'), row 0 is cls, row j+1 belongs to patch keep_index[:, j].
        """
        tokens = self.embed(patches, grid)
        gather_index = (keep_index + 1)[..., None].expand(-1, -1, tokens.shape[-1])
        kept = torch.cat([tokens[:, :1], torch.gather(tokens, 1, gather_index)], dim=1)
        return self.project(self.transformer(kept))


class PatchImageModel(nn.Module):
    """Pixel-space plumbing shared by SiamMCVAE and the single-frame MAE baseline.

    Images are (B, C, H, W) floats in [0, 1]; masks are (B, H/P, W/P), True = failed.
    """

    def __init__(self, cfg: SiamMCVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer(
            "pixel_mean",
            torch.tensor(IMAGENET_MEAN[: cfg.in_channels]).view(1, -1, 1, 1),
            persistent=False,
        )
        self.register_buffer(
            "pixel_std",
            torch.tensor(IMAGENET_STD[: cfg.in_channels]).view(1, -1, 1, 1),
            persistent=False,
        )
        self.dec_pos_table = PositionTable(cfg.latent_dim, cfg.grid_size)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.pixel_mean) / self.pixel_std

    def denormalize(self, images: torch.Tensor) -> torch.Tensor:
        return images * self.pixel_std + self.pixel_mean

    def grid_of(self, images: torch.Tensor) -> tuple[int, int]:
        return images.shape[-2] // self.cfg.patch_size, images.shape[-1] // self.cfg.patch_size

    def target_patches(self, clean: torch.Tensor) -> torch.Tensor:
        """R: the patchified, normalised ground-truth frame, (B, N, P^2 C)."""
        return patchify(self.normalize(clean), self.cfg.patch_size)

    def decoder_pos(self, grid: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
        """P_d for a grid: (1, N+1, D')."""
        return self.dec_pos_table(grid, like)

    @torch.no_grad()
    def restore(
        self, reference: torch.Tensor, damaged: torch.Tensor, patch_mask: torch.Tensor
    ) -> torch.Tensor:
        """Return the restored frame (B, C, H, W) in [0, 1].

        Visible pixels are the damaged input's, bit for bit.
        """
        out = self.forward(reference, damaged, patch_mask)
        return self.compose(out.prediction, damaged, patch_mask.bool())

    def compose(
        self, prediction: torch.Tensor, damaged: torch.Tensor, masked: torch.Tensor
    ) -> torch.Tensor:
        """Apply eq. 15 in pixel space: prediction at failed patches, damaged input elsewhere.

        prediction (B', N, P^2 C) with B' a multiple of B; damaged (B, C, H, W); masked (B,
        rows, cols).
        Returns (B', C, H, W) in [0, 1].
        """
        repeats = prediction.shape[0] // damaged.shape[0]
        grid = self.grid_of(damaged)
        predicted = self.denormalize(unpatchify(prediction, self.cfg.patch_size, grid)).clamp(
            0.0, 1.0
        )
        pixels = patch_mask_to_pixels(masked, self.cfg.patch_size)
        if repeats > 1:
            damaged = damaged.repeat(repeats, 1, 1, 1)
            pixels = pixels.repeat(repeats, 1, 1, 1)
        return torch.where(pixels, predicted.to(damaged.dtype), damaged)


class SiamMCVAE(PatchImageModel):
    """The full model.

    Images are (B, C, H, W) floats in [0, 1]; masks are (B, H/P, W/P), True = failed.
    """

    def __init__(self, cfg: SiamMCVAEConfig) -> None:
        super().__init__(cfg)
        latent = cfg.latent_dim
        self.encoder = SiamViT(cfg)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, latent))  # t
        self.to_mean = nn.Linear(2 * latent, latent)  # W_m, B_m
        self.to_log_var = nn.Linear(2 * latent, latent)  # W_s, B_s (log S^2)
        self.decoder_embed = nn.Linear(2 * latent, latent)  # W_d, B_d
        self.decoder = TransformerStack(
            latent, cfg.dec_depth, cfg.dec_heads, cfg.mlp_ratio, cfg.norm_eps
        )
        self.to_pixels = nn.Linear(latent, cfg.patch_dim)  # W_o, B_o
        self.apply(init_weights)
        trunc_normal_(self.encoder.cls_token)
        trunc_normal_(self.mask_token)
        if cfg.reference_skip:  # start as the hold baseline: O_dec = 0, so O = X1
            nn.init.zeros_(self.to_pixels.weight)
            nn.init.zeros_(self.to_pixels.bias)

    # -- the named steps ------------------------------------------------------------------------
    def encode(
        self,
        reference: torch.Tensor,
        damaged: torch.Tensor,
        patch_mask: torch.Tensor,
        drop_tokens: bool = False,
        keep_index: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run steps 1-3: patchify, siamese encoding and the mask-token merge.

        ``drop_tokens`` encodes only the damaged frame's visible patches (the paper's form; the
        default hides failed patches as attention keys instead, same result to float rounding).
        ``keep_index`` (B, V) int64, the visible patches in ascending order, implies it and
        skips computing them (export graphs take it as an input).

        Returns:
            x2: visible-zeroed damaged patches X2, (B, N, P^2 C).
            u1: U1, (B, N+1, D').
            u: U = [U1, U2'], (B, N+1, 2D').
        """
        patch = self.cfg.patch_size
        grid = self.grid_of(reference)
        masked = patch_mask.reshape(patch_mask.shape[0], -1)  # (B, N) bool
        x1 = patchify(self.normalize(reference), patch)
        # Failed pixels may hold anything (NaN included): zero them with where(), never multiply.
        x2 = patchify(self.normalize(damaged), patch)
        x2 = torch.where(masked[..., None], torch.zeros_like(x2), x2)
        if drop_tokens or keep_index is not None:
            u1 = self.encoder(x1, grid)
            keep = self._keep_index(masked) if keep_index is None else keep_index
            u2 = self._scatter_visible(self.encoder.forward_visible(x2, grid, keep), keep, masked)
        else:
            # One call over [X1; X2]: identical weights by construction, one kernel launch per
            # layer.
            hidden = torch.cat([torch.zeros_like(masked), masked], dim=0)
            u1, u2 = self.encoder(torch.cat([x1, x2], dim=0), grid, hidden).chunk(2, dim=0)
        cls_visible = torch.zeros_like(masked[:, :1])
        masked_tokens = torch.cat([cls_visible, masked], dim=1)[..., None]  # (B, N+1, 1)
        u2 = torch.where(masked_tokens, self.mask_token.to(u2.dtype).expand_as(u2), u2)  # eq. 6-7
        return x2, u1, torch.cat([u1, u2], dim=-1)

    def reparameterize(
        self, u: torch.Tensor, noise: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Eq. 8-10. noise E: (B, N+1, D') or None (Z = M). Returns Z, M, log S^2."""
        mean = self.to_mean(u)
        log_var = self.to_log_var(u).clamp(*LOG_VAR_RANGE)
        if noise is None:
            return mean, mean, log_var
        return mean + torch.exp(0.5 * log_var) * noise, mean, log_var

    def decode(
        self,
        z: torch.Tensor,
        u1: torch.Tensor,
        grid: tuple[int, int],
        reference: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Eq. 11-14: O = W_o LN(ViT(W_d [Z, U1] + P_d)) without the cls row, (B', N, P^2 C).

        With ``cfg.reference_skip`` the reference's patches X1 are added: O = X1 + O_dec.
        ``reference`` (B, C, H, W) is then required; B' may be a multiple of B (K samples).
        """
        v = self.decoder_embed(torch.cat([z, u1], dim=-1)) + self.decoder_pos(grid, z)
        out = self.to_pixels(self.decoder(v))[:, 1:]
        if not self.cfg.reference_skip:
            return out
        if reference is None:
            raise ValueError("this model has reference_skip: decode() needs the reference")
        x1 = self.target_patches(reference)
        return out + x1.repeat(out.shape[0] // x1.shape[0], 1, 1)

    def forward(
        self,
        reference: torch.Tensor,
        damaged: torch.Tensor,
        patch_mask: torch.Tensor,
        noise: torch.Tensor | None = None,
        drop_tokens: bool = False,
    ) -> SiamMCVAEOutput:
        """Run Algorithm 1.

        Args:
            reference: A1, (B, C, H, W) float in [0, 1].
            damaged: A2, (B, C, H, W) float; pixels inside failed patches are ignored.
            patch_mask: (B, H/P, W/P) bool (or 0/1 numbers), True = failed patch.
            noise: E, (B, N+1, D'). If None: sampled when training, Z = M in eval mode.
            drop_tokens: encode only visible patches (needs the same count of failed
            patches per sample).
        """
        masked = check_model_inputs(self.cfg, reference, damaged, patch_mask)
        if noise is None and self.training:
            batch, tokens = reference.shape[0], masked[0].numel() + 1
            noise = torch.randn(
                batch, tokens, self.cfg.latent_dim, dtype=reference.dtype, device=reference.device
            )
        x2, u1, u = self.encode(reference, damaged, masked, drop_tokens)
        z, mean, log_var = self.reparameterize(u, noise)
        prediction = self.decode(z, u1, self.grid_of(reference), reference)
        flat = masked.reshape(masked.shape[0], -1, 1)
        merged = torch.where(flat, prediction, x2)  # eq. 15
        return SiamMCVAEOutput(prediction, merged, mean, log_var, z)

    # -- internals ------------------------------------------------------------------------------
    @staticmethod
    def _keep_index(masked: torch.Tensor) -> torch.Tensor:
        """(B, N) bool -> (B, V) indices of visible patches in ascending order."""
        counts = (~masked).sum(dim=1)
        if not bool((counts == counts[0]).all()):
            raise ValueError(
                "drop_tokens=True needs the same number of visible patches in every sample; "
                f"got {counts.tolist()}"
            )
        order = torch.argsort(masked.to(torch.int8), dim=1, stable=True)
        return order[:, : int(counts[0])]

    @staticmethod
    def _scatter_visible(
        visible: torch.Tensor, keep: torch.Tensor, masked: torch.Tensor
    ) -> torch.Tensor:
        """Place (B, V+1, D') visible-token features back at their grid positions: (B, N+1, D')."""
        batch, num = masked.shape
        full = visible.new_zeros(batch, num + 1, visible.shape[-1])
        full[:, 0] = visible[:, 0]
        full[:, 1:].scatter_(1, keep[..., None].expand(-1, -1, visible.shape[-1]), visible[:, 1:])
        return full

"""ViT building blocks: positional embedding, masked multi-head attention, MLP, pre-norm block.

A block implements the paper's eq. 3-4 (and 12-13 for the decoder):
``Y' = MSA(LN(Y)) + Y`` and ``Y = MLP(LN(Y')) + Y'``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def sincos_pos_embed(dim: int, grid: tuple[int, int], with_cls: bool = True) -> torch.Tensor:
    """Build the fixed 2-D sine-cosine positional embedding (MAE) of any grid.

    Half the channels encode the row, half the column. The cls slot (index 0) is all zeros.

    Returns:
        (N + 1, dim) if ``with_cls`` else (N, dim), float32.
    """
    if dim % 4:
        raise ValueError(f"positional embedding width {dim} must be a multiple of 4")
    rows, cols = grid
    quarter = dim // 4
    omega = 1.0 / 10000 ** (np.arange(quarter, dtype=np.float64) / quarter)
    row_idx, col_idx = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")

    def encode(positions: np.ndarray) -> np.ndarray:
        angles = positions.reshape(-1, 1).astype(np.float64) * omega[None, :]
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    table = np.concatenate([encode(row_idx), encode(col_idx)], axis=1)
    if with_cls:
        table = np.concatenate([np.zeros((1, dim)), table], axis=0)
    return torch.from_numpy(table.astype(np.float32))


def key_padding_bias(key_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive attention bias that hides masked keys.

    Args:
        key_mask: (B, T) bool, True = key is hidden.
    Returns:
        (B, 1, 1, T): 0 where visible, -inf where hidden. Every query row must keep at least one
        visible key (the cls token is never hidden), so softmax stays finite.
    """
    bias = torch.zeros(key_mask.shape, dtype=dtype, device=key_mask.device)
    bias = bias.masked_fill(key_mask, float("-inf"))
    return bias[:, None, None, :]


class Attention(nn.Module):
    """Multi-head self-attention with an optional additive key bias."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, T, dim); attn_bias: (B, 1, 1, T) or None. Returns (B, T, dim)."""
        batch, tokens, dim = x.shape
        qkv = (
            self.qkv(x).reshape(batch, tokens, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        )
        query, key, value = qkv[0], qkv[1], qkv[2]  # each (B, heads, T, head_dim)
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=attn_bias)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, dim))


class Mlp(nn.Module):
    """Two-layer GELU MLP."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block (eq. 3-4)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, eps: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), attn_bias)
        return x + self.mlp(self.norm2(x))


class TransformerStack(nn.Module):
    """``depth`` pre-norm blocks followed by a final LayerNorm (the LN of eq. 5 / eq. 14)."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float, eps: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio, eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, attn_bias)
        return self.norm(x)


def init_weights(module: nn.Module) -> None:
    """Xavier-uniform linears with zero bias, unit LayerNorms (MAE initialisation)."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def trunc_normal_(tensor: torch.Tensor, std: float = 0.02) -> None:
    nn.init.trunc_normal_(tensor, std=std, a=-2 * std, b=2 * std)


__all__ = [
    "Attention",
    "Block",
    "Mlp",
    "TransformerStack",
    "init_weights",
    "key_padding_bias",
    "sincos_pos_embed",
    "trunc_normal_",
]

"""Patchify / unpatchify and patch-mask helpers (paper section 3, "Siamese encoder").

Patches are flattened row-major over the grid, each patch as (P, P, C) in that order, matching MAE.
All functions are pure reshapes/permutes so they export to ONNX with static shapes.
"""

from __future__ import annotations

import torch


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into flattened patches.

    Args:
        images: (B, C, H, W), H and W multiples of ``patch_size``.
    Returns:
        (B, N, P*P*C) with N = (H/P) * (W/P), patches in row-major grid order.
    """
    batch, channels, height, width = images.shape
    rows, cols = height // patch_size, width // patch_size
    x = images.reshape(batch, channels, rows, patch_size, cols, patch_size)
    x = x.permute(0, 2, 4, 3, 5, 1)  # B, rows, cols, P, P, C
    return x.reshape(batch, rows * cols, patch_size * patch_size * channels)


def unpatchify(patches: torch.Tensor, patch_size: int, grid: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`patchify`.

    Args:
        patches: (B, N, P*P*C) with N = rows * cols.
        grid: (rows, cols) of the patch grid.
    Returns:
        (B, C, rows*P, cols*P).
    """
    batch, _, dim = patches.shape
    rows, cols = grid
    channels = dim // (patch_size * patch_size)
    x = patches.reshape(batch, rows, cols, patch_size, patch_size, channels)
    x = x.permute(0, 5, 1, 3, 2, 4)  # B, C, rows, P, cols, P
    return x.reshape(batch, channels, rows * patch_size, cols * patch_size)


def patch_mask_to_pixels(patch_mask: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Expand a patch-grid mask to pixels.

    Args:
        patch_mask: (B, rows, cols), any dtype; nonzero means failed.
    Returns:
        (B, 1, rows*P, cols*P) of the same dtype.
    """
    expanded = patch_mask.repeat_interleave(patch_size, dim=1).repeat_interleave(patch_size, dim=2)
    return expanded.unsqueeze(1)


def random_patch_mask(
    batch: int,
    grid: tuple[int, int],
    ratio: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw the paper's random patch masking: exactly ``round(ratio * N)`` failed patches each.

    Returns:
        (B, rows, cols) bool, True = masked (failed).
    """
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"mask ratio must be in [0, 1], got {ratio}")
    rows, cols = grid
    num = rows * cols
    num_masked = int(round(ratio * num))
    order = torch.rand(batch, num, generator=generator).argsort(dim=1)
    mask = torch.zeros(batch, num, dtype=torch.bool)
    mask.scatter_(1, order[:, :num_masked], True)
    return mask.reshape(batch, rows, cols)

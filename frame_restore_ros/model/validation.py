"""Input checks for the model's public entry points: every problem becomes a ValueError naming it.

Shape and dtype checks are static and always run. Value checks (NaN / inf) read tensor data, so
they
are skipped while tracing or exporting, keeping the exported graph free of data-dependent control
flow.
"""

from __future__ import annotations

import torch

from frame_restore_ros.model.config import SiamMCVAEConfig
from frame_restore_ros.model.patches import patch_mask_to_pixels


def _is_exporting() -> bool:
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and hasattr(compiler, "is_exporting") and compiler.is_exporting():
        return True
    return bool(torch.jit.is_tracing() or torch.onnx.is_in_onnx_export())


def check_model_inputs(
    cfg: SiamMCVAEConfig,
    reference: object,
    damaged: object,
    patch_mask: object,
) -> torch.Tensor:
    """Validate one (reference, damaged, patch_mask) triple.

    Args:
        reference, damaged: (B, C, H, W) floating tensors, H and W multiples of the patch size.
        patch_mask: (B, H/P, W/P) bool or numeric (nonzero = failed).
    Returns:
        The patch mask as a bool tensor, (B, H/P, W/P).
    Raises:
        ValueError: with a message that names the problem.
    """
    for name, value in (
        ("reference", reference),
        ("damaged", damaged),
        ("patch_mask", patch_mask),
    ):
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    assert isinstance(reference, torch.Tensor) and isinstance(damaged, torch.Tensor)
    assert isinstance(patch_mask, torch.Tensor)
    for name, image in (("reference", reference), ("damaged", damaged)):
        if image.ndim != 4:
            raise ValueError(f"{name} must be (B, C, H, W), got shape {tuple(image.shape)}")
        if not image.is_floating_point():
            raise ValueError(
                f"{name} must be a floating tensor with values in [0, 1], got dtype {image.dtype}"
            )
        if image.shape[1] != cfg.in_channels:
            raise ValueError(
                f"{name} has {image.shape[1]} channels, the model expects {cfg.in_channels}"
            )
        height, width = image.shape[-2:]
        if height % cfg.patch_size or width % cfg.patch_size or height == 0 or width == 0:
            raise ValueError(
                f"{name} size {height}x{width} is not a multiple of the patch size "
                f"{cfg.patch_size}"
            )
    if reference.shape != damaged.shape:
        raise ValueError(
            f"reference {tuple(reference.shape)} and damaged {tuple(damaged.shape)} must have "
            f"the same shape"
        )
    if reference.dtype != damaged.dtype:
        raise ValueError(
            f"reference dtype {reference.dtype} differs from damaged dtype {damaged.dtype}"
        )
    batch, _, height, width = reference.shape
    expected = (batch, height // cfg.patch_size, width // cfg.patch_size)
    if tuple(patch_mask.shape) != expected:
        raise ValueError(
            f"patch_mask must have shape {expected} (batch, H/{cfg.patch_size}, "
            f"W/{cfg.patch_size}), "
            f"got {tuple(patch_mask.shape)}"
        )
    if patch_mask.is_complex():
        raise ValueError(f"patch_mask must be bool or real numbers, got dtype {patch_mask.dtype}")
    masked = patch_mask if patch_mask.dtype == torch.bool else patch_mask != 0
    if not _is_exporting():
        if not bool(torch.isfinite(reference).all()):
            raise ValueError("reference contains NaN or infinite values")
        visible = ~patch_mask_to_pixels(masked, cfg.patch_size).expand_as(damaged)
        if not bool(torch.isfinite(damaged[visible]).all()):
            raise ValueError("damaged contains NaN or infinite values outside the failed patches")
    return masked

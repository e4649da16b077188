"""Full-resolution restoration around a fixed-size backend.

Resize in, infer, resize out, and replace ONLY the failed pixels. Every pixel outside the failure
mask is returned byte-identical.
"""

from __future__ import annotations

import cv2
import numpy as np

from .backends.base import RestorationBackend
from .grid import pixels_to_cells
from .media.resize import downscale
from .seam import feather_prediction


def bgr_to_model(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Convert (H, W, 3) uint8 BGR to (1, 3, h, w) float32 RGB in [0, 1] at ``size`` = (h, w).

    Downscaling is anti-aliased (``media.resize.downscale``).
    """
    return _to_model_tensor(downscale(frame, size))


def _to_model_tensor(small_bgr: np.ndarray) -> np.ndarray:
    return small_bgr[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255.0)


def restore_failed_pixels(
    backend: RestorationBackend,
    reference: np.ndarray,
    damaged: np.ndarray,
    failed: np.ndarray,
    feather_px: int = 0,
) -> np.ndarray:
    """Repair ``failed`` pixels of ``damaged`` from ``reference`` at full resolution.

    Args:
        reference, damaged: (H, W, 3) uint8 BGR, same shape.
        failed: (H, W) bool, True = failed pixel.
        feather_px: seam feathering width in full-resolution pixels (0 = none; ``seam.py``).
    Returns:
        (H, W, 3) uint8 BGR: ``damaged`` with failed pixels replaced by the model's upsampled
        prediction; every other pixel is returned unchanged.
    """
    if reference.shape != damaged.shape or damaged.shape[:2] != failed.shape:
        raise ValueError(
            f"shapes differ: reference {reference.shape}, damaged {damaged.shape}, "
            f"mask {failed.shape}"
        )
    if not failed.any():
        return damaged.copy()
    height, width = backend.input_size
    patch = backend.patch_size
    grid = (height // patch, width // patch)
    patch_mask = pixels_to_cells(failed, grid)  # any failed pixel hides the patch from the model
    damaged_small = downscale(damaged, backend.input_size)
    restored = backend.infer(
        bgr_to_model(reference, backend.input_size),
        _to_model_tensor(damaged_small),
        patch_mask[None].astype(np.float32),
    )
    prediction = restored[0].transpose(1, 2, 0)[:, :, ::-1] * np.float32(255.0)
    if feather_px > 0:
        valid = downscale((~failed).view(np.uint8) * np.uint8(255), backend.input_size)
        predicted = np.repeat(np.repeat(patch_mask, patch, axis=0), patch, axis=1)
        prediction = feather_prediction(
            prediction,
            damaged_small.astype(np.float32),
            valid.astype(np.float32) / np.float32(255.0),
            predicted,
            feather_px * height / damaged.shape[0],
        )
    small = np.ascontiguousarray((prediction + np.float32(0.5)).clip(0, 255).astype(np.uint8))
    upsampled = cv2.resize(
        small, (damaged.shape[1], damaged.shape[0]), interpolation=cv2.INTER_LINEAR
    )
    output = damaged.copy()
    # Masked copy of failed pixels only: ~1 ms at 1080p, against ~60 ms for output[failed] = ...
    cv2.copyTo(upsampled, failed.view(np.uint8), output)
    return output

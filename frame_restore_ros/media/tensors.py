"""Conversions between uint8 BGR frames (OpenCV / ROS bgr8) and the model's float RGB tensors."""

from __future__ import annotations

import numpy as np
import torch

from .resize import downscale


def frame_to_tensor(frame: np.ndarray, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Convert (H, W, 3) uint8 BGR to (1, 3, h, w) float32 RGB in [0, 1].

    ``size`` = (h, w) resizes first (anti-aliased, ``resize.downscale``).
    """
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 BGR frame, got {frame.dtype} {frame.shape}")
    if size is not None:
        frame = downscale(frame, size)
    rgb = np.ascontiguousarray(frame[:, :, ::-1])
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div_(255.0)


def tensor_to_frame(image: torch.Tensor) -> np.ndarray:
    """Convert (1, 3, h, w) or (3, h, w) float RGB in [0, 1] to (h, w, 3) uint8 BGR (rounded)."""
    if image.ndim == 4:
        image = image[0]
    rgb = (
        image.detach()
        .clamp(0, 1)
        .mul(255.0)
        .round()
        .to(torch.uint8)
        .permute(1, 2, 0)
        .cpu()
        .numpy()
    )
    return np.ascontiguousarray(rgb[:, :, ::-1])

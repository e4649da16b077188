"""Conversions between uint8 BGR frames (OpenCV / ROS bgr8) and the model's float RGB tensors."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from frame_restore_ros.media.resize import downscale


def frame_to_array(frame: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Convert (H, W, 3) uint8 BGR to (1, 3, h, w) float32 RGB in [0, 1] (the model's input).

    ``size`` = (h, w) resizes first (anti-aliased, ``resize.downscale``).
    """
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 BGR frame, got {frame.dtype} {frame.shape}")
    if size is not None:
        frame = downscale(frame, size)
    return frame[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255.0)


def frame_to_tensor(frame: np.ndarray, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Like :func:`frame_to_array`, as a torch tensor."""
    return torch.from_numpy(frame_to_array(frame, size))


def array_to_image(array: np.ndarray) -> np.ndarray:
    """(1, C, h, w) float32 -> (h, w, C) contiguous, channels in the same order.

    One ``cv2.merge`` of the planes: 0.05 ms at 224x400 against 0.85 ms for numpy's copy of the
    transposed array (the same values).
    """
    return cv2.merge(list(array[0]))

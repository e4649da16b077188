"""Seam feathering at model resolution: valid pixels are never touched and the cost is tiny.

A model patch fails when any full-resolution pixel under it failed, so a failed patch usually
also covers valid pixels; where the prediction disagrees with them in colour, a seam shows. At
model resolution we know, for every pixel, the valid fraction of its full-resolution footprint.
Where that fraction is 1 the downscaled damaged frame is the truth, so the offset between it and
the prediction is measured there, averaged with a normalised Gaussian, faded to zero ``width``
pixels into the fully failed area, and added to the prediction before it is upsampled. This all
works on (h, w) model-size arrays; compositing still replaces only failed full-resolution pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

MAX_CORRECTION = 60.0  # gray levels; a larger disagreement is content, not a seam


def feather_prediction(
    prediction: np.ndarray,
    damaged: np.ndarray,
    valid_fraction: np.ndarray,
    predicted: np.ndarray,
    width: float,
) -> np.ndarray:
    """Add a seam correction to the model-resolution prediction.

    Args:
        prediction: (h, w, 3) float32 prediction, 0-255.
        damaged: (h, w, 3) float32 downscaled damaged frame, 0-255.
        valid_fraction: (h, w) float32 in [0, 1], the valid share of each pixel's footprint.
        predicted: (h, w) bool, pixels of failed patches (elsewhere the output is the input).
        width: fade width in model-resolution pixels (<= 0: unchanged).
    Returns:
        (h, w, 3) float32 prediction; unchanged where no valid pixel is within reach.
    """
    if width <= 0:
        return prediction
    # Only valid pixels inside predicted patches tell how the prediction is off; elsewhere the
    # restored frame equals the input by construction and says nothing.
    trusted = ((valid_fraction >= 0.999) & predicted).astype(np.float32)
    failed_somewhere = valid_fraction < 0.999
    if not trusted.any() or not failed_somewhere.any():
        return prediction
    sigma = max(1.0, width / 2)
    offset = cv2.subtract(damaged, prediction)
    offset *= trusted[:, :, None]
    offset = cv2.GaussianBlur(offset, (0, 0), sigma)
    support = cv2.GaussianBlur(trusted, (0, 0), sigma)
    depth = cv2.distanceTransform(failed_somewhere.astype(np.uint8), cv2.DIST_L2, 3)
    fade = np.clip(1.0 - depth / width, 0.0, 1.0) * (support > 0.05)
    offset *= (fade / np.maximum(support, 1e-3))[:, :, None]  # normalise and fade in one pass
    np.clip(offset, -MAX_CORRECTION, MAX_CORRECTION, out=offset)
    offset += prediction
    return offset

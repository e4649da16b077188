"""Change-gated compositing: trust the reference where the scene did not change.

A failed region's true content is unknown, but its valid surroundings show whether the scene
changed there since the reference: where the damaged frame's valid pixels equal the reference's,
the failed pixels most likely do too, and the reference (hold) is the best estimate; where they
differ, the model's prediction is. The local change is the mean absolute difference between the
damaged frame and the reference over valid pixels, spread into failed areas by a normalised
Gaussian (support-weighted, as in ``seam.py``); the weight of the model is change / tau, clipped
to [0, 1]. Everything runs at model resolution (224x400: well under a millisecond).

tau = 24 gray levels was chosen on the validation clip (the held-out tail of the highway clip),
never on the evaluation clip, with the node's default compositing (ECC alignment on): it had the
best mean failed-region PSNR over gaps 1, 2 and 8 of 16, 24 and 32 (docs/evaluation.md).
"""

from __future__ import annotations

import cv2
import numpy as np

DEFAULT_TAU = 24.0
SIGMA_FRACTION = 0.025  # Gaussian sigma as a fraction of the model input width (10 px at 400)
_CHANNEL_MEAN = np.full((1, 3), 1.0 / 3.0, np.float32)


def gate_sigma(model_width: int) -> float:
    """Sigma (model pixels) of the Gaussian that spreads the change, for an input this wide."""
    return max(1.0, SIGMA_FRACTION * model_width)


def gate_reach(model_width: int) -> int:
    """Model pixels beyond which a pixel's change no longer reaches the weight of another.

    The blur runs at half resolution with sigma / 2 (OpenCV's float kernel spans 4 sigma each
    side), then a bilinear upsample reads one half-resolution pixel more: so a crop with this
    margin around the pixels that matter gives them exactly the full frame's weights.
    """
    return 2 * (int(np.ceil(4 * gate_sigma(model_width) / 2)) + 2)


def change_weight(
    reference: np.ndarray,
    damaged: np.ndarray,
    valid_fraction: np.ndarray,
    tau: float,
    model_width: int | None = None,
) -> np.ndarray:
    """Weight of the model's prediction per pixel, (h, w) float32 in [0, 1].

    Args:
        reference, damaged: (h, w, 3) float32, 0-255, at model resolution.
        valid_fraction: (h, w) float32 in [0, 1], the valid share of each pixel's footprint.
        tau: the change (gray levels) at which the model gets full weight.
        model_width: the model input's width when the arrays are a crop of it (an even offset
            and size, :func:`gate_reach` from the pixels that matter); None: they are whole.
    """
    trusted = (valid_fraction >= 0.999).astype(np.float32)
    if not trusted.any():
        return np.ones(valid_fraction.shape, np.float32)  # no evidence: trust the model
    sigma = gate_sigma(reference.shape[1] if model_width is None else model_width)
    # Mean absolute difference over channels; cv2.transform is ~10x numpy's mean(axis=2) here.
    difference = cv2.transform(cv2.absdiff(damaged, reference), _CHANNEL_MEAN) * trusted
    spread, support = _smooth(difference, sigma), _smooth(trusted, sigma)
    change = spread / np.maximum(support, 1e-3)
    weight = np.clip(change / tau, 0.0, 1.0)
    weight[support < 1e-3] = 1.0  # far from any valid pixel: no evidence either way
    return weight.astype(np.float32)


def _smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of an (h, w) float32 image, computed at half resolution.

    The fields blurred here are wide (sigma 10 px at model size) and smooth, so blurring a 2x
    area-downscaled copy with sigma / 2 and upsampling changes them by a fraction of a gray level
    at an eighth of the cost.
    """
    height, width = image.shape
    half = cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(half, (0, 0), sigma / 2)
    return cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR)


def gate_prediction(
    prediction: np.ndarray,
    reference: np.ndarray,
    damaged: np.ndarray,
    valid_fraction: np.ndarray,
    tau: float = DEFAULT_TAU,
    model_width: int | None = None,
) -> np.ndarray:
    """Blend (h, w, 3) float32 ``prediction`` towards ``reference`` where nothing changed.

    ``model_width``: as in :func:`change_weight`, for a crop of the model-size arrays.
    """
    weight = change_weight(reference, damaged, valid_fraction, tau, model_width)
    blended = cv2.subtract(prediction, reference)
    blended *= weight[:, :, None]
    blended += reference
    return blended

"""Image quality on the 0-255 scale, over the whole frame and over the failed region.

MSE, MAE and PSNR are plain float64 arithmetic (PSNR = 10 log10(255^2 / MSE), the paper's
Table 1 scale); SSIM is scikit-image's ``structural_similarity`` with the settings of Wang et al.
(2004): 11x11 Gaussian window, sigma 1.5, population covariance, data_range 255, averaged over
colour channels. The whole-frame SSIM is scikit-image's mean; the failed-region SSIM is the mean
of the SSIM map over the failed pixels.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import structural_similarity

METRICS = ("mse", "mae", "psnr", "ssim")
SSIM_WINDOW = 11  # the Gaussian window's side (sigma 1.5, truncated at 3.5 sigma)


def _checked(prediction: np.ndarray, truth: np.ndarray) -> None:
    if prediction.shape != truth.shape:
        raise ValueError(f"prediction {prediction.shape} and truth {truth.shape} differ in shape")


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB for 8-bit images; ``inf`` when identical, NaN for a NaN error.

    A model that produced NaN is no perfect model: NaN never wins a comparison.
    """
    if math.isnan(mse):
        return math.nan
    return 10.0 * math.log10(255.0**2 / mse) if mse > 0 else math.inf


def psnr(prediction: np.ndarray, truth: np.ndarray, where: np.ndarray | None = None) -> float:
    """PSNR in dB of two uint8 images, over all pixels or over ``where`` (H, W) bool.

    ``inf`` when identical, and when ``where`` selects no pixel (nothing differs there).
    """
    _checked(prediction, truth)
    diff = prediction.astype(np.float64) - truth.astype(np.float64)
    if where is not None:
        diff = diff[where]
    return psnr_from_mse(float(np.mean(diff**2)) if diff.size else 0.0)


def ssim_map(prediction: np.ndarray, truth: np.ndarray) -> tuple[float, np.ndarray]:
    """SSIM of two (H, W, 3) or (H, W) uint8 images: (scikit-image's mean, (H, W) map).

    The mean is scikit-image's (it leaves out a 5-pixel border); the map is the channel mean.
    SSIM is undefined on an image smaller than its window (:data:`SSIM_WINDOW` pixels on a
    side): NaN, and a map of NaN.
    """
    _checked(prediction, truth)
    if min(truth.shape[:2]) < SSIM_WINDOW:
        return math.nan, np.full(truth.shape[:2], np.nan)
    channel_axis = -1 if prediction.ndim == 3 else None
    mean, full = structural_similarity(
        truth,
        prediction,
        data_range=255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        channel_axis=channel_axis,
        full=True,
    )
    return float(mean), (full.mean(axis=-1) if full.ndim == 3 else full)


def quality(
    prediction: np.ndarray, truth: np.ndarray, failed: np.ndarray | None = None
) -> dict[str, dict[str, float]]:
    """All metrics on the whole frame and (if ``failed`` (H, W) bool is given) the failed region.

    Returns ``{"frame": {mse, mae, psnr, ssim}, "failed": {...}}``; the failed entry is absent
    when no pixel failed.
    """
    _checked(prediction, truth)
    diff = prediction.astype(np.float64) - truth.astype(np.float64)
    ssim_mean, ssim_values = ssim_map(prediction, truth)
    regions = {"frame": np.ones(truth.shape[:2], dtype=bool)}
    if failed is not None and failed.any():
        regions["failed"] = failed
    out = {}
    for name, where in regions.items():
        selected = diff[where]
        mse = float(np.mean(selected**2))
        out[name] = {
            "mse": mse,
            "mae": float(np.mean(np.abs(selected))),
            "psnr": psnr_from_mse(mse),
            "ssim": ssim_mean if name == "frame" else float(ssim_values[where].mean()),
        }
    return out

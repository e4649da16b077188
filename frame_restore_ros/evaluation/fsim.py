"""FSIM and FSIMc (Zhang, Zhang, Mou and Zhang, IEEE TIP 2011) on 8-bit images.

Phase congruency comes from phasepack (Kovesi's reference code, ported to Python), with the
parameters of the authors' FSIM release: 4 scales, 4 orientations, minimum wavelength 6,
multiplier 2, sigmaOnf 0.55, k 2. The FSIM steps follow the paper:

  S_PC = (2 PC1 PC2 + T1) / (PC1^2 + PC2^2 + T1),  T1 = 0.85
  S_G  = (2 G1 G2 + T2) / (G1^2 + G2^2 + T2),       T2 = 160, G = Scharr gradient magnitude
  S_C  = S_I * S_Q (YIQ chroma, T3 = T4 = 200),    FSIMc weights it by lambda = 0.03
  FSIM = sum(S_PC S_G [S_C^lambda] PC_m) / sum(PC_m),  PC_m = max(PC1, PC2)

after the authors' automatic downsampling (factor max(1, round(min(H, W) / 256)), box filter).
One difference: the authors' ``phasecong2`` pools energy over orientations before normalising;
phasepack returns phase congruency per orientation, which is averaged here. ``FsimReference``
keeps the ground truth's terms so that several outputs are scored against it cheaply, over the
whole frame and over a region (the failed pixels).
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np

with warnings.catch_warnings():  # phasepack warns that pyfftw is absent; numpy's FFT is used
    warnings.simplefilter("ignore")
    from phasepack import phasecong

T1, T2, T3, T4, LAMBDA = 0.85, 160.0, 200.0, 200.0, 0.03
RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype=np.float64
)


def _yiq(image_bgr: np.ndarray) -> np.ndarray:
    rgb = image_bgr[..., ::-1].astype(np.float64)
    return rgb @ RGB_TO_YIQ.T


def _downsample(channels: np.ndarray, factor: int) -> np.ndarray:
    if factor <= 1:
        return channels
    blurred = cv2.blur(channels, (factor, factor), borderType=cv2.BORDER_REPLICATE)
    return blurred[::factor, ::factor]


def _phase_congruency(luma: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = phasecong(
            luma, nscale=4, norient=4, minWaveLength=6, mult=2, sigmaOnf=0.55, k=2.0
        )
    per_orientation = result[4]
    return np.mean(np.stack(per_orientation), axis=0)


def _gradient(luma: np.ndarray) -> np.ndarray:
    dx = cv2.Scharr(luma, cv2.CV_64F, 1, 0) / 16.0
    dy = cv2.Scharr(luma, cv2.CV_64F, 0, 1) / 16.0
    return np.sqrt(dx**2 + dy**2)


class FsimReference:
    """The ground-truth side of FSIMc, computed once and reused for every method's output."""

    def __init__(self, truth: np.ndarray) -> None:
        if truth.ndim != 3 or truth.shape[2] != 3:
            raise ValueError(f"fsim needs (H, W, 3) images, got {truth.shape}")
        self.shape = truth.shape
        self.factor = max(1, round(min(truth.shape[:2]) / 256))
        self.yiq = _downsample(_yiq(truth), self.factor)
        self.pc = _phase_congruency(self.yiq[..., 0])
        self.gradient = _gradient(self.yiq[..., 0])

    def maps(self, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(similarity S_L * S_C^lambda, weight PC_m) at the downsampled scale."""
        if prediction.shape != self.shape:
            raise ValueError(f"prediction {prediction.shape} differs from truth {self.shape}")
        first = _downsample(_yiq(prediction), self.factor)
        pc1, pc2 = _phase_congruency(first[..., 0]), self.pc
        g1, g2 = _gradient(first[..., 0]), self.gradient
        s_pc = (2 * pc1 * pc2 + T1) / (pc1**2 + pc2**2 + T1)
        s_g = (2 * g1 * g2 + T2) / (g1**2 + g2**2 + T2)
        i1, i2, q1, q2 = first[..., 1], self.yiq[..., 1], first[..., 2], self.yiq[..., 2]
        s_i = (2 * i1 * i2 + T3) / (i1**2 + i2**2 + T3)
        s_q = (2 * q1 * q2 + T4) / (q1**2 + q2**2 + T4)
        chroma = np.sign(s_i * s_q) * np.abs(s_i * s_q) ** LAMBDA  # real-valued as in the paper
        return s_pc * s_g * chroma, np.maximum(pc1, pc2)

    def score(
        self, prediction: np.ndarray, region: np.ndarray | None = None
    ) -> tuple[float, float | None]:
        """Return FSIMc over the whole frame and over ``region`` (H, W) bool (None if absent)."""
        similarity, weight = self.maps(prediction)
        whole = float((similarity * weight).sum() / weight.sum())
        if region is None:
            return whole, None
        small = _downsample(region.astype(np.float64), self.factor)
        inside = weight * (small[: weight.shape[0], : weight.shape[1]] > 0.5)
        total = inside.sum()
        return whole, (float((similarity * inside).sum() / total) if total > 0 else float("nan"))


def fsim(prediction: np.ndarray, truth: np.ndarray, region: np.ndarray | None = None) -> float:
    """Return FSIMc of two (H, W, 3) uint8 BGR images (all pixels, or a (H, W) bool region)."""
    whole, part = FsimReference(truth).score(prediction, region)
    return whole if region is None else part

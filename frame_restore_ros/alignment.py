"""Global motion alignment of the reference to the damaged frame (ECC on the clean pixels).

Between the reference (frame t-g) and the damaged frame t the camera moved; at g = 4-8 on a
vehicle the whole picture has shifted and zoomed. Before restoring, the reference is warped onto
the damaged frame with an affine transform found by OpenCV's ECC maximisation (Evangelidis and
Psarakis 2008) on grey, downscaled copies, using only the damaged frame's valid pixels. If ECC
does not converge, or finds an implausible warp, the reference is used as is.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from .media.resize import downscale

log = logging.getLogger(__name__)
ALIGN_MODES = ("none", "ecc")
WORK_SIZE = (144, 256)  # (h, w) at which ECC runs: ~5 ms on one core
MAX_ZOOM_CHANGE = 0.25
MAX_SHIFT = 0.25  # of the frame size
MIN_GAIN = 0.9  # the warp must cut the error on clean pixels by 10 % to be used


def _to_full(warp_small: np.ndarray, small: tuple[int, int], full: tuple[int, int]) -> np.ndarray:
    """Scale a 2x3 warp found at ``small`` (h, w) to ``full`` (h, w) pixel coordinates."""
    sx, sy = full[1] / small[1], full[0] / small[0]
    scale = np.diag([sx, sy, 1.0])
    warp = np.vstack([warp_small, [0.0, 0.0, 1.0]])
    return (scale @ warp @ np.linalg.inv(scale))[:2]


def _plausible(warp: np.ndarray, size: tuple[int, int]) -> bool:
    linear = warp[:, :2]
    zoom = np.sqrt(abs(np.linalg.det(linear)))
    shift = np.abs(warp[:, 2]) / np.array([size[1], size[0]])
    return abs(zoom - 1) < MAX_ZOOM_CHANGE and bool((shift < MAX_SHIFT).all())


def estimate_warp(
    reference: np.ndarray,
    damaged: np.ndarray,
    valid: np.ndarray,
    iterations: int = 40,
) -> np.ndarray | None:
    """Affine 2x3 warp (full-resolution pixels) taking reference points to damaged-frame points.

    Args:
        reference, damaged: (H, W, 3) uint8 BGR.
        valid: (H, W) bool, pixels of ``damaged`` that did not fail.
    Returns None when ECC fails, does not converge, or the warp is implausible.
    """
    grey_ref = cv2.cvtColor(downscale(reference, WORK_SIZE), cv2.COLOR_BGR2GRAY)
    grey_dmg = cv2.cvtColor(downscale(damaged, WORK_SIZE), cv2.COLOR_BGR2GRAY)
    small_valid = downscale(valid.view(np.uint8) * np.uint8(255), WORK_SIZE)
    mask = (small_valid == 255).astype(np.uint8)
    if mask.mean() < 0.1:
        return None  # too little clean image to measure motion on
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-4)
    try:
        # template = reference, input = damaged (masked): damaged(W x) ~ reference(x)
        _, warp = cv2.findTransformECC(
            grey_ref, grey_dmg, warp, cv2.MOTION_AFFINE, criteria, mask, 3
        )
    except cv2.error as exc:
        log.debug("ECC did not converge: %s", exc)
        return None
    # Keep the warp only if it really explains the clean pixels better than no warp: ECC can
    # converge to a compromise that fits the visible patches and misplaces the rest.
    size = grey_ref.shape[::-1]
    warped = cv2.warpAffine(
        grey_ref, warp, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    inside = mask > 0
    before = np.abs(grey_ref.astype(np.float32) - grey_dmg)[inside].mean()
    after = np.abs(warped.astype(np.float32) - grey_dmg)[inside].mean()
    if before <= 0 or after > MIN_GAIN * before:
        return None
    full = _to_full(warp.astype(np.float64), WORK_SIZE, reference.shape[:2])
    return full if _plausible(full, reference.shape[:2]) else None


def align_reference(
    reference: np.ndarray, damaged: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, bool]:
    """Return (reference warped onto the damaged frame, whether a warp was applied)."""
    warp = estimate_warp(reference, damaged, valid)
    if warp is None:
        return reference, False
    height, width = reference.shape[:2]
    aligned = cv2.warpAffine(
        reference, warp, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return aligned, True

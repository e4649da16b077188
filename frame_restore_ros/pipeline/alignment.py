"""Global motion alignment of the reference to the damaged frame (ECC on the clean pixels).

Between the reference (frame t-g) and the damaged frame t the camera moved; at g = 4-8 on a
vehicle the whole picture has shifted and zoomed. Before restoring, the reference is warped onto
the damaged frame with an affine transform found by OpenCV's ECC maximisation (Evangelidis and
Psarakis 2008) on gray, downscaled copies, using only the damaged frame's valid pixels. If ECC
does not converge, or finds an implausible warp, the reference is used as is.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from frame_restore_ros.media.resize import downscale
from frame_restore_ros.media.tensors import array_to_image

log = logging.getLogger(__name__)
ALIGN_MODES = ("none", "ecc", "ecc_flow")  # ecc_flow: + flow_refinement.py
WORK_SIZE = (144, 256)  # (h, w) at which ECC runs; smaller sizes leave too few all-valid pixels
# at 75 % failed patches and alignment stops working (measured: docs/backends.md).
ITERATIONS = 20  # with EPSILON: ~4 ms instead of ~10 (40 iterations, 1e-4) at equal quality
EPSILON = 1e-3  # stop when the correlation coefficient improves by less than this
MAX_ZOOM_CHANGE = 0.25
MAX_SHIFT = 0.25  # of the frame size
MIN_GAIN = 0.9  # the warp must cut the error on clean pixels by 10 % to be used


def _rescale(warp: np.ndarray, source: tuple[int, int], target: tuple[int, int]) -> np.ndarray:
    """Express a 2x3 warp in ``source`` (h, w) pixel coordinates in ``target`` coordinates."""
    sx, sy = target[1] / source[1], target[0] / source[0]
    scale = np.diag([sx, sy, 1.0])
    full = np.vstack([warp, [0.0, 0.0, 1.0]])
    return (scale @ full @ np.linalg.inv(scale))[:2]


def _plausible(warp: np.ndarray, size: tuple[int, int]) -> bool:
    linear = warp[:, :2]
    zoom = np.sqrt(abs(np.linalg.det(linear)))
    shift = np.abs(warp[:, 2]) / np.array([size[1], size[0]])
    return abs(zoom - 1) < MAX_ZOOM_CHANGE and bool((shift < MAX_SHIFT).all())


def work_gray(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 (any size, e.g. already at the model's size) -> ECC's (144, 256) gray."""
    return cv2.cvtColor(downscale(frame, WORK_SIZE), cv2.COLOR_BGR2GRAY)


def work_mask(valid: np.ndarray) -> np.ndarray:
    """(H, W) uint8 valid fraction x 255 (or bool) -> ECC's (144, 256) uint8 mask of all-valid."""
    image = valid.view(np.uint8) * np.uint8(255) if valid.dtype == bool else valid
    return (downscale(image, WORK_SIZE) == 255).astype(np.uint8)


def estimate_warp(
    reference: np.ndarray,
    damaged: np.ndarray,
    valid: np.ndarray,
    iterations: int = ITERATIONS,
    gray_reference: np.ndarray | None = None,
    gray_damaged: np.ndarray | None = None,
    valid_mask: np.ndarray | None = None,
) -> np.ndarray | None:
    """Affine 2x3 warp (full-resolution pixels) taking reference points to damaged-frame points.

    Args:
        reference, damaged: (H, W, 3) uint8 BGR.
        valid: (H, W) bool, pixels of ``damaged`` that did not fail.
        gray_reference, gray_damaged, valid_mask: :func:`work_gray` of the frames and
            :func:`work_mask` of ``valid`` if already computed (from model-size copies).
    Returns None when ECC fails, does not converge, or the warp is implausible.
    """
    gray_ref = work_gray(reference) if gray_reference is None else gray_reference
    gray_dmg = work_gray(damaged) if gray_damaged is None else gray_damaged
    mask = work_mask(valid) if valid_mask is None else valid_mask
    if mask.mean() < 0.1:
        return None  # too little clean image to measure motion on
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, EPSILON)
    try:
        # template = reference, input = damaged (masked): damaged(W x) ~ reference(x)
        _, warp = cv2.findTransformECC(
            gray_ref, gray_dmg, warp, cv2.MOTION_AFFINE, criteria, mask, 3
        )
    except cv2.error as exc:
        log.debug("ECC did not converge: %s", exc)
        return None
    # Keep the warp only if it really explains the clean pixels better than no warp: ECC can
    # converge to a compromise that fits the visible patches and misplaces the rest.
    size = gray_ref.shape[::-1]
    warped = cv2.warpAffine(
        gray_ref, warp, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    inside = mask > 0
    before = np.abs(gray_ref.astype(np.float32) - gray_dmg)[inside].mean()
    after = np.abs(warped.astype(np.float32) - gray_dmg)[inside].mean()
    if before <= 0 or after > MIN_GAIN * before:
        return None
    full = _rescale(warp.astype(np.float64), WORK_SIZE, reference.shape[:2])
    return full if _plausible(full, reference.shape[:2]) else None


def align_reference(
    reference: np.ndarray, damaged: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, bool]:
    """Return (reference warped onto the damaged frame, whether a warp was applied)."""
    warp = estimate_warp(reference, damaged, valid)
    if warp is None:
        return reference, False
    return warp_full(reference, warp), True


def warp_model_input(
    model_input: np.ndarray, warp: np.ndarray, full_shape: tuple[int, int]
) -> np.ndarray:
    """Apply a full-resolution 2x3 ``warp`` to a (1, 3, h, w) float32 model-size image.

    Warping the reference's model-size copy equals downscaling the warped full-resolution
    reference up to resampling differences, at a small fraction of the cost.
    """
    height, width = model_input.shape[2:]
    small = _rescale(warp, full_shape, (height, width))  # full -> small coordinates
    image = array_to_image(model_input)
    warped = cv2.warpAffine(
        image, small, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return np.ascontiguousarray(warped.transpose(2, 0, 1)[None])


def warp_full(image: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Apply a 2x3 ``warp`` to an (H, W[, C]) image of any OpenCV depth (edges replicated)."""
    height, width = image.shape[:2]
    return cv2.warpAffine(
        image, warp, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )

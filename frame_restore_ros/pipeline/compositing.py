"""Full-resolution restoration around a fixed-size backend.

Resize in, infer, resize out, and replace ONLY the failed pixels. Every pixel outside the failure
mask is returned byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from frame_restore_ros.backends.base import RestorationBackend
from frame_restore_ros.media.grid import pixels_to_cells
from frame_restore_ros.media.resize import downscale
from frame_restore_ros.media.tensors import frame_to_array
from frame_restore_ros.pipeline.change_gate import gate_prediction
from frame_restore_ros.pipeline.seam import feather_prediction


@dataclass(frozen=True)
class ModelSizeFrame:
    """A damaged frame at the model's input size, computed once and shared by every stage.

    Attributes:
        image: (h, w, 3) uint8 BGR, the anti-aliased downscale of the frame.
        valid: (h, w) uint8, the valid share of each pixel's full-resolution footprint x 255.
    """

    image: np.ndarray
    valid: np.ndarray


def to_model_size(frame: np.ndarray, failed: np.ndarray, size: tuple[int, int]) -> ModelSizeFrame:
    """Downscale an (H, W, 3) uint8 frame and its (H, W) bool failure mask to ``size`` (h, w)."""
    valid = downscale((~failed).view(np.uint8) * np.uint8(255), size)
    return ModelSizeFrame(downscale(frame, size), valid)


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
    return restore_with_uncertainty(backend, reference, damaged, failed, feather_px, False)[0]


def restore_with_uncertainty(
    backend: RestorationBackend,
    reference: np.ndarray,
    damaged: np.ndarray,
    failed: np.ndarray,
    feather_px: int = 0,
    uncertainty: bool = True,
    reference_input: np.ndarray | None = None,
    reference_detail: np.ndarray | None = None,
    change_tau: float | None = None,
    small: ModelSizeFrame | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`restore_failed_pixels` plus, if asked, the uncertainty map.

    The map is (H, W) float32: the per-pixel std of the backend's K samples on the 0-255 scale,
    upsampled, and exactly 0 outside ``failed`` (those pixels are copied, not predicted). It needs
    a backend with ``infer_with_uncertainty`` (e.g. ``TorchBackend(uncertainty_samples=8)``).
    ``reference_input`` is the reference already converted by ``frame_to_array`` at the model's
    input size; pass it to skip converting an unchanged reference on every frame.
    ``reference_detail`` (:func:`reference_detail`) adds the reference's detail above the model's
    resolution to the upsampled prediction (detail transfer); where the model reproduces the
    reference, the output is then the full-resolution reference itself.
    ``change_tau`` (grey levels) turns on change-gated compositing (``change_gate.py``): the
    prediction is blended towards the reference where the valid surroundings did not change.
    ``small`` is :func:`to_model_size` of ``damaged`` and ``failed`` if already computed.
    """
    if reference.shape != damaged.shape or damaged.shape[:2] != failed.shape:
        raise ValueError(
            f"shapes differ: reference {reference.shape}, damaged {damaged.shape}, "
            f"mask {failed.shape}"
        )
    if not failed.any():
        return damaged.copy(), (np.zeros(failed.shape, np.float32) if uncertainty else None)
    height, width = backend.input_size
    patch = backend.patch_size
    grid = (height // patch, width // patch)
    patch_mask = pixels_to_cells(failed, grid)  # any failed pixel hides the patch from the model
    small = small or to_model_size(damaged, failed, backend.input_size)
    damaged_small = small.image
    if reference_input is None:
        reference_input = frame_to_array(reference, backend.input_size)
    inputs = (
        reference_input,
        frame_to_array(damaged_small),
        patch_mask[None].astype(np.float32),
    )
    std_full = None
    if uncertainty:
        sampler = getattr(backend, "infer_with_uncertainty", None)
        if sampler is None:
            raise ValueError(f"backend {backend.name} cannot estimate uncertainty")
        restored, std = sampler(*inputs)
        size = (damaged.shape[1], damaged.shape[0])
        std_full = cv2.resize(std[0, 0] * np.float32(255.0), size, interpolation=cv2.INTER_LINEAR)
        std_full[~failed] = 0.0
    else:
        restored = backend.infer(*inputs)
    prediction = restored[0].transpose(1, 2, 0)[:, :, ::-1] * np.float32(255.0)
    if change_tau or feather_px > 0:
        valid = small.valid.astype(np.float32) / np.float32(255.0)
        damaged_float = damaged_small.astype(np.float32)
    if change_tau:
        reference_small = reference_input[0].transpose(1, 2, 0)[:, :, ::-1] * np.float32(255.0)
        prediction = gate_prediction(prediction, reference_small, damaged_float, valid, change_tau)
    if feather_px > 0:
        predicted = np.repeat(np.repeat(patch_mask, patch, axis=0), patch, axis=1)
        prediction = feather_prediction(
            prediction, damaged_float, valid, predicted, feather_px * height / damaged.shape[0]
        )
    small = np.ascontiguousarray((prediction + np.float32(0.5)).clip(0, 255).astype(np.uint8))
    upsampled = cv2.resize(
        small, (damaged.shape[1], damaged.shape[0]), interpolation=cv2.INTER_LINEAR
    )
    output = damaged.copy()
    # Masked writes of failed pixels only: ~1 ms at 1080p, against ~60 ms for output[failed] = ...
    if reference_detail is not None:
        if reference_detail.shape != damaged.shape:
            raise ValueError(f"detail {reference_detail.shape} != frame {damaged.shape}")
        # Saturating uint8 add of the detail, written straight into the failed pixels: one
        # full-resolution pass instead of an add and a copy (these passes are memory-bound).
        cv2.add(
            upsampled, reference_detail, dst=output, mask=failed.view(np.uint8), dtype=cv2.CV_8U
        )
    else:
        cv2.copyTo(upsampled, failed.view(np.uint8), output)
    return output, std_full


def reference_detail(reference: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) int16: the reference minus its model-resolution version upsampled.

    It is the detail the model cannot represent at ``input_size`` = (h, w); computed once per
    reference frame.
    """
    return detail_from_small(reference, downscale(reference, input_size))


def detail_from_small(reference: np.ndarray, small: np.ndarray) -> np.ndarray:
    """:func:`reference_detail` given ``small``, the reference already downscaled."""
    upsampled = cv2.resize(
        small, (reference.shape[1], reference.shape[0]), interpolation=cv2.INTER_LINEAR
    )
    return cv2.subtract(reference, upsampled, dtype=cv2.CV_16S)  # one pass, exact in int16

"""The reference as the model and the compositing need it, and its alignment to a damaged frame.

Prepared once per reference frame (the restorer caches it by the tracker's version): the
model-size image, the full-resolution detail map (detail transfer) and ECC's gray work image.
For each damaged frame, ECC finds the warp from the reference to it on clean pixels (and, with
``align: ecc_flow``, the dense motion around the failures, ``flow_refinement.py``), and the
prepared model-size image and detail map are warped; warping those instead of the full-resolution
frame (and converting it again) gives the same inputs up to resampling at a fraction of the cost.
``repair.RepairPipeline`` is its one caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from frame_restore_ros.media.resize import downscale
from frame_restore_ros.media.tensors import frame_to_array
from frame_restore_ros.pipeline.alignment import (
    estimate_warp,
    warp_full,
    warp_model_input,
    work_gray,
)
from frame_restore_ros.pipeline.compositing import ModelSizeFrame, detail_from_small
from frame_restore_ros.pipeline.flow_refinement import refine_reference


@dataclass(frozen=True)
class AlignedInputs:
    """The reference aligned to one damaged frame.

    Attributes:
        model_input: (1, 3, h, w) float32 RGB in [0, 1].
        detail: (H, W, 3) float32 detail map, or None (detail transfer off).
        aligned: whether the reference was moved (ECC's warp and/or the dense motion).
        followed: the dense motion was measured and interpolated at every failed pixel
            (``FlowRefinement.everywhere``).
    """

    model_input: np.ndarray
    detail: np.ndarray | None
    aligned: bool
    followed: bool = False


@dataclass(frozen=True)
class ReferenceInputs:
    """A prepared reference.

    Attributes:
        size: the model input size (h, w) it was prepared for.
        model_input: (1, 3, h, w) float32 RGB in [0, 1].
        detail: (H, W, 3) float32 detail above the model's resolution, or None (detail
            transfer off).
        gray: ECC's (144, 256) uint8 work image, or None (alignment off).
    """

    size: tuple[int, int]
    model_input: np.ndarray
    detail: np.ndarray | None
    gray: np.ndarray | None


def prepare_reference(
    reference: np.ndarray, size: tuple[int, int], detail_transfer: bool, align: bool
) -> ReferenceInputs:
    """Convert an (H, W, 3) uint8 reference for a model of input ``size`` (h, w).

    One downscale serves the model input and the detail map.
    """
    small = downscale(reference, size)
    detail = detail_from_small(reference, small) if detail_transfer else None
    gray = work_gray(reference) if align else None
    return ReferenceInputs(size, frame_to_array(small), detail, gray)


def aligned_inputs(
    prepared: ReferenceInputs,
    reference: np.ndarray,
    damaged: np.ndarray,
    valid: np.ndarray,
    small: ModelSizeFrame | None = None,
) -> AlignedInputs:
    """Return the model input and detail map aligned to ``damaged``.

    ``valid``: (H, W) bool, the damaged frame's clean pixels. Without ``prepared.gray``
    (alignment off) or when ECC finds no trustworthy warp, the prepared inputs are returned.
    ``small``: the damaged frame at the model's size; given, the dense motion around the
    failures is followed after ECC (``flow_refinement.py``), and the detail map returned is
    then only valid at failed pixels (the only ones compositing reads it at).
    """
    if prepared.gray is None:
        return AlignedInputs(prepared.model_input, prepared.detail, False)
    # ECC's work images come from the full-resolution frame: deriving them from the model-size
    # copy saves ~2 ms but cost 0.05-0.15 dB on the evaluation clip (gaps 1-8).
    warp = estimate_warp(reference, damaged, valid, gray_reference=prepared.gray)
    model_input = prepared.model_input
    if warp is not None:
        model_input = warp_model_input(model_input, warp, damaged.shape[:2])
    if small is not None:
        # The detail is moved by the warp and the flow in one pass (when refined).
        refined = refine_reference(model_input, prepared.detail, small.image, small.valid, warp)
        if refined.refined:
            return AlignedInputs(refined.model_input, refined.detail, True, refined.everywhere)
    if warp is None:
        return AlignedInputs(model_input, prepared.detail, False)
    detail = None if prepared.detail is None else warp_full(prepared.detail, warp)
    return AlignedInputs(model_input, detail, True)

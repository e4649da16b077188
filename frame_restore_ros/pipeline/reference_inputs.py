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

import cv2
import numpy as np

from frame_restore_ros.media.resize import downscale
from frame_restore_ros.media.tensors import array_to_image, frame_to_array
from frame_restore_ros.pipeline.alignment import (
    estimate_warp,
    warp_full,
    warp_model_input,
    work_gray,
)
from frame_restore_ros.pipeline.compositing import ModelSizeFrame, detail_from_small
from frame_restore_ros.pipeline.flow_refinement import (
    refine_reference,
    remap_by,
    remap_detail,
    rgb01_gray,
)
from frame_restore_ros.pipeline.motion_prior import (
    ReferenceMotion,
    carried_flow,
    model_input_gray,
)


@dataclass(frozen=True)
class AlignedInputs:
    """The reference aligned to one damaged frame.

    Attributes:
        model_input: (1, 3, h, w) float32 RGB in [0, 1].
        detail: (H, W, 3) float32 detail map, or None (detail transfer off).
        aligned: whether the reference was moved (ECC's warp and/or the dense motion).
        followed: the dense motion was measured and interpolated at every failed pixel
            (``FlowRefinement.everywhere``).
        carried: the reference was moved by its own motion carried forward
            (``motion_prior.py``) instead of ECC's warp.
    """

    model_input: np.ndarray
    detail: np.ndarray | None
    aligned: bool
    followed: bool = False
    carried: bool = False


@dataclass(frozen=True)
class ReferenceInputs:
    """A prepared reference.

    Attributes:
        size: the model input size (h, w) it was prepared for.
        model_input: (1, 3, h, w) float32 RGB in [0, 1].
        detail: (H, W, 3) float32 detail above the model's resolution, or None (detail
            transfer off).
        gray: ECC's (144, 256) uint8 work image, or None (alignment off).
        luma: (h, w) uint8 luma of ``model_input`` (the carried motion's image), or None
            (alignment off).
    """

    size: tuple[int, int]
    model_input: np.ndarray
    detail: np.ndarray | None
    gray: np.ndarray | None
    luma: np.ndarray | None = None


def prepare_reference(
    reference: np.ndarray, size: tuple[int, int], detail_transfer: bool, align: bool
) -> ReferenceInputs:
    """Convert an (H, W, 3) uint8 reference for a model of input ``size`` (h, w).

    One downscale serves the model input, the detail map and the luma (equal to
    ``model_input_gray`` of the model input: the float conversion round-trips exactly).
    """
    small = downscale(reference, size)
    detail = detail_from_small(reference, small) if detail_transfer else None
    gray = work_gray(reference) if align else None
    luma = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if align else None
    return ReferenceInputs(size, frame_to_array(small), detail, gray, luma)


def aligned_inputs(
    prepared: ReferenceInputs,
    reference: np.ndarray,
    damaged: np.ndarray,
    valid: np.ndarray,
    small: ModelSizeFrame | None = None,
    motion: ReferenceMotion | None = None,
) -> AlignedInputs:
    """Return the model input and detail map aligned to ``damaged``.

    ``valid``: (H, W) bool, the damaged frame's clean pixels. Without ``prepared.gray``
    (alignment off) or when ECC finds no trustworthy warp, the prepared inputs are returned.
    ``small``: the damaged frame at the model's size; given, the dense motion around the
    failures is followed after ECC (``flow_refinement.py``), and the detail map returned is
    then only valid at failed pixels (the only ones compositing reads it at). ``motion``
    (with ``small``): the moment before the reference; the reference's motion carried forward
    from it replaces ECC's warp where it explains the clean pixels better.
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
        base_flow = None
        if motion is not None:
            carried = _carried(prepared, model_input, small, motion)
            if carried is not None:
                model_input, base_flow, warp = carried[0], carried[1], None
        # The detail is moved by the warp (or the carried motion) and the flow in one pass.
        refined = refine_reference(
            model_input, prepared.detail, small.image, small.valid, warp, base_flow
        )
        if refined.refined:
            carried = base_flow is not None
            return AlignedInputs(
                refined.model_input, refined.detail, True, refined.everywhere, carried
            )
        if base_flow is not None:
            detail = prepared.detail
            if detail is not None:
                detail = remap_detail(detail, base_flow, small.valid < 255, None)
            return AlignedInputs(model_input, detail, True, carried=True)
    if warp is None:
        return AlignedInputs(model_input, prepared.detail, False)
    detail = None if prepared.detail is None else warp_full(prepared.detail, warp)
    return AlignedInputs(model_input, detail, True)


def _carried(
    prepared: ReferenceInputs,
    ecc_input: np.ndarray,
    small: ModelSizeFrame,
    motion: ReferenceMotion,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the reference moved by its carried motion, if that explains the clean pixels better.

    prepared: the reference; ecc_input: (1, 3, h, w) float32 RGB in [0, 1], its model input
    after ECC's warp (or unmoved). Returns (moved model input, (h, w, 2) flow), or
    None when the carried motion does not explain the damaged frame's clean pixels (mean
    absolute luma difference at the model's size) better than ECC's warp. Measured against
    letting it in near a tie (within 0.5 levels, or 10 % and 0.5 levels: a still scene around
    a moving object would keep its motion): 0.1-0.4 dB lower on random patches at gaps 2-4 and
    on lost rows (docs/evaluation.md, "Motion carried forward").
    """
    clean = small.valid == 255
    if not clean.any():
        return None
    reference_input = prepared.model_input
    luma = prepared.luma if prepared.luma is not None else model_input_gray(reference_input)
    flow = carried_flow(luma, motion)
    moved = remap_by(array_to_image(reference_input), flow)
    moved_input = np.ascontiguousarray(moved.transpose(2, 0, 1)[None])
    damaged_gray = cv2.cvtColor(small.image, cv2.COLOR_BGR2GRAY)
    clean8 = clean.view(np.uint8)
    carried_error = cv2.mean(cv2.absdiff(rgb01_gray(moved), damaged_gray), clean8)[0]
    ecc_luma = luma if ecc_input is reference_input else model_input_gray(ecc_input)
    ecc_error = cv2.mean(cv2.absdiff(ecc_luma, damaged_gray), clean8)[0]
    if carried_error >= ecc_error:
        return None
    return moved_input, flow

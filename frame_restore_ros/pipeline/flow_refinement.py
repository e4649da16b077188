"""Dense motion inside failures: the reference refined past ECC's one affine warp.

ECC (``alignment.py``) moves the whole reference with one affine warp. A vehicle's view does not
move affinely: near content streams out faster than far content, and other road users move on
their own; after a few frames of a lasting failure the reference under a failed block sits
visibly off. So after ECC the remaining motion between the (warped) reference and the damaged
frame is measured densely at the model's input size with DIS optical flow (Kroeger et al. 2016,
OpenCV's ``DISOpticalFlow``) on the clean pixels, filled into the failed pixels by normalised
convolution of the flow around them (Knutsson and Westin 1993: a Gaussian of the flow over the
clean pixels divided by the same Gaussian of their support), and the reference's model-size image
and its full-resolution detail are remapped with it.

Flow is filled only where it is interpolated: failed pixels with clean pixels on both sides along
their row or their column (a failed block, scattered failed patches). Lost rows at the bottom or a
failed corner have measured motion on one side only; extrapolating it towards the frame's edge
lost 0.2-0.6 dB on the persistent lost-rows episodes (docs/evaluation.md, "Dense motion inside
failures"), so those pixels keep ECC's warp. A refinement that does not explain the clean pixels
better than ECC alone is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from frame_restore_ros.media.tensors import array_to_image

FLOW_PRESET = cv2.DISOPTICAL_FLOW_PRESET_FAST  # medium: 3x the time, 0.14 dB less (blocks)
FILL_SIGMA = 12.0  # model-size pixels (3 % of the 400-pixel width); 6 and 24 measured worse
EDGE_ERODE = 3  # px kernel: clean pixels touching a failure may carry its edge into the flow
MIN_CLEAN = 0.1  # share of clean model-size pixels below which the flow is not measured
MIN_GAIN = 0.95  # the refined reference must cut the error on clean pixels by 5 %
# Bilinear: nearest-neighbour saves ~5 ms at 720p but lost 0.05-0.17 dB (patches, dead blocks).
DETAIL_INTERPOLATION = cv2.INTER_LINEAR


@dataclass(frozen=True)
class FlowRefinement:
    """What :func:`refine_reference` did.

    Attributes:
        model_input: (1, 3, h, w) float32 RGB in [0, 1], the reference to feed the model.
        detail: (H, W, 3) float32 detail map (a new array when refined), or None.
        refined: whether the dense flow was applied.
        reason: why not, in words ("" when refined).
        everywhere: refined, and every failed pixel got interpolated motion (none lies towards
            the frame's edge): the repair follows the scene's motion at all of them.
    """

    model_input: np.ndarray
    detail: np.ndarray | None
    refined: bool
    reason: str = ""
    everywhere: bool = False


@lru_cache(maxsize=4)
def pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinate maps (x, y), each (height, width) float32; read-only, cached per size."""
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    xs.flags.writeable = False
    ys.flags.writeable = False
    return xs, ys


def _between_clean(clean: np.ndarray) -> np.ndarray:
    """(h, w) bool: pixels with a clean pixel at or before them and at or after them in their row.

    From each row's first and last clean column (two comparisons per pixel: the bracketed
    failures at the model's size in 0.5 ms instead of 1.0 with cumulative ORs along the rows).
    """
    width = clean.shape[1]
    first = np.argmax(clean, axis=1)
    last = width - 1 - np.argmax(clean[:, ::-1], axis=1)
    last[~clean.any(axis=1)] = -1  # no clean pixel in the row: nothing is between
    columns = np.arange(width)
    return (columns >= first[:, None]) & (columns <= last[:, None])


def bracketed_failures(clean: np.ndarray) -> np.ndarray:
    """(h, w) bool: failed pixels with clean pixels on both sides along their row or column.

    There the flow is interpolated between measured motion; elsewhere (lost rows at the bottom,
    a failed corner) it would be extrapolated towards the frame's edge, which loses.
    """
    across = _between_clean(clean)
    down = _between_clean(np.ascontiguousarray(clean.T)).T
    return ~clean & (across | down)


def enclosed_failures(clean: np.ndarray) -> bool:
    """Whether every failed pixel of (h, w) bool ``clean`` is bracketed (see above).

    True when nothing failed. A failed corner, a band along an edge or lost rows at the bottom
    are not enclosed: towards the frame's edge there is no clean scene to anchor them.
    """
    return bool(np.array_equal(bracketed_failures(clean), ~clean))


def rgb01_gray(rgb01: np.ndarray) -> np.ndarray:
    """(h, w, 3) float32 RGB in [0, 1] -> (h, w) uint8 gray."""
    rgb = (rgb01 * np.float32(255.0) + np.float32(0.5)).clip(0, 255).astype(np.uint8)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def fill_flow(flow: np.ndarray, clean: np.ndarray, bracketed: np.ndarray) -> np.ndarray:
    """Replace the flow at ``bracketed`` pixels by the normalised convolution of the clean flow.

    The smooth fill is computed at half the model's size (a Gaussian of sigma 12 pixels: the
    same evaluation figures to 0.01 dB as at full size, at a quarter of the cost). Returns a new
    (h, w, 2) float32 flow: measured at clean pixels, filled at bracketed ones, zero elsewhere
    (failed pixels towards the frame's edge keep ECC's warp).
    """
    height, width = clean.shape
    support = clean.astype(np.float32)
    out = cv2.copyTo(flow, clean.view(np.uint8))  # the measured flow, 0 at failed pixels
    half = (width // 2, height // 2)
    numerator = cv2.GaussianBlur(
        cv2.resize(out, half, interpolation=cv2.INTER_AREA), (0, 0), FILL_SIGMA / 2
    )
    denominator = cv2.GaussianBlur(
        cv2.resize(support, half, interpolation=cv2.INTER_AREA), (0, 0), FILL_SIGMA / 2
    )
    # Deep inside a large failure no clean pixel is within reach: use the mean clean flow.
    mean = cv2.mean(flow, mask=clean.view(np.uint8))[:2]
    filled = numerator / np.maximum(denominator, np.float32(1e-6))[..., None]
    far = denominator < 1e-3
    if far.any():
        filled[far] = mean
    filled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    out = cv2.copyTo(filled, bracketed.view(np.uint8), out)  # in place; np.copyto: 1 ms more
    return out


def remap_by(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Return ``image`` (h, w[, C]) moved by ``flow`` (h, w, 2): out(x) = image(x + flow(x)).

    Bilinear, edges replicated.
    """
    grid_x, grid_y = pixel_grid(*flow.shape[:2])
    return cv2.remap(
        image,
        grid_x + flow[..., 0],
        grid_y + flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def compose(first: np.ndarray, then: np.ndarray) -> np.ndarray:
    """Return the (h, w, 2) flow of two remaps: ``first``, then ``then`` applied to its result.

    With out(x) = moved(x + then(x)) and moved(y) = image(y + first(y)):
    out(x) = image(x + then(x) + first(x + then(x))).
    """
    return remap_by(first, then) + then


def remap_detail(
    detail: np.ndarray, flow: np.ndarray, failed: np.ndarray, warp: np.ndarray | None
) -> np.ndarray:
    """Return the (H, W, 3) float32 detail moved by ECC's ``warp`` and the model-size ``flow``.

    ``warp``: ECC's 2x3 full-resolution warp (reference -> damaged frame) or None; ``failed``:
    (h, w) bool, the model-size pixels that are not clean. The detail is only ever added at
    failed pixels, so only their full-resolution bounding box is computed, in one remap of
    ``detail`` (the affine warp and the flow composed); the rest of the returned map is 0.
    """
    full_h, full_w = detail.shape[:2]
    height, width = flow.shape[:2]
    sx, sy = full_w / width, full_h / height
    rows, cols = np.nonzero(failed)
    top, bottom = int(rows.min() * sy), min(int(np.ceil((rows.max() + 1) * sy)), full_h)
    left, right = int(cols.min() * sx), min(int(np.ceil((cols.max() + 1) * sx)), full_w)
    # Where each pixel's detail comes from, in full-resolution coordinates, at model size: it
    # is affine in the pixel position plus the flow, so resampling it bilinearly to the box
    # gives every full-resolution pixel its source (no full-resolution meshgrid).
    grid_x, grid_y = pixel_grid(height, width)
    x = (grid_x + flow[..., 0] + np.float32(0.5)) * np.float32(sx) - np.float32(0.5)
    y = (grid_y + flow[..., 1] + np.float32(0.5)) * np.float32(sy) - np.float32(0.5)
    if warp is not None:  # the warped detail at p is the detail at warp^-1 (p)
        inverse = cv2.invertAffineTransform(warp).astype(np.float32)
        x, y = (
            inverse[0, 0] * x + inverse[0, 1] * y + inverse[0, 2],
            inverse[1, 0] * x + inverse[1, 1] * y + inverse[1, 2],
        )
    source = cv2.merge([x, y])
    to_model = np.array(
        [[1 / sx, 0, (left + 0.5) / sx - 0.5], [0, 1 / sy, (top + 0.5) / sy - 0.5]], np.float64
    )  # box pixel (X, Y) -> model-size position
    if (top, left, bottom, right) == (0, 0, full_h, full_w):
        box_map = cv2.resize(source, (full_w, full_h), interpolation=cv2.INTER_LINEAR)
    else:
        box_map = cv2.warpAffine(
            source,
            to_model,
            (right - left, bottom - top),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
    moved = cv2.remap(detail, box_map, None, DETAIL_INTERPOLATION, borderMode=cv2.BORDER_REPLICATE)
    if moved.shape == detail.shape:
        return moved
    out = np.zeros(detail.shape, detail.dtype)
    out[top:bottom, left:right] = moved
    return out


def refine_reference(
    model_input: np.ndarray,
    detail: np.ndarray | None,
    damaged_small: np.ndarray,
    valid_small: np.ndarray,
    warp: np.ndarray | None = None,
    base_flow: np.ndarray | None = None,
) -> FlowRefinement:
    """Move the reference by the dense motion measured around the failures it brackets.

    Args:
        model_input: (1, 3, h, w) float32 RGB in [0, 1], the reference at the model's input
            size, already moved by ``warp`` or ``base_flow``; never modified.
        detail: (H, W, 3) float32 full-resolution detail of the reference NOT moved by ``warp``
            or ``base_flow`` (the prepared one), or None; never modified.
        damaged_small: (h, w, 3) uint8 BGR, the damaged frame at the model's input size.
        valid_small: (h, w) uint8, the clean share of each pixel's footprint x 255.
        warp: ECC's 2x3 full-resolution warp of the reference onto the damaged frame, or None.
        base_flow: (h, w, 2) float32 model-size flow already applied to ``model_input``
            instead of ``warp`` (the carried motion, ``motion_prior.py``), or None.
    Returns:
        A :class:`FlowRefinement`: when refined, the moved model input and the detail moved by
        ``warp`` or ``base_flow`` and the flow (valid at the failed pixels only); otherwise
        ``model_input`` and ``detail`` as given, with the reason (the caller moves the detail).
    """
    if warp is not None and base_flow is not None:
        raise ValueError("give the warp or the base flow the model input was moved by, not both")
    height, width = damaged_small.shape[:2]
    clean = valid_small == 255
    clean = cv2.erode(clean.view(np.uint8), np.ones((EDGE_ERODE, EDGE_ERODE), np.uint8)) > 0
    if clean.mean() < MIN_CLEAN:
        return FlowRefinement(model_input, detail, False, "too few clean pixels")
    bracketed = bracketed_failures(clean)
    if not bracketed.any():
        return FlowRefinement(model_input, detail, False, "no failure bracketed by clean pixels")
    reference = array_to_image(model_input)
    reference_gray = rgb01_gray(reference)
    damaged_gray = cv2.cvtColor(damaged_small, cv2.COLOR_BGR2GRAY)
    # Failed pixels show the reference, so their content (black, noise) adds no false edges.
    damaged_gray = np.where(clean, damaged_gray, reference_gray)
    flow = cv2.DISOpticalFlow_create(FLOW_PRESET).calc(damaged_gray, reference_gray, None)
    flow = fill_flow(flow, clean, bracketed)  # damaged(x) ~ reference(x + flow(x))
    warped = remap_by(reference, flow)
    clean8 = clean.view(np.uint8)  # mean |difference| on the clean pixels, in OpenCV passes
    before = cv2.mean(cv2.absdiff(reference_gray, damaged_gray), mask=clean8)[0]
    after = cv2.mean(cv2.absdiff(rgb01_gray(warped), damaged_gray), mask=clean8)[0]
    if after >= MIN_GAIN * before:  # also when nothing moved (both 0)
        return FlowRefinement(model_input, detail, False, "the flow does not explain the frame")
    refined_input = np.ascontiguousarray(warped.transpose(2, 0, 1)[None])
    if detail is None:
        refined_detail = None
    else:
        total = flow if base_flow is None else compose(base_flow, flow)
        refined_detail = remap_detail(detail, total, ~clean, warp)
    everywhere = bool(np.array_equal(bracketed, ~clean))
    return FlowRefinement(refined_input, refined_detail, True, everywhere=everywhere)

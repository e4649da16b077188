"""The restoration methods compared by ``frame-restore evaluate``, behind one signature.

Every method maps (reference, damaged, failed, before=None) -> restored, all full resolution:
reference and damaged (H, W, 3) uint8 BGR, failed (H, W) bool; the output differs from
``damaged`` only at failed pixels. ``before`` (:class:`Before`): the frame one interval before
the reference, which a stream always has (the node keeps it); only the SiamMCVAE pipeline reads
it, to carry the reference's motion forward (``pipeline/motion_prior.py``).

Baselines (docs/evaluation.md): hold (copy the reference), OpenCV inpainting
(Telea; Navier-Stokes) and a single-frame MAE of the same size. SiamMCVAE and hold run through
the node's own ``pipeline.repair.RepairPipeline`` (alignment, change gate, detail transfer,
seam feathering: the node's defaults), so the evaluation scores what the node publishes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from frame_restore_ros.backends.hold import HoldBackend
from frame_restore_ros.media.resize import downscale
from frame_restore_ros.pipeline.motion_prior import ReferenceMotion
from frame_restore_ros.pipeline.repair import RepairOptions, RepairPipeline

INPAINT_RADIUS = 3  # OpenCV's documented default neighbourhood


@dataclass(frozen=True)
class Before:
    """The moment before the reference.

    Attributes:
        frame: (H, W, 3) uint8 BGR, the real frame one interval before the reference.
        steps: intervals from the reference to the damaged frame (the frame gap).
    """

    frame: np.ndarray
    steps: float


class Method(Protocol):
    """A restoration method: (reference, damaged, failed, before=None) -> restored frame."""

    def __call__(
        self,
        reference: np.ndarray,
        damaged: np.ndarray,
        failed: np.ndarray,
        before: Before | None = None,
    ) -> np.ndarray: ...


def _single_pair(
    method: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
) -> Method:
    """Adapt a (reference, damaged, failed) function to :class:`Method` (it ignores ``before``)."""

    def adapted(
        reference: np.ndarray,
        damaged: np.ndarray,
        failed: np.ndarray,
        before: Before | None = None,
    ) -> np.ndarray:
        return method(reference, damaged, failed)

    return adapted


def pipeline_method(pipeline: RepairPipeline) -> Method:
    """Wrap a repair pipeline as a method (no reference cache: every pair is new)."""

    def method(
        reference: np.ndarray,
        damaged: np.ndarray,
        failed: np.ndarray,
        before: Before | None = None,
    ) -> np.ndarray:
        motion = None
        if before is not None and pipeline.carries_motion:
            size = pipeline.backend.input_size
            motion = ReferenceMotion.from_frame(before.frame, size, before.steps)
        return pipeline.repair(reference, damaged, failed, motion=motion).frame

    return method


hold = pipeline_method(RepairPipeline(HoldBackend()))


def hold_at_model_resolution(size: tuple[int, int]) -> Method:
    """Return hold through the model's input ``size`` (h, w).

    The reference is downscaled and upsampled as the pipeline resizes the model's prediction,
    then copied into the failed pixels: what a model that reproduced the reference exactly
    would score without detail transfer, the ceiling of the upsampled prediction where nothing
    changed (docs/evaluation.md).
    """

    def method(reference: np.ndarray, damaged: np.ndarray, failed: np.ndarray) -> np.ndarray:
        small = downscale(reference, size)
        height, width = reference.shape[:2]
        upsampled = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
        out = damaged.copy()
        np.copyto(out, upsampled, where=failed[..., None])
        return out

    return _single_pair(method)


def _inpaint(flag: int) -> Method:
    def method(reference: np.ndarray, damaged: np.ndarray, failed: np.ndarray) -> np.ndarray:
        painted = cv2.inpaint(damaged, failed.astype(np.uint8), INPAINT_RADIUS, flag)
        out = damaged.copy()
        np.copyto(out, painted, where=failed[..., None])
        return out

    return _single_pair(method)


telea = _inpaint(cv2.INPAINT_TELEA)
navier_stokes = _inpaint(cv2.INPAINT_NS)


def model_method(
    weights: Path | None,
    options: RepairOptions | None = None,
    backend_name: str = "torch-cpu",
    precision: str = "fp16",
) -> Method:
    """Wrap a weight file (None: the bundled default) in the node's repair pipeline.

    ``options`` default to the node's (``RepairOptions()``). A single-frame MAE never gets the
    reference: no detail transfer, gate or alignment for it. ``backend_name`` runs the model on
    another backend (``backends.selection.load_backend``), ``precision`` where it has one;
    torch-cpu (fp32) is the reference.
    """
    from frame_restore_ros.backends.selection import load_backend

    loaded = load_backend(backend_name, weights, precision)
    if loaded.config is None:
        raise ValueError(f"{backend_name} runs no model; use the hold method for the baseline")
    options = options or RepairOptions()
    if loaded.config.architecture == "mae":
        options = RepairOptions.single_frame(options)
    return pipeline_method(RepairPipeline(loaded.backend, options))


def build_methods(
    siammcvae: Path | None,
    mae: Path | None,
    ablations: bool = False,
    backend_name: str = "torch-cpu",
    precision: str = "fp16",
    model_only: bool = False,
    compared: Path | None = None,
    without_carry: bool = False,
) -> dict[str, Method]:
    """Return the methods of one evaluation run, in report order.

    ``ablations`` adds SiamMCVAE without ECC alignment, without the change gate, without
    detail transfer, with thin routing, and with none of the compositing steps (the model's
    prediction upsampled: ``siammcvae_model_only``, also added alone by ``model_only``).
    ``model_only`` also adds ``siammcvae_model_fullres`` (the prediction plus the reference's
    detail above the model's resolution, nothing else) and ``hold_model_resolution``
    (:func:`hold_at_model_resolution`). ``compared``: a second SiamMCVAE weight file scored the
    same way (``siammcvae_compared``, and its model-only row), e.g. the previous default
    weights. ``without_carry`` adds the node's defaults without the carried motion
    (``siammcvae_no_carry``: ``RepairOptions.motion_prior`` off). The models run on
    ``backend_name`` at ``precision`` (:func:`model_method`).
    """
    on = {"backend_name": backend_name, "precision": precision}
    node = RepairOptions()
    methods: dict[str, Method] = {
        "hold": hold,
        "telea": telea,
        "navier_stokes": navier_stokes,
    }
    if mae is not None:
        methods["mae"] = model_method(mae, **on)
    methods["siammcvae"] = model_method(siammcvae, node, **on)
    if without_carry:
        methods["siammcvae_no_carry"] = model_method(
            siammcvae, replace(node, motion_prior=False), **on
        )
    if ablations:
        variants = {
            "siammcvae_no_align": replace(node, align="none"),
            "siammcvae_no_gate": replace(node, change_tau=None),
            "siammcvae_no_detail": replace(node, detail_transfer=False),
            "siammcvae_thin_routing": replace(node, thin_inpaint_px=4),
            "siammcvae_model_only": RepairOptions.model_only(),
        }
        for name, options in variants.items():
            methods[name] = model_method(siammcvae, options, **on)
    bare = RepairOptions.model_only()
    if model_only and not ablations:
        methods["siammcvae_model_only"] = model_method(siammcvae, bare, **on)
    if model_only:
        # The model's residual over the reference read at full resolution (its prediction plus
        # the reference's detail above the model's resolution; no alignment, gate or seams),
        # and the resolution ceiling of the upsampled prediction.
        fullres = replace(bare, detail_transfer=True)
        methods["siammcvae_model_fullres"] = model_method(siammcvae, fullres, **on)
        methods["hold_model_resolution"] = hold_at_model_resolution(_input_size(siammcvae))
    if compared is not None:
        methods["siammcvae_compared"] = model_method(compared, node, **on)
        if model_only or ablations:
            methods["siammcvae_compared_model_only"] = model_method(compared, bare, **on)
    return methods


def _input_size(weights: Path | None) -> tuple[int, int]:
    """Return the (h, w) input size of a weight file (None: the bundled default)."""
    from frame_restore_ros.model import read_metadata
    from frame_restore_ros.model.bundled import default_weights_path

    config, _ = read_metadata(weights if weights is not None else default_weights_path())
    return tuple(config.input_size)

"""The restoration methods compared by ``frame-restore evaluate``, behind one signature.

Every method maps (reference, damaged, failed) -> restored, all full resolution: reference and
damaged (H, W, 3) uint8 BGR, failed (H, W) bool; the output differs from ``damaged`` only at
failed pixels. Baselines (DESIGN.md section 9): hold (copy the reference), OpenCV inpainting
(Telea; Navier-Stokes) and a single-frame MAE of the same size; SiamMCVAE runs through the same
full-resolution compositing as the node (seam feathering, detail transfer, change gate,
optional alignment).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from frame_restore_ros.pipeline.change_gate import DEFAULT_TAU
from frame_restore_ros.pipeline.compositing import restore_with_uncertainty, to_model_size
from frame_restore_ros.pipeline.reference_inputs import aligned_inputs, prepare_reference

Method = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
INPAINT_RADIUS = 3  # OpenCV's documented default neighbourhood


def hold(reference: np.ndarray, damaged: np.ndarray, failed: np.ndarray) -> np.ndarray:
    """Copy the reference into the failed pixels."""
    out = damaged.copy()
    np.copyto(out, reference, where=failed[..., None])
    return out


def _inpaint(flag: int) -> Method:
    def method(reference: np.ndarray, damaged: np.ndarray, failed: np.ndarray) -> np.ndarray:
        painted = cv2.inpaint(damaged, failed.astype(np.uint8), INPAINT_RADIUS, flag)
        out = damaged.copy()
        np.copyto(out, painted, where=failed[..., None])
        return out

    return method


telea = _inpaint(cv2.INPAINT_TELEA)
navier_stokes = _inpaint(cv2.INPAINT_NS)


def model_method(
    weights: Path | None,
    feather_px: int = 24,
    detail_transfer: bool = True,
    align: bool = True,
    change_tau: float | None = DEFAULT_TAU,
    backend_name: str = "torch-cpu",
    precision: str = "fp16",
) -> Method:
    """Wrap a weight file (None: the bundled default) in the node's compositing.

    A single-frame MAE never gets the reference: no detail transfer and no alignment for it.
    ``backend_name`` runs the model on another backend (``backends.selection``), ``precision``
    where it has one; torch-cpu (fp32) is the reference.
    """
    from frame_restore_ros.backends.selection import create_backend
    from frame_restore_ros.model.bundled import load_default_or

    model = load_default_or(weights)
    backend = create_backend(model, backend_name, precision=precision)
    uses_reference = model.cfg.architecture != "mae"

    def method(reference: np.ndarray, damaged: np.ndarray, failed: np.ndarray) -> np.ndarray:
        prepared = prepare_reference(
            reference,
            backend.input_size,
            detail_transfer and uses_reference,
            align and uses_reference,
        )  # exactly as the node's restorer does
        small = to_model_size(damaged, failed, backend.input_size)
        model_input, detail, _ = aligned_inputs(prepared, reference, damaged, ~failed)
        restored, _ = restore_with_uncertainty(
            backend,
            reference,
            damaged,
            failed,
            feather_px,
            False,
            model_input,
            detail,
            change_tau if uses_reference else None,
            small,
        )
        return restored

    return method


def build_methods(
    siammcvae: Path | None,
    mae: Path | None,
    ablations: bool = False,
    backend_name: str = "torch-cpu",
    precision: str = "fp16",
) -> dict[str, Method]:
    """Return the methods of one evaluation run, in report order.

    ``ablations`` adds SiamMCVAE without ECC alignment, without the change gate, without
    detail transfer, and with none of the three (the model's prediction upsampled). The models
    run on ``backend_name`` at ``precision`` (:func:`model_method`).
    """
    on = {"backend_name": backend_name, "precision": precision}
    methods: dict[str, Method] = {
        "hold": hold,
        "telea": telea,
        "navier_stokes": navier_stokes,
    }
    if mae is not None:
        methods["mae"] = model_method(mae, **on)
    methods["siammcvae"] = model_method(siammcvae, **on)
    if ablations:
        methods["siammcvae_no_align"] = model_method(siammcvae, align=False, **on)
        methods["siammcvae_no_gate"] = model_method(siammcvae, change_tau=None, **on)
        methods["siammcvae_no_detail"] = model_method(siammcvae, detail_transfer=False, **on)
        methods["siammcvae_model_only"] = model_method(
            siammcvae, detail_transfer=False, align=False, change_tau=None, **on
        )
    return methods

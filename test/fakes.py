"""Test doubles and a short way to call the repair pipeline with explicit options."""

from __future__ import annotations

import numpy as np

from frame_restore_ros.pipeline.repair import RepairOptions, RepairPipeline


class CopyBackend:
    """A "model" that returns the reference at its input size in every failed patch.

    Unlike the hold baseline (``backends.hold``), it runs through every stage of the repair
    pipeline (resize, gate, feathering, upsampling, detail transfer), so those stages can be
    checked against a known prediction.
    """

    name = "copy"

    def __init__(self, input_size: tuple[int, int] = (224, 400), patch_size: int = 16) -> None:
        self.input_size = input_size
        self.patch_size = patch_size

    def infer(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> np.ndarray:
        """(1, 3, h, w) x2 and (1, h/P, w/P) -> (1, 3, h, w): reference in failed patches."""
        pixels = np.repeat(np.repeat(patch_mask > 0.5, self.patch_size, 1), self.patch_size, 2)
        return np.where(pixels[:, None], reference, damaged)


def repair(
    backend: object,
    reference: np.ndarray,
    damaged: np.ndarray,
    failed: np.ndarray,
    feather_px: int = 0,
    uncertainty: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Repair with the bare model (no alignment, gate, detail or thin routing)."""
    options = RepairOptions(
        feather_px=feather_px,
        detail_transfer=False,
        change_tau=None,
        align="none",
        uncertainty=uncertainty,
        thin_inpaint_px=0,
    )
    result = RepairPipeline(backend, options).repair(reference, damaged, failed)
    return result.frame, result.uncertainty

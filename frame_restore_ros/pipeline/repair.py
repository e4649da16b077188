"""The repair stage, glued in this one place: reference -> alignment -> model -> composite.

Given a reference frame, a damaged frame and its failure mask (all full resolution), the
pipeline prepares the reference for the model once (``reference_inputs.py``), aligns it to the
damaged frame (ECC, ``alignment.py``; then the dense motion around the failures,
``flow_refinement.py``), runs the backend at the model's input size, gates the
prediction towards the reference where the scene did not change (``change_gate.py``), feathers
the seams (``seam.py``), upsamples, adds the reference's detail and writes the failed pixels
only (``compositing.py``). Every entry point repairs through a :class:`RepairPipeline`: the
node and the replay (inside ``restorer.Restorer``), the evaluation's model and hold rows, the
demo and the benchmarks; so they compute alike by construction.

The hold baseline is the same pipeline with the :class:`~backends.hold.HoldBackend`: the
reference copied into the failed pixels at full resolution, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from frame_restore_ros.backends.base import RestorationBackend
from frame_restore_ros.backends.hold import HoldBackend
from frame_restore_ros.pipeline.alignment import ALIGN_MODES
from frame_restore_ros.pipeline.change_gate import DEFAULT_TAU
from frame_restore_ros.pipeline.compositing import composite_prediction, to_model_size
from frame_restore_ros.pipeline.flow_refinement import enclosed_failures
from frame_restore_ros.pipeline.motion_prior import (
    MAX_STEPS,
    FollowedFlows,
    ReferenceMotion,
    model_input_gray,
    velocity,
)
from frame_restore_ros.pipeline.reference_inputs import (
    ReferenceInputs,
    aligned_inputs,
    prepare_reference,
)
from frame_restore_ros.pipeline.temporal_blend import DEFAULT_TEMPORAL_BLEND
from frame_restore_ros.pipeline.thin_routing import (
    DEFAULT_THIN_INPAINT_PX,
    inpaint_thin,
    thin_failures,
)


@dataclass(frozen=True)
class RepairOptions:
    """How failed pixels are repaired (the node's parameters of the same names).

    Attributes:
        feather_px: width of the blend at a repaired region's edge, full-resolution pixels.
        detail_transfer: add the reference's full-resolution detail to the upsampled prediction.
        change_tau: change gate, gray levels: where the valid surroundings changed less than
            this since the reference, keep the reference; None turns the gate off.
        align: warp the reference onto the damaged frame first: "ecc" (one affine warp),
            "ecc_flow" (that, then the dense motion around the failures,
            ``flow_refinement.py``) or "none".
        uncertainty: also return the per-pixel std of K decoder samples (needs a backend with
            ``infer_with_uncertainty``).
        thin_inpaint_px: failed structures at most this thick (dead lines, a few rows or
            columns, specks) are inpainted from their neighbours instead of predicted by the
            model (``thin_routing``); 0 turns it off. The hold baseline is never routed.
        temporal_blend: the share of this frame's repair where a pixel was also repaired in
            the previous frame; the rest is the previous output (``temporal_blend.py``, applied
            by the per-camera Restorer: a lasting failure flickers less). 1.0 turns it off.
        motion_prior: with ``align: ecc_flow``, carry the reference's own motion (measured
            against the moment before it) forward to the damaged frame, inside the failures
            too, where it explains the clean pixels better than ECC (``motion_prior.py``).
    """

    feather_px: int = 24
    detail_transfer: bool = True
    change_tau: float | None = DEFAULT_TAU
    align: str = "ecc_flow"
    uncertainty: bool = False
    thin_inpaint_px: int = DEFAULT_THIN_INPAINT_PX
    temporal_blend: float = DEFAULT_TEMPORAL_BLEND
    motion_prior: bool = True

    def __post_init__(self) -> None:
        if self.align not in ALIGN_MODES:
            raise ValueError(f"align must be one of {ALIGN_MODES}, got {self.align!r}")
        if self.feather_px < 0:
            raise ValueError(f"feather_px must be >= 0, got {self.feather_px}")
        if self.thin_inpaint_px < 0:
            raise ValueError(f"thin_inpaint_px must be >= 0, got {self.thin_inpaint_px}")
        if not 0.0 < self.temporal_blend <= 1.0:
            raise ValueError(f"temporal_blend must be in (0, 1], got {self.temporal_blend}")
        if self.change_tau is not None and self.change_tau <= 0:
            raise ValueError(f"change_tau must be > 0 gray levels or None, got {self.change_tau}")

    @classmethod
    def model_only(cls) -> RepairOptions:
        """Return the options of the bare model: its prediction upsampled, nothing else."""
        return cls(
            feather_px=0,
            detail_transfer=False,
            change_tau=None,
            align="none",
            thin_inpaint_px=0,
            temporal_blend=1.0,
        )

    @classmethod
    def single_frame(cls, base: RepairOptions | None = None) -> RepairOptions:
        """Return ``base`` without what needs a reference (a single-frame MAE never sees one)."""
        base = base or cls()
        return replace(base, detail_transfer=False, change_tau=None, align="none")


@dataclass(frozen=True)
class Repair:
    """What one repair produced.

    Attributes:
        frame: (H, W, 3) uint8 BGR; differs from the damaged frame only at failed pixels.
        uncertainty: (H, W) float32 std on the 0-255 scale, 0 outside failed pixels; or None
            (not asked for, or the hold backend, which does not sample).
        aligned: whether a warp of the reference onto the damaged frame was applied.
        followed: the reference was moved with the dense motion measured and interpolated at
            every failed pixel (``align: ecc_flow``): the repair follows the scene there, so the
            restorer may let it into the reference (``TrackerConfig.propagate_followed``).
        enclosed: the model repaired failures enclosed by the clean scene: at the model's
            size every failed pixel has clean pixels on both sides along its row or column
            (``flow_refinement.bracketed_failures``), so the repair is anchored on the live
            scene around it rather than extrapolated towards the frame's edge (lost rows, a
            failed corner); the restorer may let it into the reference
            (``TrackerConfig.propagate_enclosed``).
    """

    frame: np.ndarray
    uncertainty: np.ndarray | None
    aligned: bool
    followed: bool = False
    enclosed: bool = False


class RepairPipeline:
    """Repairs failed pixels from a reference with one backend and one set of options.

    The prepared reference (model-size image, detail map, ECC work image) is cached under the
    caller's ``key`` (the reference tracker's version in the restorer): a new key or a backend
    of another input size prepares it again. Without a key nothing is cached.
    """

    def __init__(self, backend: RestorationBackend, options: RepairOptions | None = None) -> None:
        self.backend = backend
        self.options = options or RepairOptions()
        # (key, prepared, stamp of the reference's content or None) of the newest reference,
        # and (model-size luma, stamp, the newest's velocity against it or None, that velocity's
        # followed flows) of the one prepared before it (the moment before, for the carried
        # motion).
        self._cached: tuple[object, ReferenceInputs, float | None] | None = None
        self._before: tuple[np.ndarray, float, np.ndarray | None, FollowedFlows | None] | None = (
            None
        )

    @property
    def holds(self) -> bool:
        """Whether this is the hold baseline (the reference copied, no model)."""
        return isinstance(self.backend, HoldBackend)

    @property
    def carries_motion(self) -> bool:
        """Whether repairs use the reference's carried motion (``RepairOptions.motion_prior``)."""
        return self.options.motion_prior and self.options.align == "ecc_flow" and not self.holds

    def invalidate(self) -> None:
        """Forget the prepared references (after a backend or options change)."""
        self._cached = None
        self._before = None

    def prepare(
        self, reference: np.ndarray, key: object = None, stamp: float | None = None
    ) -> ReferenceInputs | None:
        """Prepare an (H, W, 3) uint8 reference for the model (cached under ``key``).

        ``stamp``: the header time of the reference's content (s), kept with it for
        :meth:`carried_motion`; the reference's velocity against the one prepared before it
        is measured here too (~2-3 ms: in the node's idle time, off a damaged frame's path).
        Returns None for the hold backend, which uses the reference as it is.
        """
        if self.holds:
            return None
        size = self.backend.input_size
        cached = self._cached
        if key is not None and cached is not None and cached[0] == key:
            if cached[1].size == size:
                return cached[1]
        options = self.options
        prepared = prepare_reference(
            reference, size, options.detail_transfer, options.align != "none"
        )
        if key is not None:
            if cached is not None and cached[0] != key:
                self._before = None
                if self.carries_motion and cached[2] is not None and stamp is not None:
                    before, luma = _luma(cached[1]), _luma(prepared)
                    measured = velocity(luma, before) if before.shape == luma.shape else None
                    flows = None if measured is None else FollowedFlows(measured)
                    self._before = (before, cached[2], measured, flows)
            self._cached = (key, prepared, stamp)
        return prepared

    def carried_motion(self, key: object, stamp: float) -> ReferenceMotion | None:
        """Return the moment before the reference prepared under ``key``, for a frame at ``stamp``.

        Built from the reference prepared before it (the node prepares every new reference in
        its idle time, so that is the previous one): the carried motion's steps are the time
        since the reference over the time between the two. None when the options do not carry
        motion, either reference lacks a stamp, the stamps are not in order, or the frame lies
        more than ``MAX_STEPS`` such intervals past the reference.
        """
        cached, before = self._cached, self._before
        if not self.carries_motion or cached is None or before is None or cached[0] != key:
            return None
        (before_gray, before_stamp, measured, flows), reference_stamp = before, cached[2]
        if reference_stamp is None or not before_stamp < reference_stamp < stamp:
            return None
        if before_gray.shape != cached[1].size:
            return None
        # Rounded: stamps in float seconds make a steady stream's ratio 0.9999999... or 1.0000001.
        steps = round((stamp - reference_stamp) / (reference_stamp - before_stamp), 3)
        if not 0.0 < steps <= MAX_STEPS:
            return None
        return ReferenceMotion(before_gray, steps, measured, flows)

    def repair(
        self,
        reference: np.ndarray,
        damaged: np.ndarray,
        failed: np.ndarray,
        key: object = None,
        motion: ReferenceMotion | None = None,
    ) -> Repair:
        """Repair the ``failed`` pixels of ``damaged`` from ``reference``.

        Args:
            reference, damaged: (H, W, 3) uint8 BGR of the same shape.
            failed: (H, W) bool, True = failed pixel.
            key: identifies ``reference`` for the cache of :meth:`prepare`.
            motion: the moment before the reference (:meth:`carried_motion`,
                ``ReferenceMotion.from_frame``); used when :attr:`carries_motion`.
        Returns:
            A :class:`Repair` whose frame equals ``damaged`` byte for byte outside ``failed``.
        """
        if reference.shape != damaged.shape or damaged.shape[:2] != failed.shape:
            raise ValueError(
                f"shapes differ: reference {reference.shape}, damaged {damaged.shape}, "
                f"mask {failed.shape}"
            )
        if self.holds:
            output = damaged.copy()
            cv2.copyTo(reference, failed.view(np.uint8), output)
            return Repair(output, None, False)
        if not failed.any():
            zeros = np.zeros(failed.shape, np.float32) if self.options.uncertainty else None
            return Repair(damaged.copy(), zeros, False)
        thin = thin_failures(failed, self.options.thin_inpaint_px)
        if thin.any() and not (failed & ~thin).any():  # only thin failures: no model call
            zeros = np.zeros(failed.shape, np.float32) if self.options.uncertainty else None
            return Repair(inpaint_thin(damaged, thin), zeros, False)
        repair = self._predict(reference, damaged, failed, key, motion)
        if not thin.any():
            return repair
        frame = inpaint_thin(repair.frame, thin)
        return replace(repair, frame=frame)

    def _predict(
        self,
        reference: np.ndarray,
        damaged: np.ndarray,
        failed: np.ndarray,
        key: object,
        motion: ReferenceMotion | None,
    ) -> Repair:
        """Model prediction composited into every failed pixel (see :meth:`repair`)."""
        prepared = self.prepare(reference, key)
        assert prepared is not None
        small = to_model_size(damaged, failed, self.backend.input_size)
        options = self.options
        flow = small if options.align == "ecc_flow" else None
        carry = motion if self.carries_motion else None
        inputs = aligned_inputs(prepared, reference, damaged, ~failed, flow, carry)
        frame, uncertainty = composite_prediction(
            self.backend,
            damaged,
            failed,
            small,
            inputs.model_input,
            inputs.detail,
            feather_px=options.feather_px,
            change_tau=options.change_tau,
            uncertainty=options.uncertainty,
        )
        enclosed = enclosed_failures(small.valid == 255)
        return Repair(frame, uncertainty, inputs.aligned, inputs.followed, enclosed)


def _luma(prepared: ReferenceInputs) -> np.ndarray:
    """(h, w) uint8 luma of a prepared reference's model input (computed once, when prepared)."""
    if prepared.luma is not None:
        return prepared.luma
    return model_input_gray(prepared.model_input)

"""The reference's own motion, carried forward: where the failed pixels' content has moved to.

A damaged frame shows nothing inside its failures, so the motion there can only be interpolated
from the clean pixels around them (``flow_refinement.py``) or predicted. A vehicle's view moves
smoothly: the motion between the moment before the reference and the reference, measured densely
on two whole frames, predicts the motion from the reference to the damaged frame at every pixel,
inside the failures too (constant velocity, followed for the time since the reference). Measured on
the validation tails of the driving clips (random patches at 75 %, reference moved by the
predicted motion alone, no model; ``scripts/measure_carried_motion.py``): +2.7 dB over hold at gap
1, +2.4 at gap 2, +1.5 at gap 4, against +0.4 / +0.3 / +0.2 for motion interpolated from the
clean pixels (docs/evaluation.md, "Motion carried forward").

The prediction is a prior: ``reference_inputs.aligned_inputs`` keeps it only where it explains
the damaged frame's clean pixels better than ECC's affine warp (a braking or turning vehicle
breaks constant velocity), and the dense refinement then corrects it around the failures.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from frame_restore_ros.media.resize import downscale
from frame_restore_ros.media.tensors import array_to_image
from frame_restore_ros.pipeline.flow_refinement import compose, rgb01_gray

MOTION_PRESET = cv2.DISOPTICAL_FLOW_PRESET_FAST  # the refinement's preset, at the model's size
MAX_STEPS = 30.0  # the tracker's default age bound: farther, the reference is not used anyway
# A camera's frame intervals jitter by a few percent: a step count this close to a whole one is
# followed as that whole number of steps and the result scaled to it (a fractional step would
# cost one more remap, ~0.5 ms, for a few hundredths of a pixel).
STEP_TOLERANCE = 0.05


@dataclass(frozen=True)
class ReferenceMotion:
    """The moment before the reference, to carry the reference's motion forward.

    Attributes:
        before: (h, w) uint8 luma at the model's input size: the scene one interval before
            the reference (the previous reference, or the frame before it).
        steps: how many such intervals lie between the reference and the damaged frame
            (a real number: time since the reference / time between ``before`` and it).
        velocity: (h, w, 2) float32 :func:`velocity` of the reference against ``before`` if
            already measured (the node measures it when it prepares the reference, in its
            idle time), or None: measured on use.
        flows: the :class:`FollowedFlows` of ``velocity`` kept across the frames of a lasting
            failure (one per prepared reference), or None.
    """

    before: np.ndarray
    steps: float
    velocity: np.ndarray | None = None
    flows: FollowedFlows | None = None

    def __post_init__(self) -> None:
        if self.before.ndim != 2 or self.before.dtype != np.uint8:
            raise ValueError(
                f"before must be (h, w) uint8 luma, got {self.before.dtype} {self.before.shape}"
            )
        if not 0.0 < self.steps <= MAX_STEPS:
            raise ValueError(f"steps must be in (0, {MAX_STEPS:g}], got {self.steps}")
        if self.flows is not None and self.flows.velocity is not self.velocity:
            raise ValueError("flows must follow this motion's own velocity")
        if self.velocity is not None and self.velocity.shape != (*self.before.shape, 2):
            raise ValueError(
                f"velocity must be {(*self.before.shape, 2)} for before {self.before.shape}, "
                f"got {self.velocity.shape}"
            )

    @classmethod
    def from_frame(cls, frame: np.ndarray, size: tuple[int, int], steps: float) -> ReferenceMotion:
        """Build from a full-resolution (H, W, 3) uint8 BGR ``frame`` for a model of ``size``."""
        return cls(cv2.cvtColor(downscale(frame, size), cv2.COLOR_BGR2GRAY), steps)


def model_input_gray(model_input: np.ndarray) -> np.ndarray:
    """(1, 3, h, w) float32 RGB in [0, 1] -> (h, w) uint8 luma."""
    return rgb01_gray(array_to_image(model_input))


def velocity(reference_gray: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Measure the reference's dense motion over one interval: (h, w, 2) float32 ``v``.

    reference_gray, before: (h, w) uint8 luma at the model's input size; reference(x) ~
    before(x + v(x)) (DIS optical flow, ``MOTION_PRESET``: ~2-3 ms at 224x400).
    """
    if reference_gray.shape != before.shape:
        raise ValueError(
            f"before {before.shape} and reference {reference_gray.shape} differ in size"
        )
    return cv2.DISOpticalFlow_create(MOTION_PRESET).calc(reference_gray, before, None)


class FollowedFlows:
    """One velocity field followed for whole step counts, the last one kept for the next frame.

    A failure that lasts asks for 1, 2, 3, ... steps of the same field, frame after frame: the
    flow for n + 1 steps is the flow for n followed one step more (one remap, ~0.5 ms at
    224x400), where :func:`followed` from scratch takes about 2 log2(n) (1.9 ms at 12 steps).

    velocity: (h, w, 2) float32 ``v``, as :func:`followed` takes it.
    """

    def __init__(self, velocity_field: np.ndarray) -> None:
        self.velocity = velocity_field
        self._count = 0
        self._flow: np.ndarray | None = None

    def whole(self, count: int) -> np.ndarray:
        """(h, w, 2) float32: ``velocity`` followed ``count`` >= 1 whole steps (not to modify)."""
        if self._flow is None or count not in (self._count, self._count + 1):
            self._flow = _whole_steps(self.velocity, count)
        elif count == self._count + 1:  # one step more: first one step, then the n before
            self._flow = compose(self._flow, self.velocity)
        self._count = count
        return self._flow


def _whole_steps(
    velocity_field: np.ndarray, count: int, flow: np.ndarray | None = None
) -> np.ndarray:
    """``velocity_field`` followed ``count`` whole steps after ``flow`` (None: none): doubling."""
    power = velocity_field  # v followed 2**i steps
    while count:
        if count & 1:
            flow = power.copy() if flow is None else compose(power, flow)
        count >>= 1
        if count:
            power = compose(power, power)
    return np.zeros_like(velocity_field) if flow is None else flow


def followed(
    velocity_field: np.ndarray, steps: float, flows: FollowedFlows | None = None
) -> np.ndarray:
    """Follow a steady motion field for ``steps`` intervals: (h, w, 2) float32 ``flow``.

    velocity_field: (h, w, 2) float32 ``v`` with frame_t(x) ~ frame_t-1(x + v(x)). Returns
    ``flow`` with frame_t+steps(x) ~ frame_t(x + flow(x)): the path x -> x + v(x) -> ...
    walked ``steps`` times, each step reading ``v`` where the path has got to (a fractional
    step first, as ``frac * v``). Scaling, ``steps * v(x)``, reads ``v`` at x alone: right
    for an object that carries its motion with it, wrong for the scene a vehicle drives
    through, whose motion stays put in the image while content streams across it (the road
    below the horizon moves faster the nearer it comes). Measured on the driving tails, the
    reference moved by either alone (``scripts/measure_carried_motion.py``), over the bottom
    15-30 % of the rows: 32.36 -> 32.44 dB at gap 4, 29.06 -> 29.42 at gap 8, 27.23 -> 28.15 at
    gap 12; random patches at 75 %: 28.55 -> 28.61, 25.49 -> 25.62, 24.30 -> 24.69; equal at
    gaps 1-2 (docs/evaluation.md, "Motion carried forward"). Whole steps by doubling: about
    2 log2(steps) remaps at the model's size (~0.5 ms each at 224x400; 1.9 ms at 12 steps), or
    one more step on ``flows``' last count (:class:`FollowedFlows` of this field).
    """
    whole, scale = int(steps), np.float32(1.0)
    fraction = np.float32(steps - whole)
    nearest = round(steps)
    if nearest >= 1 and abs(steps - nearest) <= STEP_TOLERANCE:  # a whole count, jittered
        whole, fraction, scale = nearest, np.float32(0.0), np.float32(steps / nearest)
    if flows is not None and flows.velocity is velocity_field and whole and not fraction > 0:
        return flows.whole(whole) * scale  # a new array: the kept flow stays as it is
    flow = velocity_field * fraction if fraction > 0 else None
    flow = _whole_steps(velocity_field, whole, flow)  # a new array
    return flow if scale == 1.0 else flow * scale


def carried_flow(reference_gray: np.ndarray, motion: ReferenceMotion) -> np.ndarray:
    """Predict the motion from the reference to the damaged frame at every pixel.

    reference_gray: (h, w) uint8 luma of the (unmoved) reference at the model's input size.
    Returns (h, w, 2) float32 ``flow`` with damaged(x) ~ reference(x + flow(x)): the dense
    motion with reference(x) ~ before(x + v(x)), followed for ``motion.steps`` intervals
    (:func:`followed`).
    """
    measured = motion.velocity
    if measured is None or reference_gray.shape != motion.before.shape:
        measured = velocity(reference_gray, motion.before)  # also checks the sizes
    return followed(measured, motion.steps, motion.flows)

"""Temporal smoothing of a failure that lasts: blend each repair with the previous one.

A real camera failure lasts for seconds. Each frame's repair is predicted on its own, so a
region repaired frame after frame flickers: the model's prediction and the alignment of the
reference differ a little from frame to frame, more than the scene behind the failure moves
(measured in docs/evaluation.md, persistent failures). Where a pixel was repaired in this frame
and in the previous one, the output is ``weight * repair + (1 - weight) * previous output`` (an
exponential moving average of the repairs); a pixel repaired for the first time, or after a
clean frame, is the repair itself. Good pixels are never touched.

Only a failure that lasts is smoothed: the repaired regions of the two frames must overlap by at
least ``MIN_OVERLAP`` (intersection over union). Short failures that happen to touch the same
pixels in consecutive frames (a block, then noise elsewhere) are independent: blending them only
mixes in the previous moment (measured on the demo's random failures: -0.18 dB without this
rule).
"""

from __future__ import annotations

import cv2
import numpy as np

# The default share of this frame's repair (RepairOptions.temporal_blend). Measured on blocks and
# lost rows held 12 frames on the 7 validation tails (docs/evaluation.md, persistent failures):
# failed-region PSNR / temporal error 28.32 / 4.62 without, 28.57 / 4.15 at 0.5, 28.57 / 4.05 at
# 0.3 (hold 27.48 / 3.86); 0.5 keeps the lag behind a changing scene to about one frame.
DEFAULT_TEMPORAL_BLEND = 0.5
MIN_OVERLAP = 0.5  # intersection over union of consecutive repaired regions: the same failure


class RepairBlender:
    """Per-camera state: the previous published frame and the pixels it repaired.

    ``weight``: the share of this frame's repair (1.0: no smoothing, the repair as it is).
    """

    def __init__(self, weight: float) -> None:
        if not 0.0 < weight <= 1.0:
            raise ValueError(f"temporal blend weight must be in (0, 1], got {weight}")
        self.weight = weight
        self._previous: np.ndarray | None = None
        self._repaired: np.ndarray | None = None

    def forget(self) -> None:
        """No repair to continue from (a clean, passed-through or new-size frame)."""
        self._previous = None
        self._repaired = None

    def blend(self, output: np.ndarray, repaired: np.ndarray) -> np.ndarray:
        """Return ``output`` (H, W, 3) uint8 with its ``repaired`` (H, W) bool pixels smoothed.

        Pixels outside ``repaired`` are returned byte for byte; ``output`` is modified in place
        and returned. The result is remembered for the next frame.
        """
        previous, before = self._previous, self._repaired
        if (
            self.weight < 1.0
            and previous is not None
            and before is not None
            and previous.shape == output.shape
        ):
            both = (repaired & before).view(np.uint8)
            overlap = cv2.countNonZero(both)
            union = overlap and cv2.countNonZero((repaired | before).view(np.uint8))
            if overlap and overlap >= MIN_OVERLAP * union:  # the same failure, still there
                # Blend inside the bounding box only: the failure is local.
                x, y, w, h = cv2.boundingRect(both)
                box = (slice(y, y + h), slice(x, x + w))
                share = self.weight
                mixed = cv2.addWeighted(output[box], share, previous[box], 1 - share, 0)
                cv2.copyTo(mixed, both[box], output[box])
        # Keep this frame for the next one in the same buffers (no allocation per frame).
        if previous is None or before is None or previous.shape != output.shape:
            self._previous, self._repaired = output.copy(), repaired.copy()
        else:
            np.copyto(previous, output)
            np.copyto(before, repaired)
        return output

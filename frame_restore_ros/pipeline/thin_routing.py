"""Route thin failures (dead lines, a few rows or columns, specks) to spatial inpainting.

A line a few pixels thick has valid pixels right beside every failed one: inpainting from them
beats any model that predicts patches of ~50 px from a downscaled frame (docs/evaluation.md
measures the difference). Blocks keep going to the model.
"""

from __future__ import annotations

import cv2
import numpy as np

INPAINT_RADIUS = 3  # px around each failed pixel that Telea's method reads
DEFAULT_THIN_INPAINT_PX = 0  # off: measured to lose PSNR to the full pipeline (docs/evaluation.md)


def thin_failures(failed: np.ndarray, width: int) -> np.ndarray:
    """(H, W) bool: the ``failed`` pixels in structures at most ``width`` pixels thick.

    A structure thinner than ``width + 1`` in either direction does not survive a morphological
    opening with a (``width + 1``)-pixel square; a block does, corners included.
    failed: (H, W) bool.
    """
    if width <= 0 or not failed.any():
        return np.zeros(failed.shape, dtype=bool)
    side = width + 1
    square = np.ones((side, side), np.uint8)
    # Opening by hand: an even square needs the dilation anchored opposite to the erosion.
    eroded = cv2.erode(failed.view(np.uint8), square, anchor=(0, 0))
    opened = cv2.dilate(eroded, square, anchor=(side - 1, side - 1))
    return failed & ~opened.view(bool)


def inpaint_thin(frame: np.ndarray, thin: np.ndarray) -> np.ndarray:
    """Return (H, W, 3) uint8 ``frame`` with its ``thin`` (H, W) bool pixels inpainted (Telea).

    Only ``thin`` pixels change; they are filled from the pixels around them in ``frame``.
    """
    if not thin.any():
        return frame
    filled = cv2.inpaint(frame, thin.view(np.uint8), INPAINT_RADIUS, cv2.INPAINT_TELEA)
    out = frame.copy()
    cv2.copyTo(filled, thin.view(np.uint8), out)
    return out

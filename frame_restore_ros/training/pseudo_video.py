"""Pseudo-video pairs from single frames (../shared/papers/pseudo-video-last-frame.txt).

A still frame becomes the current frame; its "previous frame" is made by an ego-motion-like warp:
the camera was a little further back (zoom out), a little to the side (shift), slightly rolled
(rotation) and the exposure differed (brightness). The warp grows with a simulated gap g, so
these pairs look like real pairs g frames apart from a moving vehicle, with exactly known motion.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def ego_motion_warp(
    frame: np.ndarray, gap: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return (reference, current): ``frame`` (H, W, 3) uint8 and its warped "previous" view.

    Per frame of gap: zoom up to 1.2 %, shift up to 0.6 % of the size, roll up to 0.25 degrees;
    brightness gain within +-6 % overall.
    """
    height, width = frame.shape[:2]
    zoom = 1.0 - rng.uniform(0.0, 0.012) * gap  # the previous view saw more: zoom out
    angle = rng.uniform(-0.25, 0.25) * gap
    shift_x = rng.uniform(-0.006, 0.006) * gap * width
    shift_y = rng.uniform(-0.003, 0.003) * gap * height
    # Expansion centre near the vanishing point: around the middle, a bit above.
    centre = (width * rng.uniform(0.4, 0.6), height * rng.uniform(0.35, 0.55))
    matrix = cv2.getRotationMatrix2D(centre, angle, zoom)
    matrix[:, 2] += (shift_x, shift_y)
    reference = cv2.warpAffine(
        frame, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    gain = 1.0 + rng.uniform(-0.06, 0.06) * min(1.0, math.sqrt(gap / 4))
    reference = np.clip(reference.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    return reference, frame

"""Colour overlays of failure classes, for example images and debugging."""

from __future__ import annotations

import cv2
import numpy as np

from frame_restore_ros.detection.failures import FailureKind

CLASS_COLOURS_BGR: dict[FailureKind, tuple[int, int, int]] = {
    FailureKind.DEAD: (255, 0, 0),
    FailureKind.SATURATED: (0, 255, 255),
    FailureKind.FROZEN: (255, 0, 255),
    FailureKind.NOISE: (0, 0, 255),
    FailureKind.CAST: (0, 255, 0),
    FailureKind.LOST_ROWS: (0, 128, 255),
    FailureKind.WHOLE_FRAME: (128, 128, 128),
    FailureKind.EXTERNAL: (255, 255, 255),
    FailureKind.BLOCKAGE: (0, 90, 160),
    FailureKind.REPEATED_FRAME: (200, 200, 200),
}


def overlay_labels(frame: np.ndarray, labels: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """Blend a per-pixel class map (H, W) uint8 onto a (H, W, 3) uint8 BGR frame."""
    colour = np.zeros_like(frame)
    for kind, bgr in CLASS_COLOURS_BGR.items():
        colour[labels == kind] = bgr
    failed = (labels != FailureKind.CLEAN)[:, :, None]
    blended = cv2.addWeighted(frame, 1 - alpha, colour, alpha, 0)
    return np.where(failed, blended, frame)


def side_by_side(
    frame: np.ndarray, detected: np.ndarray, truth: np.ndarray | None, title: str
) -> np.ndarray:
    """Return ``frame`` (H, W, 3) uint8 | detected classes [| ground truth] as one strip.

    detected, truth: (H, W) uint8 FailureKind maps; truth None: two panels only.
    """
    panels = [caption(frame, title), caption(overlay_labels(frame, detected), "detected")]
    if truth is not None:
        panels.append(caption(overlay_labels(frame, truth), "ground truth"))
    return np.concatenate(panels, axis=1)


def caption(image: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in the top-left corner on a dark box (returns a copy)."""
    out = image.copy()
    cv2.rectangle(out, (0, 0), (12 + 9 * len(text), 24), (0, 0, 0), -1)
    cv2.putText(out, text, (5, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out

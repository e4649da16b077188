"""Captioned side-by-side panels: the before/after strips of the demo, replay and evaluation."""

from __future__ import annotations

import cv2
import numpy as np


def labelled_strip(images: list[np.ndarray], labels: tuple[str, ...]) -> np.ndarray:
    """Concatenate (H, W, 3) uint8 frames side by side with a caption on each."""
    panels = []
    for image, label in zip(images, labels, strict=True):
        panel = image.copy()
        cv2.rectangle(panel, (0, 0), (12 + 11 * len(label), 26), (0, 0, 0), -1)
        cv2.putText(
            panel, label, (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA
        )
        panels.append(panel)
    return np.concatenate(panels, axis=1)

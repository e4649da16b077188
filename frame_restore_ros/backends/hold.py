"""The "hold" backend: copy the reference into failed pixels.

It is the baseline every model must beat, and the model-free path used to time detection and
compositing alone.
"""

from __future__ import annotations

import numpy as np


class HoldBackend:
    """Returns the reference at the input size wherever the patch mask is set."""

    name = "hold"

    def __init__(self, input_size: tuple[int, int] = (224, 400), patch_size: int = 16) -> None:
        self.input_size = input_size
        self.patch_size = patch_size

    def infer(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> np.ndarray:
        """(1, 3, h, w) x2 and (1, h/P, w/P) -> (1, 3, h, w): reference in failed patches."""
        pixels = np.repeat(np.repeat(patch_mask > 0.5, self.patch_size, 1), self.patch_size, 2)
        return np.where(pixels[:, None], reference, damaged)

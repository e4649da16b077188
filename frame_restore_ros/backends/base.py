"""The backend interface: what the restorer needs from any inference engine.

Implemented by the torch and hold backends here; ONNX Runtime and TensorRT follow the same
protocol.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class RestorationBackend(Protocol):
    """Runs the deploy graph at the model's fixed input size.

    ``infer`` takes (1, 3, h, w) float32 RGB in [0, 1] reference and damaged frames and a
    (1, h/P, w/P) float32 patch mask (1 = failed) and returns the restored (1, 3, h, w) float32
    frame. A backend may also offer ``infer_with_uncertainty`` with the same inputs, returning
    ``(restored, std)`` with std (1, 1, h, w) on the 0-1 scale; the restorer uses it when asked.
    """

    name: str
    input_size: tuple[int, int]
    patch_size: int

    def infer(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> np.ndarray: ...

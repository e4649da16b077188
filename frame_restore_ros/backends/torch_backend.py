"""The torch backend (CPU here; CUDA where present)."""

from __future__ import annotations

import numpy as np
import torch

from ..model import DeployGraph, SiamMCVAE


class TorchBackend:
    """Runs :class:`DeployGraph` in torch under ``inference_mode``."""

    def __init__(self, model: SiamMCVAE, device: str = "cpu") -> None:
        self.model = model.eval().to(device)
        self.graph = DeployGraph(self.model)
        self.device = torch.device(device)
        self.name = f"torch-{self.device.type}"
        self.input_size = model.cfg.input_size
        self.patch_size = model.cfg.patch_size

    def infer(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> np.ndarray:
        """(1, 3, h, w), (1, 3, h, w), (1, h/P, w/P) float32 -> restored (1, 3, h, w) float32."""
        with torch.inference_mode():
            tensors = [
                torch.from_numpy(np.ascontiguousarray(a)).to(self.device)
                for a in (reference, damaged, patch_mask)
            ]
            restored = self.graph(*tensors)
        assert isinstance(restored, torch.Tensor)
        return restored.cpu().numpy()

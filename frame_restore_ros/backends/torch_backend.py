"""The torch backend (CPU here; CUDA where present)."""

from __future__ import annotations

import numpy as np
import torch

from ..model import DeployGraph, SiamMCVAE


class TorchBackend:
    """Runs :class:`DeployGraph` in torch under ``inference_mode``.

    With ``uncertainty_samples = K >= 2`` it also offers :meth:`infer_with_uncertainty`: K latent
    samples decoded in the same batched call, their per-pixel std as the uncertainty map.
    """

    def __init__(
        self, model: SiamMCVAE, device: str = "cpu", uncertainty_samples: int = 0, seed: int = 0
    ) -> None:
        self.model = model.eval().to(device)
        self.device = torch.device(device)
        self.graph = DeployGraph(self.model)
        self.sampling_graph = (
            DeployGraph(self.model, uncertainty_samples) if uncertainty_samples else None
        )
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.name = f"torch-{self.device.type}"
        self.input_size = model.cfg.input_size
        self.patch_size = model.cfg.patch_size

    def _tensors(self, *arrays: np.ndarray) -> list[torch.Tensor]:
        return [torch.from_numpy(np.ascontiguousarray(a)).to(self.device) for a in arrays]

    def infer(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> np.ndarray:
        """(1, 3, h, w), (1, 3, h, w), (1, h/P, w/P) float32 -> restored (1, 3, h, w) float32."""
        with torch.inference_mode():
            restored = self.graph(*self._tensors(reference, damaged, patch_mask))
        assert isinstance(restored, torch.Tensor)
        return restored.cpu().numpy()

    def infer_with_uncertainty(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`infer`, plus the (1, 1, h, w) per-pixel std over K samples (0-1 scale)."""
        if self.sampling_graph is None:
            raise ValueError("this backend was built without uncertainty_samples")
        tensors = self._tensors(reference, damaged, patch_mask)
        noise = torch.randn(
            self.sampling_graph.noise_shape(reference.shape[0]),
            generator=self.generator,
            device=self.device,
        )
        with torch.inference_mode():
            restored, std = self.sampling_graph(*tensors, noise)
        return restored.cpu().numpy(), std.cpu().numpy()

"""The torch backend: CPU, or CUDA with fp16/bf16 weights and a captured CUDA graph."""

from __future__ import annotations

import numpy as np
import torch

from frame_restore_ros.backends.model_copy import private_copy
from frame_restore_ros.model import DeployGraph
from frame_restore_ros.model.build import RestorationModel

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class TorchBackend:
    """Runs :class:`DeployGraph` in torch under ``inference_mode``.

    With ``uncertainty_samples = K >= 2`` it also offers :meth:`infer_with_uncertainty`: K latent
    samples decoded in the same batched call, their per-pixel std as the uncertainty map. On CUDA,
    ``precision`` fp16 or bf16 runs the weights in half precision (attention is torch's
    scaled-dot-product kernel either way) and ``cuda_graph`` captures the batch-1 forward once and
    replays it, removing per-kernel launch overhead.
    """

    def __init__(
        self,
        model: RestorationModel,
        device: str = "cpu",
        uncertainty_samples: int = 0,
        seed: int = 0,
        precision: str = "fp32",
        cuda_graph: bool = False,
    ) -> None:
        if precision not in DTYPES:
            raise ValueError(f"precision must be one of {sorted(DTYPES)}, got {precision!r}")
        self.device = torch.device(device)
        if self.device.type != "cuda" and (precision != "fp32" or cuda_graph):
            raise ValueError("fp16/bf16 and CUDA graphs need device='cuda'")
        self.dtype = DTYPES[precision]
        self.model = private_copy(model, self.device, self.dtype)  # the caller's stays as is
        self.graph = DeployGraph(self.model)
        self.sampling_graph = (
            DeployGraph(self.model, uncertainty_samples) if uncertainty_samples else None
        )
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        suffix = "" if precision == "fp32" else f"-{precision}"
        self.name = f"torch-{self.device.type}{suffix}" + ("-graph" if cuda_graph else "")
        self.input_size = model.cfg.input_size
        self.patch_size = model.cfg.patch_size
        self._captured: tuple[torch.cuda.CUDAGraph, list[torch.Tensor], torch.Tensor] | None = None
        if cuda_graph:
            self._capture()

    def _tensors(self, *arrays: np.ndarray) -> list[torch.Tensor]:
        return [
            torch.from_numpy(np.ascontiguousarray(a)).to(self.device, self.dtype) for a in arrays
        ]

    def _capture(self) -> None:
        """Record the batch-1 forward into a CUDA graph with static input and output buffers."""
        height, width = self.input_size
        rows, cols = height // self.patch_size, width // self.patch_size
        shapes = ((1, 3, height, width), (1, 3, height, width), (1, rows, cols))
        inputs = [torch.zeros(s, device=self.device, dtype=self.dtype) for s in shapes]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(3):  # warm-up outside the capture, as torch requires
                self.graph(*inputs)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), torch.inference_mode():
            output = self.graph(*inputs)
        self._captured = (graph, inputs, output)

    def infer(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> np.ndarray:
        """(1, 3, h, w), (1, 3, h, w), (1, h/P, w/P) float32 -> restored (1, 3, h, w) float32."""
        if self._captured is not None and reference.shape[0] == 1:
            graph, inputs, output = self._captured
            for buffer, value in zip(inputs, (reference, damaged, patch_mask), strict=True):
                buffer.copy_(torch.from_numpy(np.ascontiguousarray(value)), non_blocking=True)
            graph.replay()
            return output.float().cpu().numpy()
        with torch.inference_mode():
            restored = self.graph(*self._tensors(reference, damaged, patch_mask))
        assert isinstance(restored, torch.Tensor)
        return restored.float().cpu().numpy()

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
        ).to(self.dtype)
        with torch.inference_mode():
            restored, std = self.sampling_graph(*tensors, noise)
        return restored.float().cpu().numpy(), std.float().cpu().numpy()

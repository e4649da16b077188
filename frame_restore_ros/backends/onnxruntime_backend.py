"""ONNX Runtime backend: the exported deploy graph on CPU, or on CUDA where its provider exists.

The ONNX graphs come from the shared export cache (``onnx_cache``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from frame_restore_ros.backends.onnx_cache import add_keep_index, cached_onnx, graph_feeds
from frame_restore_ros.model.build import RestorationModel

log = logging.getLogger(__name__)


class OnnxRuntimeBackend:
    """Runs the deploy graph in ONNX Runtime; ``uncertainty_samples`` K >= 2 adds the std.

    ``visible_tokens`` (default on the CPU for SiamMCVAE) runs the visible-token graph: the
    damaged frame's failed patches are dropped from its encoder instead of masked, the same
    result to float rounding (test_onnxruntime_backend.py) and 15-20 % less time at 75 % failed.
    """

    def __init__(
        self,
        model: RestorationModel,
        use_cuda: bool = False,
        uncertainty_samples: int = 0,
        threads: int | None = None,
        cache_dir: Path | None = None,
        seed: int = 0,
        visible_tokens: bool | None = None,
    ) -> None:
        import onnxruntime as ort

        from frame_restore_ros.model import SiamMCVAE

        providers = ["CPUExecutionProvider"]
        if use_cuda:
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise RuntimeError("onnxruntime has no CUDAExecutionProvider here")
            providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(cached_onnx(model, 0, cache_dir)), options, providers=providers
        )
        if visible_tokens is None:
            visible_tokens = not use_cuda and isinstance(model, SiamMCVAE)
        self.visible_session = None
        if visible_tokens:
            self.visible_session = ort.InferenceSession(
                str(cached_onnx(model, 0, cache_dir, visible=True)), options, providers=providers
            )
        self.sampling_session = None
        self.samples = uncertainty_samples
        if uncertainty_samples:
            self.sampling_session = ort.InferenceSession(
                str(cached_onnx(model, uncertainty_samples, cache_dir)),
                options,
                providers=providers,
            )
        cfg = model.cfg
        self.noise_shape = (1, uncertainty_samples, cfg.num_patches + 1, cfg.latent_dim)
        self.rng = np.random.default_rng(seed)
        device = "cuda" if self.session.get_providers()[0].startswith("CUDA") else "cpu"
        self.name = f"onnxruntime-{device}"
        self.input_size = cfg.input_size
        self.patch_size = cfg.patch_size

    def infer(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> np.ndarray:
        """(1, 3, h, w), (1, 3, h, w), (1, h/P, w/P) float32 -> restored (1, 3, h, w) float32."""
        feeds = graph_feeds(reference, damaged, patch_mask)
        if self.visible_session is not None and add_keep_index(feeds):
            return self.visible_session.run(None, feeds)[0]
        return self.session.run(None, feeds)[0]

    def infer_with_uncertainty(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`infer`, plus the (1, 1, h, w) std over K samples (one batched call)."""
        if self.sampling_session is None:
            raise ValueError("this backend was built without uncertainty_samples")
        feeds = graph_feeds(reference, damaged, patch_mask)
        feeds["noise"] = self.rng.standard_normal(self.noise_shape, dtype=np.float32)
        restored, std = self.sampling_session.run(None, feeds)
        return restored, std

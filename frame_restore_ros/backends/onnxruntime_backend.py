"""ONNX Runtime backend: the exported deploy graph on CPU, or on CUDA where its provider exists.

The ONNX file is exported once per model (keyed by the weights' fingerprint) into a cache folder,
so a restart loads in milliseconds instead of re-exporting.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..model.build import RestorationModel
from .fingerprint import model_fingerprint

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$FRAME_RESTORE_CACHE`` or ``~/.cache/frame_restore_ros``."""
    root = os.environ.get("FRAME_RESTORE_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "frame_restore_ros"


def cached_onnx(model: RestorationModel, samples: int, cache_dir: Path | None = None) -> Path:
    """Return the model's ONNX export with ``samples`` latent samples, exporting it if needed."""
    from .onnx_export import export_onnx

    folder = (cache_dir or default_cache_dir()) / "onnx"
    path = folder / f"{model_fingerprint(model)[:20]}-k{samples}.onnx"
    if not path.is_file():
        log.info("exporting %s (once per model)", path)
        export_onnx(model, path, num_samples=samples)
    return path


class OnnxRuntimeBackend:
    """Runs the deploy graph in ONNX Runtime; ``uncertainty_samples`` K >= 2 adds the std."""

    def __init__(
        self,
        model: RestorationModel,
        use_cuda: bool = False,
        uncertainty_samples: int = 0,
        threads: int | None = None,
        cache_dir: Path | None = None,
        seed: int = 0,
    ) -> None:
        import onnxruntime as ort

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

    @staticmethod
    def _feeds(reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray) -> dict:
        return {
            "reference": np.ascontiguousarray(reference, dtype=np.float32),
            "damaged": np.ascontiguousarray(damaged, dtype=np.float32),
            "patch_mask": np.ascontiguousarray(patch_mask, dtype=np.float32),
        }

    def infer(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> np.ndarray:
        """(1, 3, h, w), (1, 3, h, w), (1, h/P, w/P) float32 -> restored (1, 3, h, w) float32."""
        return self.session.run(None, self._feeds(reference, damaged, patch_mask))[0]

    def infer_with_uncertainty(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`infer`, plus the (1, 1, h, w) std over K samples (one batched call)."""
        if self.sampling_session is None:
            raise ValueError("this backend was built without uncertainty_samples")
        feeds = self._feeds(reference, damaged, patch_mask)
        feeds["noise"] = self.rng.standard_normal(self.noise_shape, dtype=np.float32)
        restored, std = self.sampling_session.run(None, feeds)
        return restored, std

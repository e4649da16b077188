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


def cached_onnx(
    model: RestorationModel, samples: int, cache_dir: Path | None = None, visible: bool = False
) -> Path:
    """Return the model's ONNX export, exporting it if needed.

    ``samples``: latent samples of the static graph; ``visible``: the visible-token graph instead.
    """
    from .onnx_export import export_onnx, export_visible_onnx

    folder = (cache_dir or default_cache_dir()) / "onnx"
    kind = "visible" if visible else f"k{samples}"
    path = folder / f"{model_fingerprint(model)[:20]}-{kind}.onnx"
    if not path.is_file():
        log.info("exporting %s (once per model)", path)
        if visible:
            export_visible_onnx(model, path)
        else:
            export_onnx(model, path, num_samples=samples)
    return path


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

        from ..model import SiamMCVAE

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
        feeds = self._feeds(reference, damaged, patch_mask)
        if self.visible_session is not None and reference.shape[0] == 1:
            keep = np.flatnonzero(feeds["patch_mask"].reshape(-1) <= 0.5)
            if keep.size:  # no visible patch at all: the static graph
                feeds["keep_index"] = keep.astype(np.int64)[None]
                return self.visible_session.run(None, feeds)[0]
        return self.session.run(None, feeds)[0]

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

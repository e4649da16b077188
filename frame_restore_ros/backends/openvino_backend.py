"""OpenVINO backend: the exported deploy graphs compiled by OpenVINO's CPU plugin.

On the 2-core development VM (AMD EPYC with AVX512-BF16) OpenVINO runs the small preset's
visible-token graph in 23 ms at fp32 and 13 ms at bf16, against 28 ms for ONNX Runtime
(``frame-restore bench backends --backends openvino-cpu onnxruntime-cpu``, docs/backends.md);
on a 2-core Xeon with AMX, 15.4 ms at fp32, 7.5 ms at bf16 and 20.8 ms at fp16.
Same ONNX files as ONNX Runtime (``onnx_cache``), compiled in well under a second at load.

Precision: ``fp32`` runs fp32. ``bf16`` runs the matrix products in bf16 where the CPU has it
natively (AVX512-BF16 or AMX); OpenVINO keeps the graph's inputs, the output merge (eq. 15) and
precision-sensitive layers in fp32, so visible patches stay bit-exact (tested). ``fp16`` asks
for the CPU's native reduced format: bf16 where the CPU has it (x86 with AVX512-BF16 or AMX,
OpenVINO's own default there), else fp16 (Arm), else fp32. A Xeon with AMX also reports FP16
(AVX512-FP16), but runs fp16 slower than fp32 (the figures above): bf16 comes first.
A reduced precision the CPU lacks is an error (no silent emulation).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from frame_restore_ros.backends.onnx_cache import add_keep_index, cached_onnx, graph_feeds
from frame_restore_ros.model.build import RestorationModel

log = logging.getLogger(__name__)
PRECISIONS = ("fp32", "bf16", "fp16")
_OPENVINO_TYPES = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
_CAPABILITY = {"bf16": "BF16", "fp16": "FP16"}


def choose_precision(requested: str, capabilities: list[str]) -> str:
    """Return the precision to run for ``requested`` on a CPU with OpenVINO ``capabilities``.

    ``capabilities`` is the CPU plugin's OPTIMIZATION_CAPABILITIES (e.g. ["FP32", "BF16"]).
    Raises ValueError naming the problem for an unknown precision or a bf16 request on a CPU
    without native bf16.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if requested == "fp32":
        return "fp32"
    if requested == "bf16":
        if "BF16" not in capabilities:
            raise ValueError(
                "this CPU has no native bf16 (OpenVINO capabilities: "
                f"{', '.join(capabilities)}); use precision fp32"
            )
        return "bf16"
    for candidate in ("bf16", "fp16"):  # the CPU's native reduced format, bf16 first
        if _CAPABILITY[candidate] in capabilities:
            return candidate
    return "fp32"


class OpenVinoBackend:
    """Runs the deploy graphs with OpenVINO on the CPU; ``uncertainty_samples`` K >= 2 adds std.

    Like :class:`OnnxRuntimeBackend`: the visible-token graph for single frames of SiamMCVAE
    (the damaged branch encodes only visible patches), the static graph otherwise, and the
    K-sample graph for the uncertainty in one call. Calls are serialized by a lock (an OpenVINO
    infer request is not thread-safe). Every graph is warmed up at load (first frame not slower).
    """

    def __init__(
        self,
        model: RestorationModel,
        precision: str = "fp16",
        uncertainty_samples: int = 0,
        threads: int | None = None,
        cache_dir: Path | None = None,
        seed: int = 0,
        visible_tokens: bool | None = None,
    ) -> None:
        import openvino as ov

        from frame_restore_ros.model import SiamMCVAE

        core = ov.Core()
        capabilities = list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
        self.precision = choose_precision(precision, capabilities)
        config: dict[str, object] = {
            "PERFORMANCE_HINT": "LATENCY",  # one stream: all cores on one frame
            "INFERENCE_PRECISION_HINT": _OPENVINO_TYPES[self.precision],
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)

        def compile_graph(path: Path):
            return core.compile_model(core.read_model(str(path)), "CPU", config)

        self._static = compile_graph(cached_onnx(model, 0, cache_dir)).create_infer_request()
        if visible_tokens is None:
            visible_tokens = isinstance(model, SiamMCVAE)
        self._visible = None
        if visible_tokens:
            path = cached_onnx(model, 0, cache_dir, visible=True)
            self._visible = compile_graph(path).create_infer_request()
        self._sampling = None
        if uncertainty_samples:
            path = cached_onnx(model, uncertainty_samples, cache_dir)
            self._sampling = compile_graph(path).create_infer_request()
        cfg = model.cfg
        self.noise_shape = (1, uncertainty_samples, cfg.num_patches + 1, cfg.latent_dim)
        self.rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self.name = "openvino-cpu" + ("" if self.precision == "fp32" else f"-{self.precision}")
        self.input_size = cfg.input_size
        self.patch_size = cfg.patch_size
        self._warm_up(cfg.grid_size)
        log.info(
            "OpenVINO %s on %s, precision %s (asked %s)",
            ov.get_version(),
            core.get_property("CPU", "FULL_DEVICE_NAME"),
            self.precision,
            precision,
        )

    def _warm_up(self, grid: tuple[int, int]) -> None:
        """Run each graph a few times at load: the first calls allocate and prepare kernels.

        Measured on the small preset: the first call 36 ms, the next two 23-25 ms, then 13-17 ms.
        """
        height, width = self.input_size
        frame = np.full((1, 3, height, width), 0.5, np.float32)
        for ratio in (0.25, 0.5, 0.75, 1.0):  # 1.0: no visible patch, the static graph
            mask = np.zeros((1, *grid), np.float32)
            mask.reshape(-1)[: round(ratio * mask.size)] = 1.0
            self.infer(frame, frame, mask)
        if self._sampling is not None:
            self.infer_with_uncertainty(frame, frame, mask)

    def infer(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> np.ndarray:
        """(1, 3, h, w), (1, 3, h, w), (1, h/P, w/P) float32 -> restored (1, 3, h, w) float32."""
        feeds = graph_feeds(reference, damaged, patch_mask)
        visible = self._visible is not None and add_keep_index(feeds)
        request = self._visible if visible else self._static
        with self._lock:  # outputs are copied out (share_outputs=False) before the next call
            return request.infer(feeds, share_inputs=True, share_outputs=False)[0]

    def infer_with_uncertainty(
        self, reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`infer`, plus the (1, 1, h, w) std over K samples (one batched call)."""
        if self._sampling is None:
            raise ValueError("this backend was built without uncertainty_samples")
        feeds = graph_feeds(reference, damaged, patch_mask)
        with self._lock:
            feeds["noise"] = self.rng.standard_normal(self.noise_shape, dtype=np.float32)
            outputs = self._sampling.infer(feeds, share_inputs=True, share_outputs=False)
            return outputs[0], outputs[1]

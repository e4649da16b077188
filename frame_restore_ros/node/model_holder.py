"""The node's model: built from parameters, shared by the cameras, swapped only once loaded.

A change of ``backend``, ``weights``, ``precision``, ``uncertainty_samples``,
``publish_uncertainty`` or ``engine_cache_dir`` builds a new backend beside the running one; the
cameras switch to it only when it loaded (a missing or corrupt weight file, an unusable backend
leave the old one running and are reported). The weight file and the cache folder are checked
whatever the backend, hold included. Calls into the backend are serialized by a lock so
that camera threads can share one engine (a TensorRT execution context is not thread-safe).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from frame_restore_ros.backends.base import RestorationBackend
from frame_restore_ros.backends.hold import HoldBackend
from frame_restore_ros.node.diagnostics import ModelState
from frame_restore_ros.node.parameters import NodeSettings, ParameterError, model_files_problem

log = logging.getLogger(__name__)

MODEL_PARAMETERS = (
    "backend",
    "weights",
    "precision",
    "uncertainty_samples",
    "publish_uncertainty",
    "engine_cache_dir",
)


@dataclass(frozen=True)
class BackendRequest:
    """What to build: the parameters that define the model."""

    backend: str
    weights: str  # "" = bundled default
    precision: str
    uncertainty_samples: int  # 0 = no uncertainty graph
    cache_dir: str

    @classmethod
    def from_settings(cls, settings: NodeSettings) -> BackendRequest:
        samples = settings["uncertainty_samples"] if settings["publish_uncertainty"] else 0
        return cls(
            settings["backend"],
            settings["weights"],
            settings["precision"],
            samples,
            settings["engine_cache_dir"],
        )


def build_backend(request: BackendRequest) -> RestorationBackend:
    """Load the weights and build the backend; raise (ValueError, OSError, ...) naming why.

    The weight file's header and the cache folder are checked first whatever the backend, so
    that hold (no model) does not accept, and report as running, a file no model would load.
    """
    from frame_restore_ros.backends.selection import load_backend
    from frame_restore_ros.model.checkpoint import CheckpointError

    if problem := model_files_problem(request.weights, request.cache_dir):
        raise ParameterError(problem)
    try:
        return load_backend(
            request.backend,
            request.weights or None,
            request.precision,
            request.uncertainty_samples,
            Path(request.cache_dir) if request.cache_dir else None,
            architecture="siammcvae",
        ).backend
    except CheckpointError as exc:  # tensors that do not match, NaN: name the parameter
        raise ParameterError(f"weights: {exc}") from exc


class LockedBackend:
    """A backend whose inference calls run one at a time."""

    def __init__(self, backend: RestorationBackend) -> None:
        self.inner = backend
        self.name = backend.name
        self.input_size = backend.input_size
        self.patch_size = backend.patch_size
        self._lock = threading.Lock()
        if hasattr(backend, "infer_with_uncertainty"):
            self.infer_with_uncertainty = self._infer_with_uncertainty

    def infer(self, reference: np.ndarray, damaged: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(1, 3, h, w) x2, (1, h/P, w/P) -> (1, 3, h, w), as the wrapped backend."""
        with self._lock:
            return self.inner.infer(reference, damaged, mask)

    def _infer_with_uncertainty(
        self, reference: np.ndarray, damaged: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            return self.inner.infer_with_uncertainty(reference, damaged, mask)


Loader = Callable[[BackendRequest], RestorationBackend]


class ModelHolder:
    """The current backend and the request that built it."""

    def __init__(self, loader: Loader = build_backend) -> None:
        self._loader = loader
        self.request: BackendRequest | None = None
        self.backend: LockedBackend | HoldBackend | None = None
        self.error = ""

    def load(self, request: BackendRequest) -> LockedBackend | HoldBackend:
        """Build ``request`` beside the current backend and switch to it.

        On failure the current backend stays, ``error`` says why, and the exception propagates.
        """
        try:
            loaded = self._loader(request)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            kept = self.state().backend or "none"
            log.error("model load failed (%s), keeping %s", self.error, kept)
            raise
        # The hold backend runs no model (the pipeline copies the reference): nothing to lock.
        backend = loaded if isinstance(loaded, HoldBackend) else LockedBackend(loaded)
        self.request, self.backend, self.error = request, backend, ""
        weights = request.weights or "bundled"
        log.info("model loaded: backend %s, weights %s", backend.name, weights)
        return backend

    def state(self) -> ModelState:
        return ModelState(
            self.backend.name if self.backend else "",
            (self.request.weights or "bundled default") if self.request else "",
            self.error,
        )

"""Which backends work here (``frame-restore doctor``), the ``auto`` choice, and the one factory.

:func:`load_backend` is how every caller (node, replay, evaluation, benchmarks) gets a backend
from a name and a weight file, ``hold`` included.

``auto``: TensorRT when it imports, is a supported version (``tensorrt_version``: 10.x or 11.x)
and a CUDA GPU is visible, else torch on CUDA, else the
fastest CPU path as measured (docs/backends.md, the small preset's model call per damaged 720p
frame on the 2-core development machine: OpenVINO bf16 13 ms, OpenVINO fp32 23 ms, ONNX Runtime
24-28 ms, torch 33 ms).
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads only when a backend is built
    from frame_restore_ros.backends.base import RestorationBackend
    from frame_restore_ros.model.build import RestorationModel
    from frame_restore_ros.model.config import SiamMCVAEConfig

log = logging.getLogger(__name__)
BACKENDS = (
    "auto",
    "tensorrt",
    "torch-cuda",
    "onnxruntime-cuda",
    "openvino-cpu",
    "onnxruntime-cpu",
    "torch-cpu",
)
CPU_PREFERENCE = ("openvino-cpu", "onnxruntime-cpu", "torch-cpu")  # fastest first, as measured
AUTO_ORDER = ("tensorrt", "torch-cuda", *CPU_PREFERENCE)
PRECISIONS = ("fp16", "bf16", "fp32")  # the precision setting of tensorrt, torch-cuda, openvino
# Where the precision setting applies; the other backends run fp32 whatever is asked.
REDUCED_PRECISION_BACKENDS = ("tensorrt", "torch-cuda", "openvino-cpu")
HOLD = "hold"  # no model: the repair pipeline copies the reference into the failed pixels


@dataclass(frozen=True)
class BackendStatus:
    name: str
    usable: bool
    detail: str  # version and device when usable, the reason when not


def _cuda() -> tuple[bool, str]:
    import torch

    if not torch.cuda.is_available():
        return False, f"torch {torch.__version__} sees no CUDA GPU"
    return True, torch.cuda.get_device_name(0)


def _openvino_status() -> BackendStatus:
    try:
        ov = importlib.import_module("openvino")
        core = ov.Core()
        if "CPU" not in core.available_devices:
            return BackendStatus("openvino-cpu", False, "OpenVINO lists no CPU device")
        formats = ", ".join(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except ImportError as exc:
        return BackendStatus("openvino-cpu", False, f"import failed: {exc}")
    except RuntimeError as exc:  # the CPU plugin failed to load
        return BackendStatus("openvino-cpu", False, f"OpenVINO CPU plugin: {exc}")
    version = ov.get_version().split("-")[0]
    return BackendStatus("openvino-cpu", True, f"OpenVINO {version} ({formats})")


def diagnose() -> list[BackendStatus]:
    """One status per concrete backend, with the reason for each that cannot run here."""
    import torch

    statuses = [BackendStatus("torch-cpu", True, f"torch {torch.__version__}")]
    cuda, device = _cuda()
    statuses.append(BackendStatus("torch-cuda", cuda, device))
    try:
        ort = importlib.import_module("onnxruntime")
        providers = ort.get_available_providers()
        statuses.append(BackendStatus("onnxruntime-cpu", True, f"onnxruntime {ort.__version__}"))
        has_cuda = "CUDAExecutionProvider" in providers
        statuses.append(
            BackendStatus(
                "onnxruntime-cuda",
                has_cuda and cuda,
                f"providers: {', '.join(providers)}"
                if has_cuda
                else "no CUDAExecutionProvider (install onnxruntime-gpu)",
            )
        )
    except ImportError as exc:
        statuses.append(BackendStatus("onnxruntime-cpu", False, f"import failed: {exc}"))
        statuses.append(BackendStatus("onnxruntime-cuda", False, f"import failed: {exc}"))
    statuses.append(_openvino_status())
    statuses.append(_tensorrt_status(cuda, device))
    return statuses


def _tensorrt_status(cuda: bool, device: str) -> BackendStatus:
    from frame_restore_ros.backends.tensorrt_version import build_path

    try:
        trt = importlib.import_module("tensorrt")
    except ImportError as exc:
        return BackendStatus("tensorrt", False, f"tensorrt does not import ({exc})")
    version = getattr(trt, "__version__", "unknown")
    try:
        path = build_path(version)
    except ValueError as exc:  # the reason a version is refused
        return BackendStatus("tensorrt", False, str(exc))
    detail = f"TensorRT {version} ({path} build)" + ("" if cuda else f"; but {device}")
    return BackendStatus("tensorrt", cuda, detail)


def resolve(choice: str, statuses: list[BackendStatus] | None = None) -> str:
    """Return the concrete backend for ``choice`` ("auto" or a name); ValueError if unusable."""
    if choice not in BACKENDS:
        raise ValueError(f"unknown backend {choice!r}; choose from {', '.join(BACKENDS)}")
    statuses = statuses or diagnose()
    usable = {s.name: s for s in statuses}
    if choice != "auto":
        status = usable[choice]
        if not status.usable:
            raise ValueError(f"backend {choice} cannot run here: {status.detail}")
        return choice
    for name in AUTO_ORDER:
        if usable[name].usable:
            return name
    raise AssertionError("torch-cpu is always usable")


@dataclass(frozen=True)
class LoadedBackend:
    """A built backend with what it runs: the model's config and weight file (None for hold)."""

    backend: RestorationBackend
    config: SiamMCVAEConfig | None
    weights: Path | None


def load_backend(
    name: str,
    weights: str | Path | None = None,
    precision: str = "fp16",
    uncertainty_samples: int = 0,
    cache_dir: Path | None = None,
    architecture: str | None = None,
) -> LoadedBackend:
    """Build backend ``name`` (``hold``, ``auto`` or one of :data:`BACKENDS`) on ``weights``.

    ``weights`` None loads the bundled default model (``model.bundled``). ``hold`` runs no
    model, so asking it for ``uncertainty_samples`` is an error. ``uncertainty_samples`` K is 0
    (no uncertainty graph) or at least 2. ``architecture`` ("siammcvae" or "mae"; None: either)
    refuses a weight file of the other one before it loads (callers that run the reference
    pipeline want "siammcvae"). Raises ValueError or OSError naming the problem, in one line
    for weights that are no regular file (:func:`check_weights`).
    """
    if weights is not None:
        check_weights(weights)
    if uncertainty_samples < 0 or uncertainty_samples == 1:
        raise ValueError(
            f"uncertainty needs K >= 2 samples (or 0 = off), got {uncertainty_samples}"
        )
    if name == HOLD:
        if uncertainty_samples:
            raise ValueError("uncertainty needs a model backend, not hold (it runs no model)")
        from frame_restore_ros.backends.hold import HoldBackend

        return LoadedBackend(HoldBackend(), None, None)
    from frame_restore_ros.model.bundled import default_weights_path, load_default_or
    from frame_restore_ros.model.checkpoint import check_architecture

    if architecture is not None:
        check_architecture(weights or default_weights_path(), architecture)
    model = load_default_or(weights)
    backend = create_backend(model, name, uncertainty_samples, cache_dir, precision)
    return LoadedBackend(backend, model.cfg, Path(weights or default_weights_path()))


def check_weights(weights: str | Path) -> None:
    """Raise unless ``weights`` is a regular file, in one line naming the shortened path.

    A folder raises IsADirectoryError, a missing file FileNotFoundError; anything else that is
    no regular file (a device or pipe, a name the file system refuses: too long, a NUL
    character) the CheckpointError of ``model/checkpoint.check_weight_file``. Opens nothing.
    """
    from frame_restore_ros.media.file_checks import shown_path
    from frame_restore_ros.model.checkpoint import check_weight_file

    if os.path.isdir(weights):  # never raises
        raise IsADirectoryError(f"{shown_path(weights)}: is a directory, not a weight file")
    if _missing(weights):
        raise FileNotFoundError(f"weights file {shown_path(weights)} does not exist")
    check_weight_file(weights)


def _missing(path: str | Path) -> bool:
    """Whether ``path`` names no file (False for a name the file system refuses)."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return True
    except (OSError, ValueError):  # too long, a NUL character: check_weight_file says so
        return False
    return False


def create_backend(
    model: RestorationModel,
    choice: str = "auto",
    uncertainty_samples: int = 0,
    cache_dir: Path | None = None,
    precision: str = "fp16",
):
    """Build the backend ``choice`` resolves to; log what was picked and why.

    ``precision`` applies to tensorrt, torch-cuda and openvino-cpu (``openvino_backend``); the
    other CPU backends run fp32. A named backend that fails to build raises. ``auto`` tries the
    usable backends in order of preference and takes the first that builds, logging why each
    one before it did not (a broken GPU driver or runtime must not leave the node without a
    model); it raises only when the last one fails too.
    """
    if choice != "auto":
        name = resolve(choice)
        log.info("inference backend: %s (asked: %s)", name, choice)
        return build(name, model, uncertainty_samples, cache_dir, precision)
    statuses = {s.name: s for s in diagnose()}
    candidates = [n for n in AUTO_ORDER if statuses[n].usable]
    for index, name in enumerate(candidates):
        try:
            backend = build(name, model, uncertainty_samples, cache_dir, precision)
        except Exception as exc:
            if index == len(candidates) - 1:
                raise
            log.warning(
                "auto: %s failed to load (%s: %s); trying %s",
                name,
                type(exc).__name__,
                exc,
                candidates[index + 1],
            )
            continue
        log.info("inference backend: %s (asked: auto)", name)
        return backend
    raise AssertionError("torch-cpu is always usable")


def build(
    name: str,
    model: RestorationModel,
    uncertainty_samples: int,
    cache_dir: Path | None,
    precision: str,
):
    """Build the concrete backend ``name`` (no fallback; errors name the problem)."""
    if name == "tensorrt":
        from frame_restore_ros.backends.tensorrt_backend import TensorRTBackend

        return TensorRTBackend(model, precision, uncertainty_samples, cache_dir)
    if name == "openvino-cpu":
        from frame_restore_ros.backends.openvino_backend import OpenVinoBackend

        return OpenVinoBackend(model, precision, uncertainty_samples, cache_dir=cache_dir)
    if name.startswith("onnxruntime"):
        from frame_restore_ros.backends.onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend(
            model, name.endswith("cuda"), uncertainty_samples, cache_dir=cache_dir
        )
    from frame_restore_ros.backends.torch_backend import TorchBackend

    if name == "torch-cuda":
        return TorchBackend(
            model, "cuda", uncertainty_samples, precision=precision, cuda_graph=True
        )
    return TorchBackend(model, "cpu", uncertainty_samples)

"""Checkpoint I/O: safetensors tensors plus the JSON model config in the file's metadata header.

One file carries everything needed to rebuild the model, so weights and config cannot drift apart.
Loading never unpickles. Any mismatch (missing, unexpected or mis-shaped tensors, wrong format
version, unreadable file, a name the file system refuses) raises :class:`CheckpointError` naming
the file (shortened if long) and the tensors; only regular files are opened, so a pipe or device
never blocks.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from frame_restore_ros.media.file_checks import file_kind, shown_path
from frame_restore_ros.model.build import RestorationModel, build_model
from frame_restore_ros.model.config import SiamMCVAEConfig

# Floating-point tensor types of a safetensors header: integer tensors never load as weights.
FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})

FORMAT_NAME = "frame_restore_ros.siammcvae"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A weight file that cannot be used, with the reason."""


def save_checkpoint(
    model: RestorationModel, path: str | os.PathLike[str], extra: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` atomically (temp file + rename).

    ``extra`` holds JSON-serialisable training notes stored in the header.
    """
    path = Path(path)
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "config": model.cfg.to_json(),
        "extra": json.dumps(extra or {}, sort_keys=True),
    }
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in model.state_dict().items()}
    with atomic_file(path) as tmp:
        save_file(tensors, tmp, metadata=metadata)
    return path


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[str]:
    """Yield a temporary file name next to ``path`` to write; rename it to ``path`` on success.

    On an error the temporary file is removed and ``path`` is left as it was. The file gets the
    usual mode of a new file (umask), not mkstemp's 0600.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # name the file asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(path: Path, what: str = "weight file") -> None:
    """Raise CheckpointError naming ``path`` unless :func:`atomic_file` can write it.

    Checked before any work by creating (and removing) a temporary file where ``atomic_file``
    will, or in the nearest existing folder above a missing one: permission bits alone do not
    tell (root, read-only or virtual file systems such as /proc).
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"cannot write {what} {path}: it is a folder")
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise CheckpointError(f"cannot write {what} {path}: {folder} is a file")
    try:
        fd, probe = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise CheckpointError(
            f"cannot write {what} {path}: {exc.strerror or exc} (in {folder})"
        ) from None
    os.close(fd)
    os.unlink(probe)


def default_file_mode() -> int:
    """Return the mode a new file gets under the current umask (``mkstemp`` alone gives 0600)."""
    return 0o666 & ~current_umask()


def current_umask() -> int:
    """Return the process's umask, read without changing it where Linux shows it.

    ``/proc/self/status`` has it since Linux 4.7; elsewhere it is set to 0 and restored at
    once, a moment in which a file another thread creates would get mode 0666.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0)
    os.umask(umask)
    return umask


def check_weight_file(path: str | os.PathLike[str]) -> None:
    """Raise CheckpointError naming ``path`` unless it is a regular file; opens nothing.

    Missing, a directory, a device, pipe or socket, or a name the file system refuses (too
    long, a NUL character): each is one line with the (shortened) path and the reason.
    """
    shown = shown_path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise CheckpointError(f"{shown}: no such weight file") from None
    except OSError as exc:
        raise CheckpointError(f"{shown}: cannot be read: {exc.strerror or exc}") from None
    except ValueError:  # os.stat refuses a NUL character
        raise CheckpointError(f"{shown}: cannot be read: a NUL character in the name") from None
    if stat.S_ISDIR(mode):
        raise CheckpointError(f"{shown}: is a directory, not a weight file")
    if not stat.S_ISREG(mode):  # opening a pipe would wait for a writer
        raise CheckpointError(f"{shown}: not a regular file (it is {file_kind(mode)})")


def _reason(exc: Exception) -> str:
    """Return an exception's reason without the file name an OSError repeats."""
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def read_metadata(path: str | os.PathLike[str]) -> tuple[SiamMCVAEConfig, dict[str, Any]]:
    """Return (config, extra notes) from a checkpoint header without loading tensors."""
    check_weight_file(path)
    path = Path(path)
    shown = shown_path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except FileNotFoundError:  # removed since the check
        raise CheckpointError(f"{shown}: no such weight file") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{shown}: not a readable safetensors file ({_reason(exc)})"
        ) from None
    if metadata.get("format") != FORMAT_NAME:
        raise CheckpointError(
            f"{shown}: not a SiamMCVAE checkpoint (format={metadata.get('format')!r})"
        )
    version = metadata.get("format_version")
    if version != str(FORMAT_VERSION):
        raise CheckpointError(
            f"{shown}: checkpoint format version {version} is not supported (this build reads "
            f"{FORMAT_VERSION})"
        )
    try:
        config = SiamMCVAEConfig.from_json(metadata["config"])
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{shown}: invalid model config in header ({exc})") from None
    try:
        extra = json.loads(metadata.get("extra", "{}"))
    except ValueError as exc:
        raise CheckpointError(
            f"{shown}: header 'extra' (training notes) is not JSON ({exc})"
        ) from None
    if not isinstance(extra, dict):
        raise CheckpointError(
            f"{shown}: header 'extra' (training notes) must be a JSON object, "
            f"got {type(extra).__name__} {str(extra)[:60]}"
        )
    return config, extra


ARCHITECTURES = {"siammcvae": "SiamMCVAE", "mae": "single-frame MAE"}


def check_architecture(
    path: str | os.PathLike[str], expected: str, option: str = "--weights"
) -> SiamMCVAEConfig:
    """Return the header's config if the file holds a model of ``expected`` architecture.

    Reads the header only (before any model loads). A SiamMCVAE file where an MAE is wanted,
    or the reverse, raises CheckpointError naming ``option``, the file and both architectures.
    """
    config, _ = read_metadata(path)
    if config.architecture != expected:
        raise CheckpointError(
            f"{option} {shown_path(path)} holds a {ARCHITECTURES[config.architecture]} "
            f"(architecture {config.architecture}); {option} takes a {ARCHITECTURES[expected]} "
            f"(architecture {expected})"
        )
    return config


def load_checkpoint(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> RestorationModel:
    """Build the model described by the file and load its tensors strictly (eval mode)."""
    path = Path(path)
    shown = shown_path(path)
    config, _ = read_metadata(path)
    model = build_model(config)
    with _tensor_errors(shown), safe_open(str(path), framework="pt", device="cpu") as handle:
        names = _check_tensors(handle, _shapes(model), config, shown)
        tensors = {name: handle.get_tensor(name) for name in names}
    for name, tensor in tensors.items():
        if not tensor.is_floating_point() or not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{shown}: tensor {name} holds non-finite or non-float values")
    model.load_state_dict(tensors, strict=True)
    return model.to(device).eval()


def check_tensor_header(path: str | os.PathLike[str]) -> SiamMCVAEConfig:
    """Return the header's config once the tensors the header lists match it.

    Reads the header only (tensor names and shapes, no tensor data; the model is built on the
    meta device, which allocates nothing): a file ``load_checkpoint`` would refuse as "tensors
    do not match config" is refused here with the same message, before any load.
    """
    shown = shown_path(path)
    config, _ = read_metadata(path)
    with torch.device("meta"):
        expected = _shapes(build_model(config))
    with _tensor_errors(shown), safe_open(str(path), framework="pt", device="cpu") as handle:
        _check_tensors(handle, expected, config, shown)
    return config


@contextlib.contextmanager
def _tensor_errors(shown: str) -> Iterator[None]:
    """Turn safetensors' and torch's errors on reading tensors into a CheckpointError."""
    try:
        yield
    except CheckpointError:
        raise
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{shown}: corrupt tensor data ({_reason(exc)})") from None


def _shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    """Return the shape of each tensor of ``model``'s state dict, by name."""
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def _check_tensors(
    handle: Any, expected: dict[str, tuple[int, ...]], config: SiamMCVAEConfig, shown: str
) -> set[str]:
    """Return the names of the open file's tensors; raise CheckpointError unless ``expected``.

    Names and shapes come from the header (``get_slice``), so no tensor is read.
    """
    names = set(handle.keys())
    problems = _compare(expected, names, lambda name: tuple(handle.get_slice(name).get_shape()))
    if problems:
        raise CheckpointError(
            f"{shown}: tensors do not match config {config.name!r}: " + "; ".join(problems)
        )
    for name in sorted(names):  # the header's dtype: integers never load as weights
        if handle.get_slice(name).get_dtype() not in FLOAT_DTYPES:
            raise CheckpointError(f"{shown}: tensor {name} holds non-finite or non-float values")
    return names


def _compare(expected: dict[str, tuple[int, ...]], names: set[str], shape_of: Any) -> list[str]:
    problems = []
    missing = sorted(set(expected) - names)
    extra = sorted(names - set(expected))
    if missing:
        problems.append("missing " + ", ".join(missing))
    if extra:
        problems.append("unexpected " + ", ".join(extra))
    for name in sorted(set(expected) & names):
        shape = shape_of(name)
        if shape != expected[name]:
            problems.append(f"{name} has shape {shape}, expected {expected[name]}")
    return problems

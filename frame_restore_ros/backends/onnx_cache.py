"""The exported ONNX graphs of a model, cached on disk and shared by every ONNX-fed backend.

Also the graphs' input feeds, built alike for every runtime.

ONNX Runtime, OpenVINO and TensorRT all start from the same exports: exported once per model
and exporter (keyed by the weights' fingerprint and a digest of ``exporter_version``: after a
torch or onnxscript upgrade the graph is exported again, as the engine key already said), so a
restart loads in milliseconds instead of re-exporting.
Exports are written to a temporary file and renamed (``onnx_export``): a crash never leaves a
half-written graph under the cached name. A cached file that no longer parses as ONNX (a disk
error, a copy cut short) is exported again with a warning instead of failing every start.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from frame_restore_ros.backends.fingerprint import model_fingerprint
from frame_restore_ros.media.file_checks import shown_path
from frame_restore_ros.model.build import RestorationModel

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$FRAME_RESTORE_CACHE`` or ``~/.cache/frame_restore_ros``."""
    root = os.environ.get("FRAME_RESTORE_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "frame_restore_ros"


def cache_dir_problem(folder: Path) -> str | None:
    """Return why the cache ``folder`` cannot hold exports (or TensorRT engines), or None.

    Creates nothing: a missing folder is fine when the nearest existing folder above it takes a
    new file. Writing is tried with a temporary file, as permission bits alone do not tell (root,
    read-only or virtual file systems such as /proc). A name the file system refuses (too long,
    a NUL character) is a reason too, never an exception.
    """
    folder = Path(folder)
    if "\0" in str(folder):  # pathlib calls such a name missing; no file system takes it
        return f"cannot use {shown_path(folder)}: a NUL character in the name"
    try:
        return _cache_dir_problem(folder)
    except OSError as exc:
        return f"cannot use {shown_path(folder)}: {exc.strerror or exc}"


def _cache_dir_problem(folder: Path) -> str | None:
    """:func:`cache_dir_problem` for a name the file system takes (OSError otherwise)."""
    for path in (folder, folder / "onnx"):
        if path.exists() and not path.is_dir():
            return f"{path} is not a folder"
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot create {folder}: {existing} is not a folder"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return f"cannot write in {folder}: no file can be created in {existing} ({exc.strerror})"
    return None


def cached_onnx(
    model: RestorationModel, samples: int, cache_dir: Path | None = None, visible: bool = False
) -> Path:
    """Return the model's ONNX export, exporting it if needed.

    ``samples``: latent samples of the static graph (0: the deterministic graph, K >= 2: the
    K-sample uncertainty graph); ``visible``: the visible-token graph instead.
    """
    from frame_restore_ros.backends.onnx_export import (
        export_onnx,
        export_visible_onnx,
        exporter_version,
    )

    folder = (cache_dir or default_cache_dir()) / "onnx"
    kind = "visible" if visible else f"k{samples}"
    exporter = hashlib.sha256(exporter_version().encode()).hexdigest()[:8]
    path = folder / f"{model_fingerprint(model)[:20]}-{exporter}-{kind}.onnx"
    problem = _unreadable_onnx(path) if path.is_file() else None
    if problem:
        log.warning("cached ONNX graph %s does not load (%s): exporting it again", path, problem)
    if problem or not path.is_file():
        log.info("exporting %s (once per model)", path)
        if visible:
            export_visible_onnx(model, path)
        else:
            export_onnx(model, path, num_samples=samples)
    return path


def _unreadable_onnx(path: Path) -> str | None:
    """Return why the ONNX file at ``path`` does not parse, or None (a few ms a graph)."""
    import onnx

    try:
        onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError, OSError, ...
        return f"{type(exc).__name__}: {exc}"[:200]
    return None


def graph_feeds(
    reference: np.ndarray, damaged: np.ndarray, patch_mask: np.ndarray
) -> dict[str, np.ndarray]:
    """Return the exported graphs' inputs as contiguous float32 arrays, by input name.

    reference, damaged: (B, 3, h, w) in [0, 1]; patch_mask: (B, h/P, w/P), 1 = failed.
    """
    return {
        "reference": np.ascontiguousarray(reference, dtype=np.float32),
        "damaged": np.ascontiguousarray(damaged, dtype=np.float32),
        "patch_mask": np.ascontiguousarray(patch_mask, dtype=np.float32),
    }


def add_keep_index(feeds: dict[str, np.ndarray]) -> bool:
    """Add the visible-token graph's ``keep_index`` (1, V) int64 to single-frame ``feeds``.

    Returns False, adding nothing, where that graph cannot run: a batch of several frames, or no
    visible patch at all (V = 0); the static graph serves those.
    """
    mask = feeds["patch_mask"]
    if mask.shape[0] != 1:
        return False
    keep = np.flatnonzero(mask.reshape(-1) <= 0.5)
    if not keep.size:
        return False
    feeds["keep_index"] = keep.astype(np.int64)[None]
    return True

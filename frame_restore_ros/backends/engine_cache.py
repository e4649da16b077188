"""TensorRT engine cache: one serialized engine per model, TensorRT, GPU, precision, shape, policy.

Building an engine takes minutes; loading one takes milliseconds. Engines are only valid for the
TensorRT version and GPU that built them, and for the ONNX export and build recipe they came from,
so the cache key holds the model fingerprint, the TensorRT version, the GPU name and compute
capability, the precision, the input shape, the number of latent samples, the exporter (torch
version and opset) and the build-policy version. Files are ``<stem>.engine`` plus ``<stem>.json``
(the key and the engine's SHA-256), written atomically with the umask's mode (readable by the other
users of a shared cache, like the ONNX exports). A missing file, a key that does not match, an
engine whose bytes do not match the checksum the key file recorded (truncated, corrupt, replaced;
checked before TensorRT reads them: damaged data that passed TensorRT's own header check could
crash inside it, where Python cannot catch it), or one that fails to deserialize (built by another
version) leads to a rebuild with a warning, never a crash. A key file without a checksum (written
before 2026-12-07) counts as not matching: one rebuild. Builds of one engine are serialized across
processes by a lock file (``<stem>.lock``, ``flock``): a second process waits and then loads what
the first built.

TensorRT itself sits behind :class:`EngineBuilder`, so this logic is tested without TensorRT.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from frame_restore_ros.model.checkpoint import default_file_mode

log = logging.getLogger(__name__)

CHECKSUM = "engine_sha256"  # the key file's field holding the engine's SHA-256


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine's validity depends on."""

    model: str  # backends.fingerprint.model_fingerprint
    tensorrt: str
    gpu: str  # name and compute capability
    precision: str  # "fp16" / "bf16" (LayerNorm and softmax in fp32) or "fp32"
    input_shape: str  # e.g. "1x3x224x400"
    samples: int  # K latent samples in the graph (0: no uncertainty output)
    exporter: str  # what wrote the ONNX graph, e.g. "torch 2.13.0 opset 18"
    build_policy: str  # tensorrt_backend.BUILD_POLICY and the API surface that built it

    def stem(self) -> str:
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()
        return f"{self.model[:12]}-{self.precision}-k{self.samples}-{digest[:12]}"


class EngineBuilder(Protocol):
    """What the cache needs from TensorRT (``tensorrt_backend.TensorRTBuilder``)."""

    def build(self, onnx_path: Path, precision: str) -> bytes: ...

    def deserialize(self, data: bytes) -> Any: ...


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block.

    Waits while another process (or thread, through its own open file) holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class EngineCache:
    """A folder of engines; :meth:`load` returns a deserialized engine, building it if needed."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def paths(self, key: EngineKey) -> tuple[Path, Path]:
        stem = key.stem()
        return self.folder / f"{stem}.engine", self.folder / f"{stem}.json"

    def load(self, key: EngineKey, onnx_path: Path, builder: EngineBuilder) -> tuple[Any, str]:
        """Return (engine, how): how is "cached", "built" or "rebuilt" (with the reason logged)."""
        engine, _ = self._cached(key, builder)
        if engine is not None:
            return engine, "cached"
        engine_path, key_path = self.paths(key)
        with exclusive_lock(engine_path.with_suffix(".lock")):
            # Another process may have built it while this one waited for the lock.
            engine, reason = self._cached(key, builder)
            if engine is not None:
                return engine, "cached"
            if reason:
                log.warning("rebuilding the TensorRT engine: %s", reason)
            log.info("building TensorRT engine %s from %s (minutes)", engine_path.name, onnx_path)
            data = builder.build(onnx_path, key.precision)
            engine = builder.deserialize(data)
            atomic_write(engine_path, data)
            record = {**asdict(key), CHECKSUM: hashlib.sha256(data).hexdigest()}
            atomic_write(key_path, json.dumps(record, indent=2).encode())
        return engine, "rebuilt" if reason else "built"

    def _cached(self, key: EngineKey, builder: EngineBuilder) -> tuple[Any, str]:
        """Return (engine, "") from the cache, or (None, why not: "" when there is no file)."""
        engine_path, key_path = self.paths(key)
        if not engine_path.is_file():
            return None, ""
        try:
            stored = json.loads(key_path.read_text())
        except (OSError, ValueError):
            stored = None
        checksum = stored.pop(CHECKSUM, None) if isinstance(stored, dict) else None
        if stored != asdict(key) or not isinstance(checksum, str):
            return None, f"key file {key_path.name} is missing or does not match"
        try:
            data = engine_path.read_bytes()
        except OSError as exc:
            return None, f"engine {engine_path.name} cannot be read ({exc.strerror})"
        if hashlib.sha256(data).hexdigest() != checksum:
            return None, f"engine {engine_path.name} does not match its checksum (damaged)"
        try:
            return builder.deserialize(data), ""
        except Exception as exc:  # TensorRT raises or returns None on bad data
            return None, f"engine {engine_path.name} does not deserialize ({exc})"

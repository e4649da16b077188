"""TensorRT engine cache: one serialized engine per (model, TensorRT, GPU, precision, shape).

Building an engine takes minutes; loading one takes milliseconds. Engines are only valid for the
TensorRT version and GPU that built them, so the cache key holds the model fingerprint, the
TensorRT version, the GPU name and compute capability, the precision, the input shape and the
number of latent samples. Files are ``<stem>.engine`` plus ``<stem>.json`` (the key), written
atomically. A missing file, a key that does not match, or an engine that fails to deserialize
(truncated, corrupt, built by another version) leads to a rebuild with a warning, never a crash.

TensorRT itself sits behind :class:`EngineBuilder`, so this logic is tested without TensorRT.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine's validity depends on."""

    model: str  # backends.fingerprint.model_fingerprint
    tensorrt: str
    gpu: str  # name and compute capability
    precision: str  # "fp16" (LayerNorm and softmax in fp32) or "fp32"
    input_shape: str  # e.g. "1x3x224x400"
    samples: int  # K latent samples in the graph (0: no uncertainty output)

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
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class EngineCache:
    """A folder of engines; :meth:`load` returns a deserialized engine, building it if needed."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def paths(self, key: EngineKey) -> tuple[Path, Path]:
        stem = key.stem()
        return self.folder / f"{stem}.engine", self.folder / f"{stem}.json"

    def load(self, key: EngineKey, onnx_path: Path, builder: EngineBuilder) -> tuple[Any, str]:
        """Return (engine, how): how is "cached", "built" or "rebuilt" (with the reason logged)."""
        engine_path, key_path = self.paths(key)
        reason = ""
        if engine_path.is_file():
            try:
                stored = json.loads(key_path.read_text())
            except (OSError, ValueError):
                stored = None
            if stored != asdict(key):
                reason = f"key file {key_path.name} is missing or does not match"
            else:
                try:
                    return builder.deserialize(engine_path.read_bytes()), "cached"
                except Exception as exc:  # TensorRT raises or returns None on bad data
                    reason = f"engine {engine_path.name} does not deserialize ({exc})"
            log.warning("rebuilding the TensorRT engine: %s", reason)
        self.folder.mkdir(parents=True, exist_ok=True)
        log.info("building TensorRT engine %s from %s (minutes)", engine_path.name, onnx_path)
        data = builder.build(onnx_path, key.precision)
        engine = builder.deserialize(data)
        atomic_write(engine_path, data)
        atomic_write(key_path, json.dumps(asdict(key), indent=2).encode())
        return engine, "rebuilt" if reason else "built"

"""A model's identity for caches: SHA-256 over its config and every tensor's bytes."""

from __future__ import annotations

import hashlib

import torch


def model_fingerprint(model: torch.nn.Module) -> str:
    """Hex SHA-256 of ``model.cfg`` (JSON) and its state dict (names, dtypes, shapes, bytes)."""
    digest = hashlib.sha256(model.cfg.to_json().encode())
    for name, tensor in sorted(model.state_dict().items()):
        value = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(value.numpy().tobytes() if value.dtype != torch.bfloat16 else b"")
    return digest.hexdigest()

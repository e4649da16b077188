"""A model's identity for caches: SHA-256 over its config and every tensor's bytes."""

from __future__ import annotations

import hashlib

import torch


def model_fingerprint(model: torch.nn.Module) -> str:
    """Hex SHA-256 of ``model.cfg`` (JSON) and its state dict (names, dtypes, shapes, bytes).

    The bytes are each tensor's raw memory viewed as uint8, so dtypes numpy lacks (bfloat16,
    the float8 types) count their values too (until 2026-12-07 a bfloat16 tensor added no
    bytes: two bf16 models with other weights shared their ONNX export and engines); for the
    others they are the bytes ``numpy().tobytes()`` gave, so existing caches keep their names.
    """
    digest = hashlib.sha256(model.cfg.to_json().encode())
    for name, tensor in sorted(model.state_dict().items()):
        value = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()

"""Resumable training state in one safetensors file (no pickle): weights, optimiser, RNGs, step.

Tensors: ``model/<name>``, ``optim/<param index>/<exp_avg|exp_avg_sq|step>``, ``rng/<name>``
(torch generator states as uint8). Header: step, best score, history, the numpy RNG state and the
model and training configs, as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from frame_restore_ros.model import CheckpointError, SiamMCVAEConfig, build_model
from frame_restore_ros.model.build import RestorationModel
from frame_restore_ros.model.checkpoint import atomic_file

STATE_FORMAT = "frame_restore_ros.train_state/1"


def save_state(
    path: Path,
    model: RestorationModel,
    optimizer: torch.optim.Optimizer,
    rngs: dict[str, torch.Generator],
    numpy_rng: np.random.Generator,
    notes: dict[str, Any],
) -> None:
    """Write the training state atomically. ``notes`` must be JSON-serialisable."""
    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for index, param in enumerate(params):
        for key, value in optimizer.state.get(param, {}).items():
            value = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"optim/{index}/{key}"] = value.detach().cpu().contiguous()
    for name, generator in rngs.items():
        tensors[f"rng/{name}"] = generator.get_state()
    metadata = {
        "format": STATE_FORMAT,
        "config": model.cfg.to_json(),
        "numpy_rng": json.dumps(numpy_rng.bit_generator.state),
        "notes": json.dumps(notes),
    }
    with atomic_file(path) as tmp:
        save_file(tensors, tmp, metadata=metadata)


def load_state(
    path: Path,
    optimizer_factory: Any,
    rngs: dict[str, torch.Generator],
    numpy_rng: np.random.Generator,
    device: str = "cpu",
) -> tuple[RestorationModel, torch.optim.Optimizer, dict[str, Any]]:
    """Rebuild model and optimiser from ``path`` and restore the RNGs in place.

    ``optimizer_factory(model)`` must build the optimiser the same way as the run that saved it.
    Returns (model, optimizer, notes).
    """
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            if metadata.get("format") != STATE_FORMAT:
                raise CheckpointError(f"{path}: not a training state file")
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"{path}: unreadable training state ({exc})") from exc
    model = build_model(SiamMCVAEConfig.from_json(metadata["config"]))
    prefix = "model/"
    model.load_state_dict(
        {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}, strict=True
    )
    model.to(device)
    optimizer = optimizer_factory(model)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for index, param in enumerate(params):
        state = {
            key.split("/")[2]: value.to(device)
            for key, value in tensors.items()
            if key.startswith(f"optim/{index}/")
        }
        if state:
            if "step" in state:
                state["step"] = state["step"].cpu()
            optimizer.state[param] = state
    for name, generator in rngs.items():
        if f"rng/{name}" in tensors:
            generator.set_state(tensors[f"rng/{name}"])
    numpy_rng.bit_generator.state = json.loads(metadata["numpy_rng"])
    return model, optimizer, json.loads(metadata["notes"])

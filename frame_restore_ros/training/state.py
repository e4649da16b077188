"""Resumable training state in one safetensors file (no pickle): weights, optimiser, RNGs, step.

Tensors: ``model/<name>``, ``optim/<param index>/<exp_avg|exp_avg_sq|step>``, ``rng/<name>``
(torch generator states as uint8). Header, as JSON: the model config, the numpy RNG state and the
notes: step, best score, history, minutes, and the run's settings and clips (``--resume``
compares them with its own; states written before have none).
"""

from __future__ import annotations

import json
import math
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
NOTE_KINDS = {"step": "int", "best": "number", "history": "list", "minutes": "number"}


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


def _note_problems(notes: Any) -> list[str]:
    """Return what is wrong with a state's notes (see :data:`NOTE_KINDS`), or nothing."""
    if not isinstance(notes, dict):
        return [f"notes must be a JSON object, got {type(notes).__name__}"]
    problems = []
    for key, kind in NOTE_KINDS.items():
        value = notes.get(key)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = {
            "int": number and isinstance(value, int) and value >= 0,
            "number": number and not math.isnan(value),
            "list": isinstance(value, list) and all(isinstance(v, dict) for v in value),
        }[kind]
        if not ok:
            problems.append(f"notes {key} must be a {kind}, got {json.dumps(value)[:40]}")
    if not isinstance(notes.get("settings", {}), dict):
        problems.append("notes settings must be a JSON object")
    return problems


def _check_header(path: Path, metadata: dict[str, str]) -> tuple[SiamMCVAEConfig, dict[str, Any]]:
    """Return (model config, notes) of a state's header; CheckpointError if either is bad."""
    if metadata.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path}: not a training state file")
    try:
        config = SiamMCVAEConfig.from_json(metadata["config"])
        notes = json.loads(metadata["notes"])
        numpy_rng = json.loads(metadata["numpy_rng"])
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: invalid training state header ({exc})") from None
    problems = _note_problems(notes)
    if not isinstance(numpy_rng, dict):
        problems.append(f"numpy_rng must be a JSON object, got {type(numpy_rng).__name__}")
    if problems:
        raise CheckpointError(f"{path}: invalid training state header: " + "; ".join(problems))
    return config, notes


def read_state_header(path: Path) -> tuple[SiamMCVAEConfig, dict[str, Any]]:
    """Return (model config, notes) from a state's header, without loading its tensors.

    Raises CheckpointError naming ``path`` if it is missing, no regular file, unreadable or
    not a valid training state.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such training state (drop --resume to start a new run)")
    if not path.is_file():  # a folder, or a pipe that would wait for a writer
        raise CheckpointError(f"{path}: not a regular file, so no training state")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
    except Exception as exc:
        raise CheckpointError(f"{path}: unreadable training state ({exc})") from exc
    return _check_header(path, metadata)


def load_state(
    path: Path,
    optimizer_factory: Any,
    rngs: dict[str, torch.Generator],
    numpy_rng: np.random.Generator,
    device: str = "cpu",
) -> tuple[RestorationModel, torch.optim.Optimizer, dict[str, Any]]:
    """Rebuild model and optimiser from ``path`` and restore the RNGs in place.

    ``optimizer_factory(model)`` must build the optimiser the same way as the run that saved it.
    Returns (model, optimizer, notes). A header or tensors that do not fit together raise
    CheckpointError naming ``path``.
    """
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            config, notes = _check_header(Path(path), metadata)
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"{path}: unreadable training state ({exc})") from exc
    try:
        model, optimizer = _restore(config, tensors, optimizer_factory, rngs, device)
        numpy_rng.bit_generator.state = json.loads(metadata["numpy_rng"])
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise CheckpointError(
            f"{path}: training state does not fit its header (model {config.name!r}): {reason}"
        ) from None
    return model, optimizer, notes


def _restore(
    config: SiamMCVAEConfig,
    tensors: dict[str, torch.Tensor],
    optimizer_factory: Any,
    rngs: dict[str, torch.Generator],
    device: str,
) -> tuple[RestorationModel, torch.optim.Optimizer]:
    """Build the model of ``config`` and load the state's model, optimiser and RNG tensors."""
    model = build_model(config)
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
    return model, optimizer

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

from frame_restore_ros.media.file_checks import file_problem, shown_path
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


def state_file_problem(path: Path) -> str | None:
    """Why ``path`` is no readable regular file (``media/file_checks.file_problem``), or None.

    One line with the shortened path, a name the file system refuses (too long) included; a
    pipe is never opened.
    """
    problem = file_problem(path, "training state")
    if problem and problem.endswith(" does not exist"):
        return f"{shown_path(path)}: no such training state (drop --resume to start a new run)"
    return problem


def read_state_header(path: Path) -> tuple[SiamMCVAEConfig, dict[str, Any]]:
    """Return (model config, notes) from a state's header, without loading its tensors.

    Raises CheckpointError naming ``path`` if it is missing, no regular file, unreadable or
    not a valid training state.
    """
    path = Path(path)
    if problem := state_file_problem(path):
        raise CheckpointError(problem)
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
    Returns (model, optimizer, notes). A header or tensors that do not fit together, a missing
    ``rng/`` or ``optim/`` tensor, or an optimiser tensor that does not fit its parameter raise
    CheckpointError naming ``path`` (and the tensor).
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
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
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
    """Build the model of ``config`` and load the state's model, optimiser and RNG tensors.

    Raises CheckpointError (without the path) for missing RNG or optimiser tensors and for
    optimiser tensors that do not fit the model's parameters, before anything is restored.
    """
    if missing := [f"rng/{name}" for name in rngs if f"rng/{name}" not in tensors]:
        raise CheckpointError(
            f"training state lacks {', '.join(missing)} (every state holds them): resumed "
            "without them, the run would not continue its random draws"
        )
    model = build_model(config)
    prefix = "model/"
    model.load_state_dict(
        {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}, strict=True
    )
    model.to(device)
    optimizer = optimizer_factory(model)
    states = _optimizer_states(tensors, optimizer, _parameter_names(model))
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for index, state in states.items():
        optimizer.state[params[index]] = {
            key: value if key == "step" else value.to(device) for key, value in state.items()
        }
    for name, generator in rngs.items():
        _set_rng(generator, name, tensors[f"rng/{name}"])
    return model, optimizer


def _set_rng(generator: torch.Generator, name: str, value: torch.Tensor) -> None:
    """Restore ``generator`` from the state's ``rng/<name>``; CheckpointError naming it."""
    try:
        generator.set_state(value)
    except (RuntimeError, TypeError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise CheckpointError(
            f"training state tensor rng/{name} is no torch generator state ({reason})"
        ) from None


def _parameter_names(model: RestorationModel) -> dict[int, str]:
    """Return the name of each of ``model``'s parameters, by ``id``."""
    return {id(param): name for name, param in model.named_parameters()}


def _optimizer_states(
    tensors: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer, names: dict[int, str]
) -> dict[int, dict[str, torch.Tensor]]:
    """Return the state's ``optim/<index>/<key>`` tensors by parameter index, each checked.

    As torch's Adam/AdamW keep them: ``step`` holds one value, every other key is a floating
    tensor of its parameter's shape, and each parameter with a state has the same keys. Raises
    CheckpointError naming the first tensor (or key) that breaks this, or when there is none.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    states: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith("optim/"):
            index, key = _optimizer_key(name, len(params))
            states.setdefault(index, {})[key] = value
    if not states:
        raise CheckpointError(
            "training state lacks the optimiser tensors optim/... (every state holds them): "
            "resumed without them, AdamW would restart its moments"
        )
    keys = set().union(*states.values())
    for index, state in sorted(states.items()):
        param = params[index]
        where = f"parameter {index} ({names.get(id(param), '?')})"
        if missing := sorted(keys - set(state)):
            raise CheckpointError(f"training state lacks optim/{index}/{missing[0]} of {where}")
        for key, value in state.items():
            if problem := _optimizer_tensor_problem(key, value, param):
                raise CheckpointError(
                    f"training state tensor optim/{index}/{key} of {where} {problem}"
                )
    return states


def _optimizer_key(name: str, count: int) -> tuple[int, str]:
    """Split ``optim/<index>/<key>`` into (index, key); CheckpointError unless it fits."""
    parts = name.split("/")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2]:
        raise CheckpointError(f"training state tensor {name} is not optim/<index>/<key>")
    if int(parts[1]) >= count:
        raise CheckpointError(
            f"training state tensor {name} names parameter {parts[1]}, but the optimiser has "
            f"{count} (0-{count - 1})"
        )
    return int(parts[1]), parts[2]


def _optimizer_tensor_problem(key: str, value: torch.Tensor, param: torch.Tensor) -> str | None:
    """Why ``value`` cannot be the optimiser's ``key`` for ``param``, or None."""
    if key == "step":
        return None if value.numel() == 1 else f"holds {value.numel()} values, not one step"
    if value.shape != param.shape:
        return f"has shape {list(value.shape)}, but the parameter has {list(param.shape)}"
    if not value.is_floating_point():
        return f"is {value.dtype}, not floating point"
    return None

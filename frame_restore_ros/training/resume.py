"""What ``--resume`` may change: the state records the run's settings, a resumed run is compared.

The model (preset, architecture, reference_skip) and the data (sources, split, max_frames) define
the run: a state is never continued with others (its weights would train on other data, or not
fit the model asked for). ``steps``, ``max_minutes`` and where the run executes may change
silently; every other changed setting (batch size, lr, seed...) is logged as a warning.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from frame_restore_ros.model import SiamMCVAEConfig
from frame_restore_ros.training.settings import TrainSettings
from frame_restore_ros.training.state import read_state_header

log = logging.getLogger(__name__)
MODEL_SETTINGS = ("preset", "architecture", "reference_skip")
DATA_SETTINGS = ("data", "val_data", "split", "split_fraction", "max_frames")
SOURCE_SETTINGS = ("data", "val_data", "split")
# Change nothing the run learns: how long it goes on, and where and how it executes.
# Draw the fixed validation pairs or pick the figure: another value scores otherwise.
VALIDATION_SETTINGS = ("batch_size", "eval_batches", "seed", "max_gap", "select_metric")
FREE_SETTINGS = ("steps", "max_minutes", "resume", "output", "device", "threads", "init_weights")


def source_key(source: str) -> str:
    """Return ``source`` as compared between runs: ``sample:NAME`` as is, a path made absolute."""
    if source.startswith("sample:"):
        return source
    return os.path.abspath(os.path.expanduser(source))


def file_key(source: str) -> str:
    """Return the real path of the file ``source`` reads: ``sample:NAME`` resolved, links followed.

    Two sources with one key read the same file. A ``sample:NAME`` that cannot be found keeps
    its ``source_key`` (loading it reports why).
    """
    if source.startswith("sample:"):
        from frame_restore_ros.media.video import VideoError, sample_video_path

        try:
            return os.path.realpath(sample_video_path(source.removeprefix("sample:")))
        except VideoError:
            return source
    return os.path.realpath(os.path.expanduser(source))


def recorded_settings(settings: TrainSettings) -> dict[str, Any]:
    """Return the settings a state records (JSON): every field, paths made absolute."""
    values = dataclasses.asdict(settings)
    for name in SOURCE_SETTINGS:
        values[name] = [source_key(source) for source in values[name]]
    if settings.init_weights:
        values["init_weights"] = source_key(settings.init_weights)
    return values


def nothing_to_train(step: int, steps: int) -> str | None:
    """Return the refusal of a state at ``step`` resumed for ``steps`` in all, or None."""
    if step < steps:
        return None
    return f"state is at step {step} of {steps}: nothing to train (raise --steps)"


def model_differences(config: SiamMCVAEConfig, settings: TrainSettings) -> list[str]:
    """Return 'setting old -> new' for each model setting the state's ``config`` does not share."""
    wanted = settings.model_config()
    if config == wanted:
        return []
    pairs = [
        ("preset", config.name, settings.preset),
        ("architecture", config.architecture, settings.architecture),
        ("reference_skip", config.reference_skip, settings.reference_skip),
    ]
    changed = [f"{name} {old!r} -> {new!r}" for name, old, new in pairs if old != new]
    if changed:
        return changed
    old, new = config.to_dict(), wanted.to_dict()
    fields = ", ".join(f"{k} {old[k]} -> {new[k]}" for k in old if old[k] != new[k])
    return [f"the state's model is not preset {settings.preset!r}: {fields}"]


def _changed(old: dict[str, Any], new: dict[str, Any], names: list[str]) -> list[str]:
    return [f"{name} {old[name]!r} -> {new[name]!r}" for name in names if old[name] != new[name]]


def check_resume(settings: TrainSettings, state: Path) -> None:
    """Raise ValueError unless ``settings`` may continue the run of ``state`` (header only).

    Refused: a missing or invalid state, another model, other data, ``init_weights`` other
    than the run's, or a state already at ``settings.steps``. Other changed settings are
    warned about; a state that records no settings (older) is resumed with a warning.
    """
    config, notes = read_state_header(state)
    refused = model_differences(config, settings)
    recorded = notes.get("settings")
    current = recorded_settings(settings)
    if recorded is not None:
        refused += _data_differences(recorded, current)
        refused += _init_weights_difference(recorded, settings)
    if refused:
        raise ValueError(
            f"cannot resume {state} with other settings than its run's: "
            + "; ".join(refused)
            + " (start a new run with another output to change them)"
        )
    message = nothing_to_train(notes["step"], settings.steps)
    if message:
        raise ValueError(message)
    if recorded is None:
        _warn_unrecorded(settings, state)
        return
    free = (*MODEL_SETTINGS, *DATA_SETTINGS, *FREE_SETTINGS)
    warned = _changed(recorded, current, [n for n in current if n in recorded and n not in free])
    if warned:
        log.warning("resuming %s with changed settings: %s", state, "; ".join(warned))
    scoring = [n for n in VALIDATION_SETTINGS if n in recorded and recorded[n] != current[n]]
    if scoring:
        log.warning(
            "%s changed how validation scores: the state's best %.2f dB is not comparable with "
            "this run's validations, so the weights kept may not be the best",
            ", ".join(scoring),
            notes["best"],
        )


def _data_differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Return the data settings that differ ('name old -> new'); split_fraction if it splits."""
    names = [n for n in DATA_SETTINGS if n in recorded]
    if not current["split"] and not recorded.get("split"):
        names = [n for n in names if n != "split_fraction"]
    return _changed(recorded, current, names)


def _init_weights_difference(recorded: dict[str, Any], settings: TrainSettings) -> list[str]:
    """Refuse ``init_weights`` unless the run started from the same file."""
    before = recorded.get("init_weights") or ""
    if not settings.init_weights or source_key(settings.init_weights) == before:
        return []
    return [
        f"init_weights {before or 'none'!r} -> {settings.init_weights!r} (--resume continues "
        "the state's weights: drop init_weights)"
    ]


def _warn_unrecorded(settings: TrainSettings, state: Path) -> None:
    """Warn that an older state (no recorded settings) cannot be compared beyond its model."""
    log.warning(
        "%s records no settings (written by an older version): the data and hyperparameters "
        "of this resume cannot be compared with the run's",
        state,
    )
    if settings.init_weights:
        log.warning(
            "init_weights %s is not used: --resume continues the state's weights",
            settings.init_weights,
        )

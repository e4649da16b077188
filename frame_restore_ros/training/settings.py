"""Training settings from a YAML file and command-line flags (flags win), validated up front."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML, YAMLError


@dataclass
class TrainSettings:
    """Everything ``frame-restore train`` needs; field names are the YAML keys and flags."""

    output: str = ""
    data: list[str] = field(default_factory=list)  # videos or bags (every image topic)
    val_data: list[str] = field(default_factory=list)  # whole held-out clips
    split: list[str] = field(default_factory=list)  # leading part trains, tail validates
    split_fraction: float = 0.3
    preset: str = "small"
    architecture: str = "siammcvae"
    reference_skip: bool = False
    steps: int = 2000
    batch_size: int = 8
    lr: float = 1e-3
    beta: float = 0.01
    max_gap: int = 8
    eval_every: int = 250
    checkpoint_every: int = 250
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    pseudo_fraction: float = 0.25
    structured_fraction: float = 0.3
    max_frames: int | None = None
    resume: bool = False

    def check(self) -> None:
        problems = []
        if not self.output:
            problems.append("output (the weight file to write) is required")
        if not self.data and not self.split:
            problems.append("no training data: give data or split sources")
        if self.architecture not in ("siammcvae", "mae"):
            problems.append(f"architecture must be siammcvae or mae, got {self.architecture!r}")
        for name in ("pseudo_fraction", "structured_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 < self.split_fraction < 1.0:
            problems.append(f"split_fraction must be in (0, 1), got {self.split_fraction}")
        if self.max_gap < 1:
            problems.append(f"max_gap must be >= 1, got {self.max_gap}")
        if problems:
            raise ValueError("invalid training settings: " + "; ".join(problems))


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        values = YAML(typ="safe").load(Path(path).read_text())
    except (OSError, YAMLError) as exc:
        raise ValueError(f"cannot read training config {path}: {exc}") from exc
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValueError(f"training config {path} must be a mapping of setting: value")
    return {str(k).replace("-", "_"): v for k, v in values.items()}


def resolve_settings(config: Path | None, flags: dict[str, Any]) -> TrainSettings:
    """Defaults, then the YAML file, then every flag that was given (not None)."""
    known = {f.name for f in dataclasses.fields(TrainSettings)}
    values = read_yaml(config) if config else {}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown training settings in {config}: {', '.join(unknown)}")
    values.update({k: v for k, v in flags.items() if k in known and v is not None})
    for key in ("data", "val_data", "split"):
        if isinstance(values.get(key), str):
            values[key] = [values[key]]
    settings = TrainSettings(**values)
    settings.check()
    return settings

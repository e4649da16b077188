"""Training settings: one class for the YAML file, the ``train`` flags (flags win) and the loop."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from ruamel.yaml import YAML, YAMLError

from frame_restore_ros.model import PRESETS, SiamMCVAEConfig, preset

RECONSTRUCTION_LOSSES = ("mse", "log_mse")
SELECT_METRICS = ("psnr_failed", "psnr_failed_frames")
DEVICES = "cpu, cuda or cuda:N"
MAX_LR = (
    1.0  # AdamW's steps are about lr in size: above 1 the weights only blow up (1e300: overflow)
)
MAX_THREADS = 1024  # as the CLI's --threads: torch.set_num_threads(100000) segfaults
_DEVICE = re.compile(r"cpu|cuda(:\d+)?")


@dataclass
class TrainSettings:
    """Everything ``frame-restore train`` needs; field names are the YAML keys and flags.

    Values are checked on construction; :meth:`check` adds what a run needs besides (an output
    and training data), so the loop can be driven from code without sources.
    """

    # Data.
    output: str = ""  # the weight file to write; its state goes to output + ".state"
    data: list[str] = field(default_factory=list)  # videos or bags (every image topic)
    val_data: list[str] = field(default_factory=list)  # whole held-out clips
    split: list[str] = field(default_factory=list)  # leading part trains, tail validates
    split_fraction: float = 0.3
    max_frames: int | None = None
    # Model.
    preset: str = "small"
    architecture: str = "siammcvae"
    reference_skip: bool = False
    init_weights: str = ""  # start from these weights (same model config) instead of random
    # Sampling.
    max_gap: int = 8
    pseudo_fraction: float = 0.25
    structured_fraction: float = 0.3
    # Optimisation.
    steps: int = 2000
    batch_size: int = 8
    lr: float = 1e-3
    min_lr: float = 1e-5
    weight_decay: float = 0.05
    warmup_steps: int = 100
    beta: float = 0.01
    # "mse": eq. 19 pooled over the batch (the paper); "log_mse": mean of per-frame log MSE,
    # so every frame counts alike, as in the evaluation's mean per-frame PSNR (model/loss.py).
    reconstruction: str = "mse"
    # Which validation figure picks the weights kept: "psnr_failed" (PSNR of each batch's
    # pooled failed pixels) or "psnr_failed_frames" (mean of per-frame PSNR, the evaluation's).
    select_metric: str = "psnr_failed"
    grad_clip: float = 1.0
    drop_tokens: bool = True
    # The training step's forward under bf16 autocast on the CPU (CUDA always uses it). Worth it
    # only on a CPU with AMX (docs/training.md: 0.57 against 0.84 s/step there; 10x slower on a
    # CPU that emulates bf16).
    cpu_bf16: bool = False
    # Bookkeeping.
    eval_every: int = 250
    eval_batches: int = 4
    checkpoint_every: int = 250
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    # Worker processes that cut training pairs while the model trains (0: in the loop itself).
    # On a GPU the pairs, not the model, limit the step rate. With workers a run is reproducible
    # for the same count, but a resumed run draws other pairs than an uninterrupted one.
    loader_workers: int = 0
    # Stop after this many minutes of training in one call (validated, state saved; --resume
    # continues, with its own limit).
    max_minutes: float | None = None
    resume: bool = False

    def __post_init__(self) -> None:
        _raise(type_problems(dataclasses.asdict(self)))  # before comparing any value
        problems = []
        if self.steps < 1 or self.batch_size < 1:
            problems.append(
                f"steps and batch_size must be >= 1, got {self.steps}, {self.batch_size}"
            )
        if not (0 < self.lr <= MAX_LR and self.beta >= 0):  # floats are finite (type_problems)
            problems.append(
                f"lr must be in (0, {MAX_LR}] and beta >= 0, got {self.lr}, {self.beta}"
            )
        if not 0 <= self.min_lr <= max(self.lr, 0):
            problems.append(f"min_lr must be in [0, lr], got {self.min_lr}")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.grad_clip <= 0:  # 0 clips every gradient to nothing
            problems.append(f"grad_clip must be > 0, got {self.grad_clip}")
        for name in ("eval_every", "eval_batches", "checkpoint_every"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "seed"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_frames is not None and self.max_frames < 2:  # a pair needs two
            problems.append(f"max_frames must be >= 2 (or unset), got {self.max_frames}")
        if self.threads is not None and not 1 <= self.threads <= MAX_THREADS:
            problems.append(f"threads must be in [1, {MAX_THREADS}], got {self.threads}")
        if self.preset not in PRESETS:
            problems.append(f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        if self.architecture not in ("siammcvae", "mae"):
            problems.append(f"architecture must be siammcvae or mae, got {self.architecture!r}")
        for name in ("pseudo_fraction", "structured_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 < self.split_fraction < 1.0:
            problems.append(f"split_fraction must be in (0, 1), got {self.split_fraction}")
        if self.reconstruction not in RECONSTRUCTION_LOSSES:
            problems.append(
                f"reconstruction must be one of {', '.join(RECONSTRUCTION_LOSSES)}, "
                f"got {self.reconstruction!r}"
            )
        if self.select_metric not in SELECT_METRICS:
            problems.append(
                f"select_metric must be one of {', '.join(SELECT_METRICS)}, "
                f"got {self.select_metric!r}"
            )
        if self.max_gap < 1:
            problems.append(f"max_gap must be >= 1, got {self.max_gap}")
        if self.loader_workers < 0:
            problems.append(f"loader_workers must be >= 0, got {self.loader_workers}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            problems.append(f"max_minutes must be > 0, got {self.max_minutes}")
        _raise(problems)

    def check(self) -> None:
        """Raise ValueError unless an output and training data are given."""
        problems = []
        if not self.output:
            problems.append("output (the weight file to write) is required")
        if not self.data and not self.split:
            problems.append("no training data: give data or split sources")
        _raise(problems)

    def model_config(self) -> SiamMCVAEConfig:
        """Return the model to train: the preset with ``architecture`` and ``reference_skip``."""
        return preset(self.preset).replace(
            architecture=self.architecture, reference_skip=self.reference_skip
        )


def _raise(problems: list[str], source: Path | None = None) -> None:
    if problems:
        where = f" in {source}" if source is not None else ""
        raise ValueError(f"invalid training settings{where}: " + "; ".join(problems))


def _type_error(name: str, value: object, expected: str) -> str | None:
    """Return a problem if ``value`` is not of the kind ``expected`` names, else None."""
    if expected == "bool":
        ok = isinstance(value, bool)
        expected = "true or false (YAML booleans; 'no', 'off', 'yes' are strings)"
    elif expected == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        expected = "an integer"
    elif expected == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and math.isfinite(value)
        expected = "a finite number"
    elif expected == "str":
        ok = isinstance(value, str)
        expected = "a string"
    else:  # list[str]: sources (a single string was made a list of one)
        ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        expected = "a list of paths or sample:NAME strings"
    if ok:
        return None
    return f"{name} must be {expected}, got {value!r} ({type(value).__name__})"


def _kind(hint: Any) -> tuple[str, bool]:
    """Return (bool | int | float | str | list, whether None is allowed) of a field type."""
    args = get_args(hint)
    optional = type(None) in args
    if optional:
        hint = next(arg for arg in args if arg is not type(None))
    if get_origin(hint) is list:
        return "list", optional
    return hint.__name__, optional


def type_problems(values: dict[str, Any]) -> list[str]:
    """Return one problem per value that does not fit its TrainSettings field type.

    ``device`` is also checked against the devices training takes (cpu, cuda, cuda:N).
    """
    hints = get_type_hints(TrainSettings)
    problems = []
    for name, value in values.items():
        if name not in hints:
            continue
        kind, optional = _kind(hints[name])
        if value is None and optional:
            continue
        problem = _type_error(name, value, kind)
        if problem is None and name == "device" and not _DEVICE.fullmatch(value):
            problem = f"device must be {DEVICES}, got {value!r}"
        if problem:
            problems.append(problem)
    return problems


def _yaml_problem(exc: YAMLError, path: Path) -> str:
    """Return a YAML error in one line: where in ``path`` and what."""
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    if mark is not None and problem:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return " ".join(str(exc).replace('"<unicode string>"', str(path)).split())


def read_yaml(path: Path) -> dict[str, Any]:
    """Return the YAML file's mapping, with ``-`` in keys read as ``_``.

    An unreadable file, one that is not UTF-8 text, or not YAML raises a one-line ValueError
    naming it.
    """
    try:
        text = Path(path).read_bytes().decode("utf-8")
        values = YAML(typ="safe").load(text)
    except OSError as exc:
        raise ValueError(f"cannot read training config {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"cannot read training config {path}: not UTF-8 text (byte {exc.object[exc.start]:#x} "
            f"at offset {exc.start}); a config is a YAML text file"
        ) from None
    except YAMLError as exc:
        raise ValueError(
            f"cannot read training config {path}: not valid YAML, {_yaml_problem(exc, path)}"
        ) from None
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
    for key in ("data", "val_data", "split"):
        if isinstance(values.get(key), str):
            values[key] = [values[key]]
    _raise(type_problems(values), config)  # name the file before flags are merged in
    values.update({k: v for k, v in flags.items() if k in known and v is not None})
    settings = TrainSettings(**values)
    settings.check()
    return settings

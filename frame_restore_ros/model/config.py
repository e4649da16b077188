"""Typed configuration and named size presets for SiamMCVAE.

Notation follows the paper (arXiv 2401.10402, section 3): ``P`` is the patch size, ``D`` the
siamese
encoder width, ``D'`` (``latent_dim``) the latent width, which is also the decoder width because
``W_d`` maps ``[Z, U1]`` (2D') to D' (eq. 11).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SiamMCVAEConfig:
    """Hyper-parameters of one SiamMCVAE.

    ``input_size`` is the (height, width) the model is trained and deployed at; frames are
    resized to it
    by the restorer. Both must be multiples of ``patch_size``; non-square sizes are supported.
    """

    name: str = "custom"
    patch_size: int = 16
    in_channels: int = 3
    input_size: tuple[int, int] = (224, 384)
    enc_dim: int = 768
    enc_depth: int = 12
    enc_heads: int = 12
    latent_dim: int = 512
    dec_depth: int = 8
    dec_heads: int = 16
    mlp_ratio: float = 4.0
    norm_eps: float = 1e-6
    # Not in the paper: add the reference's patches X1 to the decoder output (O = X1 + O_dec), so
    # an untrained decoder already returns the reference (the hold baseline) and training learns
    # only the change. False = eq. 14 exactly. docs/model.md, "Reference skip".
    reference_skip: bool = False
    # "siammcvae", or "mae": the single-frame masked autoencoder baseline of the same sizes
    # (the paper's MAE row; no reference, no latent sampling; model/mae.py).
    architecture: str = "siammcvae"

    def __post_init__(self) -> None:
        problems = _type_problems(self)
        if not problems:  # the range checks compare and divide: only on well-typed values
            problems = _size_problems(self) + _setting_problems(self)
        if problems:
            raise ValueError("invalid SiamMCVAEConfig: " + "; ".join(problems))

    @property
    def grid_size(self) -> tuple[int, int]:
        """Patch grid (rows, cols) at ``input_size``."""
        return self.input_size[0] // self.patch_size, self.input_size[1] // self.patch_size

    @property
    def num_patches(self) -> int:
        """N = HW / P^2 at ``input_size``."""
        rows, cols = self.grid_size
        return rows * cols

    @property
    def patch_dim(self) -> int:
        """P^2 * C, the length of one flattened patch."""
        return self.patch_size * self.patch_size * self.in_channels

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["input_size"] = list(self.input_size)
        return values

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SiamMCVAEConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown SiamMCVAEConfig fields: {', '.join(unknown)}")
        values = dict(values)
        if isinstance(values.get("input_size"), list | tuple):  # JSON and YAML give lists
            values["input_size"] = tuple(values["input_size"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> SiamMCVAEConfig:
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> SiamMCVAEConfig:
        return dataclasses.replace(self, **changes)


# Bounds on what a config (e.g. a weight file's header) may ask for, so that a hostile or
# mistyped header is a clear error and not a MemoryError while the model is built. They are far
# above every preset (base: 288x512 input, 576 patches, width 768, depth 12).
MAX_INPUT_SIDE = 8192  # pixels per side of input_size
MAX_PATCHES = 16384  # tokens per frame: attention is quadratic in them
MAX_WIDTH = 4096  # enc_dim, latent_dim
MAX_DEPTH = 256  # enc_depth, dec_depth
MAX_IN_CHANNELS = 3  # the normalisation has ImageNet statistics for 3 channels
MAX_MLP_RATIO = 64.0
MAX_PARAMETERS = 1_000_000_000  # 4 GB of fp32 weights (base: 113 M)
INT_FIELDS = (
    "patch_size", "in_channels", "enc_dim", "enc_depth", "enc_heads", "latent_dim", "dec_depth",
    "dec_heads",
)  # fmt: skip
FLOAT_FIELDS = ("mlp_ratio", "norm_eps")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_problems(cfg: SiamMCVAEConfig) -> list[str]:
    """Fields of the wrong type (a JSON header can hold anything), named with what they hold."""
    problems = []
    for name in INT_FIELDS:
        value = getattr(cfg, name)
        if not _is_int(value):
            problems.append(f"{name} must be an integer, got {value!r}")
    for name in FLOAT_FIELDS:
        value = getattr(cfg, name)
        if not (_is_int(value) or isinstance(value, float)):
            problems.append(f"{name} must be a number, got {value!r}")
    size = cfg.input_size
    if not isinstance(size, tuple | list) or len(size) != 2 or not all(map(_is_int, size)):
        problems.append(f"input_size must be (height, width) integers, got {size!r}")
    return problems


def _size_problems(cfg: SiamMCVAEConfig) -> list[str]:
    """Sizes that cannot build a model, or that are beyond the bounds above."""
    problems = []
    if not 1 <= cfg.in_channels <= MAX_IN_CHANNELS:
        problems.append(f"in_channels must be in [1, {MAX_IN_CHANNELS}], got {cfg.in_channels}")
    if not 1 <= cfg.patch_size <= MAX_INPUT_SIDE:
        problems.append(f"patch_size must be in [1, {MAX_INPUT_SIDE}], got {cfg.patch_size}")
    sides = len(problems)
    for label, value in zip(("height", "width"), cfg.input_size, strict=True):
        if value > MAX_INPUT_SIDE:
            problems.append(f"input {label} {value} is above the limit of {MAX_INPUT_SIDE}")
        elif cfg.patch_size >= 1 and (value < cfg.patch_size or value % cfg.patch_size):
            problems.append(
                f"input {label} {value} is not a positive multiple of patch_size {cfg.patch_size}"
            )
    if len(problems) == sides and 1 <= cfg.patch_size and cfg.num_patches > MAX_PATCHES:
        problems.append(
            f"input_size {tuple(cfg.input_size)} at patch_size {cfg.patch_size} is "
            f"{cfg.num_patches} patches, above the limit of {MAX_PATCHES}"
        )
    for width, heads, label in (
        (cfg.enc_dim, cfg.enc_heads, "enc"),
        (cfg.latent_dim, cfg.dec_heads, "dec"),
    ):
        if heads < 1 or width % heads:
            problems.append(f"{label} width {width} is not divisible by {label}_heads {heads}")
    for width, label in ((cfg.enc_dim, "enc_dim"), (cfg.latent_dim, "latent_dim")):
        if not 4 <= width <= MAX_WIDTH or width % 4:
            problems.append(
                f"{label} {width} must be a multiple of 4 (2-D sine-cosine positions) in "
                f"[4, {MAX_WIDTH}]"
            )
    for depth, label in ((cfg.enc_depth, "enc_depth"), (cfg.dec_depth, "dec_depth")):
        if not 1 <= depth <= MAX_DEPTH:
            problems.append(f"{label} must be in [1, {MAX_DEPTH}], got {depth}")
    return problems


def _parameter_estimate(cfg: SiamMCVAEConfig) -> float:
    """Approximate parameter count: the transformer blocks (attention 4 D^2, MLP 2 r D^2)."""
    per_width = 4 + 2 * cfg.mlp_ratio
    blocks = cfg.enc_depth * per_width * cfg.enc_dim**2
    blocks += cfg.dec_depth * per_width * cfg.latent_dim**2
    return blocks + 2 * cfg.patch_dim * (cfg.enc_dim + cfg.latent_dim)


def _setting_problems(cfg: SiamMCVAEConfig) -> list[str]:
    """Float settings that are not finite or out of range; architecture and reference_skip."""
    problems = []
    if not (math.isfinite(cfg.norm_eps) and 0 < cfg.norm_eps < 1):
        problems.append(f"norm_eps must be a finite number in (0, 1), got {cfg.norm_eps}")
    if not (math.isfinite(cfg.mlp_ratio) and 0 < cfg.mlp_ratio <= MAX_MLP_RATIO):
        problems.append(
            f"mlp_ratio must be a finite number in (0, {MAX_MLP_RATIO:g}], got {cfg.mlp_ratio}"
        )
    elif min(cfg.enc_dim, cfg.latent_dim) * cfg.mlp_ratio < 1:
        problems.append(f"mlp_ratio {cfg.mlp_ratio} leaves the MLP without a hidden unit")
    elif _parameter_estimate(cfg) > MAX_PARAMETERS:
        problems.append(
            f"the model would have about {_parameter_estimate(cfg) / 1e6:.0f} M parameters, "
            f"above the limit of {MAX_PARAMETERS / 1e6:.0f} M"
        )
    if cfg.architecture not in ("siammcvae", "mae"):
        problems.append(f"architecture must be siammcvae or mae, got {cfg.architecture!r}")
    if not isinstance(cfg.reference_skip, bool):  # e.g. "no" from a header or YAML: truthy
        problems.append(
            f"reference_skip must be true or false, got {cfg.reference_skip!r} "
            f"({type(cfg.reference_skip).__name__})"
        )
    return problems


# Paper-size model for GPUs: ViT-B encoder (768 x 12), 512-wide 8-block decoder, patch 16
# (docs/architecture.md, design notes; docs/model.md).
BASE = SiamMCVAEConfig(
    name="base",
    patch_size=16,
    input_size=(288, 512),
    enc_dim=768,
    enc_depth=12,
    enc_heads=12,
    latent_dim=512,
    dec_depth=8,
    dec_heads=16,
)

# CPU default: sized so one damaged frame costs tens of milliseconds on two cores
# (figures and the command that measured them: docs/benchmarks.md).
SMALL = SiamMCVAEConfig(
    name="small",
    patch_size=16,
    input_size=(224, 400),
    enc_dim=192,
    enc_depth=4,
    enc_heads=3,
    latent_dim=128,
    dec_depth=2,
    dec_heads=4,
)

# For unit tests only: runs in milliseconds.
TINY = SiamMCVAEConfig(
    name="tiny",
    patch_size=8,
    input_size=(32, 48),
    enc_dim=32,
    enc_depth=2,
    enc_heads=2,
    latent_dim=16,
    dec_depth=1,
    dec_heads=2,
    mlp_ratio=2.0,
)

PRESETS: dict[str, SiamMCVAEConfig] = {cfg.name: cfg for cfg in (BASE, SMALL, TINY)}


def preset(name: str) -> SiamMCVAEConfig:
    """Return the configuration of a named preset: ``base``, ``small`` or ``tiny``."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None

"""Typed configuration and named size presets for SiamMCVAE.

Notation follows the paper (arXiv 2401.10402, section 3): ``P`` is the patch size, ``D`` the
siamese
encoder width, ``D'`` (``latent_dim``) the latent width, which is also the decoder width because
``W_d`` maps ``[Z, U1]`` (2D') to D' (eq. 11).
"""

from __future__ import annotations

import dataclasses
import json
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
        problems = []
        if self.patch_size < 1:
            problems.append(f"patch_size must be >= 1, got {self.patch_size}")
        if self.in_channels < 1:
            problems.append(f"in_channels must be >= 1, got {self.in_channels}")
        if len(self.input_size) != 2:
            problems.append(f"input_size must be (height, width), got {self.input_size}")
        else:
            for label, value in zip(("height", "width"), self.input_size, strict=True):
                if value < self.patch_size or value % self.patch_size:
                    problems.append(
                        f"input {label} {value} is not a positive multiple of patch_size "
                        f"{self.patch_size}"
                    )
        for width, heads, label in (
            (self.enc_dim, self.enc_heads, "enc"),
            (self.latent_dim, self.dec_heads, "dec"),
        ):
            if heads < 1 or width % heads:
                problems.append(f"{label} width {width} is not divisible by {label}_heads {heads}")
        for width, label in ((self.enc_dim, "enc_dim"), (self.latent_dim, "latent_dim")):
            if width % 4:
                problems.append(
                    f"{label} {width} must be a multiple of 4 (2-D sine-cosine positions)"
                )
        if self.enc_depth < 1 or self.dec_depth < 1:
            problems.append("enc_depth and dec_depth must be >= 1")
        if self.architecture not in ("siammcvae", "mae"):
            problems.append(f"architecture must be siammcvae or mae, got {self.architecture!r}")
        if not isinstance(self.reference_skip, bool):  # e.g. "no" from a header or YAML: truthy
            problems.append(
                f"reference_skip must be true or false, got {self.reference_skip!r} "
                f"({type(self.reference_skip).__name__})"
            )
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
        if "input_size" in values:
            values["input_size"] = tuple(int(v) for v in values["input_size"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> SiamMCVAEConfig:
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> SiamMCVAEConfig:
        return dataclasses.replace(self, **changes)


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

"""``--inject SPEC``: seeded synthetic failures for replay and evaluation, with ground truth.

SPEC is a comma-separated list of failure items; each damaged frame gets one item, drawn at
random. Items (``corruption`` module generators):

  patches:R    the paper's random patch masking, fraction R of the model's patch grid (0-1)
  dead | saturated | noise | cast
               1-3 rectangles of that kind (8-30 % of each side)
  lines[:N]    N bands of dead rows (default 8);  columns[:N] the same as columns
  frozen       2 rectangles still showing the camera's previous frame
  bottom       transmission loss: every row from a random start to the bottom
  whole        the whole frame lost

Example: ``patches:0.5,dead,lines,bottom``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.synthetic import corruption
from frame_restore_ros.synthetic.corruption import Corruption

BLOCK_KINDS = {
    "dead": FailureKind.DEAD,
    "saturated": FailureKind.SATURATED,
    "noise": FailureKind.NOISE,
    "cast": FailureKind.CAST,
}
ITEM_NAMES = ("patches", *BLOCK_KINDS, "lines", "columns", "frozen", "bottom", "whole")

# (frame, previous frame, rng, patch grid) -> Corruption
Generator = Callable[[np.ndarray, np.ndarray, np.random.Generator, tuple[int, int]], Corruption]


@dataclass(frozen=True)
class InjectionItem:
    name: str
    value: float | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value:g}"

    def apply(
        self,
        frame: np.ndarray,
        previous: np.ndarray,
        rng: np.random.Generator,
        grid: tuple[int, int],
    ) -> Corruption:
        """Damage ``frame`` (H, W, 3) uint8; ``previous`` is the camera's previous real frame."""
        if self.name == "patches":
            return corruption.random_patches(frame, grid, float(self.value), rng)
        if self.name in BLOCK_KINDS:
            count = int(rng.integers(1, 4))
            return corruption.blocks(frame, rng, BLOCK_KINDS[self.name], count=count)
        if self.name in ("lines", "columns"):
            count = int(self.value) if self.value is not None else 8
            axis = 0 if self.name == "lines" else 1
            return corruption.line_dropout(frame, rng, count=count, axis=axis)
        if self.name == "frozen":
            return corruption.frozen_blocks(frame, previous, rng)
        if self.name == "bottom":
            return corruption.bottom_loss(frame, rng)
        if self.name == "whole":
            return corruption.whole_frame(frame, rng)
        raise AssertionError(self.name)


def parse_item(text: str) -> InjectionItem:
    name, _, value = text.strip().partition(":")
    name = name.strip().lower()
    if name not in ITEM_NAMES:
        raise ValueError(
            f"unknown failure {name!r} in --inject; choose from {', '.join(ITEM_NAMES)}"
        )
    if name == "patches":
        try:
            ratio = float(value)
        except ValueError:
            raise ValueError(f"patches needs a ratio, e.g. patches:0.5, got {text!r}") from None
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"patches ratio must be in (0, 1], got {ratio}")
        return InjectionItem(name, ratio)
    if name in ("lines", "columns") and value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{name} takes a positive count, got {text!r}")
        return InjectionItem(name, float(value))
    if value:
        raise ValueError(f"{name} takes no value, got {text!r}")
    return InjectionItem(name)


@dataclass(frozen=True)
class InjectionSpec:
    """Parsed SPEC plus how often frames are damaged (``rate``) and the seed."""

    items: tuple[InjectionItem, ...]
    rate: float = 0.5
    seed: int = 0

    @classmethod
    def parse(cls, text: str, rate: float = 0.5, seed: int = 0) -> InjectionSpec:
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"--inject-rate must be in (0, 1], got {rate}")
        parts = [p for p in text.split(",") if p.strip()]
        if not parts:
            raise ValueError("--inject needs at least one failure, e.g. patches:0.5")
        return cls(tuple(parse_item(p) for p in parts), rate, seed)

    def __str__(self) -> str:
        return ",".join(str(item) for item in self.items)


class Injector:
    """Damages a stream of one camera's frames; deterministic given the spec and camera name."""

    def __init__(self, spec: InjectionSpec, grid: tuple[int, int], camera: str = "") -> None:
        self.spec = spec
        self.grid = grid
        seed = [spec.seed, *camera.encode()]
        self.rng = np.random.default_rng(seed)
        self._previous: np.ndarray | None = None

    def __call__(self, frame: np.ndarray) -> tuple[Corruption | None, InjectionItem | None]:
        """Return (corruption, item) for a damaged frame, (None, None) for one left clean.

        The first frame of a stream, and the first after a resolution change, is left clean.
        """
        previous = self._previous
        self._previous = frame
        if previous is None or previous.shape != frame.shape:
            return None, None
        if self.rng.random() >= self.spec.rate:
            return None, None
        item = self.spec.items[int(self.rng.integers(len(self.spec.items)))]
        return item.apply(frame, previous, self.rng, self.grid), item

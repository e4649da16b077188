"""The one registry of synthetic failures: name -> (FailureKind, generator).

Replay injection (``--inject``), the repair evaluation, the detector evaluation and the tests all
draw their failures from :data:`FAILURES`, usually through ``injection.InjectionItem`` (a name and
its number, e.g. ``dead:2``). A failure that lasts several frames (``freeze``) returns its next
frames as ``Corruption.episode``; ``repeat`` has no failed pixel, only ``Corruption.event``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

import numpy as np

from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.synthetic import corruption
from frame_restore_ros.synthetic.corruption import Corruption


@dataclass(frozen=True)
class Context:
    """What a generator may read besides the frame and the rng.

    value: the item's number (see :class:`Value`); previous: the camera's previous frame
    (H, W, 3) uint8; grid: the model's patch grid (rows, cols).
    """

    value: float | None = None
    previous: np.ndarray | None = None
    grid: tuple[int, int] | None = None

    def count(self, default: int) -> int:
        """Return the item's count, or ``default`` without one."""
        return default if self.value is None else int(self.value)

    def require(self, name: str, what: str) -> None:
        """Raise ValueError when field ``what`` that failure ``name`` needs is missing."""
        if getattr(self, what) is None:
            raise ValueError(f"synthetic failure {name!r} needs {what}")


# (frame (H, W, 3) uint8, rng, context) -> Corruption
Generate = Callable[[np.ndarray, np.random.Generator, Context], Corruption]


class Value(Enum):
    """What the number after ``name:`` in an injection item means."""

    NONE = "none"  # the failure takes no number
    RATIO = "ratio"  # required, in (0, 1]
    COUNT = "count"  # optional positive whole number


class SyntheticFailure(NamedTuple):
    """One registry entry; ``kind`` None means the failed pixels get a mix of classes."""

    kind: FailureKind | None
    generate: Generate
    value: Value = Value.NONE


def _patches(frame: np.ndarray, rng: np.random.Generator, context: Context) -> Corruption:
    """Fail fraction ``value`` of the patch grid's cells (the paper's random masking)."""
    context.require("patches", "grid")
    context.require("patches", "value")
    return corruption.random_patches(frame, context.grid, float(context.value), rng)


def _blocks(kind: FailureKind) -> Generate:
    """Return a generator of ``value`` rectangles of ``kind`` (without one: 1-3, drawn)."""

    def generate(frame: np.ndarray, rng: np.random.Generator, context: Context) -> Corruption:
        count = int(rng.integers(1, 4)) if context.value is None else int(context.value)
        return corruption.blocks(frame, rng, kind, count=count)

    return generate


def _lines(axis: int) -> Generate:
    """Return a generator of ``value`` (8) dead bands of rows (axis 0) or columns (axis 1)."""

    def generate(frame: np.ndarray, rng: np.random.Generator, context: Context) -> Corruption:
        return corruption.line_dropout(frame, rng, count=context.count(8), axis=axis)

    return generate


def _frozen(frame: np.ndarray, rng: np.random.Generator, context: Context) -> Corruption:
    """Two rectangles that still show the previous frame."""
    context.require("frozen", "previous")
    return corruption.frozen_blocks(frame, context.previous, rng)


def _freeze(frame: np.ndarray, rng: np.random.Generator, context: Context) -> Corruption:
    """Tiles frozen on the previous frame for ``value`` frames (without one: 1-3, drawn)."""
    context.require("freeze", "previous")
    frames = int(rng.integers(1, 4)) if context.value is None else int(context.value)
    return corruption.frozen_tiles(frame, context.previous, rng, frames=frames)


def _repeat(frame: np.ndarray, rng: np.random.Generator, context: Context) -> Corruption:
    """Publish the previous frame again."""
    context.require("repeat", "previous")
    return corruption.repeated_frame(frame, context.previous)


def _counted(make: Callable[..., Corruption], default: int) -> Generate:
    """Return a generator calling ``make(frame, rng, count)``, count = value or ``default``."""

    def generate(frame: np.ndarray, rng: np.random.Generator, context: Context) -> Corruption:
        return make(frame, rng, context.count(default))

    return generate


def _bottom(fill: corruption.RowFill) -> Generate:
    """Return a generator of lost rows to the bottom filled with ``fill``."""

    def generate(frame: np.ndarray, rng: np.random.Generator, context: Context) -> Corruption:
        return corruption.bottom_loss(frame, rng, fill=fill)

    return generate


FAILURES: dict[str, SyntheticFailure] = {
    "patches": SyntheticFailure(None, _patches, Value.RATIO),
    "dead": SyntheticFailure(FailureKind.DEAD, _blocks(FailureKind.DEAD), Value.COUNT),
    "saturated": SyntheticFailure(
        FailureKind.SATURATED, _blocks(FailureKind.SATURATED), Value.COUNT
    ),
    "noise": SyntheticFailure(FailureKind.NOISE, _blocks(FailureKind.NOISE), Value.COUNT),
    "cast": SyntheticFailure(FailureKind.CAST, _blocks(FailureKind.CAST), Value.COUNT),
    "lines": SyntheticFailure(FailureKind.DEAD, _lines(0), Value.COUNT),
    "columns": SyntheticFailure(FailureKind.DEAD, _lines(1), Value.COUNT),
    "frozen": SyntheticFailure(FailureKind.FROZEN, _frozen),
    "bottom": SyntheticFailure(FailureKind.LOST_ROWS, _bottom(corruption.RowFill.DECODER)),
    "whole": SyntheticFailure(
        FailureKind.WHOLE_FRAME, lambda frame, rng, _: corruption.whole_frame(frame, rng)
    ),
    "blockage": SyntheticFailure(
        FailureKind.BLOCKAGE, _counted(corruption.dark_blockage, 1), Value.COUNT
    ),
    "mud": SyntheticFailure(FailureKind.BLOCKAGE, _counted(corruption.mud, 1), Value.COUNT),
    "veil": SyntheticFailure(
        FailureKind.BLOCKAGE, lambda frame, rng, _: corruption.veil(frame, rng)
    ),
    "drops": SyntheticFailure(
        FailureKind.BLOCKAGE, _counted(corruption.water_drops, 8), Value.COUNT
    ),
    "bottom_black": SyntheticFailure(FailureKind.LOST_ROWS, _bottom(corruption.RowFill.BLACK)),
    "smear": SyntheticFailure(FailureKind.LOST_ROWS, _bottom(corruption.RowFill.REPEAT)),
    "night_noise": SyntheticFailure(
        FailureKind.NOISE, _counted(corruption.noise_burst, 1), Value.COUNT
    ),
    "freeze": SyntheticFailure(FailureKind.FROZEN, _freeze, Value.COUNT),
    "repeat": SyntheticFailure(FailureKind.REPEATED_FRAME, _repeat),
}

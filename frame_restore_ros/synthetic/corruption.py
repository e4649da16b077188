"""Seeded synthetic camera failures with exact ground truth, for evaluation, training and tests.

Every generator takes a clean (H, W, 3) uint8 frame and a ``numpy.random.Generator`` and returns
a :class:`Corruption`: the damaged frame and a per-pixel class map (``FailureKind`` values,
0 = clean). Pixels outside the class map are never touched. Generators compose with
:func:`apply_all`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.media.grid import cells_to_pixels

GRAY_FILL = (128, 128, 128)  # BGR; what many H.264 decoders show for lost macroblocks
GREEN_FILL = (0, 135, 0)  # BGR; YUV (0, 0, 0) decoded as RGB: the "green block" of broken streams


@dataclass
class Corruption:
    """damaged: (H, W, 3) uint8; labels: (H, W) uint8 FailureKind per pixel (0 = clean)."""

    damaged: np.ndarray
    labels: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool: the failed pixels."""
        return self.labels != FailureKind.CLEAN


def _fill(
    damaged: np.ndarray, where: np.ndarray, kind: FailureKind, rng: np.random.Generator
) -> None:
    """Overwrite ``where`` (H, W) bool with what a failure of ``kind`` looks like."""
    count = int(where.sum())
    if kind is FailureKind.DEAD:
        level = rng.integers(0, 6)
        noise = rng.normal(0.0, 1.0, size=(count, 3))
        damaged[where] = np.clip(level + noise, 0, 255).astype(np.uint8)
    elif kind is FailureKind.SATURATED:
        damaged[where] = np.clip(damaged[where].astype(np.int32) * 20 + 200, 0, 255).astype(
            np.uint8
        )
    elif kind is FailureKind.NOISE:
        damaged[where] = rng.integers(0, 256, size=(count, 3), dtype=np.uint8)
    elif kind in (FailureKind.CAST, FailureKind.LOST_ROWS, FailureKind.WHOLE_FRAME):
        damaged[where] = GRAY_FILL if rng.random() < 0.5 else GREEN_FILL
    else:
        raise ValueError(f"no fill for failure kind {kind.name}")


def random_patches(
    frame: np.ndarray,
    grid: tuple[int, int],
    ratio: float,
    rng: np.random.Generator,
    kinds: Sequence[FailureKind] = (
        FailureKind.DEAD,
        FailureKind.SATURATED,
        FailureKind.NOISE,
        FailureKind.CAST,
    ),
) -> Corruption:
    """Fail ``round(ratio * rows * cols)`` cells of ``grid``: the paper's random patch masking.

    Each failed cell gets a fill drawn from ``kinds`` (use the model's patch grid for the paper's
    protocol).
    """
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"ratio must be in [0, 1], got {ratio}")
    rows, cols = grid
    cells = np.zeros(rows * cols, dtype=np.uint8)
    chosen = rng.permutation(rows * cols)[: int(round(ratio * rows * cols))]
    cells[chosen] = rng.choice(np.array([int(k) for k in kinds], dtype=np.uint8), size=len(chosen))
    labels = cells_to_pixels(cells.reshape(rows, cols), frame.shape[:2])
    damaged = frame.copy()
    for kind in kinds:
        where = labels == kind
        if where.any():
            _fill(damaged, where, FailureKind(kind), rng)
    return Corruption(damaged, labels)


def _random_box(
    shape: tuple[int, int], rng: np.random.Generator, size_range: tuple[float, float]
) -> tuple[slice, slice]:
    height, width = shape
    box_h = max(1, int(height * rng.uniform(*size_range)))
    box_w = max(1, int(width * rng.uniform(*size_range)))
    top = int(rng.integers(0, height - box_h + 1))
    left = int(rng.integers(0, width - box_w + 1))
    return slice(top, top + box_h), slice(left, left + box_w)


def blocks(
    frame: np.ndarray,
    rng: np.random.Generator,
    kind: FailureKind,
    count: int = 1,
    size_range: tuple[float, float] = (0.08, 0.3),
) -> Corruption:
    """``count`` contiguous rectangles of ``kind`` (dead, saturated, noise or cast)."""
    labels = np.zeros(frame.shape[:2], dtype=np.uint8)
    for _ in range(count):
        labels[_random_box(frame.shape[:2], rng, size_range)] = kind
    damaged = frame.copy()
    _fill(damaged, labels == kind, kind, rng)
    return Corruption(damaged, labels)


def line_dropout(
    frame: np.ndarray,
    rng: np.random.Generator,
    count: int = 8,
    axis: int = 0,
    thickness: tuple[int, int] = (1, 4),
) -> Corruption:
    """Dead rows (axis 0) or columns (axis 1): bands of black lines, as from a readout fault."""
    labels = np.zeros(frame.shape[:2], dtype=np.uint8)
    length = frame.shape[axis]
    for _ in range(count):
        start = int(rng.integers(0, length))
        band = slice(start, min(length, start + int(rng.integers(thickness[0], thickness[1] + 1))))
        if axis == 0:
            labels[band, :] = FailureKind.DEAD
        else:
            labels[:, band] = FailureKind.DEAD
    damaged = frame.copy()
    _fill(damaged, labels != 0, FailureKind.DEAD, rng)
    return Corruption(damaged, labels)


def frozen_blocks(
    frame: np.ndarray,
    stale: np.ndarray,
    rng: np.random.Generator,
    count: int = 2,
    size_range: tuple[float, float] = (0.1, 0.3),
) -> Corruption:
    """Regions that still show ``stale`` (frame t-k): a frozen tile of the sensor or codec."""
    if stale.shape != frame.shape:
        raise ValueError(f"stale frame {stale.shape} differs from frame {frame.shape}")
    labels = np.zeros(frame.shape[:2], dtype=np.uint8)
    for _ in range(count):
        labels[_random_box(frame.shape[:2], rng, size_range)] = FailureKind.FROZEN
    damaged = frame.copy()
    where = labels != 0
    damaged[where] = stale[where]
    return Corruption(damaged, labels)


def bottom_loss(
    frame: np.ndarray, rng: np.random.Generator, start_range: tuple[float, float] = (0.4, 0.95)
) -> Corruption:
    """Transmission loss: every row from a random start to the bottom filled gray or green."""
    labels = np.zeros(frame.shape[:2], dtype=np.uint8)
    labels[int(frame.shape[0] * rng.uniform(*start_range)) :, :] = FailureKind.LOST_ROWS
    damaged = frame.copy()
    _fill(damaged, labels != 0, FailureKind.LOST_ROWS, rng)
    return Corruption(damaged, labels)


def whole_frame(frame: np.ndarray, rng: np.random.Generator) -> Corruption:
    """Lose the whole frame: black (dead sensor) or one decoder fill colour."""
    labels = np.full(frame.shape[:2], FailureKind.WHOLE_FRAME, dtype=np.uint8)
    damaged = frame.copy()
    if rng.random() < 0.5:
        damaged[:] = rng.integers(0, 4)
    else:
        _fill(damaged, labels != 0, FailureKind.WHOLE_FRAME, rng)
    return Corruption(damaged, labels)


def apply_all(
    frame: np.ndarray, steps: Sequence[Callable[[np.ndarray], Corruption]]
) -> Corruption:
    """Apply several generators in turn; a later failure overwrites an earlier one's label."""
    damaged = frame
    labels = np.zeros(frame.shape[:2], dtype=np.uint8)
    for step in steps:
        result = step(damaged)
        changed = result.mask
        labels[changed] = result.labels[changed]
        damaged = result.damaged
    return Corruption(damaged.copy() if damaged is frame else damaged, labels)

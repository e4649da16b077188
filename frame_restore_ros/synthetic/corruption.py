"""Seeded synthetic camera failures with exact ground truth, for evaluation, training and tests.

Every generator takes a clean (H, W, 3) uint8 frame and a ``numpy.random.Generator`` and returns
a :class:`Corruption`: the damaged frame and a per-pixel class map (``FailureKind`` values,
0 = clean). Pixels outside ``Corruption.changed`` are never touched; that is the class map except
for soft-edged failures (blended onto the frame: labelled where the blend weight is at least
:data:`BLEND_LEVEL`, touched wherever it is above zero) and a repeated frame (no failed pixel).
A failure that lasts (a freeze) hands its next frames over as ``Corruption.episode``.
Generators compose with :func:`apply_all`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

import cv2
import numpy as np

from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.media.grid import cells_to_pixels

GRAY_FILL = (128, 128, 128)  # BGR; what many H.264 decoders show for lost macroblocks
GREEN_FILL = (0, 135, 0)  # BGR; YUV (0, 0, 0) decoded as RGB: the "green block" of broken streams
BLEND_LEVEL = 0.5  # a blended failure is labelled where its weight (0-1) is at least this
MUD_BGR = (35, 60, 90)  # brown
TILE = 16  # codec macroblock: frozen tiles are aligned to it


@dataclass
class Corruption:
    """One damaged frame and its exact ground truth.

    Attributes:
        damaged: (H, W, 3) uint8, the frame as the camera would publish it.
        labels: (H, W) uint8 FailureKind per pixel (0 = clean): the failed pixels to repair.
        touched: (H, W) bool, every pixel that differs from the clean frame's (a soft edge or a
            repeated frame reaches beyond ``labels``); None: exactly the labelled pixels.
        streak: consecutive frames the failure has shown, this one included (a freeze: 1 on its
            first frozen frame, 2 from the second on).
        event: a frame-level failure without failed pixels (``FailureKind.REPEATED_FRAME``).
        episode: the failure's next frames when it lasts, else None.
    """

    damaged: np.ndarray
    labels: np.ndarray
    touched: np.ndarray | None = None
    streak: int = 1
    event: FailureKind | None = None
    episode: FreezeEpisode | None = field(default=None, repr=False)

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool: the failed pixels."""
        return self.labels != FailureKind.CLEAN

    @property
    def changed(self) -> np.ndarray:
        """(H, W) bool: the pixels that differ from the clean frame's (a superset of ``mask``)."""
        return self.mask if self.touched is None else self.touched | self.mask


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


class RowFill(Enum):
    """What a decoder shows in the rows it lost."""

    DECODER = "decoder"  # gray or green (drawn): a decoder's fill colour
    BLACK = "black"  # zeros
    REPEAT = "repeat"  # the last good row repeated to the bottom (a smear)


def bottom_loss(
    frame: np.ndarray,
    rng: np.random.Generator,
    start_range: tuple[float, float] = (0.4, 0.95),
    fill: RowFill = RowFill.DECODER,
) -> Corruption:
    """Transmission loss: every row from a random start to the bottom filled with ``fill``."""
    labels = np.zeros(frame.shape[:2], dtype=np.uint8)
    start = max(1, int(frame.shape[0] * rng.uniform(*start_range)))
    labels[start:, :] = FailureKind.LOST_ROWS
    damaged = frame.copy()
    if fill is RowFill.DECODER:
        _fill(damaged, labels != 0, FailureKind.LOST_ROWS, rng)
    elif fill is RowFill.BLACK:
        damaged[start:] = 0
    else:
        damaged[start:] = frame[start - 1]
    # A lost row that happens to equal its fill is not touched, but it is still lost.
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


def _blob_weight(
    shape: tuple[int, int],
    rng: np.random.Generator,
    size_range: tuple[float, float],
    edge: float = 0.35,
    wobble: float = 0.3,
) -> np.ndarray:
    """(H, W) float32 weight of one irregular soft-edged blob in a random box, in [0, 1].

    An ellipse filling the box, its border bent by low-frequency noise (``wobble``, a fraction of
    the radius); the weight is 1 inside and ramps down to 0 over the outer ``edge`` of the radius.
    """
    weight = np.zeros(shape, dtype=np.float32)
    rows, cols = _random_box(shape, rng, size_range)
    height, width = rows.stop - rows.start, cols.stop - cols.start
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = np.hypot((y + 0.5) / height * 2 - 1, (x + 0.5) / width * 2 - 1)
    bumps = rng.uniform(-1.0, 1.0, size=(4, 4)).astype(np.float32)
    bumps = cv2.resize(bumps, (width, height), interpolation=cv2.INTER_CUBIC)
    radius += wobble * bumps
    weight[rows, cols] = np.clip((1.0 - radius) / edge, 0.0, 1.0)
    return weight


def _blotches(shape: tuple[int, int], rng: np.random.Generator, scale: int = 8) -> np.ndarray:
    """(H, W) float32 smooth random field in [0, 1]: blotches about ``1/scale`` of the frame."""
    coarse = rng.uniform(0.0, 1.0, size=(scale, scale)).astype(np.float32)
    return np.clip(cv2.resize(coarse, shape[::-1], interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def blend(
    frame: np.ndarray, layer: np.ndarray, weight: np.ndarray, kind: FailureKind
) -> Corruption:
    """Alpha-blend ``layer`` (H, W, 3) onto ``frame`` with ``weight`` (H, W) in [0, 1].

    Labelled ``kind`` where the weight is at least :data:`BLEND_LEVEL`; pixels of zero weight are
    left exactly as they were.
    """
    touched = weight > 0
    alpha = weight[touched][:, None]
    damaged = frame.copy()
    mixed = alpha * layer[touched].astype(np.float32) + (1 - alpha) * frame[touched]
    damaged[touched] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    labels = np.where(weight >= BLEND_LEVEL, np.uint8(kind), np.uint8(0)).astype(np.uint8)
    return Corruption(damaged, labels, touched=touched)


def _union(weights: list[np.ndarray]) -> np.ndarray:
    return np.maximum.reduce(weights) if len(weights) > 1 else weights[0]


def dark_blockage(
    frame: np.ndarray,
    rng: np.random.Generator,
    count: int = 1,
    size_range: tuple[float, float] = (0.15, 0.4),
) -> Corruption:
    """Something dark on the lens: values 0-8 with sensor noise, soft irregular edges."""
    weight = _union([_blob_weight(frame.shape[:2], rng, size_range) for _ in range(count)])
    level = rng.uniform(1.0, 5.0)
    noise = rng.normal(0.0, 1.2, size=frame.shape).astype(np.float32)
    layer = np.clip(level + noise + 2.0 * _blotches(frame.shape[:2], rng)[:, :, None], 0, 8)
    return blend(frame, layer, weight, FailureKind.BLOCKAGE)


def mud(
    frame: np.ndarray,
    rng: np.random.Generator,
    count: int = 1,
    size_range: tuple[float, float] = (0.15, 0.4),
) -> Corruption:
    """Mud on the lens: brown, blotchy (darker and lighter patches, grain), soft edges."""
    weight = _union([_blob_weight(frame.shape[:2], rng, size_range) for _ in range(count)])
    brown = np.asarray(MUD_BGR, dtype=np.float32) * rng.uniform(0.6, 1.4)
    shade = 0.5 + _blotches(frame.shape[:2], rng, 12)[:, :, None]
    grain = rng.normal(0.0, 3.0, size=frame.shape).astype(np.float32)
    return blend(frame, brown * shade + grain, weight, FailureKind.BLOCKAGE)


def veil(
    frame: np.ndarray, rng: np.random.Generator, size_range: tuple[float, float] = (0.3, 0.6)
) -> Corruption:
    """Lay a semi-transparent gray veil (film, fog) on the lens: a wide blob, 70-95 % opaque."""
    weight = _blob_weight(frame.shape[:2], rng, size_range, edge=0.6) * rng.uniform(0.7, 0.95)
    layer = np.full(frame.shape, rng.uniform(140.0, 200.0), dtype=np.float32)
    return blend(frame, layer, weight, FailureKind.BLOCKAGE)


def water_drops(
    frame: np.ndarray,
    rng: np.random.Generator,
    count: int = 8,
    size_range: tuple[float, float] = (0.04, 0.12),
) -> Corruption:
    """Water drops: round soft-edged spots showing a blurred, slightly brighter scene."""
    weight = _union(
        [_blob_weight(frame.shape[:2], rng, size_range, 0.6, 0.1) for _ in range(count)]
    )
    sigma = max(2.0, 0.02 * max(frame.shape[:2]))
    blurred = cv2.GaussianBlur(frame, (0, 0), sigma).astype(np.float32)
    return blend(frame, blurred * 1.1 + 12.0, weight, FailureKind.BLOCKAGE)


def noise_burst(
    frame: np.ndarray,
    rng: np.random.Generator,
    count: int = 1,
    size_range: tuple[float, float] = (0.1, 0.3),
) -> Corruption:
    """Gain noise in rectangles, scaled to their brightness (weak at night, as sensors show it).

    Gaussian noise of standard deviation 6 + 0.5 x the rectangle's mean, per pixel and channel.
    """
    labels = np.zeros(frame.shape[:2], dtype=np.uint8)
    for _ in range(count):
        labels[_random_box(frame.shape[:2], rng, size_range)] = FailureKind.NOISE
    where = labels != 0
    region = frame[where].astype(np.float32)
    sigma = 6.0 + 0.5 * float(region.mean())
    noisy = region + rng.normal(0.0, sigma, size=region.shape)
    damaged = frame.copy()
    damaged[where] = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    return Corruption(damaged, labels)


@dataclass
class FreezeEpisode:
    """Tiles that keep showing ``stale`` (the frame before the freeze) for ``length`` frames.

    stale: (H, W, 3) uint8; labels: (H, W) uint8, FROZEN on the frozen tiles.
    """

    stale: np.ndarray
    labels: np.ndarray
    length: int
    shown: int = 0

    @property
    def done(self) -> bool:
        """Whether every frozen frame has been shown."""
        return self.shown >= self.length

    def next(self, frame: np.ndarray) -> Corruption:
        """Damage the next frame (H, W, 3) of the stream: the frozen tiles keep the stale view."""
        if self.done:
            raise ValueError(f"the freeze lasted its {self.length} frames")
        if frame.shape != self.stale.shape:
            raise ValueError(f"frame {frame.shape} differs from the frozen {self.stale.shape}")
        self.shown += 1
        where = self.labels != 0
        damaged = frame.copy()
        damaged[where] = self.stale[where]
        touched = where & (damaged != frame).any(axis=2)
        return Corruption(
            damaged, self.labels.copy(), touched, self.shown, episode=None if self.done else self
        )


def frozen_tiles(
    frame: np.ndarray,
    stale: np.ndarray,
    rng: np.random.Generator,
    frames: int = 2,
    count: int = 2,
    size_range: tuple[float, float] = (0.1, 0.3),
) -> Corruption:
    """Codec tiles frozen for ``frames`` frames: ``count`` rectangles aligned to 16-pixel tiles.

    ``stale`` (H, W, 3) is the frame before the freeze; the returned first frozen frame carries
    the rest of the freeze as its ``episode`` (call ``episode.next(frame)`` on the next frames).
    """
    if stale.shape != frame.shape:
        raise ValueError(f"stale frame {stale.shape} differs from frame {frame.shape}")
    if frames < 1:
        raise ValueError(f"a freeze lasts at least 1 frame, got {frames}")
    height, width = frame.shape[:2]
    labels = np.zeros((height, width), dtype=np.uint8)
    for _ in range(count):
        rows, cols = _random_box((height, width), rng, size_range)
        top, left = rows.start // TILE * TILE, cols.start // TILE * TILE
        bottom = -(-rows.stop // TILE) * TILE
        right = -(-cols.stop // TILE) * TILE
        labels[top:bottom, left:right] = FailureKind.FROZEN
    return FreezeEpisode(stale.copy(), labels, frames).next(frame)


def repeated_frame(frame: np.ndarray, previous: np.ndarray) -> Corruption:
    """Publish ``previous`` (H, W, 3) again, as a driver does: a frame event, no failed pixel."""
    if previous.shape != frame.shape:
        raise ValueError(f"previous frame {previous.shape} differs from frame {frame.shape}")
    touched = (previous != frame).any(axis=2)
    labels = np.zeros(frame.shape[:2], dtype=np.uint8)
    return Corruption(previous.copy(), labels, touched, event=FailureKind.REPEATED_FRAME)


def apply_all(
    frame: np.ndarray, steps: Sequence[Callable[[np.ndarray], Corruption]]
) -> Corruption:
    """Apply several generators in turn; a later failure overwrites an earlier one's label.

    Soft edges accumulate in ``touched``; streak, event and episode are not combined.
    """
    damaged = frame
    labels = np.zeros(frame.shape[:2], dtype=np.uint8)
    touched = np.zeros(frame.shape[:2], dtype=bool)
    for step in steps:
        result = step(damaged)
        failed = result.mask
        labels[failed] = result.labels[failed]
        touched |= result.changed
        damaged = result.damaged
    soft = touched & (labels == FailureKind.CLEAN)
    return Corruption(
        damaged.copy() if damaged is frame else damaged, labels, touched if soft.any() else None
    )

"""Per-camera sensor-failure detector: frame (+ its own history) -> failure masks and classes.

Cells of ``cell`` x ``cell`` pixels are classified from :class:`CellStats`; lost rows and dead
lines are found per row/column at pixel resolution. The detector keeps bounded state per camera
(previous luma, per-cell counters and running baselines) and resets itself on a resolution change.
Every threshold is a :class:`DetectorConfig` field; defaults and how they were measured:
docs/detection.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import cv2
import numpy as np

from frame_restore_ros.detection.cell_stats import CellStats, compute_cell_stats, grid_shape
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.media.grid import pixels_to_cells

DEFAULT_CAST_COLOURS = ((128, 128, 128), (0, 135, 0))  # BGR fills of broken H.264/MJPEG decoders


@dataclass(eq=False)
class DetectorConfig:
    """Thresholds of the failure detector (0-255 scale for intensities)."""

    cell: int = 8
    dead_max_gray: float = 6.0
    dead_max_texture: float = 4.5
    dead_context_min_gray: float = 30.0
    saturated_min_gray: float = 250.0
    saturated_max_texture: float = 4.0
    noise_min_texture: float = 160.0
    noise_baseline_ratio: float = 4.0
    noise_baseline_min: float = 110.0
    noise_baseline_alpha: float = 0.05
    cast_colours: tuple[tuple[int, int, int], ...] = DEFAULT_CAST_COLOURS
    cast_tolerance: float = 2.0
    cast_max_texture: float = 0.5
    frozen_frames: int = 5
    frozen_change_level: int = 0
    frozen_min_texture: float = 0.0
    frozen_min_activity: float = 0.1
    frozen_scene_motion: float = 0.5
    frozen_min_cells: int = 6
    activity_alpha: float = 0.2
    line_max_gradient: float = 2.0
    line_max_gray: float = 12.0
    lost_rows_min: int = 2
    lost_rows_max_gradient: float = 0.25
    whole_frame_ratio: float = 0.95
    defect_mask: np.ndarray | None = field(default=None, repr=False)  # defect_mask.py

    def __eq__(self, other: object) -> bool:
        """Field by field; the defect masks by content (arrays have no plain ``==``)."""
        if not isinstance(other, DetectorConfig):
            return NotImplemented
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(other, item.name)
            if isinstance(mine, np.ndarray) or isinstance(theirs, np.ndarray):
                same = mine is theirs or (
                    mine is not None and theirs is not None and np.array_equal(mine, theirs)
                )
            else:
                same = mine == theirs
            if not same:
                return False
        return True

    __hash__ = None  # mutable, like any dataclass with eq

    def __post_init__(self) -> None:
        if self.cell < 2:
            raise ValueError(f"cell must be >= 2 pixels, got {self.cell}")
        if self.frozen_frames < 1:
            raise ValueError(f"frozen_frames must be >= 1, got {self.frozen_frames}")
        for name in ("noise_baseline_alpha", "activity_alpha", "whole_frame_ratio"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")


@dataclass
class Detection:
    """What the detector found in one frame.

    Attributes:
        mask: (H, W) bool, True = failed pixel (defect mask included).
        labels: (H, W) uint8 FailureKind per pixel.
        cell_labels: (rows, cols) uint8 FailureKind per detection cell.
        failed_ratio: fraction of failed pixels.
        counts: failed pixel count per class label.
        whole_frame: everything failed; nothing to repair from.
    """

    mask: np.ndarray
    labels: np.ndarray
    cell_labels: np.ndarray
    failed_ratio: float
    counts: dict[str, int]
    whole_frame: bool

    def patch_mask(self, grid: tuple[int, int]) -> np.ndarray:
        """(rows, cols) bool on a model patch grid: a patch fails if any pixel under it does."""
        return pixels_to_cells(self.mask, grid)


class FailureDetector:
    """Stateful detector for one camera stream."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self._shape: tuple[int, int] | None = None
        self._previous_gray: np.ndarray | None = None
        self._still_streak: np.ndarray | None = None
        self._activity: np.ndarray | None = None
        self._texture_baseline: np.ndarray | None = None

    def reset(self) -> None:
        """Forget all history (resolution change, bag loop, reset request)."""
        self._shape = None
        self._previous_gray = None
        self._still_streak = self._activity = self._texture_baseline = None

    def detect(self, frame: np.ndarray) -> Detection:
        """Detect failures in a (H, W, 3) uint8 BGR frame and update the history."""
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3:
            raise ValueError(f"expected an (H, W, 3) uint8 frame, got {_describe(frame)}")
        if frame.shape[2] != 3 or frame.shape[0] < 2 or frame.shape[1] < 2:
            raise ValueError(
                f"expected an (H, W, 3) uint8 frame of at least 2x2, got {frame.shape}"
            )
        cfg = self.config
        shape = frame.shape[:2]
        if shape != self._shape:
            self.reset()
            self._shape = shape
        stats = compute_cell_stats(frame, self._previous_gray, cfg.cell, cfg.frozen_change_level)
        streak = self._still_streaks(stats)
        cells = self._classify_cells(stats, streak)
        labels = self._cells_to_pixels(cells, shape, cfg.cell)
        self._refine_borders(cells, stats.texture, frame, stats.gray_full, labels)
        self._mark_lines(stats.gray_full, frame, labels)
        if cfg.defect_mask is not None:
            external = _fit_mask(cfg.defect_mask, shape)
            labels[external & (labels == FailureKind.CLEAN)] = FailureKind.EXTERNAL
        failed = labels != FailureKind.CLEAN
        ratio = cv2.countNonZero(labels) / labels.size
        whole = ratio >= cfg.whole_frame_ratio
        if whole:
            labels[:] = FailureKind.WHOLE_FRAME
            failed[:] = True
            ratio = 1.0
        self._update_history(stats, cells, streak)
        histogram = cv2.calcHist([labels], [0], None, [len(FailureKind)], [0, len(FailureKind)])
        counts = histogram.ravel().astype(np.int64)
        return Detection(
            mask=failed,
            labels=labels,
            cell_labels=cells,
            failed_ratio=ratio,
            counts={FailureKind(i).label: int(c) for i, c in enumerate(counts) if i and c},
            whole_frame=whole,
        )

    # -- cells -------------------------------------------------------------------------------
    def _classify_cells(self, stats: CellStats, streak: np.ndarray | None) -> np.ndarray:
        cfg = self.config
        gray, texture = stats.gray, stats.texture
        cells = np.zeros(gray.shape, dtype=np.uint8)
        dead = (gray <= cfg.dead_max_gray) & (texture <= cfg.dead_max_texture)
        dead = self._dead_with_context(dead, gray, texture)
        saturated = (gray >= cfg.saturated_min_gray) & (texture <= cfg.saturated_max_texture)
        baseline = self._texture_baseline
        noise_floor = np.full(gray.shape, cfg.noise_min_texture, dtype=np.float32)
        if baseline is not None:
            relative = np.maximum(cfg.noise_baseline_ratio * baseline, cfg.noise_baseline_min)
            noise_floor = np.minimum(noise_floor, relative)
        noise = texture >= noise_floor
        cast = np.zeros(gray.shape, dtype=bool)
        for colour in cfg.cast_colours:
            close = np.abs(stats.bgr - np.asarray(colour, dtype=np.float32)).max(axis=2)
            cast |= (close <= cfg.cast_tolerance) & (texture <= cfg.cast_max_texture)
        frozen = self._frozen_cells(stats, streak)
        # Order = priority when several rules fire: the most specific evidence wins.
        for kind, hits in (
            (FailureKind.FROZEN, frozen),
            (FailureKind.NOISE, noise),
            (FailureKind.SATURATED, saturated),
            (FailureKind.DEAD, dead),
            (FailureKind.CAST, cast),
        ):
            cells[hits] = kind
        return cells

    def _still_streaks(self, stats: CellStats) -> np.ndarray | None:
        """Consecutive frames each cell has not changed, including this one (None: no history)."""
        if self._still_streak is None or np.isnan(stats.changed).all():
            return None
        return np.where(stats.changed <= 0.0, self._still_streak + 1, 0).astype(np.int32)

    def _dead_with_context(
        self, candidates: np.ndarray, gray: np.ndarray, texture: np.ndarray
    ) -> np.ndarray:
        """Keep dark flat regions only where their surroundings are lit.

        A dead block is black inside a lit image; a dark region of a night scene is dark inside
        dark surroundings. Each connected region of candidate cells is kept when the cells around
        it (not candidates themselves) average at least ``dead_context_min_gray``. A camera that
        outputs black everywhere (nearly all cells black and perfectly flat) is kept as a whole.
        """
        cfg = self.config
        if not candidates.any():
            return candidates
        black = (gray <= cfg.dead_max_gray) & (texture <= 1.0)
        if black.mean() >= cfg.whole_frame_ratio:
            return candidates
        count, regions, boxes, _ = cv2.connectedComponentsWithStats(candidates.view(np.uint8), 8)
        keep = np.zeros(count, dtype=bool)
        kernel = np.ones((5, 5), np.uint8)
        rows, cols = gray.shape
        for index in range(1, count):
            x, y, w, h = boxes[index, :4]
            window = (
                slice(max(0, y - 2), min(rows, y + h + 2)),
                slice(max(0, x - 2), min(cols, x + w + 2)),
            )
            region = (regions[window] == index).view(np.uint8)
            ring = cv2.dilate(region, kernel).astype(bool) & ~candidates[window]
            keep[index] = (
                bool(ring.any()) and float(gray[window][ring].mean()) >= cfg.dead_context_min_gray
            )
        return keep[regions]

    def _frozen_cells(self, stats: CellStats, streak: np.ndarray | None) -> np.ndarray:
        cfg = self.config
        if streak is None or self._activity is None:
            return np.zeros(stats.gray.shape, dtype=bool)
        textured = stats.texture >= cfg.frozen_min_texture
        if not textured.any():
            return np.zeros(stats.gray.shape, dtype=bool)
        # Judge scene motion on textured cells only: flat sky and asphalt never visibly change.
        scene_moves = float((stats.changed[textured] > 0.05).mean()) >= cfg.frozen_scene_motion
        if not scene_moves:
            return np.zeros(stats.gray.shape, dtype=bool)
        frozen = (
            (streak >= cfg.frozen_frames) & (self._activity >= cfg.frozen_min_activity) & textured
        )
        # Frozen tiles are macroblock-sized or larger: drop small specks (codec skip blocks in
        # flat sky) by connected-component area.
        count, components, areas, _ = cv2.connectedComponentsWithStats(frozen.view(np.uint8), 8)
        if count <= 1:
            return frozen
        keep = areas[:, cv2.CC_STAT_AREA] >= cfg.frozen_min_cells
        keep[0] = False
        return keep[components]

    def _update_history(
        self, stats: CellStats, cells: np.ndarray, streak: np.ndarray | None
    ) -> None:
        cfg = self.config
        clean = cells == FailureKind.CLEAN
        if self._texture_baseline is None:
            self._texture_baseline = np.where(clean, stats.texture, 0).astype(np.float32)
        else:
            blended = (1 - cfg.noise_baseline_alpha) * self._texture_baseline
            blended += cfg.noise_baseline_alpha * stats.texture
            self._texture_baseline = np.where(clean, blended, self._texture_baseline)
        if streak is None or self._activity is None:
            self._still_streak = np.zeros(stats.gray.shape, dtype=np.int32)
            self._activity = np.zeros(stats.gray.shape, dtype=np.float32)
        else:
            self._still_streak = streak
            moving = stats.changed > 0.0
            blended = (
                1 - cfg.activity_alpha
            ) * self._activity + cfg.activity_alpha * stats.changed
            # Activity only learns while a cell moves, so it remembers how lively a cell was
            # before it froze; a static hood or overlay never becomes "active".
            self._activity = np.where(moving, blended, self._activity).astype(np.float32)
        self._previous_gray = stats.gray_full

    def _refine_borders(
        self,
        cells: np.ndarray,
        texture: np.ndarray,
        frame: np.ndarray,
        gray: np.ndarray,
        labels: np.ndarray,
    ) -> None:
        """Extend detected dead / saturated / cast regions into the ring of cells around them.

        A cell that is only partly covered by a failure has mixed statistics and is missed; around
        a detected region we therefore test single pixels with the class's own intensity rule.
        Noise cannot be judged per pixel, so its ring is taken whole.
        """
        cfg = self.config
        kernel = np.ones((3, 3), np.uint8)
        for kind in (FailureKind.DEAD, FailureKind.SATURATED, FailureKind.CAST, FailureKind.NOISE):
            hits = (cells == kind).view(np.uint8)
            if not hits.any():
                continue
            ring = cv2.dilate(hits, kernel) & ~hits & (cells == FailureKind.CLEAN)
            if not ring.any():
                continue
            if kind is FailureKind.NOISE:  # only ring cells partly covered by noise
                ring &= (texture >= 0.4 * cfg.noise_min_texture).view(np.uint8)
                if not ring.any():
                    continue
            # Work only on the bounding box of the ring: full-resolution passes stay local, and
            # they are OpenCV passes on 0/255 uint8 masks (numpy bool passes cost 3x more).
            x, y, w, h = cv2.boundingRect(ring)
            rows = slice(y * cfg.cell, min(labels.shape[0], (y + h) * cfg.cell))
            cols = slice(x * cfg.cell, min(labels.shape[1], (x + w) * cfg.cell))
            box = (rows.stop - rows.start, cols.stop - cols.start)
            ring_pixels = self._cells_to_pixels(
                ring[y : y + h, x : x + w] * np.uint8(255), box, cfg.cell
            )
            if kind is FailureKind.DEAD:
                rule = cv2.compare(gray[rows, cols], cfg.dead_max_gray, cv2.CMP_LE)
            elif kind is FailureKind.SATURATED:
                rule = cv2.compare(gray[rows, cols], cfg.saturated_min_gray, cv2.CMP_GE)
            elif kind is FailureKind.CAST:
                rule = np.zeros(box, dtype=np.uint8)
                for colour in cfg.cast_colours:
                    lower = np.clip(np.asarray(colour) - cfg.cast_tolerance, 0, 255)
                    upper = np.clip(np.asarray(colour) + cfg.cast_tolerance, 0, 255)
                    rule |= cv2.inRange(frame[rows, cols], lower, upper)
            else:
                rule = ring_pixels  # noise: the whole ring
            region = labels[rows, cols]  # a view: updated in place
            clean = cv2.compare(region, int(FailureKind.CLEAN), cv2.CMP_EQ)
            update = cv2.bitwise_and(cv2.bitwise_and(ring_pixels, rule), clean)
            # CLEAN is 0, so adding kind where the ring meets clean pixels labels them.
            np.add(region, cv2.bitwise_and(update, int(kind)), out=region)

    # -- rows and columns --------------------------------------------------------------------
    def _mark_lines(self, gray: np.ndarray, frame: np.ndarray, labels: np.ndarray) -> None:
        """Dead rows/columns (flat and dark) and lost rows at the bottom (one flat colour)."""
        cfg = self.config
        horizontal = cv2.absdiff(gray[:, 1:], gray[:, :-1])
        vertical = cv2.absdiff(gray[1:], gray[:-1])
        row_flat = _reduce_mean(horizontal, axis=1) <= cfg.line_max_gradient
        col_flat = _reduce_mean(vertical, axis=0) <= cfg.line_max_gradient
        row_mean = _reduce_mean(gray, axis=1)
        col_mean = _reduce_mean(gray, axis=0)
        dead_rows = np.flatnonzero(
            row_flat & (row_mean <= cfg.line_max_gray) & _lit_nearby(row_mean, cfg)
        )
        dead_cols = np.flatnonzero(
            col_flat & (col_mean <= cfg.line_max_gray) & _lit_nearby(col_mean, cfg)
        )
        # A thin dark line across texture has a strong Laplacian: the cells it crosses are not
        # noise. Clear noise there, then mark the lines themselves.
        for lines, axis in ((dead_rows, 0), (dead_cols, 1)):
            for start in np.unique(lines // cfg.cell) * cfg.cell:
                band = (
                    labels[start : start + cfg.cell]
                    if axis == 0
                    else labels[:, start : start + cfg.cell]
                )
                band[band == FailureKind.NOISE] = FailureKind.CLEAN
        labels[dead_rows, :] = FailureKind.DEAD
        labels[:, dead_cols] = FailureKind.DEAD
        row_exact = _reduce_mean(horizontal, axis=1) <= cfg.lost_rows_max_gradient
        lost = _bottom_run(row_exact, frame)
        if lost >= cfg.lost_rows_min:
            labels[-lost:, :] = FailureKind.LOST_ROWS

    @staticmethod
    def _cells_to_pixels(cells: np.ndarray, shape: tuple[int, int], cell: int) -> np.ndarray:
        """(rows, cols) uint8/bool cells -> (H, W) pixels; an exact integer-factor upscale.

        OpenCV's nearest-neighbour resize is 2x faster than numpy's repeat at 720p.
        """
        rows, cols = cells.shape
        if cells.size == 0:
            return np.zeros(shape, dtype=cells.dtype)
        expanded = cv2.resize(
            cells.view(np.uint8), (cols * cell, rows * cell), interpolation=cv2.INTER_NEAREST_EXACT
        )
        return np.ascontiguousarray(expanded[: shape[0], : shape[1]]).view(cells.dtype)


def _lit_nearby(means: np.ndarray, cfg: DetectorConfig, reach: int = 6) -> np.ndarray:
    """Per line: is a line ``reach`` away (either side) lit? Dead lines cross a lit image."""
    padded = np.pad(means, reach, mode="edge")
    neighbours = np.maximum(padded[: -2 * reach], padded[2 * reach :])
    return neighbours >= cfg.dead_context_min_gray


def _reduce_mean(image: np.ndarray, axis: int) -> np.ndarray:
    """Mean of a uint8 image along ``axis`` (1: per row, 0: per column) as a 1-D float32 array."""
    dim = 1 if axis == 1 else 0
    return cv2.reduce(image, dim, cv2.REDUCE_AVG, dtype=cv2.CV_32F).ravel()


def _bottom_run(row_flat: np.ndarray, frame: np.ndarray) -> int:
    """Count the bottom rows that are flat and all the same colour as the last row."""
    if not row_flat[-1]:
        return 0
    not_flat = np.flatnonzero(~row_flat)
    start = int(not_flat[-1]) + 1 if not_flat.size else 0
    run = frame[start:]
    row_colours = cv2.reduce(run, 1, cv2.REDUCE_AVG, dtype=cv2.CV_32F).reshape(len(run), 3)
    same = np.abs(row_colours - row_colours[-1]).max(axis=1) <= 2.0
    differing = np.flatnonzero(~same)
    if differing.size:
        start += int(differing[-1]) + 1
    return frame.shape[0] - start


def _fit_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Return the defect mask as bool; it fits one sensor resolution, so sizes must match."""
    if mask.shape != shape:
        raise ValueError(
            f"defect mask is {mask.shape[0]}x{mask.shape[1]} but the frame is "
            f"{shape[0]}x{shape[1]}: a dead-pixel map belongs to one sensor resolution"
        )
    return mask.astype(bool)


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"array {value.dtype} {value.shape}"
    return type(value).__name__


__all__ = ["Detection", "DetectorConfig", "FailureDetector", "grid_shape"]

"""Per-camera sensor-failure detector: frame (+ its own history) -> failure masks and classes.

Cells of ``cell`` x ``cell`` pixels are classified from :class:`CellStats`; lost rows and dead
lines are found per row/column at pixel resolution. The detector keeps bounded state per camera
(previous luma, per-cell counters and running baselines) and resets itself on a resolution change.
Every threshold is a :class:`DetectorConfig` field; defaults and how they were measured:
docs/detection.md.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from frame_restore_ros.detection.cell_stats import (
    CellStats,
    cell_share_at_least,
    cells_holding,
    compute_cell_stats,
    grid_shape,
    interior_texture,
    neighbour_correlation,
)
from frame_restore_ros.detection.detector_config import DetectorConfig
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.detection.frozen_tiles import FrozenTiles
from frame_restore_ros.detection.level_jumps import (
    compact_regions,
    drop_scene_objects,
    looks_seen_nearby,
    novel_levels,
)
from frame_restore_ros.detection.line_failures import LineFailures
from frame_restore_ros.detection.look_return import LookReturns
from frame_restore_ros.detection.new_edges import new_edge_pixels, steady_edge_pixels
from frame_restore_ros.detection.onset import (
    CellHistory,
    Hysteresis,
    RecentLooks,
    box_enters_from_edge,
    drop_scene_extensions,
    drop_small,
    entering_from_edge,
    exposure_line,
    global_gain,
    grow,
    nearby_any,
    nearby_max,
    nearby_min,
    release_whole_regions,
)
from frame_restore_ros.detection.region_measures import (
    best_shifted_correlation,
    cells_to_pixels,
    depth_cells,
    glow_rings,
    halved,
    label_where,
    local_glow,
    mostly,
    region_medians,
    window_around,
    window_sums,
)
from frame_restore_ros.detection.scene_cut import (
    MATCH_REACH,
    changed_in_place,
    match_tolerance,
    new_everywhere,
    new_structure_everywhere,
)
from frame_restore_ros.detection.soft_edges import darkened_rim
from frame_restore_ros.detection.translucent_layer import (
    attenuated_cells,
    best_correlation,
    colour_levels,
    faded_colours,
    faded_layer_levels,
    layer_levels,
    layer_regions,
    touching_edge,
)
from frame_restore_ros.media.grid import pixels_to_cells

MIN_FRAME_SIDE = 2  # the smallest frame side the detector (and so the pipeline) takes
# A new scene is judged on at least this share of the cells (lit a frame ago, not failed-looking).
CUT_MIN_CANDIDATES = 0.01
# Levels within which a cell is back at its look of two frames ago (DetectorConfig
# activity_return_step): the codec's requantisation moves a still cell's mean by about 1.
ACTIVITY_RETURN_TOLERANCE = 2.0
# Luma added to both sides of a cell's brightening (now / before) when its texture is judged
# against the light: the night's few levels of black (3 -> 6 after clipped noise) are no light.
NOISE_LIGHT_OFFSET = 8.0
# Levels within which a cell outside a flat frame kept its luma from the previous frame (scene
# going on, DetectorConfig.whole_frame_kept_share): measured on night_rural, 80-98 % of the lit
# cells above black lost rows were within 1-2 levels, the moving car's lights included.
WHOLE_FRAME_KEPT_STEP = 2.0
# Levels by which one pixel of the ring around a dead region changed to count as covered by it
# whatever its 3 x 3 neighbours did (DetectorConfig.dead_ring_change judges their sum): beyond
# a pixel's sensor noise between frames (3 took 3 % of a noisy night road's ring in the test).
DEAD_RING_PIXEL_CHANGE = 6.0
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))  # a core's border: what erodes
_CELL_KINDS = (
    FailureKind.DEAD,
    FailureKind.SATURATED,
    FailureKind.NOISE,
    FailureKind.CAST,
    FailureKind.FROZEN,
    FailureKind.BLOCKAGE,
)


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
        repeated_frame: every pixel equals the previous frame's (the driver sent it again);
            the cell history is not updated and earlier flags are kept.
        scene_cut: the part of the frame that does not look failed is new everywhere (a
            camera switch, a stream restart, stills played as a video; ``scene_cut.py``): no
            onset is judged in it, and what the reference held before it shows another scene.
    """

    mask: np.ndarray
    labels: np.ndarray
    cell_labels: np.ndarray
    failed_ratio: float
    counts: dict[str, int]
    whole_frame: bool
    repeated_frame: bool = False
    scene_cut: bool = False

    def patch_mask(self, grid: tuple[int, int]) -> np.ndarray:
        """(rows, cols) bool on a model patch grid: a patch fails if any pixel under it does."""
        return pixels_to_cells(self.mask, grid)


class FailureDetector:
    """Stateful detector for one camera stream: per-cell history, onsets and hysteresis."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self._flags = {kind: Hysteresis(self.config.max_hold_frames) for kind in _CELL_KINDS}
        self._cast_lumas = np.array(
            [_luma(colour) for colour in self.config.cast_colours], dtype=np.float32
        )
        self._lines = LineFailures(self.config)
        self.reset()

    def reset(self) -> None:
        """Forget all history (resolution change, bag loop, reset request)."""
        self._shape: tuple[int, int] | None = None
        self._previous: CellStats | None = None
        self._before_previous: CellStats | None = None  # the frame before the previous one
        self._stamp: float | None = None  # the previous frame's stamp, when given
        self._interval_scale = 1.0  # this frame's interval over the nominal one (>= 1)
        self._texture_base: np.ndarray | None = None
        # Each cell's luma and texture when it was last unflagged: the "before" of an onset, so
        # that a region recovering from a failure (dark night content after a noise burst) is
        # compared with what it showed before the failure, not with the failure.
        self._gain = 1.0  # median luma ratio to the previous frame (this frame's, once computed)
        self._cut = False  # this frame is a scene cut (no onsets, lines included)
        self._frames_seen = 0  # frames since the reset: the onsets' history (warm-up)
        self._after_cut = False  # the previous frame was a scene cut
        self._flagged_before = np.zeros((0, 0), dtype=bool)
        # Cells that held a failure (a flag or a failed pixel) in the previous frame, and in the
        # one before it.
        self._failed_before: np.ndarray | None = None
        self._failed_two_back: np.ndarray | None = None
        self._good_gray: np.ndarray | None = None
        self._good_texture: np.ndarray | None = None
        self._recent = RecentLooks(self.config.onset_memory_frames)
        self._levels = CellHistory(self.config.blockage_memory_frames)
        self._blue_shares = CellHistory(self.config.blockage_memory_frames)
        self._red_shares = CellHistory(self.config.blockage_memory_frames)
        # Each cell's blue and red shares when last unflagged; this frame's, once computed.
        self._good_chroma: tuple[np.ndarray, np.ndarray] | None = None
        self._chroma_of: tuple[CellStats, tuple[np.ndarray, np.ndarray]] | None = None
        self._frozen = FrozenTiles(self.config)  # still runs, liveliness, frozen-tile rules
        self._signatures: dict[FailureKind, np.ndarray] = {}
        self._looks: dict[FailureKind, np.ndarray] = {}  # this frame's signatures, once computed
        self._older_dark: np.ndarray | None = None  # the dark signature two frames back
        self._older_dark_scene: np.ndarray | None = None  # the same without what was flagged
        self._whole_flagged = False
        self._whole_share = 1.0
        self._rim: np.ndarray | None = None  # the soft rim of a dark blockage (soft_edges.py)
        self._dead_pixels: np.ndarray | None = None  # (H, W) uint8 0/255: labelled dead
        self._blockage_rim: np.ndarray | None = None  # this frame's blockage rim (output only)
        self._far_rim: np.ndarray | None = None  # a dead soft edge beyond its rim (output only)
        self._half_previous: tuple | None = None  # (previous luma, it halved): _moved_here
        # Cells of a failure that outlasted max_hold_frames and was absorbed as scene, at the
        # end of each of the last absorbed_recovery_frames frames, newest last.
        self._absorbed_recently: deque[np.ndarray] = deque(
            maxlen=max(1, self.config.absorbed_recovery_frames)
        )
        cfg = self.config
        self._returns = LookReturns(
            cfg.return_jump,
            cfg.return_steady_frames,
            cfg.return_level,
            cfg.return_share,
            cfg.absorbed_recovery_frames,
            cfg.return_detail_share,
        )
        for tracker in self._flags.values():
            tracker.reset()
        self._lines.reset()

    def detect(self, frame: np.ndarray, stamp: float | None = None) -> Detection:
        """Detect failures in a (H, W, 3) uint8 BGR frame and update the history.

        ``stamp``: the frame's capture time in seconds (header stamp), when known. Objects move
        farther between frames of a slower camera (10 Hz against the nominal 30): the distance
        an object may have moved (``object_motion``) is scaled by the interval since the
        previous stamp over the nominal one (``nominal_frame_rate``), between 1 and
        ``max_interval_scale``; never below the nominal reach. Without stamps, the nominal rate.
        """
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3:
            raise ValueError(f"expected an (H, W, 3) uint8 frame, got {_describe(frame)}")
        if frame.shape[2] != 3 or min(frame.shape[:2]) < MIN_FRAME_SIDE:
            raise ValueError(
                f"expected an (H, W, 3) uint8 frame of at least "
                f"{MIN_FRAME_SIDE}x{MIN_FRAME_SIDE}, got {frame.shape}"
            )
        cfg = self.config
        shape = frame.shape[:2]
        if shape != self._shape:
            self.reset()
            self._shape = shape
        self._interval_scale = self._scale_of(stamp)
        self._frames_seen += 1
        previous = self._previous
        stats = compute_cell_stats(
            frame, None if previous is None else previous.gray_full, cfg.cell, 0
        )
        repeated = previous is not None and not stats.changed.any()
        whole = self._whole_frame(stats, repeated)
        cells = np.zeros(stats.gray.shape, dtype=np.uint8)
        if whole:  # nothing to judge per region; the history stays as it was before the loss
            labels = np.full(shape, FailureKind.WHOLE_FRAME, dtype=np.uint8)
            return self._detection(labels, cells, 1.0, True, repeated)
        self._cut = False
        if repeated:  # the driver sent the same frame again: nothing new to judge
            for kind, tracker in self._flags.items():
                if tracker.flagged is not None:
                    cells[tracker.flagged] = kind
        else:
            cells = self._classify_cells(stats)
        labels = cells_to_pixels(cells, shape, cfg.cell)
        self._refine_borders(cells, stats, frame, labels)
        # A line's onset needs its own content to change (a black border whose flat run
        # flickers by a few rows is no new failure); after a cut nothing was seen before.
        before = None if self._previous is None or self._cut else self._previous.gray_full
        self._lines.mark(stats.gray_full, before, labels, repeated, self._gain)
        if cfg.defect_mask is not None:
            external = _fit_mask(cfg.defect_mask, shape)
            label_where(labels, external & (labels == FailureKind.CLEAN), FailureKind.EXTERNAL)
        ratio = cv2.countNonZero(labels) / labels.size
        failed_cells = None
        if ratio > 0.0:
            looked = labels
            for rim, kind in (
                (self._blockage_rim, FailureKind.BLOCKAGE),
                (self._far_rim, FailureKind.DEAD),
            ):
                if rim is not None:  # output only: its looks enter the history
                    looked = labels.copy() if looked is labels else looked
                    label_where(looked, rim & (labels == kind), FailureKind.CLEAN)
            failed_cells = self._cells_with_failed_pixels(looked)
        whole = ratio >= cfg.whole_frame_ratio
        if whole:
            labels[:] = FailureKind.WHOLE_FRAME
            ratio = 1.0
        if not repeated:
            self._update_history(stats, cells, failed_cells)
        # The first frame has nothing before it (no onsets either), but no scene to cut from.
        cut = self._cut and previous is not None
        return self._detection(labels, cells, ratio, whole, repeated, cut)

    def _scale_of(self, stamp: float | None) -> float:
        """Return this frame's interval over the nominal one, in [1, ``max_interval_scale``]."""
        cfg, before = self.config, self._stamp
        self._stamp = stamp
        if stamp is None or before is None or not math.isfinite(stamp - before):
            return 1.0  # no stamps, or a NaN / infinite one: the nominal rate
        if stamp <= before:
            return 1.0
        interval = (stamp - before) * cfg.nominal_frame_rate
        return min(max(interval, 1.0), cfg.max_interval_scale)

    @staticmethod
    def _detection(
        labels: np.ndarray,
        cells: np.ndarray,
        ratio: float,
        whole: bool,
        repeated: bool,
        cut: bool = False,
    ) -> Detection:
        """Package the per-pixel labels (H, W) and cell labels (rows, cols) as a Detection."""
        shape = labels.shape
        if ratio == 0.0:  # most frames: skip the full-resolution passes
            failed, counts = np.zeros(shape, dtype=bool), np.zeros(len(FailureKind), np.int64)
        else:
            failed = labels != FailureKind.CLEAN
            # Counted over the failed pixels' bounding box (only the failed classes' counts are
            # kept): a block's box is a fraction of the frame (720p: 1.8 -> 0.3 ms).
            left, top, width, height = cv2.boundingRect(failed.view(np.uint8))
            box = labels[top : top + height, left : left + width]
            bins = [len(FailureKind)]
            histogram = cv2.calcHist([box], [0], None, bins, [0, len(FailureKind)])
            counts = histogram.ravel().astype(np.int64)
        return Detection(
            mask=failed,
            labels=labels,
            cell_labels=cells,
            failed_ratio=ratio,
            counts={FailureKind(i).label: int(c) for i, c in enumerate(counts) if i and c},
            whole_frame=whole,
            repeated_frame=repeated,
            scene_cut=cut,
        )

    # -- cells -------------------------------------------------------------------------------
    def _signatures_now(self, stats: CellStats) -> dict[FailureKind, np.ndarray]:
        """(rows, cols) bool per class: the cell looks failed in this frame (onset or not)."""
        cfg = self.config
        gray, texture = stats.gray, stats.texture
        dead = (gray <= cfg.dead_max_gray) & (texture <= cfg.dead_max_texture)
        saturated = (gray >= cfg.saturated_min_gray) & (texture <= cfg.saturated_max_texture)
        noise_floor = np.full(gray.shape, cfg.noise_min_texture, dtype=np.float32)
        if self._texture_base is not None:
            # Scene texture scales with brightness (contrast is a ratio): a dark cell's content
            # has little, so a burst over the night sky shows at a lower floor.
            floor = np.clip(
                cfg.noise_floor_per_level * gray, cfg.noise_dark_floor, cfg.noise_floor_texture
            )
            relative = np.maximum(cfg.noise_baseline_ratio * self._texture_base, floor)
            noise_floor = np.minimum(noise_floor, relative)
        # Flat and of a fill colour's luma first: the colour is measured only where it can match.
        flat = texture <= cfg.cast_max_texture
        cast = flat & (self._fill_luma_distance(gray) <= cfg.cast_tolerance + 1.0)
        cast = self._of_fill_colour(stats, cast, cfg.cast_tolerance)
        if cast.any():
            cast[cast] = self._one_fill_value(stats, cast)
        return {
            FailureKind.DEAD: dead,
            FailureKind.SATURATED: saturated,
            FailureKind.NOISE: self._noisy(stats, noise_floor),
            FailureKind.CAST: cast,
        }

    def _near_fill(self, stats: CellStats, where: np.ndarray) -> np.ndarray:
        """(rows, cols) bool: cells of ``where`` nearly flat and nearly of a fill colour.

        Within ``cast_novel_margin`` levels (every channel) of a decoder fill colour and at most
        ``cast_novel_texture``: content that a small drift brings into the cast signature.
        """
        cfg = self.config
        if stats.gray.shape != where.shape:
            return np.zeros(where.shape, dtype=bool)
        near = where & (stats.texture <= cfg.cast_novel_texture)
        near &= self._fill_luma_distance(stats.gray) <= cfg.cast_novel_margin + 1.0
        return self._of_fill_colour(stats, near, cfg.cast_novel_margin)

    def _one_fill_value(self, stats: CellStats, cells: np.ndarray) -> np.ndarray:
        """(n,) bool per True cell of ``cells``: one value of a fill's chroma, as a decoder writes.

        At least ``cast_min_one_value`` of its pixels share one colour, whose channels differ
        from a fill colour's by one offset within ``cast_chroma_tolerance``. Measured on the
        clean clips' 1080p upscales and monochrome copies: flat grey road, walls and car bodies
        within the fill's tolerance kept a level or two of spread between pixels, or between
        channels (2-4 levels), docs/detection.md "A decoder's fill is one digital value".
        """
        cfg = self.config
        share, colour = stats.one_value(cells)
        keep = share >= cfg.cast_min_one_value
        offsets = colour.astype(np.float32)[:, None, :] - np.asarray(
            cfg.cast_colours, dtype=np.float32
        )  # (n, fills, 3)
        shift = np.abs(offsets - offsets.mean(axis=2, keepdims=True)).max(axis=2)
        return keep & (shift <= cfg.cast_chroma_tolerance).any(axis=1)

    def _fill_luma_distance(self, gray: np.ndarray) -> np.ndarray:
        """(rows, cols) float32 |luma - the nearest fill colour's luma| of (rows, cols) ``gray``.

        One pass per fill colour: numpy's min over a last axis of 2 costs 2 ms at 1080p.
        """
        distance = np.full(gray.shape, np.inf, dtype=np.float32)
        for luma in self._cast_lumas:
            np.minimum(distance, np.abs(gray - luma), out=distance)
        return distance

    def _of_fill_colour(self, stats: CellStats, cells: np.ndarray, tolerance: float) -> np.ndarray:
        """(rows, cols) bool: ``cells`` whose mean colour is within ``tolerance`` of a fill colour.

        Within it in every channel; the colour is measured on those cells only.
        """
        cells = cells.copy()
        if cells.any():
            colours = stats.mean_bgr(cells)
            near = np.zeros(len(colours), dtype=bool)
            for colour in self.config.cast_colours:
                distance = np.abs(colours - np.asarray(colour, dtype=np.float32)).max(axis=1)
                near |= distance <= tolerance
            cells[cells] = near
        return cells

    def _noisy(self, stats: CellStats, floor: np.ndarray) -> np.ndarray:
        """(rows, cols) bool: cells at least as textured as their (rows, cols) noise ``floor``.

        A cell admitted below ``noise_floor_texture`` (a dark one) must carry that texture in
        its interior: a flat dark cell beside a bright or noisy one reaches a low floor through
        the Laplacian of its border pixels alone.
        """
        cfg = self.config
        noisy = stats.texture >= floor
        weak = noisy & (stats.texture < cfg.noise_floor_texture)
        if cfg.cell >= 4 and weak.any():
            interior = interior_texture(stats.gray_full, weak, cfg.cell)
            noisy[weak] = interior[weak] >= floor[weak]
        return noisy

    def _novel(
        self, stats: CellStats, kind: FailureKind, fresh: np.ndarray, signature: np.ndarray
    ) -> np.ndarray:
        """(rows, cols) bool: which ``fresh`` cells (``signature`` new in this frame) are onsets.

        An onset: nothing like this cell's content was near it before, where "before" is each
        cell's last unflagged look (the previous frame, unless the cell was flagged then).
        Luma comparisons scale it by the global gain, so that an exposure change or a tunnel
        entry is not a local failure. The cell's looks over the last ``onset_memory_frames``
        count as "before" too: content coming back after a failure the detector missed (a mud
        blob) or after a lit object left is what the region showed a moment ago.
        """
        cfg, reach = self.config, self.config.onset_reach
        recent = self._recent
        if kind is FailureKind.NOISE:
            before = np.maximum(self._good_texture, recent.max_texture)
            novel = fresh & (stats.texture > cfg.noise_novel_ratio * nearby_max(before, reach))
            return novel & self._white(stats, novel)
        if kind is FailureKind.CAST:
            novel = fresh & ~nearby_any(self._signatures[FailureKind.CAST], reach)
            if novel.any() and self._previous is not None:
                # A flat grey object (a car, soft optics) moves in from where it already looked
                # like the fill, or drifts into the fill's tolerance from nearly its colour; a
                # decoder fill appears in place.
                motion = max(reach, self._object_motion_cells(self._previous.gray_full.shape[0]))
                novel &= ~nearby_any(self._signatures[FailureKind.CAST], motion)
                novel &= ~nearby_any(
                    self._near_fill(self._previous, nearby_any(novel, reach)), reach
                )
            return novel
        gain = np.float32(self._gain)
        if kind is FailureKind.SATURATED:
            brightest = np.clip(np.maximum(self._good_gray * gain, recent.max_gray), 0.0, 255.0)
            novel = fresh & (
                nearby_max(brightest, reach) < cfg.saturated_min_gray - cfg.saturated_novel_margin
            )
            novel &= ~self._grown_from_core(novel, signature, kind, stats) & ~self._revealed()
            return novel & ~self._glowing(stats, novel)
        darkest = nearby_min(np.minimum(self._good_gray * gain, recent.min_gray), reach)
        # Darker by the margin, or (in a dark scene: a tunnel ceiling, a city at night) by the
        # ratio, judged from luma + 2 (the codec's black floor) and by at least the minimum step.
        by_margin = stats.gray + cfg.dead_novel_margin < darkest
        by_ratio = (cfg.dead_novel_ratio * (stats.gray + 2.0) <= darkest) & (
            stats.gray + cfg.dead_novel_min_step <= darkest
        )
        novel = fresh & (by_margin | by_ratio)
        unseen = fresh & ~self._revealed()
        novel &= unseen
        novel &= ~self._grown_from_core(novel, signature, kind, stats)
        # Regions joined to a novel cell through fresh cells are onsets anyway (the caller grows
        # the onsets through ``fresh``): only the others need the per-region test, which costs
        # ~0.7 ms a region and a burst of failures brings dozens.
        return novel | self._darkened_in_place(stats, unseen & ~grow(novel, fresh), signature)

    def _darkened_in_place(
        self, stats: CellStats, candidates: np.ndarray, signature: np.ndarray
    ) -> np.ndarray:
        """(rows, cols) bool: ``candidates`` regions that turned dark in place (a block at night).

        At night a new dark cell nearly always has darker scene within ``onset_reach``, so the
        per-cell test (:meth:`_novel`) cannot see a dead block over a dim road. Judged per
        8-connected region of at least ``dead_region_min_cells`` flat cells (texture at most
        ``dead_region_max_texture``) instead, each darker than its own darkest look (the last
        unflagged one with the gain, and the recent ones) by ``dead_novel_min_step`` and
        ``dead_novel_ratio``. The region is an onset when all of these hold:

        * its border against lit content is new (:func:`new_edge_pixels`: at least
          ``dead_new_edge_px`` and ``dead_region_new_share`` of its lit border pixels had
          nothing as dark within ``dead_new_edge_reach`` a frame ago): a dark object or the
          night moving in brings its edge along, a block appears in place;
        * its pixels do not follow theirs a frame ago (correlation below
          ``dead_region_max_correlation``): a light that dimmed keeps the structure under it;
        * its patch matches nothing near its place in the previous frame (below
          ``dead_region_max_match``, :meth:`_moved_here`) where its pixels were darker than
          the rest of the patch by ``dead_region_match_contrast`` of their depth now, or the
          region is now less than ``dead_region_match_darker`` times darker than they were: a
          fast dark object brings its outline and its contrast or its darkness along (neither
          is asked of a region within the match's reach of the frame's edge: it may have
          entered from outside, its surroundings a frame ago beyond the edge);
        * no lit object moved off the dark it covered (:meth:`_vacated_nearby`).

        Measured on the eval-detection clips: the night_rural dead blocks the per-cell test
        missed had correlation <= 0.08, match 0.42-0.58 and texture 1.7-2.9; the dimmed road
        lighting it took for blocks correlation 0.58-0.77, the dark coats and car bodies at
        dusk texture 4.5-5.8 and match up to 0.99.
        """
        cfg = self.config
        if cfg.dead_region_min_cells <= 0 or self._previous is None or not candidates.any():
            return np.zeros_like(candidates)  # most frames: no full-grid work
        own = np.minimum(self._good_gray * np.float32(self._gain), self._recent.min_gray)
        dimmed = candidates & (stats.texture <= cfg.dead_region_max_texture)
        dimmed &= stats.gray + cfg.dead_novel_min_step <= own
        dimmed &= cfg.dead_novel_ratio * (stats.gray + 2.0) <= own
        found = np.zeros_like(candidates)
        if np.count_nonzero(dimmed) < cfg.dead_region_min_cells:
            return found
        # A region no deeper from the frame's edge than the match's reach may have entered
        # from outside: what it looked like against its surroundings lay beyond the edge.
        height = stats.gray_full.shape[0]
        reach = math.ceil(self._interval_scale * cfg.dead_region_match_reach * height / cfg.cell)
        count, labels, boxes, _ = cv2.connectedComponentsWithStats(dimmed.view(np.uint8), 8)
        for region in range(1, count):
            if boxes[region, cv2.CC_STAT_AREA] < cfg.dead_region_min_cells:
                continue
            lit, new, correlation = self._region_edges(stats, labels, region, boxes[region])
            if new < max(cfg.dead_new_edge_px, cfg.dead_region_new_share * lit):
                continue
            if correlation >= cfg.dead_region_max_correlation:
                continue
            cells = labels == region
            contrast = not box_enters_from_edge(boxes[region], labels.shape, reach)
            if self._moved_here(stats, cells, boxes[region], contrast) < cfg.dead_region_max_match:
                found |= cells
        if found.any():
            moved = self._vacated_nearby(found, signature, labels, boxes, stats)
            found &= ~moved[labels]
        return found

    def _moved_outlines(self, stats: CellStats, held: np.ndarray) -> np.ndarray:
        """(rows, cols) bool: the ``held`` dead regions whose edge against lit content moved.

        A sensor failure is fixed to the sensor; a dark object (a black jersey, a car's shadow)
        that a failure rule once took for one moves over it. Per 8-connected region of the cells
        still holding a dead flag: when it has at least ``dead_new_edge_px`` lit border pixels
        and fewer than ``dead_steady_share`` of them kept their place since the previous frame
        (:func:`steady_edge_pixels`), it is scene.
        """
        cfg = self.config
        moved = np.zeros_like(held)
        if cfg.dead_steady_share <= 0.0 or self._previous is None or not held.any():
            return moved
        count, labels, boxes, _ = cv2.connectedComponentsWithStats(held.view(np.uint8), 8)
        for region in range(1, count):
            window, inside, crop, dark, level = self._dark_pixels(
                stats, labels, region, boxes[region], 1
            )
            lit, steady = steady_edge_pixels(
                stats.gray_full[crop],
                self._previous.gray_full[crop],
                dark,
                self._dark_level(level),
                level + cfg.dead_novel_min_step,
            )
            if lit >= cfg.dead_new_edge_px and steady < cfg.dead_steady_share * lit:
                moved[window] |= inside
        return moved

    def _moved_here(
        self, stats: CellStats, region: np.ndarray, box: np.ndarray, contrast: bool = True
    ) -> float:
        """Best normalised match of the region's patch now in the previous frame nearby.

        region: (rows, cols) bool, the region's cells; box: its (x, y, w, h) in cells. The patch
        is the region's box with one cell around it (its border against the scene); it is
        searched within ``dead_region_match_reach`` of the height (per nominal frame interval)
        of its place in the previous frame. A dark object that moved brings its outline along,
        and its contrast or its darkness: its patch is there, displaced, with the region's
        pixels darker than the rest of the patch by at least ``dead_region_match_contrast`` of
        how much darker they are now, or with the region now less than
        ``dead_region_match_darker`` times darker than they were (from the black floor, +2;
        both gain-scaled; neither asked without ``contrast``), so a dim shade of its shape is
        no place it came from. A block that appeared in place matches nothing. Matched at half
        resolution (both crops cut on even pixels and halved by area): an outline is coarser
        than a pixel, and a burst of failures brings dozens of regions a frame (at full
        resolution 33 ms of a 720p burst frame).
        """
        cfg = self.config
        cell = cfg.cell
        gray, previous = stats.gray_full, self._previous.gray_full
        height, width = gray.shape
        x, y, w, h = (int(value) * cell for value in box[:4])
        top, left = max(0, y - cell), max(0, x - cell)
        bottom, right = min(height, y + h + cell), min(width, x + w + cell)
        scale = self._interval_scale * cfg.dead_region_match_reach
        reach = 2 * math.ceil(scale * height / 2)  # even: the two crops' halves align
        patch = halved(gray[top:bottom, left:right])
        # The search window cut from the previous frame halved once a frame: every window
        # starts on an even pixel, so its 2x2 blocks are the whole frame's.
        if self._half_previous is None or self._half_previous[0] is not previous:
            self._half_previous = (previous, halved(previous))
        up, down = max(0, top - reach), min(height, bottom + reach)
        start, stop = max(0, left - reach), min(width, right + reach)
        search = self._half_previous[1][
            up // 2 : up // 2 + (down - up) // 2, start // 2 : start // 2 + (stop - start) // 2
        ]
        if patch.std() == 0.0:
            return 0.0
        scores = np.nan_to_num(cv2.matchTemplate(search, patch, cv2.TM_CCOEFF_NORMED), nan=0.0)
        if contrast and cfg.dead_region_match_contrast > 0.0:
            window = region[top // cell : -(-bottom // cell), left // cell : -(-right // cell)]
            cells = cells_to_pixels(window, (bottom - top, right - left), cell)
            own = halved(cells.view(np.uint8) * np.uint8(255)) >= 128
            if own.any() and not own.all():
                level = float(patch[own].mean())
                depth = float(patch[~own].mean()) - level
                if depth > 0.0:
                    count = np.count_nonzero(own)
                    inner = cv2.matchTemplate(search, own.view(np.uint8), cv2.TM_CCORR)
                    ring = (window_sums(search, own.shape) - inner) / np.float32(own.size - count)
                    inner /= np.float32(count)
                    gain = np.float32(self._gain)
                    faded = (ring - inner) * gain < cfg.dead_region_match_contrast * depth
                    # Its darkness kept instead (over a background that changed): the region
                    # now less than dead_region_match_darker times darker, from the black floor.
                    lighter = inner * gain + 2.0 >= cfg.dead_region_match_darker * (level + 2.0)
                    scores[faded & lighter] = -1.0
        return float(scores.max())

    def _drop_dark_scene(
        self, onset: np.ndarray, scene: np.ndarray, stats: CellStats
    ) -> np.ndarray:
        """(rows, cols) bool: dead ``onset`` without the regions that extend dark ``scene``.

        A new dark region whose ring is mostly dark scene already (``dead_scene_share``) is the
        scene growing (:func:`drop_scene_extensions`), unless its edge against lit content is
        new (``new_edges.py``): at least ``dead_new_edge_px`` lit pixels on its border had
        nothing as dark within ``dead_new_edge_reach`` (of the frame height) in the previous
        frame. Cells flagged in the previous frame are no lit content (another failure).
        """
        cfg = self.config
        kept = drop_scene_extensions(onset, scene, cfg.dead_scene_share)
        dropped = onset & ~kept
        if not dropped.any() or cfg.dead_new_edge_px <= 0:
            return kept
        count, labels, boxes, _ = cv2.connectedComponentsWithStats(dropped.view(np.uint8), 8)
        for region in range(1, count):
            _, new, _ = self._region_edges(stats, labels, region, boxes[region])
            if new >= cfg.dead_new_edge_px:
                kept |= labels == region
        return kept

    def _region_edges(
        self, stats: CellStats, labels: np.ndarray, region: int, box: np.ndarray
    ) -> tuple[int, int, float]:
        """(lit, new, correlation): a dark region's border and how its pixels changed.

        Lit and new border pixels of ``region`` (:func:`new_edge_pixels`), and the correlation
        of the pixels of its cells now with the same pixels a frame ago, the best over shifts of
        up to ``dead_region_shift_px`` (the scene under a dimmed light moves on).

        labels: (rows, cols) int32 cell regions; box: its (x, y, w, h) in cells. The region's
        pixels are those of its cells and the cells around them at most ``dead_max_gray`` (or 6
        levels above its mean): a block's edge rarely falls on the cell grid. Cells flagged in
        the previous frame are no lit content (another failure).
        """
        cfg = self.config
        cell = cfg.cell
        reach_px = max(1, round(cfg.dead_new_edge_reach * stats.gray_full.shape[0]))
        margin = -(-reach_px // cell) + 1  # cells around the region that the crop must hold
        window, inside, crop, dark, level = self._dark_pixels(stats, labels, region, box, margin)
        now, before = stats.gray_full[crop], self._previous.gray_full[crop]
        ignore = cells_to_pixels(self._flagged_before[window], now.shape, cell)
        lit, new = new_edge_pixels(
            now, before, dark, level, cfg.dead_novel_min_step, reach_px, ignore
        )
        own = cells_to_pixels(inside, now.shape, cell)
        return lit, new, best_shifted_correlation(now, before, own, cfg.dead_region_shift_px)

    def _dark_pixels(
        self, stats: CellStats, labels: np.ndarray, region: int, box: np.ndarray, margin: int
    ) -> tuple[tuple[slice, slice], np.ndarray, tuple[slice, slice], np.ndarray, float]:
        """Return a dark region's pixels: (window, inside, crop, dark, level).

        labels: (rows, cols) int32 cell regions; box: the region's (x, y, w, h) in cells;
        margin: cells around the box the window holds. window: (rows, cols) cell slices;
        inside: the window's cells of the region; crop: the window's pixel slices; dark: the
        crop's pixels of the region's cells and the cells beside them at most ``dead_max_gray``
        (or 6 levels above the region's mean luma ``level``): a block's edge rarely falls on the
        cell grid.
        """
        cell = self.config.cell
        window = window_around(box, margin, labels.shape)
        inside = labels[window] == region
        level = float(stats.gray[window][inside].mean())
        crop = tuple(slice(part.start * cell, part.stop * cell) for part in window)
        now = stats.gray_full[crop]
        near = cells_to_pixels(nearby_any(inside, 1), now.shape, cell)
        dark = near & (now <= self._dark_level(level))
        return window, inside, crop, dark, level

    def _dark_level(self, level: float) -> float:
        """Return the luma up to which a pixel belongs to a dark region of mean luma ``level``."""
        return max(self.config.dead_max_gray, level + 6.0)

    def _revealed(self) -> np.ndarray | bool:
        """(rows, cols) bool: cells still for ``revealed_still_frames`` up to the previous frame.

        What such a cell shows when it changes again (a freeze ending, missed or not) is content
        whose history the detector never saw: the sky brightened to saturation or a black coat
        arrived behind the stale view. It is no onset of a dead or saturated failure. False
        before the first frame pair.
        """
        still = self._frozen.still
        if still is None:
            return False
        return still >= self.config.revealed_still_frames

    def _white(self, stats: CellStats, cells: np.ndarray) -> np.ndarray:
        """(rows, cols) bool: ``cells`` whose texture is independent per pixel (noise).

        Decided per 8-connected region (median of its cells' neighbour correlation), so that a
        tree line whose single cells can look random is judged as one structure.
        """
        if not cells.any():
            return cells
        correlation = neighbour_correlation(stats.gray_full, cells, self.config.cell)
        count, labels = cv2.connectedComponents(cells.view(np.uint8), connectivity=8)
        white = region_medians(correlation, labels, count) < self.config.noise_max_correlation
        white[0] = False
        return white[labels]

    def _still_noise(self, stats: CellStats, signature: np.ndarray) -> np.ndarray:
        """(rows, cols) bool: where a flagged noise cell may stay flagged (its hold).

        ``signature``: this frame's noise look. A burst is held while it lasts; when it ends,
        the scene comes back under its flags, and scene that is as textured as the noise floor
        (a passer-by's edges walking into the flagged cells, a tree line) keeps the look but
        not what noise is: pixels independent of their neighbours. The flagged cells that keep
        the look are judged as the onset's were (:meth:`_white`, per 8-connected region).
        """
        flagged = self._flags[FailureKind.NOISE].flagged
        if flagged is None or flagged.shape != signature.shape:
            return signature
        held = flagged & signature
        if not held.any():
            return signature
        return (signature & ~held) | self._white(stats, held)

    def _whitened(self, stats: CellStats, onset: np.ndarray, fresh: np.ndarray) -> np.ndarray:
        """(rows, cols) bool: cells joined to a noise ``onset`` whose texture turned to noise.

        Joined through ``fresh`` cells (the signature new in this frame) or through each other;
        only those are measured (a burst of failures brings many candidates elsewhere).

        Sensor noise scales with the light: over lit night scene (a street, a tunnel wall) a
        burst stays under the noise signature's floor, which the scene's own texture at that
        brightness sets. Its cells still show what noise is: a texture at least
        ``noise_novel_ratio`` times their own before (the last unflagged look and the recent
        ones), and times their brightening too (a lamp lighting a noisy wall raises its noise
        with its luma), and at least ``noise_dark_floor``, in the cell's interior as well (a
        flat cell beside a burst takes texture from its border pixels alone); and pixels
        independent of their neighbours (correlation below ``noise_max_correlation``). Joined
        to a burst's onset, they belong to it.
        """
        cfg = self.config
        before = self._good_texture
        if before is None or before.shape != onset.shape or not onset.any():
            return np.zeros(onset.shape, dtype=bool)
        before = np.maximum(before, self._recent.max_texture)
        lit = (stats.gray + NOISE_LIGHT_OFFSET) / (
            self._good_gray * np.float32(self._gain) + NOISE_LIGHT_OFFSET
        )
        floor = np.float32(cfg.noise_novel_ratio) * before * np.maximum(lit, 1.0)
        floor = np.maximum(floor, cfg.noise_dark_floor)
        rose = ~onset & (stats.texture >= floor)
        rose &= grow(onset, fresh | rose)
        if cfg.cell >= 4 and rose.any():  # in its interior: not a flat cell beside a burst
            rose[rose] = interior_texture(stats.gray_full, rose, cfg.cell)[rose] >= floor[rose]
        if not rose.any():
            return rose
        correlation = neighbour_correlation(stats.gray_full, rose, cfg.cell)
        return rose & (np.nan_to_num(correlation, nan=1.0) < cfg.noise_max_correlation)

    def _glowing(self, stats: CellStats, cells: np.ndarray) -> np.ndarray:
        """(rows, cols) bool: saturated ``cells`` whose region fades out through a glow.

        Optics spread every light source that saturates the sensor (a headlight revealed behind
        a passer-by, the sun): the pixels just outside the saturated core are brighter than the
        scene a few pixels further out. A stuck-high sensor region ends at its edge: just
        outside it is the scene itself. Judged per 8-connected region on the pixels around it,
        each pixel just outside against the pixels further out beside it (the region's two rings
        as a whole compare different scene: a block below a dark grille over a lit pavement).
        """
        cfg = self.config
        if not cells.any():
            return cells
        gray, cell = stats.gray_full, cfg.cell
        count, labels, boxes, _ = cv2.connectedComponentsWithStats(cells.view(np.uint8), 8)
        glowing = np.zeros(count, dtype=bool)
        # Luma is integer: >= the core level is >= its ceiling (one pass for every region).
        bright_full = cv2.compare(gray, math.ceil(cfg.saturated_glow_core), cv2.CMP_GE)
        for region in range(1, count):
            x, y, w, h = boxes[region, :4]
            top, left = max(0, y - 2), max(0, x - 2)
            rows = slice(top * cell, (y + h + 2) * cell)
            cols = slice(left * cell, (x + w + 2) * cell)
            crop = gray[rows, cols]
            mine = labels[top : y + h + 2, left : x + w + 2] == region
            mine = cells_to_pixels(mine, crop.shape, cell)
            # The saturated pixels connected to this region (its partly covered border cells
            # included), not other lights in the crop.
            parts, part_of = cv2.connectedComponents(bright_full[rows, cols], connectivity=8)
            ours = np.zeros(parts, dtype=bool)
            ours[part_of[mine]] = True
            ours[0] = False
            near, far = glow_rings(ours[part_of])
            if near.any() and far.any():
                glowing[region] = local_glow(crop, near, far) >= cfg.saturated_glow
        return cells & glowing[labels]

    def _grown_from_core(
        self, cells: np.ndarray, signature: np.ndarray, kind: FailureKind, stats: CellStats
    ) -> np.ndarray:
        """(rows, cols) bool: ``cells`` whose region grew from a core that was there before.

        Lights (a tunnel lamp, headlights, the sun through trees) and dark objects (a black coat
        clipped to 0, a dark car) move and grow from a core that was in the previous frame; a
        saturated or dead failure appears where none was. Judged per 8-connected region of the
        current ``signature``: a core is an unflagged cell at least half of whose pixels were
        saturated (dead: at most ``dead_max_gray``) in the previous frame. A light's region needs
        a core within ``object_motion`` of the frame height; a dark region needs half of its
        cells within 2 cells of what turned dark to lie on or next to a core, or dark to have
        left near it as it arrived (:meth:`_vacated_nearby`): a new black block merely touching
        a dark object, or the night around it, is not one.
        """
        if not cells.any():
            return cells
        count, labels, boxes, _ = cv2.connectedComponentsWithStats(
            (signature | cells).view(np.uint8), connectivity=8
        )
        regions = np.isin(labels, np.unique(labels[cells]))
        previous = self._previous.gray_full
        reach = 1  # dark objects move slowly and night is full of dark cores: touching only
        if kind is FailureKind.SATURATED:  # lamps pass fast and stand out against the dark
            reach = max(reach, self._object_motion_cells(previous.shape[0]))
        near = nearby_any(regions, reach)
        share = self._core_share(previous, near, kind)
        share[self._flagged_before] = np.nan  # a flagged white block is no lamp
        hidden = self._hidden_before()
        if hidden is not None:  # what a failure hid a frame ago: its look two frames ago too
            older = self._core_share(self._before_previous.gray_full, near & hidden, kind)
            share = np.fmax(share, older)
        core = nearby_any(np.nan_to_num(share, nan=0.0) >= 0.5, reach)
        if kind is FailureKind.SATURATED:  # a lamp's core is small against its glow: touching
            before = np.zeros(count, dtype=bool)
            before[labels[core & regions]] = True
            before &= self._light_arrival_explained(
                cells, signature, labels, boxes, share, reach, stats
            )
        else:  # a dark object moved: around what turned dark, most lies on or next to where it was
            local = regions & nearby_any(cells, 2)
            inside = np.bincount(labels[local], minlength=count)
            overlap = np.bincount(labels[core & local], minlength=count)
            before = overlap >= 0.5 * np.maximum(inside, 1)
            before |= self._vacated_nearby(cells, signature, labels, boxes, stats)
        before[0] = False
        return cells & before[labels]

    def _hidden_before(self) -> np.ndarray | None:
        """(rows, cols) bool: cells a failure hid in the previous frame but not in the one before.

        Flagged, or holding a failed pixel (a burst, lost rows), in the previous frame and in
        neither in the frame before it (``_before_previous``). A light or a dark object that
        moved on from there was behind the failure: the core rules also take its look of two
        frames ago. None when there is no such cell or no frame before.
        """
        failed, two_back, older = self._failed_before, self._failed_two_back, self._before_previous
        shape = self._previous.gray.shape
        if failed is None or two_back is None or older is None:
            return None
        if failed.shape != shape or two_back.shape != shape or older.gray.shape != shape:
            return None
        hidden = failed & ~two_back
        return hidden if hidden.any() else None

    def _core_share(self, luma: np.ndarray, where: np.ndarray, kind: FailureKind) -> np.ndarray:
        """(rows, cols) float32: per cell of ``where``, the share of its pixels lit like a core.

        Of ``luma`` (H, W) uint8: saturated (>= ``saturated_min_gray``) or, for dead, dark (<=
        ``dead_max_gray``); NaN outside ``where``.
        """
        cfg = self.config
        if kind is FailureKind.SATURATED:
            return cell_share_at_least(luma, where, cfg.cell, cfg.saturated_min_gray)
        return 1.0 - cell_share_at_least(luma, where, cfg.cell, cfg.dead_max_gray + 1)

    def _light_arrival_explained(
        self,
        cells: np.ndarray,
        signature: np.ndarray,
        labels: np.ndarray,
        boxes: np.ndarray,
        share_before: np.ndarray,
        reach: int,
        stats: CellStats,
    ) -> np.ndarray:
        """(count,) bool per region of ``labels``: did a light move or grow into what saturated.

        A light that moves (a tunnel lamp passing) leaves cells as it arrives: within ``reach``
        of the region, cells that were saturated cores in the previous frame and are not now
        (vacated) number at least a quarter of those that turned saturated. A light that grows
        (headlights coming closer, the sun out of a cloud) spreads through its own glow: the
        cells that turned saturated were on average >= ``saturated_growth_prior`` before. A stuck-
        high block beside a white wall or sky does neither: the wall stays, and the block covers
        scene of any level. ``share_before``: (rows, cols) share of pixels >= the saturated
        level in the previous frame (NaN where not measured); a core is at least half saturated,
        then and now alike (a textured lamp edge that stays half white has not vacated).
        """
        cfg = self.config
        explained = np.zeros(len(boxes), dtype=bool)
        core_before = np.nan_to_num(share_before, nan=0.0) >= 0.5
        previous = self._previous.gray
        hidden = self._hidden_before()
        if hidden is not None:  # the brighter of its two last looks where a failure hid it
            previous = np.where(hidden, np.fmax(previous, self._before_previous.gray), previous)
        measured = ~np.isnan(share_before)
        level = cfg.saturated_min_gray
        share_now = cell_share_at_least(stats.gray_full, measured, cfg.cell, level)
        core_now = np.nan_to_num(share_now, nan=0.0) >= 0.5
        for region in np.unique(labels[cells]):
            near = window_around(boxes[region], reach, labels.shape)  # all the window can reach
            window = nearby_any(labels[near] == region, reach)
            arrived = signature[near] & ~core_before[near] & window
            count_arrived = int(np.count_nonzero(arrived))
            vacated = int(np.count_nonzero(core_before[near] & ~core_now[near] & window))
            grew = count_arrived > 0 and float(previous[near][arrived].mean()) >= (
                cfg.saturated_growth_prior
            )
            explained[region] = vacated >= 0.25 * max(count_arrived, 1) or grew
        return explained

    def _vacated_nearby(
        self,
        cells: np.ndarray,
        signature: np.ndarray,
        labels: np.ndarray,
        boxes: np.ndarray,
        stats: CellStats,
    ) -> np.ndarray:
        """(count,) bool per region of ``labels``: did an object move away or over there.

        A dark object that moves uncovers the scene behind it: within its motion of the dark region
        of the new dark ``cells``, cells that were dark in the two previous frames and are not now
        (vacated) number at least a quarter of those that turned dark. A lit object that moves
        uncovers the dark behind it (a car driving off a black pillar or a dark coat at night) and
        covers what lies ahead of it: beside the region (within one nominal frame's motion),
        cells at least ``dead_novel_margin`` brighter than in the previous frame, and neither a
        failure that ended nor a fill, number at least ``dead_uncovered_share`` of those that
        turned dark.
        A black block over the night vacates nothing, and lights up nothing near it. Neither
        explains new dark cells more than one motion deep (:func:`depth_cells`): motion uncovers,
        or brings, a band of at most its own width a frame (a dead block on a tunnel wall beside
        a lamp whose glare grew).
        """
        explained = np.zeros(len(boxes), dtype=bool)
        dark_before = self._signatures.get(FailureKind.DEAD)
        if dark_before is None or dark_before.shape != signature.shape:
            return explained
        motion = self._object_motion_cells(self._previous.gray_full.shape[0])
        # A failure that ended (flagged in the previous frame), or a dark region seen in one
        # frame only (a failure the detector missed), is no object that left: an object was
        # dark in the two frames before.
        older = self._older_dark if self._older_dark is not None else dark_before
        if older.shape != dark_before.shape:
            older = dark_before
        turned = signature & ~dark_before
        vacated = dark_before & older & ~signature & ~self._flagged_before
        # Lit by an object, not by a failure: not a failure that ended (flagged, or dark in the
        # previous frame only), not a fill: a saturated look or a decoder colour and the cells
        # along its edge (a block's edge crosses cells that it brightens in part: in a burst of
        # failed macroblocks the white ones' edges took every dead one beside them for dark
        # that a lit object uncovered), a noise look (a noisy night is full of them: only their
        # own cells are left out).
        brightened = self._jumped(stats, 1.0, self.config.dead_novel_margin)
        brightened &= ~self._flagged_before & ~(dark_before & ~older)
        for kind in (FailureKind.SATURATED, FailureKind.NOISE, FailureKind.CAST):
            fill = self._looks.get(kind)
            if fill is not None and fill.shape == brightened.shape:
                brightened &= ~(fill if kind is FailureKind.NOISE else nearby_any(fill, 1))
        share = self.config.dead_uncovered_share
        # The lit object is beside the dark it uncovered now: within one nominal frame's motion
        # (a slower camera's wider reach took moving scene near a dead block for it).
        beside_reach = self._object_motion_cells(self._previous.gray_full.shape[0], scaled=False)
        for region in np.unique(labels[cells]):
            near = window_around(boxes[region], motion, labels.shape)  # all the window can reach
            inside = labels[near] == region
            if depth_cells(cells[near] & inside) > motion:
                continue  # deeper than a frame's motion: nothing moving uncovered or brought it
            window = nearby_any(inside, motion)
            arrived = max(int(np.count_nonzero(turned[near] & window)), 1)
            beside = window if beside_reach >= motion else nearby_any(inside, beside_reach)
            explained[region] = (
                np.count_nonzero(vacated[near] & window) >= 0.25 * arrived
                or np.count_nonzero(brightened[near] & beside) >= share * arrived
            )
        return explained

    def _classify_cells(self, stats: CellStats) -> np.ndarray:
        cfg = self.config
        signatures = self._signatures_now(stats)
        self._looks = signatures
        flags: dict[FailureKind, np.ndarray] = {}
        # What the previous frame had flagged: a failure there is no scene core to grow from.
        self._flagged_before = np.zeros(stats.gray.shape, dtype=bool)
        for tracker in self._flags.values():
            if tracker.flagged is not None and tracker.flagged.shape == stats.gray.shape:
                self._flagged_before |= tracker.flagged
        previous = self._previous
        self._gain = 1.0 if previous is None else global_gain(stats.gray, previous.gray)
        cut = self._scene_cut(stats, np.logical_or.reduce(list(signatures.values())))
        self._cut = cut
        # The first frame has nothing before it (no onsets either), but no scene to cut from.
        after_cut, self._after_cut = self._after_cut, cut and previous is not None
        # Right after a start or reset a cell's "before" is one or two looks: a shadow that
        # swept in between them is as new as a failure. Onsets wait for a short history; what
        # looks failed by then is judged as scene (frozen tiles and blockage wait longer). After
        # a cut the cut frame is the new scene's only look: a failure in it was learnt as that
        # look, and a change from it may be that failure ending as well as one beginning, so
        # the frame after a cut starts no onset either.
        after_cut = after_cut and cfg.onset_warmup_frames > 0
        warming = self._frames_seen <= cfg.onset_warmup_frames or after_cut
        # A failure's end: cells back at the level they showed before a long steady look, and
        # cells where a failure that outlasted its hold was absorbed as scene (its look learnt:
        # the scene coming back is that failure's end, whatever class its look resembles).
        returning = self._returns.update(stats.gray, stats.texture, self._failed_before)
        if cut:
            self._returns.reset()
        recovering = self._recovering(stats.gray.shape)
        ended = returning | recovering
        for kind, signature in signatures.items():
            before = self._signatures.get(kind)
            if before is None or cut or warming:
                onset = np.zeros(signature.shape, dtype=bool)
            else:
                fresh = signature & ~before
                older = self._older_dark_scene
                if kind is FailureKind.DEAD and older is not None and older.shape == fresh.shape:
                    # Dark scene two frames back (not flagged), lit by `dead_novel_margin` more
                    # in the previous frame only, dark again: that frame's light ended (the faint
                    # edge of a veil over the night, which no look counts as failed), and the
                    # darkness is the scene's. Night cells flickering about the dark level, and
                    # a dead block back after a flagged frame, stay fresh.
                    lit = self._jumped(stats, -1.0, cfg.dead_novel_margin)
                    fresh &= ~(older & lit)
                onset = grow(self._novel(stats, kind, fresh, signature), fresh)
                if kind is FailureKind.DEAD:
                    onset = self._drop_dark_scene(onset, signature & before, stats)
                elif kind is FailureKind.NOISE:
                    if onset.any():  # and the burst's weak part over lit night scene
                        onset = grow(onset, fresh | self._whitened(stats, onset, fresh))
                    onset = drop_small(onset, cfg.noise_min_cells)
                if kind in (FailureKind.DEAD, FailureKind.SATURATED):
                    # Black or white that entered at the frame's edge in this frame had no past
                    # to be new against; unless that look failed off the edge too (a burst's
                    # pieces along the edge belong to it).
                    motion = self._object_motion_cells(stats.gray_full.shape[0])
                    entering = entering_from_edge(onset, motion)
                    if not (onset & ~entering).any():
                        onset &= ~entering
                onset &= ~ended
            hold = None
            if kind is FailureKind.DEAD and previous is not None:
                # Luma moved since the previous frame, in absolute terms or with the scene's
                # gain (a sensor's dead level does not follow the exposure).
                moved = np.minimum(
                    np.abs(stats.gray - previous.gray),
                    np.abs(stats.gray - previous.gray * np.float32(self._gain)),
                )
                if cfg.dead_join_step > 0.0 and onset.any():
                    # The dark scene a new block covers changed with it in this frame.
                    onset = grow(onset, signature & before & (moved > cfg.dead_join_step))
                    onset &= ~ended
                # A dead block is steady; a flagged cell whose level moved shows the scene again
                # (the block left, over a night that looks alike).
                hold = signature & (moved <= cfg.dead_hold_step)
                if cfg.dead_returned_level > 0.0 and self._good_gray is not None:
                    # Back at the level it showed before the onset: the block left a dim
                    # look-alike (a border's edge) that it had covered.
                    back = np.minimum(
                        np.abs(stats.gray - self._good_gray),
                        np.abs(stats.gray - self._good_gray * np.float32(self._gain)),
                    )
                    hold &= back > cfg.dead_returned_level
                tracker = self._flags[kind]
                if tracker.flagged is not None and tracker.flagged.shape == hold.shape:
                    hold = release_whole_regions(tracker.flagged, hold, cfg.dead_release_share)
                    hold &= ~self._moved_outlines(stats, tracker.flagged & hold)
            elif kind is FailureKind.NOISE and cfg.noise_hold_white:
                hold = self._still_noise(stats, signature)
            flags[kind] = self._flags[kind].update(onset, signature, hold)
        # Cells on the edge of a failure (flagged, or a saturated or fill-coloured block absorbed
        # as scene) have texture and do not change: they belong to that block, not to a frozen
        # tile. The noise signature is no block (any textured cell three times its own past has
        # it). Dark cells keep no neighbour out: at night much of a scene is as dark as a dead
        # block, and a textured cell beside it that had moved for frames and stopped is a
        # freeze like any other (the seam rule, `FrozenTiles._seamed_tiles`, judges dark
        # regions itself).
        looks = {kind: sig for kind, sig in signatures.items() if kind is not FailureKind.NOISE}
        others = np.logical_or.reduce([*flags.values(), *looks.values()])
        # A failure's end (above): its jump in level or colour is no blockage onset either.
        flags[FailureKind.BLOCKAGE] = self._blockage_cells(stats, others | ended, cut or after_cut)
        beside = [sig for kind, sig in looks.items() if kind is not FailureKind.DEAD]
        failures = nearby_any(np.logical_or.reduce([*flags.values(), *beside]), 1)
        dark = stats.gray <= cfg.dead_max_gray  # as dark as a dead cell, whatever its edges
        flags[FailureKind.FROZEN] = self._frozen.find(
            stats, failures, dark, cut, self._flags[FailureKind.FROZEN], self._lines.dark_lines
        )
        self._older_dark = self._signatures.get(FailureKind.DEAD)
        self._older_dark_scene = None
        if self._older_dark is not None and self._older_dark.shape == self._flagged_before.shape:
            self._older_dark_scene = self._older_dark & ~self._flagged_before
        self._signatures = signatures
        self._remember_absorbed(stats.gray.shape)
        cells = np.zeros(stats.gray.shape, dtype=np.uint8)
        # Order = priority when several rules fire: the most specific evidence wins.
        for kind in (
            FailureKind.CAST,
            FailureKind.DEAD,
            FailureKind.SATURATED,
            FailureKind.NOISE,
            FailureKind.FROZEN,
            FailureKind.BLOCKAGE,
        ):
            cells[flags[kind]] = kind
        return cells

    def _recovering(self, shape: tuple[int, int]) -> np.ndarray:
        """(rows, cols) bool: cells absorbed as scene at the end of a recent frame.

        A failure that looked failed for more than ``max_hold_frames`` is released and absorbed
        (:class:`onset.Hysteresis`); while it stays, its look is learnt as the cell's scene.
        When it ends, the scene behind it comes back as a jump from that look: measured on the
        highway clip, a dead block held 90 frames was flagged as blockage on its way out, 4.1 %
        of the pixels in the first clean frame and still 0.6 % thirty frames later.
        """
        recovering = np.zeros(shape, dtype=bool)
        if self.config.absorbed_recovery_frames > 0:
            for absorbed in self._absorbed_recently:
                if absorbed.shape == shape:
                    recovering |= absorbed
        return recovering

    def _remember_absorbed(self, shape: tuple[int, int]) -> None:
        """Keep this frame's absorbed cells (every class) for :meth:`_recovering`."""
        absorbed = np.zeros(shape, dtype=bool)
        for tracker in self._flags.values():
            if tracker.absorbed is not None and tracker.absorbed.shape == shape:
                absorbed |= tracker.absorbed
        self._absorbed_recently.append(absorbed)

    def _blockage_cells(self, stats: CellStats, others: np.ndarray, paused: bool) -> np.ndarray:
        """(rows, cols) bool: something landed on the lens (mud, a grey film, a water drop).

        Onset (`level_jumps.py`): a compact region (>= ``blockage_min_cells``, a core after a
        one-cell erosion, off the frame edge) of cells ``blockage_level_margin`` brighter, or
        darker, than every level the cells within ``onset_reach`` showed in their unflagged
        looks over the last ``blockage_memory_frames`` and in the previous frame with the global
        gain (a film over half the frame moves the median luma ratio, so the gain alone would
        make the rest look changed), unless cells near it jumped the other way (an object that
        moved in); or such a region of a new colour (:meth:`_colour_jump_blobs`). Cells with
        another class's look are left to that class. After a start or reset the level rules wait
        for the whole memory, the others for ``blockage_warmup_frames`` of it. Held while the
        cell stays that far from its pre-onset look (level or colour) and keeps its level (a
        blob stays put). ``paused``: no onset in this frame (a scene cut or the frame after one);
        what is flagged is still held.
        """
        cfg, tracker = self.config, self._flags[FailureKind.BLOCKAGE]
        levels, margin = self._levels, cfg.blockage_level_margin
        if self._good_gray is None or self._good_gray.shape != stats.gray.shape:
            empty = np.zeros(stats.gray.shape, dtype=bool)
            return tracker.update(empty, empty)
        before = self._good_gray * np.float32(self._gain)
        expected = self._expected_levels(stats, before)
        onset = np.zeros(stats.gray.shape, dtype=bool)
        # New against a memory of blockage_warmup_frames or more (not in a stream's first
        # frames), a level only against the whole memory; the short memory of the other
        # classes rules out most frames cheaply (the long one can only rule out more).
        if not paused and self._blockage_memory_ready(levels):
            recent = self._recent
            candidates = np.zeros_like(onset)
            if levels.full:
                candidates = self._level_jump_blobs(
                    stats, others, recent.min_gray, recent.max_gray, expected, judge_objects=False
                )
            if candidates.any():
                darkest, brightest = levels.extremes()
                onset = self._level_jump_blobs(stats, others, darkest, brightest, expected)
            onset |= self._colour_jump_blobs(stats, others | onset)
            onset |= self._translucent_layer_blobs(stats, others | onset, before)
            onset |= self._faded_colour_blobs(stats, others | onset, before)
            onset |= self._new_look_blobs(stats, others | onset, before)
        if tracker.idle and not onset.any():  # most frames: nothing flagged, nothing new
            return onset
        away = np.abs(stats.gray - before) >= margin
        if self._good_chroma is not None and self._good_chroma[0].shape == away.shape:
            shares = self._chromaticity(stats)
            for good, now in zip(self._good_chroma, shares, strict=True):
                away |= np.abs(now - good) >= cfg.blockage_chroma_margin
            if cfg.translucent_min_colour > 0.0:  # a film over flat scene: still faded
                away |= faded_colours(
                    shares,
                    self._good_chroma,
                    before,
                    cfg.translucent_min_colour,
                    cfg.translucent_texture_ratio,
                )
        steady = np.abs(stats.gray - self._previous.gray) <= cfg.blockage_hold_step
        hold = away & steady & ~others
        if tracker.flagged is not None and tracker.flagged.shape == hold.shape:
            hold = release_whole_regions(tracker.flagged, hold, cfg.blockage_release_share)
        return tracker.update(onset, hold)

    def _blockage_memory_ready(self, history: CellHistory) -> bool:
        """Whether ``history`` holds enough frames to judge a blockage onset against.

        ``blockage_warmup_frames`` (at most the whole memory, ``blockage_memory_frames``).
        """
        return history.count >= min(self.config.blockage_warmup_frames, history.frames)

    def _expected_levels(
        self, stats: CellStats, before: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) (rows, cols) float32: the levels the cells' last looks predict now.

        ``before``: the last looks scaled by the global gain. At an exposure change (the gain
        moved by ``exposure_change`` or more) the looks mapped through the frame's exposure
        line (:func:`exposure_line`: a tone curve's black level makes the change affine) are
        expected too: dark scene then moves by a larger ratio than the gain.
        """
        cfg = self.config
        if abs(self._gain - 1.0) < cfg.exposure_change or cfg.exposure_change <= 0.0:
            return before, before
        line = exposure_line(stats.gray, self._previous.gray)
        if line is None:
            return before, before
        affine = self._good_gray * np.float32(line[0]) + np.float32(line[1])
        return np.minimum(before, affine), np.maximum(before, affine)

    def _chromaticity(self, stats: CellStats) -> tuple[np.ndarray, np.ndarray]:
        """``stats.chromaticity()`` (blue and red shares), computed once per frame."""
        if self._chroma_of is None or self._chroma_of[0] is not stats:
            self._chroma_of = (stats, stats.chromaticity())
        return self._chroma_of[1]

    def _colour_jump_blobs(self, stats: CellStats, excluded: np.ndarray) -> np.ndarray:
        """(rows, cols) bool: blobs of cells at a colour no cell near them showed within a second.

        Brown mud over grey road keeps the road's level but not its colour. The same rule as
        :meth:`_level_jump_blobs` on the blue and red shares of the cells' mean colour
        (``blockage_chroma_margin`` of 255; lighting and exposure scale the channels alike and
        leave the shares), on cells lit enough for a colour (``blockage_chroma_min_gray``). An
        object that moved in is judged on the luma, by the sign of the region's luma change.
        """
        cfg = self.config
        empty = np.zeros(stats.gray.shape, dtype=bool)
        good = self._good_chroma
        if good is None or good[0].shape != stats.gray.shape:
            return empty
        if not self._blockage_memory_ready(self._blue_shares):
            return empty
        chroma = self._chromaticity(stats)
        candidates = (stats.gray >= cfg.blockage_chroma_min_gray) & ~excluded

        def new_colour(lows: tuple, highs: tuple) -> np.ndarray:
            novel = np.zeros_like(candidates)
            for share, low, high in zip(chroma, lows, highs, strict=True):
                above, below = novel_levels(
                    share, low, high, cfg.blockage_chroma_margin, cfg.onset_reach
                )
                novel |= above | below
            return compact_regions(novel & candidates, cfg.blockage_min_cells)

        # The previous look alone first: the second's colours include it, so this is an exact
        # and cheap gate for most frames.
        if not new_colour(good, good).any():
            return empty
        extremes = (self._blue_shares.extremes(), self._red_shares.extremes())
        lows = tuple(np.minimum(low, now) for (low, _), now in zip(extremes, good, strict=True))
        highs = tuple(np.maximum(high, now) for (_, high), now in zip(extremes, good, strict=True))
        return self._drop_moved_objects(stats, new_colour(lows, highs), chroma, good)

    def _new_look_blobs(
        self, stats: CellStats, excluded: np.ndarray, gray_before: np.ndarray
    ) -> np.ndarray:
        """(rows, cols) bool: blobs of cells at a look no cell near them showed within a second.

        A look is a cell's level and colour shares together (``level_jumps.looks_seen_nearby``):
        light brown mud over a beige façade takes the façade's level and a dark window's
        colour, each seen nearby, but no cell showed both. Judged: lit cells (as for a colour)
        whose colour moved by ``blockage_chroma_margin`` since their last look of scene, in
        compact regions (``blockage_min_cells``, a core, and ``blockage_new_look_min_share`` of
        the frame's cells: a part of the view, not a count of cells; at 1080p 12 cells are a
        tail light). A cell's look was seen when a cell within ``onset_reach`` showed it, every
        feature within its margin (``blockage_level_margin``, ``blockage_chroma_margin``), in
        the last looks or in the second's memory. Scene objects that moved in are dropped as
        for a colour blob (the body by its colour shares).
        ``excluded`` cells, cells flagged a frame ago and the cells beside them are not judged;
        ``gray_before``: (rows, cols) float32, the last looks with the gain. Off with
        ``blockage_new_looks``.
        """
        cfg, good = self.config, self._good_chroma
        empty = np.zeros(stats.gray.shape, dtype=bool)
        if not cfg.blockage_new_looks or good is None or good[0].shape != empty.shape:
            return empty
        if not self._blockage_memory_ready(self._blue_shares):
            return empty
        blue, red = self._chromaticity(stats)
        now = (stats.gray, blue, red)
        last = (gray_before, *good)
        chroma_margin = cfg.blockage_chroma_margin
        margins = (cfg.blockage_level_margin, chroma_margin, chroma_margin)
        # Cells whose colour moved: a look new only by its level is the level rules' (and
        # judging every cell whose level moved cost 5-8x more on moving footage).
        recoloured = np.abs(blue - good[0]) >= np.float32(chroma_margin)
        recoloured |= np.abs(red - good[1]) >= np.float32(chroma_margin)
        candidates = recoloured & (stats.gray >= cfg.blockage_chroma_min_gray) & ~excluded
        if self._flagged_before.shape == candidates.shape:
            # A failure's end shows scene its cells' memory never held (and a failed region's
            # rim cells remember its look): no new look of their own.
            candidates &= ~nearby_any(self._flagged_before, 1)
        least = self._part_of_view_cells(empty.size)
        candidates = compact_regions(candidates, least)
        if not candidates.any():  # most frames
            return candidates
        # The last looks first (most changed cells match there), then the second's memory,
        # newest first, for what still makes a region.
        seen = looks_seen_nearby(now, [last], candidates, cfg.onset_reach, margins)
        candidates = compact_regions(candidates & ~seen, least)
        if not candidates.any():
            return candidates
        histories = (self._levels, self._blue_shares, self._red_shares)
        memory = zip(*(history.newest_first() for history in histories), strict=True)
        seen = looks_seen_nearby(now, memory, candidates, cfg.onset_reach, margins)
        candidates = compact_regions(candidates & ~seen, least)
        # An object's body is judged by its colour, as a colour blob's: its shading varies over
        # it, its colour holds (a red car of the road's level sliding in from the frame's edge
        # has a body through its red to the edge, not through its levels).
        return self._drop_moved_objects(stats, candidates, (blue, red), good)

    def _part_of_view_cells(self, cells: int) -> int:
        """Return the fewest cells of a new-look or faded-colour region on ``cells`` cells.

        ``blockage_min_cells`` and ``blockage_new_look_min_share`` of the frame: a part of the
        view, not a count of cells (at 1080p 12 cells are a tail light).
        """
        cfg = self.config
        return max(cfg.blockage_min_cells, math.ceil(cfg.blockage_new_look_min_share * cells))

    def _drop_moved_objects(
        self,
        stats: CellStats,
        found: np.ndarray,
        looks: tuple[np.ndarray, ...],
        looks_before: tuple[np.ndarray, ...],
        layer_rim: bool = False,
    ) -> np.ndarray:
        """(rows, cols) bool: ``found`` blobs without those a scene object that moved explains.

        Each region's sign is its mean luma change against the previous frame (mud over light
        and dark scene brightens some cells and darkens others); ``level_jumps.drop_scene_objects``
        with ``looks`` (the grids an object's body grows through, (rows, cols) float32 each)
        and their ``looks_before``; ``layer_rim``: a translucent layer's soft rim, several
        cells wide, is its own, not what an object uncovered (``drop_scene_objects``).
        """
        if not found.any():
            return found
        cfg = self.config
        count, labels = cv2.connectedComponents(found.view(np.uint8), connectivity=8)
        step = stats.gray - self._previous.gray
        rise = np.bincount(labels.ravel(), weights=step.ravel(), minlength=count)
        brighter = (rise >= 0)[labels] & found
        blobs = np.zeros_like(found)
        for regions, sign in ((brighter, 1.0), (found & ~brighter, -1.0)):
            if regions.any():
                blobs |= drop_scene_objects(
                    regions,
                    looks,
                    self._jumped(stats, -sign, cfg.blockage_level_margin),
                    cfg.blockage_body_tolerance,
                    self._object_motion_cells(stats.gray_full.shape[0]),
                    cfg.blockage_moved_share,
                    looks_before=looks_before,
                    layer_rim=layer_rim,
                )
        return blobs

    def _translucent_layer_blobs(
        self, stats: CellStats, excluded: np.ndarray, gray_before: np.ndarray
    ) -> np.ndarray:
        """(rows, cols) bool: blobs where a translucent layer covered the scene in this frame.

        ``translucent_layer.py``: cells that had ``translucent_min_texture`` of detail in their
        last look of scene (a dead column's edges a frame ago are no detail the scene lost),
        kept at most ``translucent_texture_ratio`` of it and stepped by
        ``blockage_level_margin`` or more (both against that look with the exposure gain), and
        whose change a lit layer explains (:func:`layer_levels` >=
        ``translucent_min_layer_level``: a shadow's, or a dark object's that moved away, is
        black); compact regions of them (``blockage_min_cells``, a core) off the frame's edge
        (scene comes into view there, and a dashcam's logo sits there) whose detail still
        correlates with the frame before's (median over the region's cells of the best
        correlation within ``translucent_search`` pixels >= ``translucent_min_correlation``; a
        cell faded flat is judged by the share of detail its region kept: :func:`layer_regions`).
        Cells flagged a frame ago and ``excluded`` cells are not judged. ``gray_before``:
        (rows, cols) float32, the cells' last looks of scene with the gain (the caller's).
        """
        cfg, previous = self.config, self._previous
        empty = np.zeros(stats.gray.shape, dtype=bool)
        if cfg.translucent_min_correlation <= 0.0 or previous.gray.shape != empty.shape:
            return empty
        if self._good_texture is None or self._good_texture.shape != empty.shape:
            return empty
        texture_before = self._good_texture * np.float32(self._gain)
        candidates = attenuated_cells(
            stats.texture,
            texture_before,
            stats.gray - gray_before,
            cfg.translucent_min_texture,
            cfg.translucent_texture_ratio,
            cfg.blockage_level_margin,
        )
        candidates &= ~excluded
        if self._flagged_before.shape == candidates.shape:
            candidates &= ~self._flagged_before
        if not candidates.any():  # most frames
            return candidates
        levels = layer_levels(stats.gray, gray_before, stats.texture, texture_before)
        candidates &= levels >= np.float32(cfg.translucent_min_layer_level)
        candidates = compact_regions(candidates, cfg.blockage_min_cells)
        candidates &= ~touching_edge(candidates)
        if not candidates.any():
            return candidates
        match = best_correlation(
            stats.gray_full, previous.gray_full, candidates, cfg.cell, cfg.translucent_search
        )
        _, labels = cv2.connectedComponents(candidates.view(np.uint8), connectivity=8)
        return layer_regions(candidates, labels, match, cfg.translucent_min_correlation)

    def _faded_colour_blobs(
        self, stats: CellStats, excluded: np.ndarray, gray_before: np.ndarray
    ) -> np.ndarray:
        """(rows, cols) bool: blobs where a grey layer faded the scene's colour in place.

        Over flat scene (the sky, a smooth road) a film has no detail to fade
        (:meth:`_translucent_layer_blobs`); it fades the colour instead, toward grey with the
        hue kept (``translucent_layer.faded_colours``: a colour at least
        ``translucent_min_colour`` levels from grey, at most ``translucent_texture_ratio`` of
        it left). Judged: cells lit now and in their last look (``blockage_chroma_min_gray``:
        the colour of a dark look is codec noise), flat in both (texture below
        ``translucent_min_texture``: where the scene has detail, what a film did to it is the
        stronger evidence), not clipped (every channel's mean below ``saturated_min_gray``:
        light clipping to white loses its colour too), whose change a lit layer explains
        (``faded_layer_levels`` between ``translucent_min_layer_level`` and 255), in compact
        regions off the frame's edge as large as a new look's (``blockage_new_look_min_share``).
        A layer is a part of the view: where a quarter or more of the frame's other coloured
        cells faded too, the camera's colour changed, and nothing is flagged. A region is
        scene when half its cells show a look (level and shares within
        ``blockage_body_tolerance``) that a cell within a frame's motion showed a frame ago (a
        grey car's body moved on), or when a scene object that moved explains it
        (:meth:`_drop_moved_objects` on level and colour together, grey being common, with the
        film's soft rim drawn toward it over several cells, ``layer_rim``). ``excluded``
        cells, cells flagged a frame ago and the cells beside them are not judged;
        ``gray_before``: (rows, cols) float32, the last looks with the gain. Off with
        ``translucent_min_colour`` 0.
        """
        cfg, good = self.config, self._good_chroma
        empty = np.zeros(stats.gray.shape, dtype=bool)
        if cfg.translucent_min_colour <= 0.0 or good is None or good[0].shape != empty.shape:
            return empty
        if self._good_texture is None or not self._blockage_memory_ready(self._blue_shares):
            return empty
        shares = self._chromaticity(stats)
        flat = np.float32(cfg.translucent_min_texture)
        judged = np.minimum(stats.gray, gray_before) >= np.float32(cfg.blockage_chroma_min_gray)
        judged &= (self._good_texture * np.float32(self._gain) < flat) & (stats.texture < flat)
        judged &= ~excluded
        if self._flagged_before.shape == judged.shape:
            judged &= ~nearby_any(self._flagged_before, 1)
        least = self._part_of_view_cells(empty.size)
        if np.count_nonzero(judged) < least:
            return empty
        faded = faded_colours(
            shares, good, gray_before, cfg.translucent_min_colour, cfg.translucent_texture_ratio
        )
        candidates = faded & judged
        candidates = compact_regions(candidates, least)
        if not candidates.any():  # most frames
            return candidates
        candidates &= ~touching_edge(candidates)
        rows, cols = np.nonzero(candidates)
        unclipped = self._cell_brightest(stats, candidates) < np.float32(cfg.saturated_min_gray)
        layer = faded_layer_levels(shares, good, stats.gray, gray_before)[rows, cols]
        lit_layer = layer >= np.float32(cfg.translucent_min_layer_level)
        lit_layer &= layer <= np.float32(255.0)  # a layer's level is a pixel value
        drop = ~(unclipped & lit_layer)
        candidates[rows[drop], cols[drop]] = False
        candidates = compact_regions(candidates, least)
        if not candidates.any():
            return candidates
        coloured = colour_levels(good, gray_before) >= np.float32(cfg.translucent_min_colour)
        elsewhere = coloured & ~nearby_any(candidates, cfg.onset_reach)
        if np.count_nonzero(elsewhere) >= least and np.mean(faded[elsewhere]) >= 0.25:
            return empty
        # Something that moved shows its look near where it was a frame ago; a film's grey
        # was nowhere over the sky it covers.
        tolerance = cfg.blockage_body_tolerance
        seen = looks_seen_nearby(
            (stats.gray, *shares),
            [(self._previous.gray, *self._previous.chromaticity())],
            candidates,
            self._object_motion_cells(stats.gray_full.shape[0]),
            (tolerance, tolerance, tolerance),
        )
        candidates &= ~mostly(seen, candidates, 0.5)
        return self._drop_moved_objects(
            stats, candidates, (stats.gray, *shares), (gray_before, *good), layer_rim=True
        )

    def _cell_brightest(self, stats: CellStats, cells: np.ndarray) -> np.ndarray:
        """(n,) float32: the largest channel of each True cell's mean colour (row-major)."""
        return stats.mean_bgr(cells).max(axis=1) if cells.any() else np.zeros(0, np.float32)

    def _jumped(self, stats: CellStats, sign: float, margin: float) -> np.ndarray:
        """(rows, cols) bool: cells ``margin`` brighter (``sign`` 1) or darker (-1) than before.

        Against the previous frame, with and without the global gain.
        """
        previous, gain = self._previous.gray, np.float32(self._gain)
        towards = np.float32(sign)
        now = stats.gray
        return np.minimum(towards * (now - previous), towards * (now - previous * gain)) >= margin

    def _object_motion_cells(self, height: int, scaled: bool = True) -> int:
        """How far, in cells, an object moves between frames of ``height`` pixels.

        ``object_motion`` of the height per nominal frame interval, times this frame's interval
        (``scaled``; else per nominal frame).
        """
        cfg = self.config
        scale = self._interval_scale if scaled else 1.0
        return math.ceil(cfg.object_motion * scale * height / cfg.cell)

    def _level_jump_blobs(
        self,
        stats: CellStats,
        others: np.ndarray,
        darkest: np.ndarray,
        brightest: np.ndarray,
        before: tuple[np.ndarray, np.ndarray],
        judge_objects: bool = True,
    ) -> np.ndarray:
        """(rows, cols) bool: blobs of cells at a level new against ``darkest``/``brightest``.

        ``before``: (low, high), the levels the cells' last unflagged looks predict now
        (:meth:`_expected_levels`). Without ``judge_objects``, the blobs that an object in the
        scene may still explain (a superset, for a cheap first look). See
        :meth:`_blockage_cells`.
        """
        cfg, margin = self.config, self.config.blockage_level_margin
        brighter, darker = novel_levels(
            stats.gray,
            np.minimum(before[0], darkest),
            np.maximum(before[1], brightest),
            margin,
            cfg.onset_reach,
        )
        motion = self._object_motion_cells(stats.gray_full.shape[0])
        blobs = np.zeros(stats.gray.shape, dtype=bool)
        for novel, sign in ((brighter, 1.0), (darker, -1.0)):
            found = compact_regions(novel & ~others, cfg.blockage_min_cells)
            if not found.any() or not judge_objects:
                blobs |= found
                continue
            # What jumped the other way against the previous frame.
            blobs |= drop_scene_objects(
                found,
                (stats.gray,),
                self._jumped(stats, -sign, margin),
                cfg.blockage_body_tolerance,
                motion,
                cfg.blockage_moved_share,
                looks_before=(self._previous.gray,),
            )
        return blobs

    def _scene_cut(self, stats: CellStats, looks_failed: np.ndarray) -> bool:
        """Is most of the image new scene (a stream restart, a camera switch)? Then no onsets.

        A cut: ``cut_ratio`` of the cells moved by more than ``cut_level`` beyond the exposure
        gain, and most of those do not look failed now (``looks_failed``: (rows, cols) bool,
        any class's signature); the cells flagged a frame ago do not count as moved (after a
        burst they show the scene again: a failure's end, not new scene). A frame where most
        cells turned black, white, a fill colour or noise at once (a burst of lost packets, the
        paper's 75 % patch masking) is a failure; an exposure jump that saturates a little sky
        is still a cut. Or the part that does not
        look failed is new scene all over the frame (``scene_cut.new_everywhere``): a cut to a
        night scene darkens most cells at once as a dead sensor would, but a failure leaves the
        scene beside it going on.

        Both tests measure the exposure gain without what looks failed now or was flagged a
        frame ago, the first only where that gain shows no exposure change (else the frame's
        own): a grey fill over the bottom half of a dark road made the frame's gain 1.4, the
        unchanged sky above "moved" by it, and the frame read as a cut.
        """
        cfg, previous = self.config, self._previous
        if previous is None:
            return True
        # What the previous frame showed lit: a failure leaves it going on beside it (a veil
        # or a lamp-like block at night lights cells, but the scene's own lights go on); a
        # cut replaces it. Failed-looking cells with their ring, flagged ones and lost rows
        # (now, or flagged a frame ago: a failure's end) are left out, of the exposure gain
        # too (a grey fill skews it).
        excluded = nearby_any(looks_failed, 1)  # and the cells a failed region half covers
        if self._flagged_before.shape == excluded.shape:
            excluded |= self._flagged_before
        gray_full, cell = stats.gray_full, cfg.cell
        run = self._lines.lost_run(gray_full)
        if run >= max(cfg.lost_rows_min, cfg.lost_rows_min_share * gray_full.shape[0]):
            excluded[(gray_full.shape[0] - run) // cell :] = True
        lost_before = self._lines.lost_rows.flagged
        if lost_before is not None and lost_before.shape[0] == gray_full.shape[0]:
            rows = np.flatnonzero(lost_before)
            if rows.size:
                excluded[rows[0] // cell :] = True
        zero = np.float32(0)
        gain = global_gain(
            np.where(excluded, zero, stats.gray), np.where(excluded, zero, previous.gray)
        )
        # Where the scene beside what looks failed kept its exposure, a failure's fill moved the
        # frame's gain; otherwise it is an exposure jump (one that clips a little sky is a cut).
        exposure = gain if abs(gain - 1.0) < cfg.exposure_change else self._gain
        moved = np.abs(stats.gray - previous.gray * np.float32(exposure)) > cfg.cut_level
        if self._flagged_before.shape == moved.shape:
            moved &= ~self._flagged_before  # a failure's end shows the scene again: no new one
        count = np.count_nonzero(moved)
        if count >= cfg.cut_ratio * moved.size and (
            np.count_nonzero(moved & looks_failed) < 0.5 * count
        ):
            return True
        seen = previous.gray * np.float32(gain)
        lit_before = seen >= cfg.cut_lit_gray
        # A cut that reads as a failure takes away a lit scene; over the night (a few lit
        # cells, which a grey film on the lens changes all of) nothing here can tell.
        if np.count_nonzero(lit_before) < cfg.cut_min_lit_share * lit_before.size:
            return False
        candidates = lit_before & ~excluded
        if np.count_nonzero(candidates) < CUT_MIN_CANDIDATES * candidates.size:
            return False
        tolerance = match_tolerance(
            stats.gray, cfg.cut_new_level_ratio, cfg.cut_new_level_floor, cfg.cut_new_level
        )
        changed = changed_in_place(candidates, stats.gray, seen, tolerance)
        if np.count_nonzero(changed) < cfg.cut_new_share * np.count_nonzero(candidates):
            return False  # too few levels moved in place for a cut (most frames end here)
        spread = cfg.cut_new_spread
        if new_everywhere(
            candidates, stats.gray, seen, tolerance, cfg.cut_new_share, spread, changed=changed
        ):
            return True
        # Dim or flat light packs the levels close: a cut's cells find a look-alike level a
        # cell away. The blocks' structure (gain-free) tells; a few ms, on these frames only.
        if cfg.cut_structure_share <= 0.0:
            return False
        height = gray_full.shape[0]
        return new_structure_everywhere(
            gray_full,
            previous.gray_full,
            candidates,
            cell,
            max(1, round(MATCH_REACH * self._interval_scale * height)),
            cfg.cut_structure_share,
            spread,
        )

    def _whole_frame(self, stats: CellStats, repeated: bool) -> bool:
        """One flat colour nearly everywhere, appearing after a frame that was not (an onset)."""
        cfg = self.config
        if repeated:
            return self._whole_flagged
        median = float(np.median(stats.gray))
        uniform = (stats.texture <= cfg.whole_frame_max_texture) & (
            np.abs(stats.gray - median) <= 3.0
        )
        share = float(uniform.mean())
        looks = share >= cfg.whole_frame_ratio
        # An onset comes from a lively frame: a night scene that is 90 % flat black already and
        # gets a few black rows more has not lost the frame.
        onset = looks and self._previous is not None and self._whole_share < cfg.whole_frame_from
        if onset and self._scene_goes_on(stats, uniform):
            onset = False
        self._whole_flagged = looks and (onset or self._whole_flagged)
        self._whole_share = share
        return self._whole_flagged

    def _scene_goes_on(self, stats: CellStats, uniform: np.ndarray) -> bool:
        """Whether the cells outside a frame's flat colour still show the previous frame's scene.

        ``uniform``: (rows, cols) bool, the cells of the flat colour. A lost frame (a dead
        sensor's black, a decoder's fill) replaces every pixel; what it leaves outside its colour
        is noise or an edge, not the scene. Black lost rows over the lit road of a night frame
        leave the frame as flat as that, but the lights above them go on: at least
        ``whole_frame_kept_share`` of the cells outside the colour kept their luma within
        :data:`WHOLE_FRAME_KEPT_STEP` levels.
        """
        cfg, previous = self.config, self._previous
        if cfg.whole_frame_kept_share <= 0.0 or previous is None:
            return False
        if previous.gray.shape != uniform.shape:
            return False
        kept = ~uniform & (np.abs(stats.gray - previous.gray) <= WHOLE_FRAME_KEPT_STEP)
        return int(np.count_nonzero(kept)) >= cfg.whole_frame_kept_share * uniform.size

    def _cells_with_failed_pixels(self, labels: np.ndarray) -> np.ndarray:
        """(rows, cols) bool: cells holding a pixel labelled failed in (H, W) ``labels``.

        After the borders were refined: a failure's edge rarely falls on the cell grid, and the
        cells it crosses (a soft rim, a veil spreading) are labelled clean at cell level. An
        external mask's pixels (a calibrated defect map) do not count: they never change.
        """
        failed = cv2.compare(labels, int(FailureKind.CLEAN), cv2.CMP_NE)
        failed &= cv2.compare(labels, int(FailureKind.EXTERNAL), cv2.CMP_NE)
        return cells_holding(failed, self.config.cell)

    def _update_history(
        self, stats: CellStats, cells: np.ndarray, failed_cells: np.ndarray | None = None
    ) -> None:
        """Blend this frame into the baselines of cells that showed no failure; keep the rest.

        ``cells``: (rows, cols) uint8 FailureKind per cell; ``failed_cells``: (rows, cols) bool,
        cells holding a failed pixel (None: none). A cell's look that mixes a failure's pixels
        with the scene's is no look of the scene: kept out, the next onsets are judged against
        the look before the failure (a veil or mud spreading from its rim was taken for scene
        once its edge had crossed a cell).
        """
        cfg = self.config
        clean = cells == FailureKind.CLEAN
        if failed_cells is not None:
            clean &= ~failed_cells
        self._failed_two_back, self._failed_before = self._failed_before, ~clean
        if self._good_gray is None:
            self._good_gray, self._good_texture = stats.gray.copy(), stats.texture.copy()
        else:
            np.copyto(self._good_gray, stats.gray, where=clean)
            np.copyto(self._good_texture, stats.texture, where=clean)
        self._recent.add(self._good_gray, self._good_texture)
        self._levels.add(self._good_gray)
        chroma = self._chromaticity(stats)
        if self._good_chroma is None or self._good_chroma[0].shape != clean.shape:
            self._good_chroma = (chroma[0].copy(), chroma[1].copy())
        else:
            for good, now in zip(self._good_chroma, chroma, strict=True):
                np.copyto(good, now, where=clean)
        self._blue_shares.add(self._good_chroma[0])
        self._red_shares.add(self._good_chroma[1])
        if self._texture_base is None:
            self._texture_base = stats.texture.copy()
            self._frozen.start(stats.gray.shape)
        else:
            alpha = cfg.baseline_alpha
            blended = (1 - alpha) * self._texture_base + alpha * stats.texture
            np.copyto(self._texture_base, blended, where=clean)
            # Liveliness learns from clean cells that changed. A change into or out of a flagged
            # failure is the failure's, not the scene's: a bonnet that a block covered for a
            # frame is as still as before.
            moving = clean & (stats.changed > 0.0)
            if self._flagged_before.shape == moving.shape:
                moving &= ~self._flagged_before
            returned = self._returned(stats)
            if returned is not None:  # neither the way back nor the way in was scene motion
                self._frozen.unlearn_last(returned)
                moving &= ~returned
            self._frozen.learn(stats.motion, moving)
        self._before_previous = self._previous
        self._previous = stats

    def _returned(self, stats: CellStats) -> np.ndarray | None:
        """(rows, cols) bool: cells back at their look of two frames ago after a one-frame step.

        The previous frame moved the cell's mean luma by ``activity_return_step`` or more and
        this one brings it back within :data:`ACTIVITY_RETURN_TOLERANCE` of where it was: a
        change that came and went (a failure the detector missed, a flash), not the scene
        moving. None when off or without two earlier frames of this shape.
        """
        step, before = self.config.activity_return_step, self._before_previous
        previous = self._previous
        if step <= 0 or before is None or previous is None:
            return None
        if before.gray.shape != stats.gray.shape or previous.gray.shape != stats.gray.shape:
            return None
        stepped = np.abs(previous.gray - before.gray) >= step
        return stepped & (np.abs(stats.gray - before.gray) <= ACTIVITY_RETURN_TOLERANCE)

    def _refine_borders(
        self, cells: np.ndarray, stats: CellStats, frame: np.ndarray, labels: np.ndarray
    ) -> None:
        """Extend detected dead / saturated / cast / noise regions into the ring of cells around.

        A cell that is only partly covered by a failure has mixed statistics and is missed; around
        a detected region we therefore test single pixels with the class's own intensity rule
        (dead: no brighter than the flagged cells' mean luma plus a margin, so a soft-edged or
        noisy blockage is included). Noise cannot be judged per pixel, so its ring is taken whole.
        """
        cfg = self.config
        gray = stats.gray_full
        kernel = np.ones((3, 3), np.uint8)
        dead_before, self._dead_pixels = self._dead_pixels, None
        for kind in (FailureKind.DEAD, FailureKind.SATURATED, FailureKind.CAST, FailureKind.NOISE):
            hits = (cells == kind).view(np.uint8)
            if not hits.any():
                continue
            ring = cv2.dilate(hits, kernel) & ~hits & (cells == FailureKind.CLEAN)
            if not ring.any():
                continue
            if kind is FailureKind.NOISE:  # only ring cells partly covered by noise:
                # more textured than the floor allows and than the cell's own past
                partly = stats.texture >= 0.4 * cfg.noise_floor_texture
                if self._texture_base is not None and self._texture_base.shape == partly.shape:
                    partly &= stats.texture >= cfg.noise_novel_ratio * self._texture_base
                ring &= partly.view(np.uint8)
                if not ring.any():
                    continue
            # Work only on the bounding box of the ring: full-resolution passes stay local, and
            # they are OpenCV passes on 0/255 uint8 masks (numpy bool passes cost 3x more).
            x, y, w, h = cv2.boundingRect(ring)
            rows = slice(y * cfg.cell, min(labels.shape[0], (y + h) * cfg.cell))
            cols = slice(x * cfg.cell, min(labels.shape[1], (x + w) * cfg.cell))
            box = (rows.stop - rows.start, cols.stop - cols.start)
            ring_pixels = cells_to_pixels(
                ring[y : y + h, x : x + w] * np.uint8(255), box, cfg.cell
            )
            if kind is FailureKind.DEAD:
                level = max(cfg.dead_max_gray, float(stats.gray[hits.view(bool)].mean()) + 6.0)
                rule = cv2.compare(gray[rows, cols], level, cv2.CMP_LE)
                rule &= self._covered_pixels(gray, (rows, cols), dead_before)
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
            if kind is FailureKind.DEAD and cfg.dead_ring_change > 0.0:
                # What this frame labels dead (cells and ring): a frame from now, its pixels
                # that stay as dark stay covered, wherever the cell rules then leave them.
                self._dead_pixels = cv2.compare(labels, int(FailureKind.DEAD), cv2.CMP_EQ)
        self._mark_rim(cells, stats, labels)
        self._mark_blockage_rims(cells, stats, labels)

    def _covered_pixels(
        self, gray: np.ndarray, box: tuple[slice, slice], joined: np.ndarray | None
    ) -> np.ndarray:
        """(h, w) uint8 0/255 over ``box`` of (H, W) luma ``gray``: pixels a failure covered.

        Their 3 x 3 mean luma moved by ``dead_ring_change`` levels since the previous frame
        (darker, or brighter: a dead level of 5 over a black sky at 2; the mean keeps most of a
        pixel's sensor noise out), or the pixel itself by :data:`DEAD_RING_PIXEL_CHANGE`, or
        they are in ``joined`` ((H, W) uint8 0/255, the pixels labelled dead a frame ago: a
        block that stays keeps its edge). All 255 with the rule off or no previous frame of
        this size. Luma, not colour: the three channels' means took
        6.5 ms over a 720p burst's ring ("A dead block's edge takes only what it covered").
        """
        cfg, previous = self.config, self._previous
        rows, cols = box
        now = gray[box]
        if (
            cfg.dead_ring_change <= 0.0
            or previous is None
            or previous.gray_full.shape != gray.shape
        ):
            return np.full(now.shape, 255, dtype=np.uint8)
        # The means of the box's edge pixels take the pixels beyond it (not its reflection).
        top, left = max(0, rows.start - 1), max(0, cols.start - 1)
        grown = (slice(top, rows.stop + 1), slice(left, cols.stop + 1))
        inner = (
            slice(rows.start - top, rows.start - top + now.shape[0]),
            slice(cols.start - left, cols.start - left + now.shape[1]),
        )
        # The change's sum over 3 x 3 pixels, exact integers (a rounded mean moves by a level
        # at every .5; one signed pass: 0.65 ms over a 720p frame, 2.8 ms as two sums).
        difference = cv2.subtract(gray[grown], previous.gray_full[grown], dtype=cv2.CV_16S)
        summed = cv2.boxFilter(difference, -1, (3, 3), normalize=False)[inner]
        level = 9.0 * cfg.dead_ring_change
        covered = cv2.compare(summed, level, cv2.CMP_GE) | cv2.compare(summed, -level, cv2.CMP_LE)
        # Or the pixel itself changed clearly: at a failure's edge beside another failure (a
        # dead block framed by white ones) the 3 x 3 sum of the darkening and the brightening
        # can cancel.
        own = cv2.absdiff(now, previous.gray_full[box])
        covered |= cv2.compare(own, DEAD_RING_PIXEL_CHANGE, cv2.CMP_GE)
        if joined is not None and joined.shape == gray.shape:
            covered |= joined[box]
        return covered

    def _mark_rim(self, cells: np.ndarray, stats: CellStats, labels: np.ndarray) -> None:
        """Label the soft rim of a detected dark blockage dead (``soft_edges.darkened_rim``)."""
        cfg, previous = self.config, self._previous
        hits = cells == FailureKind.DEAD
        self._far_rim = None
        if previous is None or not hits.any() or cfg.dead_rim_reach <= 0:
            self._rim = None
            return
        core = labels == FailureKind.DEAD
        rim, far = self._soft_rim(
            stats.gray_full,
            previous.gray_full,
            core,
            float(stats.gray[hits].mean()),
            cfg.dead_soft_rim_reach,
            kept=self._rim,
            allowed=labels == FailureKind.CLEAN,
        )
        label_where(labels, rim, FailureKind.DEAD)
        self._rim = rim  # held while its core is
        if far is not None:
            far &= ~rim
            label_where(labels, far, FailureKind.DEAD)
            self._far_rim = far  # output only, as the blockage rim: neither held nor learnt

    def _soft_rim(
        self,
        gray: np.ndarray,
        before: np.ndarray,
        core: np.ndarray,
        level: float,
        soft_reach: float,
        kept: np.ndarray | None = None,
        allowed: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(H, W) bool: the rim of ``core`` toward ``level``, and where its edge is soft, farther.

        ``gray``, ``before``: (H, W) uint8 luma now and a frame ago (inverted for a lighter
        blob); ``core``: (H, W) bool. The rim covered ``1 - dead_rim_darkening`` of the way
        within ``dead_rim_reach``; where it holds ``soft_rim_min_width`` pixels per border pixel
        of the core (an out-of-focus blob: a block or a lost band has next to none), the rim
        covered ``1 - soft_rim_darkening`` of the way within ``soft_reach`` of the frame height,
        fitted over ``rim_fit_window`` (``soft_edges.darkened_rim``), outside the cells that
        held a failure a frame ago. Returns (rim, far rim or None).
        """
        cfg = self.config
        rim = darkened_rim(
            gray,
            before,
            core,
            level=level,
            reach_px=max(1, round(cfg.dead_rim_reach * core.shape[0])),
            darkening=cfg.dead_rim_darkening,
            kept=kept,
            allowed=allowed,
        )
        if cfg.soft_rim_min_width <= 0 or soft_reach <= 0 or not rim.any():
            return rim, None
        core8 = core.view(np.uint8)
        border = cv2.countNonZero(core8) - cv2.countNonZero(cv2.erode(core8, _CROSS))
        if cv2.countNonZero(rim.view(np.uint8)) < cfg.soft_rim_min_width * border:
            return rim, None
        if self._failed_before is not None:
            # a pixel's move from a failure a frame ago is that failure's end, no soft edge
            shown = ~cells_to_pixels(self._failed_before, core.shape, cfg.cell)
            allowed = shown if allowed is None else allowed & shown
        return rim, darkened_rim(
            gray,
            before,
            core,
            level=level,
            reach_px=max(1, round(soft_reach * core.shape[0])),
            darkening=cfg.soft_rim_darkening,
            kept=kept,
            allowed=allowed,
            fit_window=cfg.rim_fit_window,
        )

    def _mark_blockage_rims(self, cells: np.ndarray, stats: CellStats, labels: np.ndarray) -> None:
        """Label the soft rims of detected blockage, toward a darker or a lighter blob's level.

        Mud and a grey veil are out of focus too: around the flagged cells the scene is covered
        part of the way. Each flagged blockage region darkened or lightened against the previous
        frame; its rim is the pixels that moved toward its level by ``1 - dead_rim_darkening``
        of the way in this frame, farther where the edge is soft (``_soft_rim``, on inverted
        luma for a lighter blob). The rim is output only: its cells' looks still enter the
        history (kept as a failure's, they made a false blockage at night grow and hold a dead
        region for a second) and it is not held into the next frame. Sets
        ``self._blockage_rim`` (H, W) bool or None.
        """
        cfg, previous = self.config, self._previous
        hits = cells == FailureKind.BLOCKAGE
        self._blockage_rim = None
        if previous is None or not hits.any() or cfg.dead_rim_reach <= 0:
            return
        count, regions = cv2.connectedComponents(hits.view(np.uint8), connectivity=8)
        # Summed luma per region, now and a frame ago (the same cells: as their means compare).
        now_sums = np.bincount(regions.ravel(), stats.gray.ravel(), count)
        before_sums = np.bincount(regions.ravel(), previous.gray.ravel(), count)
        lighter = now_sums > before_sums
        lighter[0] = False
        core_pixels = labels == FailureKind.BLOCKAGE
        found = np.zeros(labels.shape, dtype=bool)
        for side in (False, True):
            side_cells = hits & (lighter[regions] == side)
            if not side_cells.any():
                continue
            core = core_pixels & cells_to_pixels(side_cells, labels.shape, cfg.cell)
            gray, before = stats.gray_full, previous.gray_full
            level = float(stats.gray[side_cells].mean())
            if side:  # toward a lighter level: the same rule on inverted luma
                gray, before, level = 255 - gray, 255 - before, 255.0 - level
            rim, far = self._soft_rim(
                gray,
                before,
                core,
                level,
                cfg.blockage_soft_rim_reach,
                allowed=labels == FailureKind.CLEAN,
            )
            if far is not None:
                rim |= far
            label_where(labels, rim, FailureKind.BLOCKAGE)
            found |= rim
        self._blockage_rim = found if found.any() else None

    # -- rows and columns --------------------------------------------------------------------


def _luma(bgr: tuple[int, int, int]) -> float:
    """Luma of a BGR colour as ``cv2.COLOR_BGR2GRAY`` computes it."""
    pixel = np.asarray(bgr, dtype=np.uint8).reshape(1, 1, 3)
    return float(cv2.cvtColor(pixel, cv2.COLOR_BGR2GRAY)[0, 0])


class DefectMaskSizeError(ValueError):
    """The defect mask was calibrated at another resolution than the frame's."""


def _fit_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Return the defect mask as bool; it fits one sensor resolution, so sizes must match."""
    if mask.shape != shape:
        raise DefectMaskSizeError(
            f"defect mask is {mask.shape[0]}x{mask.shape[1]} but the frame is "
            f"{shape[0]}x{shape[1]}: a dead-pixel map belongs to one sensor resolution"
        )
    return mask.astype(bool)


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"array {value.dtype} {value.shape}"
    return type(value).__name__


__all__ = ["DefectMaskSizeError", "Detection", "DetectorConfig", "FailureDetector", "grid_shape"]

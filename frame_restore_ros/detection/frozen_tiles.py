"""Frozen tiles: textured content that stopped changing while the scene around it moves.

A decoder or a link that repeats part of the frame leaves a tile bit-identical to the previous
frame. Codecs keep smooth or static scene identical too (a sky, a bonnet, a far facade), so a
tile counts only when it was live before (changing for ``frozen_moving_frames`` frames, lively
enough, or still for longer than its own change rate explains), stopped as a whole, and sits
in a moving ring; or when its border breaks against the moving scene (a seam, `seams.py`). It
ends as a whole too. Codec refreshes (a keyframe amid skipped frames) are told
apart by the share of cells that changed per frame. docs/detection.md, "Frozen tiles".
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import cv2
import numpy as np

from frame_restore_ros.detection.cell_stats import CellStats
from frame_restore_ros.detection.detector_config import DetectorConfig
from frame_restore_ros.detection.onset import (
    Hysteresis,
    drop_small,
    grow,
    nearby_any,
    within_extent,
)
from frame_restore_ros.detection.seams import border_steps, edge_ratios, seamed_regions

REFRESH_MEMORY_FRAMES = 64  # frames of changed shares kept: still runs longer than this are
# judged without knowing whether they began after a codec refresh
# A still region more than this share as dark as a dead cell is a black border or a dead block to
# the seam rule, not a frozen tile (0.5: night_rural frozen 0 -> 0.58, no false frozen patch on
# low_sun's pillarbox; with the dead-looking share instead, 0.7 measured the same and 0.9 let a
# pillarbox region through).
SEAM_MAX_DARK_SHARE = 0.5
# (luma (H, W) uint8) -> (row means, column means, dead rows, dead columns), as
# LineFailures.dark_lines: the seam rule leaves out the cells a dead line runs through.
DarkLines = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


class FrozenTiles:
    """One camera's per-cell still and moving runs, liveliness, and its frozen-tile rules.

    Attributes (None until the first frame's history; (rows, cols) each):
        still: int32, consecutive frames each cell has been identical to the previous one.
        moving: int32, frames the cell kept changing before its current still run.
        activity: float32, each cell's mean |luma change| per frame while it moved (an
            exponential average learnt on clean, changing cells only).
        change_rate: float32, the share of frames each cell changed in (an exponential
            average, ``frozen_rate_alpha`` per frame).
        rate_at_stop: float32, ``change_rate`` as it was when the current still run began.
    """

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.still: np.ndarray | None = None
        self.moving: np.ndarray | None = None
        self.activity: np.ndarray | None = None
        self.change_rate: np.ndarray | None = None
        self.rate_at_stop: np.ndarray | None = None
        self._activity_before: np.ndarray | None = None  # as it was before the last learn()
        # Share of cells that changed, per frame, newest last (codec refreshes: _after_refresh).
        self._changed_shares: deque[float] = deque(maxlen=REFRESH_MEMORY_FRAMES)

    def start(self, shape: tuple[int, int]) -> None:
        """Begin the runs and liveliness of a (rows, cols) grid at zero (the first frame)."""
        self.activity = np.zeros(shape, dtype=np.float32)
        self.still = np.zeros(shape, dtype=np.int32)
        self.moving = np.zeros(shape, dtype=np.int32)
        self._activity_before = None
        self.change_rate = np.zeros(shape, dtype=np.float32)
        self.rate_at_stop = np.zeros(shape, dtype=np.float32)

    def learn(self, motion: np.ndarray, moving: np.ndarray) -> None:
        """Blend (rows, cols) ``motion`` into the activity of the bool ``moving`` cells.

        Activity learns only while a cell moves, so it remembers how lively a cell was before
        it froze; a static bonnet or overlay never becomes "active".
        """
        alpha = self.config.activity_alpha
        self._activity_before = self.activity.copy()
        blended = (1 - alpha) * self.activity + alpha * motion
        np.copyto(self.activity, blended, where=moving)

    def unlearn_last(self, cells: np.ndarray) -> None:
        """Give the (rows, cols) bool ``cells`` back the activity they had before the last learn().

        For a change that came and went (``DetectorConfig.activity_return_step``): its way in
        was learnt a frame ago, before anyone could tell it would go back.
        """
        if self._activity_before is not None and self._activity_before.shape == cells.shape:
            np.copyto(self.activity, self._activity_before, where=cells)

    def find(
        self,
        stats: CellStats,
        excluded: np.ndarray,
        dark: np.ndarray,
        cut: bool,
        tracker: Hysteresis,
        dark_lines: DarkLines,
    ) -> np.ndarray:
        """Textured cells that stopped changing after changing before, while around them moves.

        ``excluded``: (rows, cols) bool, cells on or beside another failure; ``dark``: (rows,
        cols) bool, cells as dark as a dead one (for the seam rule); ``cut``: a scene cut in this
        frame (the cells' motion before it was another scene's); ``tracker``: the frozen
        class's hysteresis; ``dark_lines``: the frame's dead rows and columns, asked only
        when a still region is judged by its seam. Returns (rows, cols) bool flagged cells.
        """
        cfg = self.config
        if self.still is None:
            return tracker.update(*(np.zeros(stats.gray.shape, dtype=bool),) * 2)
        identical = stats.changed <= 0.0
        # The change rate a still run is judged by is the one it began with.
        np.copyto(self.rate_at_stop, self.change_rate, where=identical & (self.still == 0))
        self.change_rate *= 1.0 - cfg.frozen_rate_alpha
        self.change_rate += cfg.frozen_rate_alpha * ~identical
        # Frames the cell kept changing before its current still run: a frozen tile was live
        # content; a region the codec skips now and then (the focus of expansion, a far façade)
        # was identical in some recent frame.
        self.moving = np.where(
            identical, self.moving, np.where(self.still > 0, 1, self.moving + 1)
        ).astype(np.int32)
        still_before = self.still
        self.still = np.where(identical, self.still + 1, 0).astype(np.int32)
        self._changed_shares.append(1.0 - float(np.count_nonzero(identical)) / identical.size)
        if cut:  # a still part of the new scene had not been moving: it cannot have frozen
            self.moving.fill(0)
            self.change_rate.fill(0.0)
            self.rate_at_stop.fill(0.0)
        refreshed = self._after_refresh()
        if refreshed.size:
            excluded = excluded | refreshed
        ready = (
            (self.still >= cfg.frozen_frames - 1)
            & (stats.texture >= cfg.frozen_min_texture)
            & ~excluded
        )
        candidates = (
            ready
            & (self.moving >= cfg.frozen_moving_frames)
            & (self.activity >= cfg.frozen_min_activity)
        )
        live = candidates  # cells whose own history says they froze, whatever their group
        if cfg.frozen_rate_eps > 0.0:
            past = self._still_past_chance(ready) & ~candidates
            live = candidates | past
            candidates = candidates | self._stopped_together(past, candidates)
        held = identical & (tracker.flagged if tracker.flagged is not None else False)
        ended = np.zeros_like(held)
        if cfg.frozen_end_share > 0.0 and held.any():
            ended = self._ended_tiles(tracker.flagged, identical, still_before, live)
            held &= ~ended
        moving_ring = regions_with_moving_ring(
            candidates | held, stats.motion, identical, cfg.frozen_scene_motion
        )
        if held.any() and cfg.frozen_hold_motion < cfg.frozen_scene_motion:
            # A flagged tile stays while its surroundings keep moving at all: slow walls move
            # by a level or two from frame to frame, above and below the onset's level.
            moving_ring |= regions_with_moving_ring(
                held, stats.motion, identical, cfg.frozen_hold_motion
            )
        onset = drop_small(candidates & moving_ring, cfg.frozen_min_cells)
        onset |= self._seamed_tiles(stats, identical, excluded | held | onset, dark, dark_lines)
        # The rest of a frozen tile (its flat, once-moving cells) stopped with its textured core,
        # in the same frame: a tile stops as a whole. A sky the codec kept identical for longer,
        # that never moved, or road beside the tile that the codec keeps from a later frame on
        # is not taken (growing through every lately stopped cell took it frame after frame).
        joinable = (
            identical
            & (self.still <= cfg.frozen_frames - 1)
            & (self.activity >= cfg.frozen_grow_activity)
            & (self.moving >= cfg.frozen_grow_moving_frames)
        )
        seeds, grown = onset, np.zeros_like(onset)
        for run in np.unique(self.still[seeds]):
            same_run = self.still == run
            grown |= grow(seeds & same_run, joinable & same_run)
        # The size is judged on what stopped together; the fill below adds only content that
        # was identical already, which is no evidence of a freeze.
        share = math.ceil(cfg.frozen_min_tile_share * grown.size)
        onset = drop_small(grown, max(cfg.frozen_min_tile_cells, share))
        if cfg.frozen_fill_extent and onset.any():
            onset = self._fill_extent(onset, seeds & onset, joinable, identical)
        # Held while some of the tile's textured content stays identical: identical flat cells
        # carry no evidence of a freeze (a codec keeps a smooth sky identical after a freeze
        # over it ended) and are held only with such a core.
        held = identical & ((moving_ring & ~ended) | onset)
        return tracker.update(onset, grow(held & (stats.texture >= cfg.frozen_min_texture), held))

    def _ended_tiles(
        self,
        flagged: np.ndarray,
        identical: np.ndarray,
        still_before: np.ndarray,
        live: np.ndarray,
    ) -> np.ndarray:
        """(rows, cols) bool: cells of ``flagged`` tiles whose freeze ended, kept by the codec.

        ``flagged``: (rows, cols) bool, the frozen flags of the previous frame; ``identical``:
        (rows, cols) bool, cells identical to the previous frame; ``still_before``: (rows, cols)
        int, the still runs of the previous frame; ``live``: (rows, cols) bool, cells whose own
        history says they froze (a seed of the history or the rate rule, whatever its group;
        not the seam rule's). A tile
        (8-connected) ended when at least ``frozen_end_share`` of its cells changed: a
        decoder's freeze ends as a whole. Its cells still identical are scene the codec keeps
        (content taken in within the tile's extent, flat or static scene that stopped with
        it), unless they froze with the tile (its most common run) and are live, or joined to
        such cells within what froze with it: a freeze that shrank, which stays.
        """
        ended = np.zeros_like(flagged)
        count, labels = cv2.connectedComponents(flagged.view(np.uint8), connectivity=8)
        for region in range(1, count):
            inside = labels == region
            changed = np.count_nonzero(inside & ~identical)
            if changed >= self.config.frozen_end_share * np.count_nonzero(inside):
                run = np.bincount(still_before[inside]).argmax()
                with_it = inside & identical & (self.still == run + 1)
                ended |= inside & identical & ~grow(with_it & live, with_it)
        return ended

    def _still_past_chance(self, ready: np.ndarray) -> np.ndarray:
        """(rows, cols) bool: ``ready`` cells still for longer than their own change rate explains.

        ``ready``: (rows, cols) bool, still cells that could seed a tile (still for at least
        ``frozen_frames`` - 1 frames, textured, not beside another failure). A cell that
        changed in a share r of its frames before it stopped stays identical k frames running
        by chance with (1 - r)^k; at most ``frozen_rate_eps`` is past chance, when the content
        it showed should have drifted visibly meanwhile (motion EMA x r x k >=
        ``frozen_rate_drift``).
        """
        cfg = self.config
        if not ready.any():  # most frames of a moving scene: nothing still long enough
            return ready
        rate = np.clip(self.rate_at_stop, 1e-3, 0.999)
        needed = np.ceil(math.log(cfg.frozen_rate_eps) / np.log1p(-rate))
        return (
            ready
            & (rate >= cfg.frozen_rate_min)
            & (self.still >= needed)
            & (self.activity >= cfg.frozen_rate_activity)
            & (self.activity * rate * self.still >= cfg.frozen_rate_drift)
        )

    def _stopped_together(self, past: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """(rows, cols) bool: the ``past`` cells in a group that stopped in one frame.

        ``past``: (rows, cols) bool, cells still past chance (:meth:`_still_past_chance`);
        ``candidates``: (rows, cols) bool, the history rule's seeds. Kept where at least
        ``frozen_min_cells`` of either, 8-connected, stopped in the same frame: a tile stops as
        a whole, a codec's skipped blocks each in their own frame.
        """
        kept = np.zeros_like(past)
        for run in np.unique(self.still[past]):
            same_run = self.still == run
            kept |= drop_small((past | candidates) & same_run, self.config.frozen_min_cells)
        return kept & past

    def _fill_extent(
        self, tiles: np.ndarray, seeds: np.ndarray, joinable: np.ndarray, identical: np.ndarray
    ) -> np.ndarray:
        """(rows, cols) bool: ``tiles`` with the content the codec had kept before the freeze.

        ``tiles``: frozen tiles (rows, cols) bool, each a run of cells that stopped together;
        ``seeds``: their seeds (the textured, once-live content, or the seamed edge);
        ``joinable``, ``identical``: as in :meth:`_frozen_cells`. A decoder holds a block of
        macroblocks, and the block holds content the codec was already skipping (a dim street
        at night, a flat sky): it stopped earlier, so it did not stop with the tile. Within
        the extent of the seeds it is held with them; beyond it a sky the codec skips is not,
        nor within the extent of the whole tile (flat scene that stopped in the same frame
        reaches far).
        """
        filled = tiles.copy()
        for run in np.unique(self.still[seeds]):
            same_run = self.still == run
            earlier = (
                identical
                & (self.still >= run)
                & (self.activity >= self.config.frozen_grow_activity)
            )
            joining = (joinable & same_run) | within_extent(seeds & same_run, earlier)
            filled |= grow(tiles & same_run, joining)
        return filled

    def _after_refresh(self) -> np.ndarray:
        """(rows, cols) bool: still cells whose run began right after a codec refresh.

        An empty (0, 0) array when no refresh lies within the memory (most frames).

        A refresh frame changed at least ``frozen_refresh_share`` of the cells while the frames
        before and after it changed at most ``frozen_refresh_around`` as many (a keyframe amid
        skipped cells). The encoder skips again after it, all over the frame, in the same frame:
        such a stop is no evidence of a freeze, whatever the cells did before (the whole
        stream's requantised cells were "moving"). A camera moving fast changes most cells
        every frame: no refresh.
        """
        shares, limit = list(self._changed_shares), self.config.frozen_refresh_share
        around = self.config.frozen_refresh_around
        # still for `run` frames: the last change was `run` frames back, shares[-1 - run]
        runs = [
            run
            for run in range(1, len(shares) - 1)
            if shares[-1 - run] >= limit
            and max(shares[-2 - run], shares[-run]) <= around * shares[-1 - run]
        ]
        if not runs:  # most frames: no refresh in memory, nothing to allocate
            return np.zeros((0, 0), dtype=bool)
        return np.isin(self.still, runs)

    def _seamed_tiles(
        self,
        stats: CellStats,
        identical: np.ndarray,
        excluded: np.ndarray,
        dark: np.ndarray,
        dark_lines: DarkLines,
    ) -> np.ndarray:
        """(rows, cols) bool: still regions whose content breaks against the moving scene.

        A tile frozen while the scene moves shows a seam on its border (`seams.py`) that grows
        frame by frame, whether or not the codec skipped it now and then before (the history
        rule above needs four changing frames first). The region must have moved before it
        stopped (a static overlay or the bonnet has a seam of its own) and sit in a moving ring.
        A tile stops as a whole: the still cells (not another failure) still for as many frames
        as most cells along its breaking edges, and joined to them, froze together, its flat
        parts included (road that shows nothing now and drifts from the scene later); scene the
        codec kept identical beside it stopped in other frames. ``dark``: (rows, cols) bool,
        cells as dark as a dead one (see :data:`SEAM_MAX_DARK_SHARE`); ``dark_lines``: as in
        :meth:`find`.
        """
        cfg = self.config
        still = (
            identical
            & (self.still >= cfg.frozen_frames - 1)
            & (self.activity >= cfg.frozen_grow_activity)
            & ~excluded
        )
        seamed = np.zeros_like(still)
        if not still.any():
            return seamed
        # A failure beside a still region (a dead block next to a codec-still sky) breaks its
        # border too, and a dead line on the live side breaks every edge it runs along: only
        # the live scene counts, and only still scene joins a tile.
        _, _, dead_rows, dead_cols = dark_lines(stats.gray_full)
        lined = np.zeros_like(still)
        lined[np.unique(np.flatnonzero(dead_rows) // cfg.cell), :] = True
        lined[:, np.unique(np.flatnonzero(dead_cols) // cfg.cell)] = True
        excluded = excluded | nearby_any(lined, 1)
        still = drop_small(still & ~excluded, cfg.frozen_min_cells)
        live, joinable = ~identical & ~excluded, identical & ~excluded
        count, labels = cv2.connectedComponents(still.view(np.uint8), connectivity=8)
        across, beside, inner = border_steps(stats.gray_full, still, live, cfg.cell)
        ratios = edge_ratios(across, beside)
        region_of = labels[inner[:, 0], inner[:, 1]]
        for region in seamed_regions(region_of, ratios, cfg.frozen_seam_ratio):
            inside = labels == region
            # Mostly dark: a black border or a dead block, which always breaks against the
            # scene (and looks as if it had moved once a failure the detector missed covered
            # it). Dark cells join a tile only where lit content froze with them.
            if np.count_nonzero(inside & dark) > SEAM_MAX_DARK_SHARE * np.count_nonzero(inside):
                continue
            if not regions_with_moving_ring(
                inside, stats.motion, identical, cfg.frozen_scene_motion
            ).any():
                continue
            breaking = inner[(region_of == region) & (ratios >= cfg.frozen_seam_ratio)]
            runs = self.still[breaking[:, 0], breaking[:, 1]]
            run = np.bincount(runs).argmax()
            edge_cells = np.zeros_like(still)
            edge_cells[breaking[runs == run, 0], breaking[runs == run, 1]] = True
            seamed |= grow(edge_cells, joinable & (self.still == run))
        return seamed


def regions_with_moving_ring(
    regions: np.ndarray, motion: np.ndarray, still: np.ndarray, level: float
) -> np.ndarray:
    """(rows, cols) bool: the 8-connected ``regions`` whose ring of 2 cells moves >= ``level``.

    The ring is the cells within 2 of a region that are not ``still``; its mean ``motion`` (mean
    |luma difference| per cell) must reach ``level``: a frozen tile sits in a moving scene.
    """
    keep_cells = np.zeros(regions.shape, dtype=bool)
    if not regions.any():
        return keep_cells
    count, labels, boxes, _ = cv2.connectedComponentsWithStats(regions.view(np.uint8), 8)
    rows, cols = regions.shape
    kernel = np.ones((5, 5), np.uint8)
    for index in range(1, count):
        x, y, w, h = boxes[index, :4]
        window = (
            slice(max(0, y - 2), min(rows, y + h + 2)),
            slice(max(0, x - 2), min(cols, x + w + 2)),
        )
        region = (labels[window] == index).view(np.uint8)
        ring = cv2.dilate(region, kernel).view(bool) & ~still[window]
        if ring.any() and float(motion[window][ring].mean()) >= level:
            keep_cells[window] |= region.view(bool)
    return keep_cells


__all__ = [
    "REFRESH_MEMORY_FRAMES",
    "SEAM_MAX_DARK_SHARE",
    "FrozenTiles",
    "regions_with_moving_ring",
]

"""Failures of whole lines: dead rows and columns, and lost rows at the bottom of the frame.

Judged per row and column at pixel resolution (`line_measures.py`), at their onset only, and
held per line (`onset.RowHysteresis`). A dead line is flat, dark, uniform and breaks the lit
image it crosses; lost rows are a bottom run of rows each equal to the one below (a decoder's
fill colour, or the last good row repeated). docs/detection.md, "Dead lines" and "Lost rows".
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from frame_restore_ros.detection.detector_config import DetectorConfig
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.detection.line_measures import (
    bottom_run,
    flatness,
    line_means,
    lines_broken,
    lines_change,
    lines_moved,
    lines_uniform,
    lit_nearby,
)
from frame_restore_ros.detection.onset import RowHysteresis


class LineFailures:
    """One camera's dead rows, dead columns and lost rows, with each line's hysteresis."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.lost_rows = RowHysteresis()
        self.dead_rows = RowHysteresis(reach=2)
        self.dead_cols = RowHysteresis(reach=2)
        self.reset()

    def reset(self) -> None:
        """Forget every line's history."""
        self._lines_of: tuple | None = None  # (luma, its dark_lines): computed once a frame
        self._run_of: tuple | None = None  # (luma, its bottom run of lost-looking rows): likewise
        self._row_means: np.ndarray | None = None  # (H,) the previous frame's row means
        for tracker in (self.lost_rows, self.dead_rows, self.dead_cols):
            tracker.reset()

    def dark_lines(
        self, gray: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Row and column means of (H, W) luma, (H,) and (W,), and which of them look dead.

        A dead line is flat, dark and has a lit line beside it. Computed once per frame (the
        frozen seams and the line onsets both need it).
        """
        if self._lines_of is not None and self._lines_of[0] is gray:
            return self._lines_of[1]
        cfg = self.config
        row_mean = line_means(gray, axis=1)
        col_mean = line_means(gray, axis=0)
        # Gradients only where a line can be dead (dark, next to lit lines): most frames none.
        dead_rows = (row_mean <= cfg.line_max_gray) & lit_nearby(row_mean, cfg.line_lit_gray)
        dead_rows[dead_rows] = flatness(gray[dead_rows], axis=1) <= cfg.line_max_gradient
        dead_cols = (col_mean <= cfg.line_max_gray) & lit_nearby(col_mean, cfg.line_lit_gray)
        dead_cols[dead_cols] = flatness(gray[:, dead_cols], axis=0) <= cfg.line_max_gradient
        self._lines_of = (gray, (row_mean, col_mean, dead_rows, dead_cols))
        return self._lines_of[1]

    def lost_run(self, gray: np.ndarray) -> int:
        """Rows at the bottom of (H, W) luma that look lost (:func:`bottom_run`).

        Computed once a frame: the scene-cut test and the lost-row onsets both need it.
        """
        if self._run_of is None or self._run_of[0] is not gray:
            self._run_of = (gray, bottom_run(gray, self.config.lost_rows_max_gradient))
        return self._run_of[1]

    def _flagged_lost(self, shape: tuple[int, ...]) -> np.ndarray:
        """Return (H,) bool: the rows flagged lost in the previous frame (none after a resize)."""
        flagged = self.lost_rows.flagged
        if flagged is None or flagged.shape != shape:
            return np.zeros(shape, dtype=bool)
        return flagged.copy()

    def _end_as_a_whole(
        self, lost: np.ndarray, before: np.ndarray, row_mean: np.ndarray
    ) -> np.ndarray:
        """Return (H,) bool lost rows, none where the flagged run ended as a whole.

        ``before``: (H,) bool, the rows flagged lost in the previous frame. A decoder loses
        rows to the bottom in one piece: when more than ``lost_rows_end_share`` of them show
        scene again in one frame and no row is newly lost, the failure has ended, and the rows
        still looking lost whose level changed with it are the scene's own (a bonnet, a codec's
        repeated bottom rows: a row's level before the onset cannot tell after a long failure,
        the scene's light moved); rows still showing the same fill are a loss that shrank.
        """
        previous, means_before = int(np.count_nonzero(before)), self._row_means
        self._row_means = row_mean.copy()
        if previous == 0 or (lost & ~before).any():
            return lost
        if means_before is None or means_before.shape != row_mean.shape:
            return lost
        ended = previous - int(np.count_nonzero(lost & before))
        if ended <= self.config.lost_rows_end_share * previous:
            return lost
        changed = np.abs(row_mean - means_before) > self.lost_rows.returned_level
        self.lost_rows.release(lost & changed, row_mean)
        return lost & ~changed

    def mark(
        self,
        gray: np.ndarray,
        before: np.ndarray | None,
        labels: np.ndarray,
        repeated: bool,
        gain: float = 1.0,
    ) -> None:
        """Label dead rows/columns (flat, dark, across a lit image) and lost rows at the bottom.

        gray: (H, W) uint8 luma of this frame; before: (H, W) uint8 luma of the previous one
        (None: no previous frame, or a scene cut, whose lines were never seen before); labels:
        (H, W) uint8 FailureKind per pixel, written in place; repeated: the frame repeats the
        previous one (the lines flagged then are kept); gain: the scene's exposure change since
        the previous frame (:func:`onset.global_gain`): in a frame whose cells show no failure,
        a gain at least ``exposure_change`` from 1 is an exposure change, and a line changed
        when it moved away from its luma before times the gain (a failure does, the exposure
        change does not).

        Lost rows are a bottom run of rows each equal to the one below (one fill colour, or the
        last good row repeated). Both are flagged at their onset only: a black pillarbox border
        or a flat bonnet that was there before is scene.
        """
        cfg = self.config
        row_mean, col_mean, dead_rows, dead_cols = self.dark_lines(gray)
        run = self.lost_run(gray)
        looks_lost = np.zeros(gray.shape[0], dtype=bool)
        min_rows = max(cfg.lost_rows_min, math.ceil(cfg.lost_rows_min_share * gray.shape[0]))
        if run >= min_rows:
            looks_lost[-run:] = True
        if repeated:
            dead_rows, dead_cols = self.dead_rows.flagged, self.dead_cols.flagged
            lost = self.lost_rows.flagged
        else:
            # Other failures in this frame: their lines' means are not scene, and their own
            # change moves the cells' gain.
            failures = cv2.countNonZero(labels) > 0
            if (
                before is not None
                and cfg.exposure_change > 0
                and abs(gain - 1.0) >= cfg.exposure_change
                and not failures
            ):
                # An exposure change, measured where no cell shows a failure (a large white
                # block moves the cells' median ratio by itself).
                before = np.clip(before * np.float32(gain), 0.0, 255.0)
            # A line's onset needs its own content to change: a black border whose flat run
            # flickers by a few rows with codec noise is not a new failure.
            row_moved = lines_moved(gray, before, dead_rows | looks_lost, cfg.line_min_motion)
            # Lost rows are one structure: the rows of the run that did not look lost before
            # may also count as changed as a whole (a smear's first rows repeat the row just
            # above them and barely change; the run's far rows do): when they changed on
            # average, or a quarter of them did (the average is diluted by the columns a
            # smear or a black fill happens to match: a pillarbox border, the night).
            fresh_rows = looks_lost & ~self.lost_rows.looked_before(looks_lost.shape)
            if fresh_rows.any() and before is not None:
                top = int(np.flatnonzero(looks_lost)[0])
                # Scene never repeats a structured row exactly across the frame's width.
                # (The run is the bottom rows: a view; the one-row test first, the copy only then.)
                structured = float(gray[top].std()) >= cfg.lost_rows_smear_std
                structured = structured and bool((gray[top:] == gray[top]).all())
                if fresh_rows[top] and not row_moved[top] and fresh_rows.sum() > 1:
                    # The run's top row, unchanged, is the last good row that a smear
                    # repeats: genuine content (a decoder fill changes its top row too).
                    looks_lost[top] = fresh_rows[top] = False
                moved_share = np.count_nonzero(row_moved & fresh_rows) / fresh_rows.sum()
                change = lines_change(gray, before, fresh_rows)
                if (
                    moved_share >= cfg.lost_rows_moved_share
                    or change >= cfg.line_min_motion
                    or (structured and change >= cfg.lost_rows_smear_motion)
                ):
                    row_moved |= fresh_rows
            col_moved = lines_moved(
                gray.T, None if before is None else before.T, dead_cols, cfg.line_min_motion
            )
            dead_row_onset = (
                row_moved
                & lines_broken(gray, dead_rows, cfg.line_min_break)
                & lines_uniform(gray, dead_rows, cfg.line_max_std)
            )
            col_moved &= lines_broken(gray.T, dead_cols, cfg.line_min_break)
            col_moved &= lines_uniform(gray.T, dead_cols, cfg.line_max_std)
            covered_rows = covered_cols = None
            if failures:
                failed = labels != FailureKind.CLEAN
                covered_rows, covered_cols = failed.any(axis=1), failed.any(axis=0)
            dead_rows = self.dead_rows.update(dead_rows, dead_row_onset, row_mean, covered_rows)
            dead_cols = self.dead_cols.update(dead_cols, col_moved, col_mean, covered_cols)
            flagged_before = self._flagged_lost(looks_lost.shape)
            lost = self.lost_rows.update(looks_lost, row_moved, row_mean, covered_rows)
            lost = self._end_as_a_whole(lost, flagged_before, row_mean)
        if dead_rows is None or dead_cols is None or lost is None:
            return
        dead_rows, dead_cols = np.flatnonzero(dead_rows), np.flatnonzero(dead_cols)
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
        if int(np.count_nonzero(lost)) >= min_rows:
            labels[lost, :] = FailureKind.LOST_ROWS


__all__ = ["LineFailures"]

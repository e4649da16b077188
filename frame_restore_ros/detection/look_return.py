"""A cell's level jumping back to what it showed before a long steady look: a failure's end.

A failure that lasts (a veil, mud, a smear of lost rows, a dead block) holds its cells at one
steady look for many frames, flagged or missed. When it ends, the scene behind it comes back
as a jump, and after more than ``onset_memory_frames`` the cells' recent looks hold only the
failure: the scene's return looks as new as a failure's onset (a dark night where a grey veil
was is a dead block's look). What tells them apart is the cell's own longer past: the scene
comes back at about the level it showed right before the steady look began.

Per cell (the detector's 8x8 cells): the level at which its current look began (with a jump:
a change of more than ``jump`` levels from one frame to the next), for how many frames it has
gone without another jump, and the level the cell showed just before that look began. A jump
away from a look that held at least ``steady_frames`` frames,
back to within ``level`` of the level before it, or ``share`` of the jump that began the look
(the scene's light drifts over seconds), is a return: no onset there for ``frames`` frames (the
jump's frame included), while the detector learns the scene again.
"""

from __future__ import annotations

import numpy as np


class LookReturns:
    """Find the cells whose level jumped back to what they showed before a long steady look."""

    def __init__(
        self,
        jump: float,
        steady_frames: int,
        level: float,
        share: float,
        frames: int,
        detail: float = 0.5,
    ) -> None:
        self.jump, self.steady_frames, self.frames = jump, steady_frames, frames
        self.level, self.share, self.detail = level, share, detail
        self.reset()

    def reset(self) -> None:
        """Forget every cell's history (a start, a scene cut, a resolution change)."""
        self._previous: np.ndarray | None = None  # (rows, cols) float32, last frame's levels
        self._look: np.ndarray | None = None  # the level the current steady look began at
        self._steady: np.ndarray | None = None  # (rows, cols) int32 frames of that look
        self._before: np.ndarray | None = None  # the level just before it began (NaN: none)
        self._quiet: np.ndarray | None = None  # (rows, cols) int32 frames of quiet left
        self._look_texture: np.ndarray | None = None  # the look's mean texture so far

    def update(
        self, gray: np.ndarray, texture: np.ndarray, failed_before: np.ndarray | None = None
    ) -> np.ndarray:
        """Return (rows, cols) bool: the cells where no onset may start in this frame.

        ``gray``: (rows, cols) float32 cell mean luma of the frame; ``texture``: (rows, cols)
        float32 cell texture (mean |Laplacian|); ``failed_before``: (rows,
        cols) bool, the cells that showed a failure in the previous frame (flagged, or holding
        a failed pixel): a look that began by leaving one has no scene level before it (the
        next failure there, at that failure's level, is no return). A cell is quiet on a
        return's frame and the ``frames`` - 1 after it.
        """
        if self.steady_frames <= 0 or self.frames <= 0:
            return np.zeros(gray.shape, dtype=bool)
        if self._previous is None or self._previous.shape != gray.shape:
            self._previous = gray.astype(np.float32)
            self._look = self._previous.copy()
            self._steady = np.ones(gray.shape, dtype=np.int32)
            self._before = np.full(gray.shape, np.nan, dtype=np.float32)
            self._quiet = np.zeros(gray.shape, dtype=np.int32)
            self._look_texture = texture.astype(np.float32)
            return np.zeros(gray.shape, dtype=bool)
        # A sudden change since the previous frame (a slow drift starts no new look).
        jumped = np.abs(gray - self._previous) > self.jump
        # Back near the level before: within ``level``, or ``share`` of the jump that began the
        # look (the scene's light drifts while a failure lasts; the failure moved it far more).
        reach = np.maximum(self.level, self.share * np.abs(self._look - self._before))
        with np.errstate(invalid="ignore"):  # NaN: no level before; never a return
            back = np.abs(gray - self._before) <= reach
        # A failure hides the scene's detail: a cell whose texture fell under ``detail`` of the
        # look's is a failure beginning (a film landing on a wall whose level the scene showed
        # before), not one ending; an end keeps or brings back detail (at night, little).
        detail = texture >= self.detail * self._look_texture
        returned = jumped & (self._steady >= self.steady_frames) & back & detail
        self._quiet = np.where(returned, self.frames, np.maximum(self._quiet - 1, 0))
        if failed_before is not None and failed_before.shape == gray.shape:
            left_scene = np.where(failed_before, np.float32(np.nan), self._previous)
        else:
            left_scene = self._previous
        # A look that drifted away from its level without a jump ends too; the next one began
        # with no jump, so it has no level before it.
        drifted = ~jumped & (np.abs(gray - self._look) > self.jump)
        self._before = np.where(jumped, left_scene, np.where(drifted, np.nan, self._before))
        self._look = np.where(jumped | drifted, gray, self._look)
        self._steady = np.where(jumped | drifted, 1, np.minimum(self._steady + 1, 1 << 30))
        # The look's mean texture over its frames.
        mean = self._look_texture + (texture - self._look_texture) / self._steady
        self._look_texture = np.where(jumped, texture, mean).astype(np.float32)
        self._previous = gray.astype(np.float32)
        return self._quiet > 0


__all__ = ["LookReturns"]

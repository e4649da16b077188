"""The classes of camera failure the package detects, injects and reports."""

from __future__ import annotations

from enum import IntEnum


class FailureKind(IntEnum):
    """A failure class; the value is what class maps (uint8) store per pixel or block."""

    CLEAN = 0
    DEAD = 1  # black / dead block: very dark and flat
    SATURATED = 2  # white / saturated block: very bright and flat
    FROZEN = 3  # unchanged for k frames while the rest of the frame moves
    NOISE = 4  # texture energy far above the block's own running baseline
    CAST = 5  # flat colour-cast macroblock (green or gray blocks of a broken H.264/MJPEG stream)
    LOST_ROWS = 6  # transmission loss: rows to the bottom of the frame filled with one colour
    WHOLE_FRAME = 7  # everything failed: nothing to repair from
    EXTERNAL = 8  # from an external mask (static dead-pixel map or mask topic)
    BLOCKAGE = 9  # something on the lens: dark tape, mud, a veil or water drops (soft-edged)
    REPEATED_FRAME = 10  # the driver published the previous frame again: no pixel to repair

    @property
    def label(self) -> str:
        return self.name.lower()

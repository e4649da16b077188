"""Which failure the detection evaluation injects on which frame, and for how long.

:data:`CLASSES` names every class ``eval-detection`` injects (report name -> registry item of
:mod:`frame_restore_ros.synthetic.injection`). :class:`InjectionSchedule` is one stream's draw:
every ``every``-th frame a failure, the classes taking turns; with ``hold`` > 1 each failure
stays ``hold`` frames at the same pixels (a persistent failure), scored in the rows of
:func:`held_bucket` (30 frames each: a second at 30 fps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from frame_restore_ros.synthetic.corruption import Corruption, FreezeEpisode
from frame_restore_ros.synthetic.injection import InjectionItem

# The classic single-frame failures (report name -> registry item); the restorer's tests use them.
CASES: dict[str, InjectionItem] = {
    "dead": InjectionItem("dead", 2),
    "saturated": InjectionItem("saturated", 2),
    "noise": InjectionItem("noise", 2),
    "cast": InjectionItem("cast", 2),
    "dead_lines": InjectionItem("lines"),
    "lost_rows": InjectionItem("bottom"),
    "whole_frame": InjectionItem("whole"),
}

# Every class the evaluation injects, old and new (report name -> registry item).
CLASSES: dict[str, InjectionItem] = {
    **CASES,
    "dead_columns": InjectionItem("columns"),
    "blockage": InjectionItem("blockage"),
    "mud": InjectionItem("mud"),
    "veil": InjectionItem("veil"),
    "drops": InjectionItem("drops"),
    "lost_rows_black": InjectionItem("bottom_black"),
    "lost_rows_smear": InjectionItem("smear"),
    "night_noise": InjectionItem("night_noise"),
    "frozen": InjectionItem("freeze", 12),  # a long freeze
    "frozen_short": InjectionItem("freeze"),  # 1-3 frames
    "repeated_frame": InjectionItem("repeat"),
}

# Classes that last by themselves (a freeze) or have no failed pixel (a repeat): never held.
LASTING = ("frozen", "frozen_short", "repeated_frame")
HELD_BUCKET = 30  # frames of a held failure scored together (a second at 30 fps)
HELD_REST = 30  # clean frames after a held failure before the next (eval-detection's default)


def check_hold(kinds: Sequence[str], hold: int) -> None:
    """Raise ValueError naming the problem when ``kinds`` cannot be held ``hold`` frames."""
    if hold < 1:
        raise ValueError(f"hold must be >= 1 frame, got {hold}")
    lasting = [name for name in kinds if name in LASTING]
    if hold > 1 and lasting:
        raise ValueError(
            f"{', '.join(lasting)} cannot be held: a freeze lasts its own frames and a "
            "repeated frame is one; leave them out of the classes to hold failures"
        )


class InjectionSchedule:
    """Which class the injected stream damages next: every ``every``-th frame, in turn.

    Nothing is injected before frame ``lead_in`` (the detector's onset warm-up: a deployed
    node streams for far longer than it, so a failure in its first frames says nothing of
    a class's recall). With ``hold`` > 1 each failure stays where it began for ``hold``
    frames (drawn again from the same random state on every frame: the same pixels fail
    while the scene moves behind them), and the next begins after ``every`` clean frames.
    """

    def __init__(
        self,
        names: Sequence[str],
        every: int,
        rng: np.random.Generator,
        lead_in: int = 0,
        hold: int = 1,
    ) -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        check_hold(names, hold)
        self.names, self.every, self.rng, self.lead_in = list(names), every, rng, lead_in
        # With hold, every failure begins after ``every`` clean frames, the first one too.
        self.hold, self.rest = hold, (every if hold > 1 else 0)
        self.turn = int(rng.integers(len(self.names))) if self.names else 0
        self.episode: tuple[str, FreezeEpisode] | None = None
        self.held: tuple[str, int, int] | None = None  # class, its random seed, frames shown
        self.held_shape: tuple[int, ...] | None = None  # the frames' shape it was drawn on

    def damage(
        self, index: int, frame: np.ndarray, previous: np.ndarray | None
    ) -> tuple[str, Corruption] | None:
        """Return (class name, corruption) for frame ``index``, or None to leave it clean.

        A held failure's corruption has ``streak`` = the frames it has shown, this one
        included.
        """
        if self.held is not None and self.held[2] < self.hold:
            name, seed, shown = self.held
            if frame.shape == self.held_shape:
                return name, self._held_frame(name, seed, shown + 1, frame)
            # A resolution change ends it: the detector starts afresh, and the failure would
            # land on other pixels.
        if self.held is not None:  # the held failure ended the frame before
            self.held, self.rest = None, self.every
        if self.episode is not None:
            name, episode = self.episode
            result = episode.next(frame)
        elif self._begins(index, frame, previous):
            name = self.names[self.turn % len(self.names)]
            self.turn += 1
            if self.hold > 1:
                return name, self._held_frame(name, int(self.rng.integers(2**62)), 1, frame)
            result = CLASSES[name].apply(frame, self.rng, previous=previous)
        else:
            self.rest = max(self.rest - 1, 0)
            return None
        self.episode = None if result.episode is None else (name, result.episode)
        return name, result

    def _begins(self, index: int, frame: np.ndarray, previous: np.ndarray | None) -> bool:
        """Whether a failure begins on frame ``index`` (with ``hold``: after ``every`` clean)."""
        if not self.names or index < self.lead_in or previous is None:
            return False
        if previous.shape != frame.shape:
            return False
        if self.hold > 1:
            return self.rest == 0
        return index % self.every == self.every - 1

    def _held_frame(self, name: str, seed: int, shown: int, frame: np.ndarray) -> Corruption:
        """Draw class ``name``'s failure of ``seed`` on ``frame``, its ``shown``-th frame."""
        self.held, self.held_shape = (name, seed, shown), frame.shape
        corruption = CLASSES[name].apply(frame, np.random.default_rng(seed))
        return replace(corruption, streak=shown)


def held_bucket(kind: str, streak: int, hold: int) -> str:
    """Return the row a held failure's frame is scored in: "dead 1-30", "dead 31-60", ...

    Rows of :data:`HELD_BUCKET` frames of the failure (a second at 30 fps); the last ends at
    ``hold`` ("dead 31-45" for failures held 45 frames).
    """
    first = (streak - 1) // HELD_BUCKET * HELD_BUCKET + 1
    return f"{kind} {first}-{min(first + HELD_BUCKET - 1, hold)}"


__all__ = [
    "CASES",
    "CLASSES",
    "HELD_BUCKET",
    "HELD_REST",
    "LASTING",
    "InjectionSchedule",
    "check_hold",
    "held_bucket",
]

"""Clean-reference tracking per camera: a mosaic of the newest good content of every region.

The frame is split into regions of ``REGION_PX`` x ``REGION_PX`` pixels. Every frame's good
pixels are copied into one mosaic buffer (a masked copy, no allocation per frame), and a region
whose failed share is at most ``max_failed_ratio`` is refreshed: its age (frames and header-stamp
seconds) restarts, and its failed pixels take the repaired values, so a few dead pixels do not
keep their neighbourhood from ever refreshing. The staleness bound applies per region: a failed
pixel is repairable only where its own region is fresh, so one persistent failure (a dirty lens
corner) passes through there and never stops repairs elsewhere. Memory stays flat: one mosaic and
two small per-region arrays per camera. The tracker resets on a resolution change and when time
goes backwards (bag loop, sim-time restart); the restorer resets it at a scene cut that finds
part of the frame failed (what the failed regions held shows the scene before the cut).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np

REGION_PX = 16  # region side, full-resolution pixels (docs/detection.md, "Reference tracking")


class ResetCause(str, Enum):
    """Why the tracker dropped its reference."""

    REQUESTED = "requested"
    RESOLUTION_CHANGE = "resolution_change"
    CLOCK_JUMP = "clock_jump"  # header time went backwards (bag loop, sim-time restart)
    SCENE_CUT = "scene_cut"  # the view changed at once while part of it failed


class Unavailable(str, Enum):
    """Why no reference can be used for a frame's failed pixels."""

    NONE_YET = "no_reference"  # their regions were never good since the start or the last reset
    TOO_OLD = "stale_reference"  # older than max_age_frames or max_age_s


DEFAULT_PROPAGATE = False  # measured: docs/evaluation.md, persistent failures


@dataclass
class TrackerConfig:
    """When a region takes a frame's content, and how long that content stays usable.

    Attributes:
        max_failed_ratio: a region refreshes (its age restarts) when at most this share of its
            pixels failed; its good pixels update the mosaic in every frame regardless.
        max_age_frames, max_age_s: a region older than either is not repaired from.
        propagate_repairs: the repaired pixels of every frame enter the mosaic, so a lasting
            failure is repaired from the previous repaired frame (one moment, one frame
            old) instead of from the content before it began; its regions still age from
            their last good content, so the age bounds still stop repairs that last too long.
        propagate_followed: propagate a frame's repairs (as ``propagate_repairs``) when they
            followed the scene's measured motion at every failed pixel (``Repair.followed``:
            ``align: ecc_flow`` interpolated the flow there). On blocks held 12 frames this
            gave +2.36 dB over hold and a temporal error below hold's (4.30 against 4.37);
            with the carried motion (``RepairOptions.motion_prior``) +2.87 dB and 4.34, and
            +2.56 / 4.68 without the propagation;
            lost rows at the frame's edge never qualify and keep the held reference
            (docs/evaluation.md, "Dense motion inside failures").
        propagate_enclosed: propagate a frame's repairs when the failures are enclosed by
            the clean scene (``Repair.enclosed``: every failed pixel between clean ones along
            its row or column), followed or not. On blocks held 12 frames (the carried motion
            on) the temporal error fell from 4.29 to 4.21 against hold's 4.37 (its interval
            below hold's now) at +2.91 dB over hold instead of +2.96; lost rows are not
            enclosed and keep the held reference (+1.80 dB: propagated they fell to +1.17;
            docs/evaluation.md, "Enclosed repairs enter the reference").
    """

    max_failed_ratio: float = 0.25
    max_age_frames: int = 30
    max_age_s: float = 1.5
    propagate_repairs: bool = DEFAULT_PROPAGATE
    propagate_followed: bool = True
    propagate_enclosed: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_failed_ratio < 1.0:
            raise ValueError(f"max_failed_ratio must be in [0, 1), got {self.max_failed_ratio}")
        if self.max_age_frames < 1:
            raise ValueError(f"max_age_frames must be >= 1, got {self.max_age_frames}")
        if self.max_age_s <= 0:
            raise ValueError(f"max_age_s must be > 0, got {self.max_age_s}")


@dataclass(frozen=True)
class Reference:
    """A usable reference for one frame.

    Attributes:
        frame: (H, W, 3) uint8, the mosaic (the tracker's own buffer, not to be modified).
        repairable: (H, W) bool, the failed pixels whose region is fresh; None when the lookup
            was given no failure mask.
        unrepairable: failed pixels whose region has no usable content (passed through).
        age_frames, age_seconds: age of the oldest region the repair draws on (for a lookup
            without a mask: of the newest content).
    """

    frame: np.ndarray
    repairable: np.ndarray | None
    unrepairable: int
    age_frames: int
    age_seconds: float


@dataclass(frozen=True)
class Lookup:
    """The answer of :meth:`ReferenceTracker.lookup`: a reference, or why there is none.

    ``unavailable`` and ``reason`` also describe the unrepairable part when there is a reference
    (``reference.unrepairable > 0``). ``age_frames`` / ``age_seconds``: the oldest content under
    the failed pixels, None when they have none.
    """

    reference: Reference | None
    unavailable: Unavailable | None = None
    reason: str = ""
    age_frames: int | None = None
    age_seconds: float | None = None


@dataclass(frozen=True)
class Reset:
    """A reset of the tracker: its cause and the details in words."""

    cause: ResetCause
    reason: str


class ReferenceTracker:
    """Keeps the reference mosaic of one camera and the age of each of its regions."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._mosaic: np.ndarray | None = None
        self._index = np.empty((0, 0), np.int64)  # (rows, cols) frame of the last refresh, -1
        self._stamp = np.empty((0, 0), np.float64)  # (rows, cols) header stamp of that frame
        self._area = np.empty((0, 0), np.int64)  # (rows, cols) pixels per region
        self._counts: tuple[int, int, np.ndarray] | None = None  # (frame, id(mask), counts)
        self._newest = (-1, 0.0)  # frame and stamp of the last update
        self._one_moment = False  # the mosaic shows one moment: the last update's
        self._count = 0
        self._last_stamp: float | None = None
        self.resets: Counter[ResetCause] = Counter()
        self.last_reset: Reset | None = None
        self.version = 0  # changes whenever the mosaic does

    def reset(self, cause: ResetCause = ResetCause.REQUESTED, reason: str = "requested") -> None:
        """Drop the reference (resolution change, clock jump, reset request)."""
        self._mosaic = None
        self._one_moment = False
        self._counts = None
        self._last_stamp = None
        self.version += 1
        self.resets[cause] += 1
        self.last_reset = Reset(cause, reason)

    def observe(self, frame: np.ndarray, stamp: float) -> Reset | None:
        """Register that ``frame`` arrived at header time ``stamp``; reset when needed.

        Returns the reset, or None when the history is kept. Call before :meth:`lookup`.
        """
        reset = None
        if self._mosaic is not None and self._mosaic.shape != frame.shape:
            reason = f"resolution changed {self._mosaic.shape[:2]} -> {frame.shape[:2]}"
            reset = Reset(ResetCause.RESOLUTION_CHANGE, reason)
        elif self._last_stamp is not None and stamp < self._last_stamp:
            reason = f"time went backwards {self._last_stamp:.3f} -> {stamp:.3f} s"
            reset = Reset(ResetCause.CLOCK_JUMP, reason)
        if reset is not None:
            self.reset(reset.cause, reset.reason)
        self._last_stamp = stamp
        self._count += 1
        return reset

    def lookup(self, stamp: float, failed: np.ndarray | None = None) -> Lookup:
        """Return the reference usable for a frame at ``stamp``, or why there is none.

        ``failed``: (H, W) bool, the frame's failed pixels; the reference then says which of
        them are repairable. Without it: the mosaic, if any region is fresh.
        """
        if self._mosaic is None:
            return Lookup(None, Unavailable.NONE_YET, "no clean reference yet")
        current = self._count - 1
        age_frames = current - self._index
        age_seconds = stamp - self._stamp
        seen = self._index >= 0
        max_frames, max_seconds = self.config.max_age_frames, self.config.max_age_s
        fresh = self._fresh(stamp)
        if failed is None:
            if not fresh.any():
                return Lookup(None, Unavailable.TOO_OLD, "every region is too old")
            newest, newest_stamp = self._newest
            age = (current - newest, stamp - newest_stamp)
            return Lookup(Reference(self._mosaic, None, 0, *age), None, "", *age)
        hit = self._failed_counts(failed) > 0
        had = hit & seen
        if not had.any():
            return Lookup(None, Unavailable.NONE_YET, "no clean reference yet for the failed area")
        oldest = (int(age_frames[had].max()), float(age_seconds[had].max()))
        used = hit & fresh
        stale = hit & ~fresh
        unavailable, reason = None, ""
        if stale.any():
            unavailable, reason = _why_unavailable(
                stale & seen, age_frames, age_seconds, max_frames, max_seconds
            )
        if not used.any():
            return Lookup(None, unavailable, reason, *oldest)
        if stale.any():
            repairable = failed & _expand(used, failed.shape)
            unrepairable = int(np.count_nonzero(failed)) - int(np.count_nonzero(repairable))
        else:
            repairable, unrepairable = failed, 0
        age = (int(age_frames[used].max()), float(age_seconds[used].max()))
        reference = Reference(self._mosaic, repairable, unrepairable, *age)
        return Lookup(reference, unavailable, reason, *oldest)

    def update(
        self,
        frame: np.ndarray,
        stamp: float,
        failed: np.ndarray | None = None,
        repaired: np.ndarray | None = None,
        followed: bool = False,
        enclosed: bool = False,
    ) -> None:
        """Take a frame's good content into the mosaic (after :meth:`lookup`, same frame).

        Args:
            frame: (H, W, 3) uint8, the output (the input, or the repaired frame).
            stamp: its header time, s.
            failed: (H, W) bool failed pixels; None for a clean frame (taken whole).
            repaired: (H, W) bool, the failed pixels ``frame`` holds repaired values for; they
                enter the mosaic in the regions that refresh.
            followed: the repair followed the measured motion at every failed pixel
                (``Repair.followed``); with ``propagate_followed`` it is propagated.
            enclosed: the repaired failures were enclosed by the clean scene
                (``Repair.enclosed``); with ``propagate_enclosed`` it is propagated.
        """
        current = self._count - 1
        if self._mosaic is None:
            self._allocate(frame)
        assert self._mosaic is not None
        if failed is None:
            np.copyto(self._mosaic, frame)
            self._index.fill(current)
            self._stamp.fill(stamp)
            self._one_moment = True
        else:
            counts = self._failed_counts(failed)
            refresh = counts <= self.config.max_failed_ratio * self._area
            config = self.config
            propagate = repaired is not None and (
                config.propagate_repairs
                or (followed and config.propagate_followed)
                or (enclosed and config.propagate_enclosed)
            )
            if not propagate and self._holds(~refresh, stamp):
                self._counts = None
                return  # the mosaic stays one consistent moment while a failure is repaired

            taken = ~failed
            partly = refresh & (counts > 0)  # refreshing regions with failed pixels: rare
            if propagate:
                taken |= repaired  # the whole output: one moment, repaired regions included
            elif repaired is not None and partly.any():
                taken |= repaired & _expand(partly, failed.shape)
            cv2.copyTo(frame, taken.view(np.uint8), self._mosaic)
            self._one_moment = propagate  # else the failed pixels keep older content
            self._index[refresh] = current
            self._stamp[refresh] = stamp
        self._newest = (current, stamp)
        self._counts = None
        self.version += 1

    @property
    def frame(self) -> np.ndarray | None:
        """Return the mosaic: the tracker's own buffer, not to be modified; or None."""
        return self._mosaic

    @property
    def moment(self) -> float | None:
        """Header stamp (s) of the one moment the whole mosaic shows, or None.

        That is the last update's stamp when it took a clean frame whole or propagated a
        frame's repairs, and the mosaic has been held since; None when the mosaic mixes the
        good pixels of one frame with older content under its failures, or there is none.
        """
        if self._mosaic is None or not self._one_moment:
            return None
        return self._newest[1]

    @property
    def region_ages(self) -> np.ndarray | None:
        """(rows, cols) int64 frames since each region last refreshed, -1 = never; or None."""
        if self._mosaic is None:
            return None
        ages = (self._count - 1) - self._index
        ages[self._index < 0] = -1
        return ages

    def age(self, stamp: float) -> tuple[int | None, float | None]:
        """(frames, seconds) since the newest content of the mosaic, or (None, None) without."""
        if self._mosaic is None:
            return None, None
        return self._count - 1 - self._newest[0], stamp - self._newest[1]

    def _fresh(self, stamp: float) -> np.ndarray:
        """(rows, cols) bool: regions seen and within both age bounds for a frame at ``stamp``."""
        age_frames = (self._count - 1) - self._index
        return (
            (self._index >= 0)
            & (age_frames <= self.config.max_age_frames)
            & (stamp - self._stamp <= self.config.max_age_s)
        )

    def _holds(self, failing: np.ndarray, stamp: float) -> bool:
        """Whether to keep the mosaic as it is instead of taking this frame's good content.

        ``failing``: (rows, cols) bool, regions too failed to refresh. While one of them can still
        be repaired from the mosaic, the mosaic is held: its content under the failure and around
        it then come from the same moment, so ECC aligns the whole reference with one warp (a
        mosaic whose surroundings moved on while the failed region stayed K frames old repaired
        1.1-1.7 dB worse on a moving camera, for failures of 4-16 frames). The hold is renewed
        (this frame taken) every half of the age bounds, so held content never goes stale: only
        the failing regions themselves age out and then pass through.
        """
        if not (failing & self._fresh(stamp)).any():
            return False
        newest, newest_stamp = self._newest
        held_frames = (self._count - 1) - newest
        return (
            held_frames < self.config.max_age_frames // 2
            and stamp - newest_stamp < self.config.max_age_s / 2
        )

    def _allocate(self, frame: np.ndarray) -> None:
        """Start the mosaic from a copy of ``frame``, every region not yet seen."""
        self._mosaic = frame.copy()
        rows, cols = (-(-side // REGION_PX) for side in frame.shape[:2])
        self._index = np.full((rows, cols), -1, np.int64)
        self._stamp = np.zeros((rows, cols), np.float64)
        heights = np.diff(np.minimum(np.arange(rows + 1) * REGION_PX, frame.shape[0]))
        widths = np.diff(np.minimum(np.arange(cols + 1) * REGION_PX, frame.shape[1]))
        self._area = np.outer(heights, widths)

    def _failed_counts(self, failed: np.ndarray) -> np.ndarray:
        """(rows, cols) int failed pixels per region (cached for the frame's mask)."""
        key = (self._count, id(failed))
        if self._counts is not None and self._counts[:2] == key:
            return self._counts[2]
        if failed.shape != self._mosaic.shape[:2]:
            raise ValueError(f"mask {failed.shape} != frame {self._mosaic.shape[:2]}")
        # Region sums from the integral image: ~0.2 ms at 1280x720, 7x faster than reduceat.
        total = cv2.integral(failed.view(np.uint8), sdepth=cv2.CV_32S)
        rows = np.minimum(np.arange(self._index.shape[0] + 1) * REGION_PX, failed.shape[0])
        cols = np.minimum(np.arange(self._index.shape[1] + 1) * REGION_PX, failed.shape[1])
        corners = total[rows][:, cols]
        counts = corners[1:, 1:] - corners[:-1, 1:] - corners[1:, :-1] + corners[:-1, :-1]
        self._counts = (*key, counts)
        return counts


def _expand(regions: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(rows, cols) bool per region -> (H, W) bool per pixel."""
    pixels = np.repeat(np.repeat(regions, REGION_PX, axis=0), REGION_PX, axis=1)
    return pixels[: shape[0], : shape[1]]


def _why_unavailable(
    stale: np.ndarray,
    age_frames: np.ndarray,
    age_seconds: np.ndarray,
    max_frames: int,
    max_seconds: float,
) -> tuple[Unavailable, str]:
    """Name the reason failed regions cannot be repaired: too old (by frames or s) or none yet."""
    if not stale.any():
        return Unavailable.NONE_YET, "no clean reference yet for part of the failed area"
    frames = int(age_frames[stale].max())
    if frames > max_frames:
        return Unavailable.TOO_OLD, f"reference is {frames} frames old (max {max_frames})"
    seconds = float(age_seconds[stale].max())
    return Unavailable.TOO_OLD, f"reference is {seconds:.2f} s old (max {max_seconds:.2f} s)"

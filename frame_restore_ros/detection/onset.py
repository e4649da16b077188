"""Onset and hysteresis on a cell grid: a failure is a change, not a look.

A cell (or a row) is flagged only when a failure *signature* appears where the cell just showed
something else and nothing like it was nearby in the previous frame (an onset); it stays flagged
while the signature persists (hysteresis) and clears when it goes. A signature that was already
there (a dark bonnet, a pillarbox border, a night sky, a white car that drove in from the side) is
scene: it was never an onset, so it is never flagged.
"""

from __future__ import annotations

import cv2
import numpy as np


def global_gain(gray: np.ndarray, previous: np.ndarray, floor: float = 16.0) -> float:
    """Median luma ratio now / before over cells lit in both frames (exposure change, tunnel).

    gray, previous: (rows, cols) float32 mean luma per cell. Returns 1.0 without usable cells.
    """
    lit = (gray > floor) & (previous > floor)
    if int(np.count_nonzero(lit)) < 16:
        return 1.0
    return float(np.median(gray[lit] / previous[lit]))


def exposure_line(
    gray: np.ndarray,
    previous: np.ndarray,
    floor: float = 16.0,
    min_spread: float = 16.0,
    min_lit_share: float = 0.25,
) -> tuple[float, float] | None:
    """Luma now ~ slope x luma before + offset over cells lit in both frames, or None.

    A camera's tone curve has a black level: an exposure change through it moves dark content
    by a larger ratio than bright content (a road at 5.6 -> 22.5 while the frame's median ratio
    was 1.42), which the ratio of :func:`global_gain` does not model. The line goes through the
    medians (before, now) of the darker and the brighter half of the lit cells (split at the
    median before): robust to the few cells a failure or a moving object changes. None with
    fewer than 16 lit cells or less than ``min_lit_share`` of the cells lit (at night a few
    lights and the failure itself would make the line), or halves less than ``min_spread``
    levels apart (no lever).
    gray, previous: (rows, cols) float32 mean luma per cell.
    """
    lit = (gray > floor) & (previous > floor)
    count = int(np.count_nonzero(lit))
    if count < 16 or count < min_lit_share * lit.size:
        return None
    before, now = previous[lit], gray[lit]
    split = float(np.median(before))
    low, high = before <= split, before > split
    if not low.any() or not high.any():
        return None
    x1, x2 = float(np.median(before[low])), float(np.median(before[high]))
    if x2 - x1 < min_spread:
        return None
    y1, y2 = float(np.median(now[low])), float(np.median(now[high]))
    slope = (y2 - y1) / (x2 - x1)
    return slope, y1 - slope * x1


def nearby_min(grid: np.ndarray, reach: int) -> np.ndarray:
    """(rows, cols) float32 minimum over the (2 reach + 1)^2 cells around each cell."""
    kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    return cv2.erode(grid, kernel, borderType=cv2.BORDER_REPLICATE)


def nearby_max(grid: np.ndarray, reach: int) -> np.ndarray:
    """(rows, cols) float32 maximum over the (2 reach + 1)^2 cells around each cell."""
    kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    return cv2.dilate(grid, kernel, borderType=cv2.BORDER_REPLICATE)


def nearby_any(mask: np.ndarray, reach: int) -> np.ndarray:
    """(rows, cols) bool: any True within ``reach`` cells (Chebyshev distance)."""
    return nearby_max(mask.view(np.uint8), reach).view(bool)


def grow(seeds: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(rows, cols) bool: the 8-connected regions of ``candidates | seeds`` that hold a seed.

    A failure that appears next to look-alike scene (a dead block touching a car's shadow) has
    its seeds where nothing like it was near before; the rest of the block joins through the
    cells that took the signature in this same frame.
    """
    if not seeds.any():
        return seeds
    region = (candidates | seeds).view(np.uint8)
    count, labels = cv2.connectedComponents(region, connectivity=8)
    keep = np.zeros(count, dtype=bool)
    keep[labels[seeds]] = True
    keep[0] = False
    return keep[labels]


def within_extent(regions: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(rows, cols) bool: ``candidates`` inside the bounding box of a region of ``regions``.

    ``regions`` and ``candidates``: (rows, cols) bool; each 8-connected region of ``regions``
    spans its own box. A decoder holds a block of macroblocks (a lost slice or tile): what lies
    within the extent of the content that stopped together belongs to the same block.
    """
    inside = np.zeros_like(candidates)
    if not regions.any():
        return inside
    count, _, boxes, _ = cv2.connectedComponentsWithStats(regions.view(np.uint8), connectivity=8)
    for left, top, width, height, _ in boxes[1:count]:
        inside[top : top + height, left : left + width] = True
    return candidates & inside


def release_whole_regions(flagged: np.ndarray, hold: np.ndarray, share: float) -> np.ndarray:
    """(rows, cols) bool: ``hold`` without the flagged regions that mostly stopped holding.

    A failure ends as a whole: when fewer than ``share`` of the cells of an 8-connected region
    of ``flagged`` (the previous frame's flags) still hold, the block that made the region has
    gone, and the cells that still hold are scene that happened to look alike beside it (a
    night sky left beside lost rows that came back). ``share`` 0: every held cell stays.
    """
    if share <= 0.0 or not flagged.any():
        return hold
    count, labels = cv2.connectedComponents(flagged.view(np.uint8), connectivity=8)
    total = np.bincount(labels.ravel(), minlength=count)
    held = np.bincount(labels[flagged & hold], minlength=count)
    ended = held < share * total
    ended[0] = False
    return hold & ~ended[labels]


def drop_small(mask: np.ndarray, min_cells: int) -> np.ndarray:
    """(rows, cols) bool without its 8-connected regions of fewer than ``min_cells`` cells."""
    if min_cells <= 1 or not mask.any():
        return mask
    # Plain labelling and a bincount: connectedComponentsWithStats costs 6x more.
    count, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=8)
    keep = np.bincount(labels.ravel(), minlength=count) >= min_cells
    keep[0] = False
    return keep[labels]


class Hysteresis:
    """Per-cell flag of one failure class with onset, hold and release.

    ``update(onset, signature)`` returns the flagged cells: onsets are flagged; a cell flagged
    before stays flagged while ``signature`` holds, for at most ``max_hold`` frames (0: no limit);
    what looks failed for that long is scene. A released cell cannot be flagged again until its
    signature has gone.
    """

    def __init__(self, max_hold: int) -> None:
        self.max_hold = max_hold
        self.flagged: np.ndarray | None = None
        self.held: np.ndarray | None = None  # frames each cell has been flagged
        self.absorbed: np.ndarray | None = None  # released by max_hold while still failed-looking

    def reset(self) -> None:
        """Forget every flag."""
        self.flagged = self.held = self.absorbed = None

    @property
    def idle(self) -> bool:
        """Whether nothing is flagged or absorbed (an update without onsets changes nothing)."""
        return self.flagged is None or not (self.flagged.any() or self.absorbed.any())

    def update(
        self, onset: np.ndarray, signature: np.ndarray, hold: np.ndarray | None = None
    ) -> np.ndarray:
        """Return (rows, cols) bool flags for this frame from onsets and the current signature.

        ``hold``: (rows, cols) bool, where a flagged cell may stay flagged (default: where the
        signature holds); a class whose failure is steady passes its signature minus the cells
        whose content moved (the failure left and the scene behind it looks alike).
        """
        if self.flagged is None or self.flagged.shape != onset.shape:
            self.flagged = np.zeros(onset.shape, dtype=bool)
            self.held = np.zeros(onset.shape, dtype=np.int32)
            self.absorbed = np.zeros(onset.shape, dtype=bool)
        kept = self.flagged & (signature if hold is None else hold)
        if self.max_hold > 0:
            expired = kept & (self.held >= self.max_hold)
            self.absorbed |= expired
            kept &= ~expired
        self.absorbed &= signature
        flagged = (onset & ~self.absorbed) | kept
        self.held = np.where(flagged, self.held + 1, 0).astype(np.int32)
        self.flagged = flagged
        return flagged


class RowHysteresis:
    """Onset and hold for a run of failed-looking rows or columns (1-D).

    A line is flagged when it starts to look failed while neither it nor its neighbours looked
    so (unflagged, as scene) within the last ``memory`` frames; it stays flagged while it keeps
    looking failed.
    """

    def __init__(self, reach: int = 0, returned_level: float = 3.0, memory: int = 8) -> None:
        self.reach = reach
        self.returned_level = returned_level
        self.memory = memory  # a line that looked failed within this many frames is no onset
        self.looked: np.ndarray | None = None  # looked failed within the last ``memory`` frames
        self._since: np.ndarray | None = None  # frames since each line last looked failed
        self.flagged: np.ndarray | None = None
        self.clean_values: np.ndarray | None = None  # each line's mean when last unflagged
        self.look_values: np.ndarray | None = None  # ... when it last looked failed, unflagged

    def reset(self) -> None:
        """Forget every flag."""
        self.looked = self.flagged = self.clean_values = self.look_values = self._since = None

    def looked_before(self, shape: tuple[int, ...]) -> np.ndarray:
        """Return (n,) bool: lines that looked failed within ``memory`` frames, or were flagged.

        All False before the first update or after a resize.
        """
        if self.looked is None or self.looked.shape != shape or self.flagged is None:
            return np.zeros(shape, dtype=bool)
        return self.looked | self.flagged

    def update(
        self,
        looks: np.ndarray,
        changed: np.ndarray | bool = True,
        values: np.ndarray | None = None,
        covered: np.ndarray | None = None,
    ) -> np.ndarray:
        """Return (n,) bool flags from (n,) bool failed-looking lines; onsets need ``changed``.

        ``values`` (n,) (each line's mean luma) release a flagged line that shows again what it
        showed before its onset, within ``returned_level``: a black bonnet that a grey decoder
        fill covered for a moment still looks "lost" when the camera recovers, but it is back.
        A line that looked failed as scene (a bonnet, a pillarbox border) is new again when it
        looks failed at another level than it did then (a fill over the bonnet); a frame where
        it did not look failed (a failure the detector missed over it) does not move that level.
        ``covered`` (n,) bool: lines crossing another failure in this frame; their mean is not
        the scene's, so they keep the values they showed before.
        """
        if self.looked is None or self.looked.shape != looks.shape:
            self.looked = looks.copy()  # the first frame shows the scene: nothing is an onset
            self._since = np.where(looks, 0, self.memory + 1).astype(np.int32)
            self.flagged = np.zeros(looks.shape, dtype=bool)
            self.clean_values = None if values is None else values.astype(np.float32)
            self.look_values = None if values is None else values.astype(np.float32)
            return self.flagged.copy()
        before = self.looked
        if self.reach > 0:
            padded = np.pad(before, self.reach)
            windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * self.reach + 1)
            before = windows.any(axis=1)
        held = looks & self.flagged
        new = ~before
        if values is not None and self.clean_values is not None:
            held &= np.abs(values - self.clean_values) > self.returned_level
            # a flat look-alike (bonnet) now showing another flat fill
            new |= np.abs(values - self.look_values) > self.returned_level
        flagged = (looks & new & changed) | held
        if values is not None:
            if self.clean_values is None:
                self.clean_values = values.astype(np.float32)
                self.look_values = self.clean_values.copy()
            else:
                shows_scene = ~flagged if covered is None else ~flagged & ~covered
                np.copyto(self.clean_values, values, where=shows_scene)
                np.copyto(self.look_values, values, where=shows_scene & looks)
        # Only what looked failed unflagged is scene to remember; a flagged line was a failure.
        scene = looks & ~flagged
        self._since = np.where(scene, 0, np.minimum(self._since + 1, self.memory + 1))
        self.looked = self._since <= self.memory
        self.flagged = flagged
        return flagged.copy()

    def release(self, lines: np.ndarray, values: np.ndarray | None = None) -> None:
        """Unflag (n,) bool ``lines`` and take their look now for the scene's (as a bonnet).

        ``values``: (n,) each line's mean luma now, remembered as what they show as scene.
        """
        if self.flagged is None or self.flagged.shape != lines.shape:
            return
        self.flagged &= ~lines
        self._since[lines] = 0
        self.looked |= lines
        if values is not None and self.clean_values is not None:
            self.clean_values[lines] = values[lines]
            self.look_values[lines] = values[lines]


def drop_scene_extensions(onset: np.ndarray, scene: np.ndarray, share: float) -> np.ndarray:
    """(rows, cols) bool: ``onset`` without regions that merely extend look-alike scene.

    A dark region that appears where a lit object just left, inside a night scene that was dark
    all along, is the scene growing: at least ``share`` of the cells around the region already
    showed the signature (``scene``). A failure block has its own edge against live content,
    also where one side touches a shadow. Cells beyond the frame edge do not count.
    """
    if not onset.any():
        return onset
    count, labels = cv2.connectedComponents(onset.view(np.uint8), connectivity=8)
    kernel = np.ones((3, 3), np.uint8)
    keep = onset.copy()
    for region in range(1, count):
        inside = (labels == region).view(np.uint8)
        ring = (cv2.dilate(inside, kernel) & ~inside).view(bool) & ~onset
        if ring.any() and float(scene[ring].mean()) >= share:
            keep[labels == region] = False
    return keep


class CellHistory:
    """One per-cell value (luma, texture, a colour share) over the last ``frames`` frames.

    A ring buffer (frames, rows, cols): reducing over its first axis needs no stacking. The
    extremes are computed on demand. Arrays are (rows, cols) float32; the first ``add`` after a
    resolution change restarts it.
    """

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self._values = np.zeros((0, 0, 0), np.float32)
        self._count = self._next = 0

    def reset(self) -> None:
        """Forget every frame."""
        self._count = self._next = 0

    @property
    def full(self) -> bool:
        """Whether it has seen ``frames`` frames since the last reset or resolution change."""
        return self._count >= self.frames

    @property
    def count(self) -> int:
        """Frames held (at most ``frames``) since the last reset or resolution change."""
        return self._count

    def add(self, values: np.ndarray) -> None:
        """Store one frame's (rows, cols) values (copied)."""
        if self._count == 0 or self._values.shape[1:] != values.shape:
            self._values = np.empty((self.frames, *values.shape), np.float32)
            self._count = self._next = 0
        self._values[self._next] = values
        self._next = (self._next + 1) % self.frames
        self._count = min(self._count + 1, self.frames)

    def newest_first(self) -> list[np.ndarray]:
        """Return the stored frames, newest first: (rows, cols) float32 views into the buffer."""
        return [self._values[(self._next - 1 - age) % self.frames] for age in range(self._count)]

    def lowest(self) -> np.ndarray:
        """(rows, cols) float32 minimum over the stored frames."""
        return np.minimum.reduce(self._values[: self._count], axis=0)

    def highest(self) -> np.ndarray:
        """(rows, cols) float32 maximum over the stored frames."""
        return np.maximum.reduce(self._values[: self._count], axis=0)

    def extremes(self) -> tuple[np.ndarray, np.ndarray]:
        """(lowest, highest) over the stored frames."""
        return self.lowest(), self.highest()


class RecentLooks:
    """Per-cell extremes of luma and texture over the last ``frames`` frames.

    What a region showed a moment ago is not an onset when it shows it again: the night under a
    bridge coming back after a mud blob the detector missed, or after a lit truck left.
    Arrays are (rows, cols) float32; the first ``add`` after a resolution change restarts it.
    """

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self._gray, self._texture = CellHistory(frames), CellHistory(frames)
        self.min_gray = self.max_gray = self.max_texture = np.zeros((0, 0), np.float32)

    def reset(self) -> None:
        """Forget every frame."""
        self._gray.reset()
        self._texture.reset()

    def add(self, gray: np.ndarray, texture: np.ndarray) -> None:
        """Add one frame's (rows, cols) looks (copied) and update the extremes."""
        self._gray.add(gray)
        self._texture.add(texture)
        self.min_gray, self.max_gray = self._gray.extremes()
        self.max_texture = self._texture.highest()


def entering_from_edge(regions: np.ndarray, depth: int) -> np.ndarray:
    """(rows, cols) bool: the 8-connected ``regions`` that lie within ``depth`` cells of an edge.

    A region touching the frame's edge and reaching no deeper into the frame than ``depth``
    cells from it (the distance scene moves in one frame) may have entered the view in this
    frame: the camera never saw what it is, so it cannot be new against its own past (a white
    lane dash rising from the bottom edge). A failure block deeper than that is still judged.
    """
    entering = np.zeros(regions.shape, dtype=bool)
    if not regions.any() or depth <= 0:
        return entering
    count, labels, boxes, _ = cv2.connectedComponentsWithStats(regions.view(np.uint8), 8)
    for index in range(1, count):
        if box_enters_from_edge(boxes[index], regions.shape, depth):
            entering |= labels == index
    return entering


def box_enters_from_edge(box: np.ndarray, shape: tuple[int, int], depth: int) -> bool:
    """Whether a region of bounding box (x, y, w, h) cells may have entered at an edge.

    It touches the edge of a (rows, cols) grid and reaches no deeper than ``depth`` cells from
    it: from a top or bottom edge its height, from a side its width (:func:`entering_from_edge`).
    """
    if depth <= 0:
        return False
    rows, cols = shape
    x, y, w, h = (int(v) for v in box[:4])
    depths = [h] if y == 0 or y + h == rows else []
    depths += [w] if x == 0 or x + w == cols else []
    return bool(depths) and min(depths) <= depth

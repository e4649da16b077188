"""Something landing on the lens: a compact blob whose level or colour nothing near it showed.

Mud splashed on the lens, a grey film or a water drop covers a region in one frame, soft-edged
and semi-transparent: the region takes a level (brown, grey, the blurred scene brightened) that
none of the cells around it showed a moment ago. Natural content reaches a new level by moving
in from somewhere, so the cells it came from showed that level within a few cells (a car, a
shadow, the sky when the camera pitches); a light switching on is handled by the saturated rule.
What arrives in one frame faster than that is a thin strip at the leading edge of a fast object;
a blob on the lens is compact: it keeps a core after the region is eroded by a cell. The same
holds for a colour (mud of the road's own grey level), judged on each cell's colour shares, and
for a look, level and colour together (light brown mud over a beige façade: its level is the
façade's, its colour a dark window's, but no cell near showed both).

Functions work on (rows, cols) cell grids; the detector (``detector.py``) glues them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from frame_restore_ros.detection.onset import nearby_max, nearby_min


def novel_levels(
    gray: np.ndarray,
    darkest: np.ndarray,
    brightest: np.ndarray,
    margin: float,
    reach: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(brighter, darker) (rows, cols) bool: cells beyond every level near them before.

    A cell is brighter when its mean luma exceeds by more than ``margin`` the brightest level
    any cell within ``reach`` cells showed before (``brightest``), darker likewise below
    ``darkest``. All grids are (rows, cols) float32 mean luma, 0-255.
    """
    brighter = gray > nearby_max(brightest, reach) + np.float32(margin)
    darker = gray < nearby_min(darkest, reach) - np.float32(margin)
    return brighter, darker


def looks_seen_nearby(
    now: Sequence[np.ndarray],
    looks: Iterable[Sequence[np.ndarray]],
    cells: np.ndarray,
    reach: int,
    margins: Sequence[float],
) -> np.ndarray:
    """(rows, cols) bool: the True ``cells`` whose look a cell within ``reach`` showed before.

    now: F (rows, cols) float32 grids, each cell's features now (luma, blue and red shares);
    looks: earlier looks, each F grids like ``now``; margins: F floats. A cell's look was seen
    when, in one of ``looks``, one cell within ``reach`` cells (a square) had every feature
    within its margin of the cell's own (|difference| <= margin): the same look, not a level
    from one cell and a colour from another, as :func:`novel_levels` judges them. Only the
    cells of ``cells`` are compared (a few hundred of a frame's thousands), each until the
    first look that shows it.
    """
    rows, cols = np.nonzero(cells)
    height, width = cells.shape
    # Every cell's (2 reach + 1)^2 neighbours at once, (n, K) flat indices (np.take is cheaper
    # than 2-D indexing); clipped at the frame's edge (a clipped neighbour is a nearer cell).
    steps_down, steps_right = np.mgrid[-reach : reach + 1, -reach : reach + 1].reshape(2, -1)
    near_rows = np.clip(rows[:, np.newaxis] + steps_down, 0, height - 1)
    near_cols = np.clip(cols[:, np.newaxis] + steps_right, 0, width - 1)
    near = near_rows * width + near_cols
    own = [feature[rows, cols][:, np.newaxis] for feature in now]  # F x (n, 1)
    seen = np.zeros(rows.size, dtype=bool)
    for look in looks:
        todo = np.flatnonzero(~seen)
        if todo.size == 0:
            break
        where = near[todo]
        alike = np.ones(where.shape, dtype=bool)
        for grid, values, margin in zip(look, own, margins, strict=True):
            alike &= np.abs(np.take(grid, where) - values[todo]) <= np.float32(margin)
        seen[todo[alike.any(axis=1)]] = True
    out = np.zeros_like(cells)
    out[rows[seen], cols[seen]] = True
    return out


def compact_regions(mask: np.ndarray, min_cells: int, core: int = 1) -> np.ndarray:
    """(rows, cols) bool: the 8-connected regions of ``mask`` that are blobs, not strips.

    A region is kept when it has at least ``min_cells`` cells and keeps a core (any cell) after
    an erosion by ``core`` cells: a strip fewer than 2 ``core`` + 1 cells wide (the leading edge
    of a fast object) has none.
    """
    if cv2.countNonZero(mask.view(np.uint8)) < min_cells:  # most frames: nothing to label
        return np.zeros_like(mask)
    inner = None
    if core > 0:
        kernel = np.ones((2 * core + 1, 2 * core + 1), np.uint8)
        inner = cv2.erode(
            mask.view(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0
        )
        if not inner.any():
            return np.zeros_like(mask)
    # Plain labelling and a bincount: connectedComponentsWithStats costs 6x more here.
    count, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=8)
    keep = np.bincount(labels.ravel(), minlength=count) >= min_cells
    keep[0] = False
    if inner is not None:
        keep &= np.bincount(labels[inner.view(bool)], minlength=count) > 0
    return keep[labels]


def drop_scene_objects(
    blobs: np.ndarray,
    looks: Sequence[np.ndarray],
    opposite: np.ndarray,
    tolerance: float,
    reach: int,
    share: float,
    looks_before: Sequence[np.ndarray] | None = None,
    layer_rim: bool = False,
) -> np.ndarray:
    """(rows, cols) bool: ``blobs`` without the regions that an object in the scene explains.

    Per 8-connected region: its body is the region grown through the connected cells within
    ``tolerance`` of its median in every one of ``looks`` ((rows, cols) float32 grids: the
    luma for a blob at a new level, the colour shares for one of a new colour), i.e. the part
    of the object seen before, which its new part joins. The region is scene when
      * the body touches the frame edge: a near object (a bonnet, a pillar, a wall recess)
        entered from scene the camera did not see a moment ago;
      * or within ``reach`` cells of the body, cells outside the region that jumped the other
        way (``opposite``: darker where the region got brighter, the background an object
        uncovered) number at least ``share`` of the region's cells: it moved. Given
        ``looks_before`` (the same grids as ``looks``, each cell's look before), a cell against
        the body (within one cell of it) that came more than ``tolerance`` closer to the
        region's median look in every look is the blob's own soft rim, not uncovered
        background: what an object uncovers moves away from the object's look, and mud
        blotchy over light and dark scene pulls its rim toward itself, darkening some of it
        beside a blob that brightened on average. Scene drawn toward the blob's look farther
        out (a tone change at a bridge's exit pulls bright sky and dark road toward mid-grey)
        still counts.
    With ``layer_rim`` (a translucent layer, whose soft edge fades out over several cells),
    the rim is every cell connected to the body through cells drawn toward it, up to ``reach``
    cells out: more than ``tolerance`` closer in one look and no more than ``tolerance``
    farther in any (a film's rim over dark hills brightens toward the film's level and keeps
    its colour's distance).
    A blob landing on the lens has no body beyond itself and changes its own region only. Its
    own cells are its new look, not a place it left: a colour blob's sign is its mean luma
    change, and mud over light and dark scene darkens some of its cells and brightens others
    (counting them dropped most mud: recall 0.459 -> 0.595 without them, docs/detection.md).
    """
    if not blobs.any():
        return blobs
    count, labels = cv2.connectedComponents(blobs.view(np.uint8), connectivity=8)
    kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    keep = np.zeros(count, dtype=bool)
    for region in range(1, count):
        inside = labels == region
        alike = inside.copy()
        similar = np.ones_like(inside)
        centres = [np.float32(np.median(look[inside])) for look in looks]
        for look, centre in zip(looks, centres, strict=True):
            similar &= np.abs(look - centre) <= tolerance
        alike |= similar
        parts, part_of = cv2.connectedComponents(alike.view(np.uint8), connectivity=8)
        body = np.isin(part_of, np.unique(part_of[inside]))
        if body[0].any() or body[-1].any() or body[:, 0].any() or body[:, -1].any():
            continue
        around = cv2.dilate(body.view(np.uint8), kernel).view(bool) & ~inside
        uncovered = opposite & around
        if looks_before is not None and uncovered.any():
            if layer_rim:
                uncovered &= ~drawn_rim(body, looks, looks_before, centres, tolerance, reach)
            else:
                rim = cv2.dilate(body.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
                for look, before, centre in zip(looks, looks_before, centres, strict=True):
                    rim &= np.abs(look - centre) < np.abs(before - centre) - np.float32(tolerance)
                uncovered &= ~rim
        keep[region] = np.count_nonzero(uncovered) < share * np.count_nonzero(inside)
    return keep[labels]


def drawn_rim(
    body: np.ndarray,
    looks: Sequence[np.ndarray],
    looks_before: Sequence[np.ndarray],
    centres: Sequence[np.float32],
    tolerance: float,
    reach: int,
) -> np.ndarray:
    """(rows, cols) bool: the drawn cells joined to ``body`` through cells drawn toward it.

    A cell is drawn when it came more than ``tolerance`` closer to ``centres`` (the body's
    median looks) in one of ``looks`` since ``looks_before`` and went no more than
    ``tolerance`` farther in any; the rim grows from the body through drawn cells, one cell a
    step, for ``reach`` steps. The body's own drawn cells (it is grown beyond the region
    through cells alike now: the film's inner rim) belong to it as well. All grids
    (rows, cols); body bool.
    """
    closer = np.zeros_like(body)
    drawn = np.ones_like(body)
    margin = np.float32(tolerance)
    for look, before, centre in zip(looks, looks_before, centres, strict=True):
        distance, distance_before = np.abs(look - centre), np.abs(before - centre)
        closer |= distance < distance_before - margin
        drawn &= distance <= distance_before + margin
    drawn &= closer
    rim = body.copy()
    step = np.ones((3, 3), np.uint8)
    for _ in range(reach):
        grown = cv2.dilate(rim.view(np.uint8), step).view(bool) & (drawn | body)
        if np.array_equal(grown, rim):
            break
        rim = grown
    return rim & drawn

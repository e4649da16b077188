"""Onset and hysteresis of the failure detector; natural look-alikes on real driving frames."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from frame_restore_ros.detection import detector as detector_module
from frame_restore_ros.detection.detector import Detection, DetectorConfig, FailureDetector
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.media.video import iter_frames, read_frames, sample_video_path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def moving_scene(
    frames: int, shape=(96, 160), step: int = 3, seed: int = 0, blur: float = 1.5
) -> list[np.ndarray]:
    """(H, W, 3) uint8 frames of a smooth random texture (``blur`` sigma) panning ``step`` px."""
    import cv2

    rng = np.random.default_rng(seed)
    height, width = shape
    world = rng.integers(0, 256, size=(height, width + step * frames, 3), dtype=np.uint8)
    world = cv2.GaussianBlur(world, (0, 0), blur)
    world = cv2.normalize(world, None, 40, 220, cv2.NORM_MINMAX)
    return [np.ascontiguousarray(world[:, i * step : i * step + width]) for i in range(frames)]


def test_dead_block_is_flagged_at_its_onset_held_and_cleared():
    frames = moving_scene(16)
    box = (slice(32, 64), slice(48, 96))
    detector = FailureDetector()
    flagged = []
    for index, frame in enumerate(frames):
        if 5 <= index < 10:
            frame = frame.copy()
            frame[box] = 2
        flagged.append(detector.detect(frame).labels[box] == FailureKind.DEAD)
    assert not any(f.any() for f in flagged[:5])
    assert all(f.all() for f in flagged[5:10]), "onset flagged, then held while it persists"
    assert not any(f.any() for f in flagged[10:]), "cleared on recovery"


def _block_over_a_dim_border(config: DetectorConfig | None = None) -> list[int]:
    """Dead pixels flagged per frame: a dim border (level 12, just brighter than a dead cell)
    beside a lit scene; at frame 8 a dead block (level 9) covers it and the scene beside it for
    one frame; from frame 9 the border shows level 10 (dead-alike, and steady against the
    block's 9)."""
    detector = FailureDetector(config)
    flagged = []
    for index, frame in enumerate(moving_scene(14)):
        frame = frame.copy()
        frame[:, :24] = 12 if index < 8 else 10
        if index == 8:
            frame[32:64, :64] = 9
        flagged.append(int((detector.detect(frame, index / 30).labels == FailureKind.DEAD).sum()))
    return flagged


def test_dead_cells_back_at_their_level_before_the_block_are_released():
    """When a dead block leaves, the cells it covered that still look dead and steady (a dim
    border's edge at the threshold) show the level they had before its onset: scene, released.
    Before, they were held for 30 frames (low_sun in eval-detection: 369-613 px on 21 clean
    frames after a block at its pillarbox border)."""
    flagged = _block_over_a_dim_border()
    assert flagged[8] >= 32 * 64 * 0.9 and not any(flagged[:8])
    assert not any(flagged[9:]), flagged
    held = _block_over_a_dim_border(DetectorConfig(dead_returned_level=0.0))
    assert all(held[9:]), "without the rule the border's cells stay flagged"
    with pytest.raises(ValueError, match="dead_returned_level"):
        DetectorConfig(dead_returned_level=-1.0)


def test_dead_block_is_held_through_an_exposure_jump():
    """A dead block at level 6 is held while the scene's exposure jumps 40 % up and back (a
    tunnel exit): the block's level is steady as it was, not as the scene's gain scales it."""
    frames = moving_scene(14)
    box = (slice(32, 64), slice(48, 96))
    detector = FailureDetector()
    held = []
    for index, frame in enumerate(frames):
        if index in (8, 9, 10):
            frame = np.clip(frame.astype(np.float32) * 1.4, 0, 255).astype(np.uint8)
        if index >= 5:
            frame = frame.copy()
            frame[box] = 6
        held.append((detector.detect(frame).labels[box] == FailureKind.DEAD).mean())
    assert held[:5] == [0.0] * 5
    assert min(held[5:]) > 0.99, held


def test_failure_present_from_the_start_is_scene_unless_in_the_defect_mask():
    box = (slice(32, 64), slice(48, 96))
    frames = []
    for frame in moving_scene(8):
        frame = frame.copy()
        frame[box] = 2
        frames.append(frame)
    plain = FailureDetector()
    assert not any(plain.detect(frame).mask.any() for frame in frames)
    defect = np.zeros(frames[0].shape[:2], dtype=bool)
    defect[box] = True
    mapped = FailureDetector(DetectorConfig(defect_mask=defect))
    assert all(mapped.detect(frame).mask[box].all() for frame in frames)


def test_hold_ends_after_max_hold_frames():
    frames = moving_scene(14)
    box = (slice(32, 64), slice(48, 96))
    detector = FailureDetector(DetectorConfig(max_hold_frames=4))
    states = []
    for index, frame in enumerate(frames):
        if index >= 3:
            frame = frame.copy()
            frame[box] = 2
        states.append(bool(detector.detect(frame).mask[box].any()))
    assert states[3:7] == [True] * 4 and not any(states[7:]), states


TILE = (slice(16, 80), slice(32, 112))


def _frozen_from_frame_7(
    frames: list[np.ndarray],
    tile: tuple = TILE,
    until: int = -1,
    config: DetectorConfig | None = None,
) -> list:
    """Detections of ``frames`` whose ``tile`` keeps showing frame 6 from frame 7 on (before
    frame ``until`` when it is given), by a detector with ``config``."""
    detector = FailureDetector(config)
    results = []
    for index, frame in enumerate(frames):
        if index > 6 and (until < 0 or index < until):
            frame = frame.copy()
            frame[tile] = frames[6][tile]
        results.append(detector.detect(frame))
    return results


def test_frozen_tile_is_flagged_from_its_second_frozen_frame_while_the_scene_moves():
    frames = moving_scene(12)
    results = _frozen_from_frame_7(frames)
    # Frame 7 is the first frozen frame: one identical frame is what a codec skip block does too.
    assert not any(r.mask.any() for r in results[:8])
    for result in results[8:]:
        assert (result.labels[TILE] == FailureKind.FROZEN).mean() > 0.9


def _slowing_scene(rows: slice = slice(None), shape: tuple = (96, 160)) -> list[np.ndarray]:
    """Frames 0-8 pan 3 px per frame; from frame 9 the scene stops panning and ``rows`` of it
    brighten by one level per frame: they still change, slowly (cell motion 1 level)."""
    frames = moving_scene(9, shape=shape)
    for index in range(1, 6):
        frame = frames[8].copy()
        frame[rows] += np.uint8(index)
        frames.append(frame)
    return frames


def _held(frames: list[np.ndarray], config: DetectorConfig | None = None) -> list[float]:
    """Share of TILE flagged frozen per frame, TILE showing frame 6 from frame 7 on."""
    detector = FailureDetector(config)
    shares = []
    for index, frame in enumerate(frames):
        if index > 6:
            frame = frame.copy()
            frame[TILE] = frames[6][TILE]
        shares.append(float((detector.detect(frame).labels[TILE] == FailureKind.FROZEN).mean()))
    return shares


def test_frozen_tile_stays_flagged_while_its_surroundings_change_slowly():
    """Hysteresis on the ring's motion: an onset needs the ring around the still tile to move
    by ``frozen_scene_motion`` (2 levels), a flagged tile stays while it moves by
    ``frozen_hold_motion`` (1 level). In the tunnel clip the ring of a frozen tile moved by
    1.4-2.6 levels from frame to frame: with one threshold the tile was released on every
    other frame (frozen recall there 0.58 -> 0.89 with the hold threshold)."""
    frames = _slowing_scene()  # the ring moves by 1 level per frame from frame 9
    held = _held(frames)
    assert max(held[:8]) == 0.0 and min(held[8:]) > 0.9, held
    one_threshold = _held(frames, DetectorConfig(frozen_hold_motion=2.0))
    assert one_threshold[8] > 0.9 and max(one_threshold[9:]) == 0.0, one_threshold


def test_frozen_tile_is_released_when_its_surroundings_stop():
    # Only rows far below the tile keep changing (a frame identical everywhere would be a
    # repeated frame, which keeps every flag).
    frames = _slowing_scene(rows=slice(128, None), shape=(160, 160))
    held = _held(frames)
    assert held[8] > 0.9 and max(held[9:]) == 0.0, held


def test_frozen_hold_motion_is_validated():
    with pytest.raises(ValueError, match="frozen_hold_motion"):
        DetectorConfig(frozen_hold_motion=-1.0)
    with pytest.raises(ValueError, match="frozen_hold_motion"):
        DetectorConfig(frozen_hold_motion=3.0)  # above frozen_scene_motion


def test_frozen_tile_is_flagged_whole_including_its_flat_part():
    frames = moving_scene(12)
    for index, frame in enumerate(frames):  # a flat band that brightens: it moves, no texture
        frame[40:56] = 60 + 4 * index
    results = _frozen_from_frame_7(frames)
    assert not any(r.mask.any() for r in results[:8])
    for result in results[8:]:
        assert (result.labels[40:56, 32:112] == FailureKind.FROZEN).mean() > 0.9


def test_smooth_sky_is_released_when_the_freeze_over_it_ends():
    """A tile froze over a textured road and a smooth sky that had brightened until then (so
    the sky froze with it). When the freeze ends the road is live again; the codec keeps the
    smooth sky identical, which is no evidence of a freeze: it is no longer held."""
    frames = []
    for index, scene in enumerate(moving_scene(18, shape=(96, 160))):
        frame = scene.copy()
        frame[:40] = 100 + 3 * min(index, 6)  # a smooth sky, brightening until frame 6
        frame[40:56] = 118 + 3 * (index % 2)  # a smooth band between, live (it flickers)
        frames.append(frame)
    results = _frozen_from_frame_7(frames, tile=(slice(0, 72), slice(32, 128)), until=11)
    sky_frozen = [(r.labels[:40] == FailureKind.FROZEN).mean() for r in results]
    for result in results[8:11]:
        assert (result.labels[56:72, 32:128] == FailureKind.FROZEN).mean() > 0.9
    assert min(sky_frozen[8:11]) > 0.9, "the sky froze with the tile"
    assert max(sky_frozen[11:]) == 0.0, sky_frozen[11:]


def test_frozen_tile_does_not_take_scene_that_stopped_in_another_frame():
    """A tile stops as a whole: a codec-still band beside it that stopped later is scene.

    The band (flat, brightening, so it moved) stops changing three frames after the tile froze,
    as road the codec keeps identical does; growing the tile through every cell that stopped
    lately took such scene (frozen precision 0.844 before, 0.969 with the rule).
    """
    frames = moving_scene(13)
    for index, frame in enumerate(frames):
        frame[80:96] = 60 + 4 * min(index, 9)  # moves until frame 9, then the codec keeps it
    results = _frozen_from_frame_7(frames)
    for result in results[8:]:
        assert (result.labels[TILE] == FailureKind.FROZEN).mean() > 0.9
        assert not result.mask[80:96].any(), "the band stopped in another frame"


def _now_and_then_level(index: int) -> int:
    """A flat band's level in frame ``index``: the codec refreshes it in frames 2, 4 and 6 only
    (identical in between) and keeps it identical from frame 7 on."""
    return 60 + 4 * sum(1 for refresh in (2, 4, 6) if refresh <= index)


@pytest.mark.parametrize("grow_moving", [2, 0])
def test_frozen_tile_does_not_take_scene_the_codec_refreshed_now_and_then(grow_moving):
    """A tile stops as a whole, but what stopped in the same frame beside it after a single
    changed frame is the codec's skipping, not live content: a flat band the codec refreshes
    every other frame, last in frame 6, and keeps identical from frame 7, when the tile froze.
    With ``frozen_grow_moving_frames`` 2 the tile takes only cells that kept changing for two
    frames or more before they stopped; at 0 (before) it took the band (over three schedules
    of failures: frozen precision 0.894 -> 0.942, recall 0.758 -> 0.748; docs/detection.md)."""
    frames = moving_scene(13)
    band = (slice(16, 80), slice(112, 128))  # right of TILE, touching it
    for index, frame in enumerate(frames):
        frame[band] = _now_and_then_level(index)
    # The history rule alone: the seam rule grows through any identical cell (it finds what
    # the codec skipped before), so it is set out of reach here.
    config = DetectorConfig(frozen_grow_moving_frames=grow_moving, frozen_seam_ratio=1e9)
    results = _frozen_from_frame_7(frames, config=config)
    for result in results[8:]:
        assert (result.labels[TILE] == FailureKind.FROZEN).mean() > 0.9
    band_flagged = max(float(result.mask[band].mean()) for result in results[8:])
    if grow_moving:
        assert band_flagged == 0.0, "refreshed now and then: scene"
    else:
        assert band_flagged > 0.9, "without the rule the band stopped with the tile"


def test_frozen_grow_moving_frames_is_validated():
    assert DetectorConfig().frozen_grow_moving_frames == 2
    with pytest.raises(ValueError, match="frozen_grow_moving_frames must be >= 0"):
        DetectorConfig(frozen_grow_moving_frames=-1)


def _skipped_patch_level(index: int) -> int:
    """A flat patch's level in frame ``index``: it brightens until frame 4, the codec keeps
    it identical over frames 4-8 (it barely changed), and from frame 9 it brightens again."""
    return 60 + 4 * min(index, 4) + 4 * max(index - 8, 0)


@pytest.mark.parametrize("fill_extent", [True, False])
def test_frozen_tile_takes_what_the_codec_kept_before_within_its_extent(fill_extent):
    """A freeze holds a block of macroblocks, including content the codec was already keeping
    identical (a dim street at night, a flat sky): that content stopped before the tile, and
    once the scene there changes again the block shows it stale. Within the tile's extent
    (the bounding box of what stopped together) it is held with the tile; beside the tile,
    scene the codec keeps identical is not. urban_night's frozen tiles were found on a
    quarter of their cells without it (a development trace: 188 of 780)."""
    frames = moving_scene(14)
    inside, beside = (slice(40, 56), slice(56, 88)), (slice(40, 56), slice(0, 32))
    for index, frame in enumerate(frames):
        frame[inside] = _skipped_patch_level(index)
        frame[beside] = 60 + 4 * min(index, 4)  # the codec keeps it identical from frame 4 on
    detector = FailureDetector(DetectorConfig(frozen_fill_extent=fill_extent))
    results = []
    for index, frame in enumerate(frames):
        if index > 6:
            frame = frame.copy()
            frame[TILE] = frames[6][TILE]
        results.append(detector.detect(frame))
    assert not any(r.mask.any() for r in results[:8])
    for result in results[8:]:
        assert (result.labels[TILE] == FailureKind.FROZEN).mean() > 0.9 or not fill_extent
        patch_share = (result.labels[inside] == FailureKind.FROZEN).mean()
        assert patch_share == (1.0 if fill_extent else 0.0), patch_share
        assert not result.mask[beside].any(), "scene beside the tile that the codec keeps"


def _dim_scene_with_dark_patches(frames: int) -> list[np.ndarray]:
    """A night street: dim textured surfaces (luma 20-120) between flat dark patches (level 3,
    24 px every 40 px), panning one cell (8 px) per frame so the patches stay on whole cells.
    Every textured cell lies beside a dark, dead-looking one."""
    import cv2

    rng = np.random.default_rng(0)
    height, width, step = 96, 160, 8
    world = rng.integers(0, 256, size=(height, width + step * frames, 3), dtype=np.uint8)
    world = cv2.normalize(cv2.GaussianBlur(world, (0, 0), 1.5), None, 20, 120, cv2.NORM_MINMAX)
    for y in range(0, height, 40):
        for x in range(0, world.shape[1], 40):
            world[y : y + 24, x : x + 24] = 3
    return [np.ascontiguousarray(world[:, i * step : i * step + width]) for i in range(frames)]


def test_frozen_tile_among_dark_patches_is_flagged():
    """At night much of a scene is as dark as a dead block. Dark cells kept their neighbours
    out of the frozen rule (so that a dead block's textured edge is not a freeze): a tile that
    froze over a night street was never found (frozen recall on the rural night clip 0). The
    history rule now takes textured cells beside dark ones; the dark cells themselves, and a
    dead block's, never moved for frames before stopping, which the rule asks."""
    frames = _dim_scene_with_dark_patches(12)
    results = _frozen_from_frame_7(frames)
    assert not any(r.mask.any() for r in results[:8])
    for index, result in enumerate(results[8:], start=8):
        assert (result.labels[TILE] == FailureKind.FROZEN).mean() > 0.75
        # Beside the tile the onset may join a flat dark patch that panned onto another one:
        # identical to the frame before, so a repair changes nothing there.
        outside = result.mask & ~_box_mask(result.mask.shape, TILE)
        assert not (outside & (frames[index] != frames[index - 1]).any(axis=2)).any()
        assert not (outside & (frames[index].max(axis=2) > 3)).any()


@pytest.mark.parametrize("fill", [255, 0], ids=["saturated", "dead"])
def test_static_bonnet_that_a_failure_covered_for_a_frame_is_not_frozen(fill):
    """A static textured bonnet below a moving scene never moved, so it is no frozen tile. A
    failure that covers it for one frame changes it twice (into the block, back out): counted as
    motion, that made the bonnet "a region that moved, then stopped" with a seam against the
    road, flagged frozen for every later frame. A change into or out of a flagged failure is
    the failure's, not the scene's."""
    bonnet = moving_scene(1, shape=(40, 160), seed=5)[0]
    detector = FailureDetector()
    for index, frame in enumerate(moving_scene(18, shape=(128, 160))):
        frame = frame.copy()
        frame[88:] = bonnet
        if index == 8:
            frame[64:, 32:128] = fill
        found = detector.detect(frame, index / 30)
        assert found.mask.any() == (index == 8), (index, found.counts)


def _development_clip(name: str) -> Path:
    """The path of a clip of ../shared/data; skips the test (with a printed reason) without it."""
    path = DATA / name
    if not path.is_file():
        print(f"skipping: {path} not found (development data, see SOURCES.md)")
        pytest.skip(f"{path} not found")
    return path


def test_black_border_beside_failures_is_not_frozen_on_real_frames():
    """The low-sun clip has black pillarbox borders. Failures that cover a border now and then
    (mud, a veil, a colour cast, a lost frame; some of them missed) make it change, and a black
    border always breaks against the scene beside it: the seam rule takes no still region that
    is mostly dark (taking them lifted night frozen recall the same but flagged the border:
    17-49 false patches in a run of these failures)."""
    from frame_restore_ros.evaluation.detection_scores import DetectionReport, evaluate_clip

    path = _development_clip("driving_low_sun_640x360.mp4")
    report = DetectionReport()
    kinds = ("mud", "veil", "whole_frame", "cast")
    frames = read_frames(path, max_frames=120)
    evaluate_clip("low_sun", frames, FailureDetector, None, report, kinds=kinds, seed=1, gallery=0)
    scores = report.clips["low_sun"].ours
    assert {kind: scores[kind].false_positive for kind in kinds} == dict.fromkeys(kinds, 0)


def test_frozen_tiles_at_night_are_found_by_their_seam_on_real_frames():
    """A tile frozen over a rural road at night is mostly dark and flat: only its seam against
    the moving scene shows the freeze. Dark cells kept out of the seam rule, none of these
    tiles was found (recall 0); a still region half lit or more is judged like any other."""
    from frame_restore_ros.evaluation.detection_scores import DetectionReport, evaluate_clip

    frames = read_frames(_development_clip("driving_night_rural_640x360.mp4"), max_frames=150)
    report = DetectionReport()
    kinds = ("frozen", "frozen_short")
    evaluate_clip("night", frames, FailureDetector, None, report, kinds=kinds, seed=2, gallery=0)
    clip = report.clips["night"]
    frozen = clip.ours["frozen"]
    assert frozen.positives > 100 and frozen.recall > 0.5, (frozen.positives, frozen.recall)
    assert frozen.false_positive == 0
    assert clip.false_alarms.as_dict()["mean_pct"] == 0.0


def _freezes_on(name: str, seed: int, configs: dict) -> dict:
    """Per key of ``configs`` (key -> DetectorConfig): the clip report of freezes injected on
    the first 150 frames of development clip ``name`` on ``seed``'s schedule; the untouched
    stream flags nothing with any of them."""
    from frame_restore_ros.evaluation.detection_scores import DetectionReport, evaluate_clip

    frames = read_frames(_development_clip(name), max_frames=150)
    clips = {}
    for key, config in configs.items():
        report = DetectionReport()
        kinds = ("frozen", "frozen_short")
        make = functools.partial(FailureDetector, config)
        evaluate_clip(name, frames, make, None, report, kinds=kinds, seed=seed, gallery=0)
        clips[key] = report.clips[name]
        assert clips[key].false_alarms.as_dict()["mean_pct"] == 0.0
    return clips


def test_frozen_tiles_take_the_content_the_codec_kept_on_real_frames():
    """Low sun: part of each frozen tile is content the codec was already keeping identical
    (in the full evaluation an overexposed sky and a dim verge). With the fill, the tiles take
    it within their seeds' extent (measured: 1352 -> 1446 of 3652 patches found, recall
    0.370 -> 0.396, no new false alarm; with the surroundings judged frame to frame, before
    the protocol judged them since the freeze began, 0.616 -> 0.669 of 1891)."""
    scores = _freezes_on(
        "driving_low_sun_640x360.mp4",
        1,
        {fill: DetectorConfig(frozen_fill_extent=fill) for fill in (True, False)},
    )
    filled, plain = scores[True].ours["frozen"], scores[False].ours["frozen"]
    assert filled.positives == plain.positives > 1000
    gained = filled.true_positive - plain.true_positive
    assert gained >= 60, (filled.as_dict(), plain.as_dict())
    assert filled.precision >= 0.98, filled.as_dict()


def test_frozen_tiles_the_codec_skipped_now_and_then_are_found_on_real_frames():
    """Rain: the codec keeps 60-80 % of the cells identical from frame to frame, so few cells
    changed in the four frames before a freeze (the history rule). A tile still for longer
    than its cells' own change rate explains (``frozen_rate_eps``) is a freeze: on the first
    150 frames, seed 0's freezes went from none found to 327 of 1940 patches (measured), with
    no false patch and nothing flagged on the clean stream."""
    clips = _freezes_on(
        "driving_rain_windshield_640x360.mp4",
        0,
        {eps: DetectorConfig(frozen_rate_eps=eps) for eps in (0.02, 0.0)},
    )
    for clip in clips.values():
        assert clip.after_failures.as_dict()["mean_pct"] == 0.0
    by_rate, history_only = clips[0.02].ours["frozen"], clips[0.0].ours["frozen"]
    assert by_rate.positives == history_only.positives > 1000
    assert history_only.true_positive == 0, history_only.as_dict()
    assert by_rate.true_positive >= 250, by_rate.as_dict()
    assert by_rate.false_positive == 0, by_rate.as_dict()


def _codec_skipped(frames: list[np.ndarray], box: tuple[slice, slice], skip) -> list[np.ndarray]:
    """Frames where ``box`` repeats the previous shown frame wherever ``skip(index)`` is True."""
    shown = []
    for index, frame in enumerate(frames):
        frame = frame.copy()
        if index > 0 and skip(index):
            frame[box] = shown[-1][box]
        shown.append(frame)
    return shown


def test_codec_skip_close_to_the_truth_is_not_frozen():
    # A codec skips a block when its content barely moved: repeated for up to two frames, the
    # block still continues into the scene around it (no seam), and it never changed for four
    # frames running (the history rule). Slow pan of a smooth texture: 1 px per frame.
    frames = moving_scene(14, step=1, seed=3, blur=3.0)
    box = (slice(16, 48), slice(48, 96))
    shown = _codec_skipped(frames, box, lambda index: index % 3 != 0)
    detector = FailureDetector()
    flagged = [bool(detector.detect(frame).mask.any()) for frame in shown]
    assert not any(flagged), flagged


def test_short_freeze_of_codec_skipped_content_is_flagged_by_its_seam():
    # The codec skipped the block in one frame of three (one repeat: never frozen), so the
    # history rule cannot fire; then the block freezes for three frames while the scene pans
    # 3 px per frame. From its second frozen frame its content breaks at its border.
    frames = moving_scene(13)
    box = (slice(16, 64), slice(48, 112))
    shown = _codec_skipped(frames, box, lambda index: index % 3 == 1 or index >= 10)
    detector = FailureDetector()
    results = [detector.detect(frame) for frame in shown]
    assert not any(r.mask.any() for r in results[:11]), "single repeats and the first frozen frame"
    for result in results[11:]:
        assert (result.labels[box] == FailureKind.FROZEN).mean() > 0.9


def test_a_few_skipped_macroblocks_are_no_freeze_but_a_tile_of_four_is():
    """A codec skips a few 16-px macroblocks at a time (4 cells each) where content barely
    changed: three of them in a row, kept for three frames on a panning scene, were a frozen
    tile with a minimum of 8 cells (the transcoded urban_night and rain clips' false freezes);
    a tile of 2x2 macroblocks or more is what either frozen rule takes now."""
    frames = moving_scene(13)
    three = (slice(32, 48), slice(48, 96))  # 2 x 6 cells
    four = (slice(32, 64), slice(48, 80))  # 4 x 4 cells
    for box, flagged in ((three, False), (four, True)):
        shown = _codec_skipped(frames, box, lambda index: index >= 9)
        detector = FailureDetector()
        results = [detector.detect(frame) for frame in shown]
        assert not any(r.mask.any() for r in results[:10])
        found = [(r.labels[box] == FailureKind.FROZEN).mean() for r in results[10:]]
        assert min(found) > 0.9 if flagged else max(found) == 0.0, (box, found)
        assert not any((r.mask & ~_box_mask(r.mask.shape, box)).any() for r in results)


def test_a_skipped_region_under_a_share_of_a_large_frame_is_no_freeze():
    """Upscaled footage skips blocks three times as wide (a 16-px macroblock of a 640x360 clip
    is 48 px at 1080p): a 4 x 6-cell region kept for three frames clears the 16-cell tile
    minimum but not 0.8 % of this 45 x 80-cell frame (29 cells); a tile of 6 x 7 cells (1.2 %)
    is a freeze. Without the share the small region is flagged."""
    frames = moving_scene(13, shape=(360, 640))
    small = (slice(160, 192), slice(320, 368))  # 4 x 6 cells
    tile = (slice(160, 208), slice(320, 376))  # 6 x 7 cells
    for box, config, flagged in (
        (small, DetectorConfig(), False),
        (tile, DetectorConfig(), True),
        (small, DetectorConfig(frozen_min_tile_share=0.0), True),
    ):
        shown = _codec_skipped(frames, box, lambda index: index >= 9)
        detector = FailureDetector(config)
        results = [detector.detect(frame) for frame in shown]
        assert not any(r.mask.any() for r in results[:10])
        found = [(r.labels[box] == FailureKind.FROZEN).mean() for r in results[10:]]
        assert min(found) > 0.9 if flagged else max(found) == 0.0, (box, found)
        assert not any((r.mask & ~_box_mask(r.mask.shape, box)).any() for r in results)


def _box_mask(shape: tuple[int, int], box: tuple[slice, slice]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[box] = True
    return mask


def test_detection_bench_reports_no_false_alarm_on_a_moving_scene():
    from frame_restore_ros.bench.detection_bench import false_alarms, time_detection

    frames = moving_scene(12)
    record = false_alarms(frames)
    assert record["frames"] == 12 and record["mean_pct"] == 0.0 and record["untouched"] == 1.0
    speed = time_detection(frames, sizes=((64, 48),), damaged=())
    assert speed["64x48"]["frames"] == 7 and speed["64x48"]["p50_ms"] > 0.0
    assert speed["64x48"]["damaged"] == {}


def test_detection_bench_times_bursts_and_blocks_on_frames_it_finds_damaged():
    """The damaged rows time the failure path: their frames are flagged, the clean ones not."""
    from frame_restore_ros.bench.detection_bench import format_detection, time_detection

    frames = moving_scene(16, shape=(180, 320))
    speed = time_detection(frames, sizes=((320, 180),))["320x180"]
    assert speed["frames"] == 11
    burst, block = speed["damaged"]["patches"], speed["damaged"]["block"]
    assert burst["frames"] == block["frames"] == 5  # frames 7, 9, ..., 15 after the warm-ups
    assert burst["flagged_pct"] > 20.0  # 75 % failed; clean frames of this scene flag nothing
    assert 2.0 < block["flagged_pct"] < 12.0  # a quarter of each side: 6.25 %
    # The share of the failed pixels flagged: the dead block whole; of the burst (262 of the
    # 350 patches failed) no more than the flagged pixels hold.
    assert block["found_pct"] == 100.0
    assert 20.0 < burst["found_pct"] and burst["found_pct"] * 262 / 350 <= burst["flagged_pct"]
    text = format_detection(
        {"speed_clip": "scene", "speed": {"320x180": speed}, "false_alarms": {}}
    )
    assert "75 % burst" in text and "dead block" in text
    assert f"{block['found_pct']:.1f} % of the failed pixels found" in text
    assert f"{speed['page_faults_per_frame']} page faults a frame" in text
    assert isinstance(speed["page_faults_per_frame"], int) and speed["page_faults_per_frame"] >= 0
    del block["found_pct"]  # a record from before the share was measured: none shown
    older = format_detection({"speed_clip": "s", "speed": {"320x180": speed}, "false_alarms": {}})
    assert "dead block" in older and older.count("of the failed pixels found") == 1


def test_static_scene_is_not_frozen_and_a_repeated_frame_is_reported():
    frames = moving_scene(6)
    detector = FailureDetector()
    for frame in frames:
        detector.detect(frame)
    again = detector.detect(frames[-1].copy())
    assert again.repeated_frame and not again.mask.any()
    still = FailureDetector()
    for _ in range(6):
        assert not still.detect(frames[0]).mask.any()


def test_global_darkening_is_not_a_local_failure():
    frames = moving_scene(8)
    detector = FailureDetector()
    for index, frame in enumerate(frames):
        if index >= 4:  # tunnel entry: the whole image 8x darker at once
            frame = (frame // 8).astype(np.uint8)
        assert not detector.detect(frame).mask.any(), index


# Natural look-alikes on real clips (clean: every flagged pixel is a false alarm). The bounds
# are issue 17's targets: <= 0.2 % of pixels on average and >= 95 % of frames untouched (the
# second round's detector altered 26 % of tunnel frames, 20 % of urban_night's, 14 % of
# surveillance's); measured in docs/detection.md.
LOOKALIKES = {
    "driving_country_bluesky_640x360.mp4": "smooth and codec-identical sky",
    "driving_highway_solidWhiteRight_960x540.mp4": "white and dark cars, shadows",
    "driving_night_rural_640x360.mp4": "night: mostly black, headlights, a lit truck leaving",
    "driving_low_sun_640x360.mp4": "low sun, trees against it, dark pillarbox border and bonnet",
    "driving_urban_overcast_640x360.mp4": "overcast sky, car shadows, pedestrians",
    "driving_tunnel_1280x720.mp4": "tunnel lamps passing overhead",
    "driving_urban_night_1280x720.mp4": "city night: traffic lights, headlights, dark bridge",
    "surveillance_vtest_768x576.avi": "people in black coats clipped to 0",
    "driving_rain_windshield_640x360.mp4": "a codec keeping 83 % of pixels identical per frame",
}


@pytest.mark.parametrize("name", sorted(LOOKALIKES))
def test_natural_lookalikes_stay_unflagged(name):
    path = DATA / name
    if not path.is_file():
        print(f"skipping: {path} not found (development data, see SOURCES.md)")
        pytest.skip(f"{path} not found")
    detector = FailureDetector()
    ratios = [detector.detect(frame).failed_ratio for frame in iter_frames(path, max_frames=150)]
    assert float(np.mean(ratios)) <= 0.002, f"{LOOKALIKES[name]}: {np.mean(ratios):.4%}"
    altered = float(np.mean(np.array(ratios) > 0))
    assert altered <= 0.05, f"{LOOKALIKES[name]}: {altered:.1%} of clean frames altered"


def _lamp(frame: np.ndarray, centre: tuple[int, int], radius: int) -> np.ndarray:
    """A lamp: a saturated core with a soft halo (as a tunnel light or headlight)."""
    import cv2

    glow = np.zeros(frame.shape[:2], np.float32)
    cv2.circle(glow, centre, radius, 1.0, -1)
    glow = cv2.GaussianBlur(glow, (0, 0), radius / 4)
    glow = np.clip(glow * 1.3, 0.0, 1.0)[..., None]
    return np.clip(frame * (1 - glow) + 255.0 * glow, 0, 255).astype(np.uint8)


def test_moving_lamp_is_scene_but_a_saturated_block_is_a_failure():
    """A lamp moving 35 px (4 cells) a frame, beyond the onset reach, grows from its own core."""
    frames = moving_scene(9, shape=(240, 320))
    detector = FailureDetector()
    for index, frame in enumerate(frames[:8]):
        lamp = _lamp(frame, (20 + 26 * index, 220 - 24 * index), 16)
        assert not detector.detect(lamp).mask.any(), f"lamp flagged in frame {index}"
    block = frames[-1].copy()
    block[40:72, 120:168] = 255
    labels = detector.detect(block).labels
    assert (labels[40:72, 120:168] == FailureKind.SATURATED).mean() > 0.9


def test_saturated_block_beside_a_white_wall_is_a_failure_but_a_nearing_lamp_is_not():
    """A block touching a wall that stays saturated did not grow from it: the wall vacated
    nothing and the block covers scene of any level. A lamp coming closer grows through its glow.
    """
    frames = moving_scene(12, shape=(240, 320))
    detector = FailureDetector()
    for index, frame in enumerate(frames[:11]):
        frame = frame.copy()
        frame[:48] = 255  # an overexposed sky or white wall, there all along
        lit = _lamp(frame, (240, 150), 10 + 3 * index)  # radius 10 -> 40 px
        assert not detector.detect(lit).mask.any(), f"nearing lamp flagged in frame {index}"
    block = frames[11].copy()
    block[:48] = 255
    block = _lamp(block, (240, 150), 43)
    block[48:88, 40:120] = 255  # stuck high, its top edge on the sky
    labels = detector.detect(block).labels
    assert (labels[48:88, 40:120] == FailureKind.SATURATED).mean() > 0.9
    # The sky's last cell row turns flat with the block under it (a fresh signature the onset
    # grows through) and the per-pixel border test takes one row more: 2 cells, no further.
    assert not labels[:32].any(), "the sky stays scene"


def test_stuck_high_block_below_a_dark_grille_on_real_frames_is_a_failure():
    """bikes.mp4 frame 236 (the evaluation's case): an L-shaped stuck-high block on a lit
    pavement, its top edge under a dark window grille. Compared as two whole rings, the pixels
    just outside (mostly pavement) were brighter than those further out (reaching the grille):
    "a light's glow". Each pixel just outside against the pixels further out beside it shows
    the block's hard edge."""
    from frame_restore_ros.media.video import sample_video_path

    frames = iter_frames(sample_video_path("bikes.mp4"), max_frames=237)
    detector = FailureDetector()
    for index, frame in enumerate(frames):
        if index < 236:
            detector.detect(frame)
    block = np.zeros(frame.shape[:2], bool)
    block[199:228, 433:541] = True
    block[196:269, 477:541] = True
    damaged = frame.copy()  # the evaluation's stuck-high block: 20 x level + 200
    damaged[block] = np.clip(frame[block].astype(np.int32) * 20 + 200, 0, 255).astype(np.uint8)
    labels = detector.detect(damaged).labels
    assert (labels[block] == FailureKind.SATURATED).mean() > 0.9


def test_content_revealed_when_a_freeze_ends_is_no_dead_or_saturated_onset():
    """A tile showed a stale view for 8 frames; meanwhile a black car and a patch of glare came
    in behind it. When the view comes back, what it reveals has no history in the detector:
    it is scene, not a dead block or a stuck-high region."""
    frames = moving_scene(14, shape=(120, 192))
    tile = (slice(24, 72), slice(48, 144))
    detector = FailureDetector()
    for index, frame in enumerate(frames):
        frame = frame.copy()
        if index >= 9:  # the scene behind the tile: half a black car, half glare
            frame[24:72, 48:96] = 4
            frame[24:72, 96:144] = 255
        if 3 <= index < 11:
            frame[tile] = frames[2][tile]  # the decoder kept the tile of frame 2
        labels = detector.detect(frame).labels
        if index >= 11:
            found = set(np.unique(labels[tile]).tolist())
            assert not found & {FailureKind.DEAD, FailureKind.SATURATED}, (index, found)


def test_noise_burst_is_flagged_but_structure_appearing_is_not():
    """Independent per-pixel values are noise; a textured scene uncovered at once is not."""
    import cv2

    rng = np.random.default_rng(3)
    frames = moving_scene(10, shape=(128, 192))
    # Sharp structure (twigs: thin dark lines on a bright sky), hidden behind a dark pillar
    # until frame 6, when the pillar is gone; it pans with the scene (3 px per frame).
    world = np.full((128, 56 + 3 * 10, 3), 225, np.uint8)
    for _ in range(200):
        x0, y0 = rng.integers(0, world.shape[1]), rng.integers(0, 128)
        x1, y1 = x0 + rng.integers(-30, 30), y0 + rng.integers(-30, 30)
        cv2.line(world, (int(x0), int(y0)), (int(x1), int(y1)), (30, 30, 30), 1, cv2.LINE_AA)
    world = cv2.GaussianBlur(world, (0, 0), 0.5)  # the lens: no scene is sharper than its PSF

    def twigs(index: int) -> np.ndarray:
        return world[:, 3 * index : 3 * index + 56]

    detector = FailureDetector()
    for index, frame in enumerate(frames[:8]):
        frame = frame.copy()
        frame[:, 136:] = 25 if index < 6 else twigs(index)
        assert not detector.detect(frame).mask.any(), f"structure flagged in frame {index}"
    burst = frames[8].copy()
    burst[:, 136:] = twigs(8)
    burst[32:64, 16:64] = rng.integers(0, 256, size=(32, 48, 3), dtype=np.uint8)
    labels = detector.detect(burst).labels
    assert (labels[32:64, 16:64] == FailureKind.NOISE).mean() > 0.9
    assert not labels[:, 136:].any()


def _burst_then_a_passer_by(config: DetectorConfig | None = None) -> list[float]:
    """Share of a wall block flagged as noise per frame from frame 8: a moving scene with a flat
    grey wall on its right; noise bursts over a block of the wall in frames 8-10 (a burst that
    lasts); from frame 11 a passer-by's striped coat (sharp 2-pixel stripes: mean |Laplacian|
    126 against the burst's 155, far above the noise floor, but neighbour correlation 0.5
    against the burst's 0.0) walks over the block."""
    import cv2

    rng = np.random.default_rng(5)
    stripes = np.zeros((128, 192, 3), np.uint8)
    stripes[:, (np.arange(192) // 2) % 2 == 0] = 200
    stripes[:, (np.arange(192) // 2) % 2 == 1] = 40
    coat = cv2.GaussianBlur(stripes, (0, 0), 0.5)
    detector = FailureDetector(config)
    block = (slice(32, 80), slice(112, 176))
    shares = []
    for index, frame in enumerate(moving_scene(15, shape=(128, 192))):
        frame = frame.copy()
        frame[:, 96:] = 140  # the wall
        if 8 <= index <= 10:
            frame[block] = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
        if index >= 11:  # the coat, 3 px further left each frame
            left = 96 - 3 * (index - 11)
            frame[24:88, left:] = coat[24:88, : 192 - left]
        labels = detector.detect(frame).labels
        if index < 8:
            assert not labels.any(), f"clean frame {index} flagged"
        else:
            shares.append(float((labels[block] == FailureKind.NOISE).mean()))
    return shares


def test_a_burst_is_held_while_it_lasts_and_released_when_a_passer_by_covers_it():
    """A flagged noise region stays flagged while it is noise (pixels independent of their
    neighbours), not merely while it is textured: when the burst ends and a passer-by's
    striped coat fills the flagged cells, they keep the noise signature's texture but show
    scene. With the hold on the texture alone (`noise_hold_white` off) the coat stays
    flagged (as in the evaluation: a burst's cells over a wall held for 5 frames after it
    while a passer-by walked into them, on the surveillance camera)."""
    shares = _burst_then_a_passer_by()
    assert min(shares[:3]) > 0.9, f"the burst while it lasts: {shares[:3]}"
    assert max(shares[3:]) == 0.0, f"the coat after the burst: {shares[3:]}"
    held = _burst_then_a_passer_by(DetectorConfig(noise_hold_white=False))
    assert min(held[:3]) > 0.9 and min(held[3:5]) > 0.5, held


def night_scene(frames: int, shape=(96, 160), seed: int = 1) -> list[np.ndarray]:
    """A night road far from the headlights: luma 2-9, only sensor noise changes."""
    rng = np.random.default_rng(seed)
    return [rng.integers(2, 10, size=(*shape, 3), dtype=np.uint8) for _ in range(frames)]


def test_night_content_coming_back_after_a_failure_or_a_lit_object_is_not_dead():
    """What a region showed before (dark) returning is no onset of a dead block."""
    rng = np.random.default_rng(2)
    frames = night_scene(14)
    detector = FailureDetector()
    labels = []
    for index, frame in enumerate(frames):
        frame = frame.copy()
        if index == 4:  # a noise burst, then the night again
            frame[16:48, 16:64] = rng.integers(0, 256, size=(32, 48, 3), dtype=np.uint8)
        if 7 <= index < 10:  # a lit truck passing at the left edge, then the night again
            frame[40:88, :56] = rng.integers(60, 200, size=(48, 56, 3), dtype=np.uint8)
        labels.append(detector.detect(frame).labels)
    assert (labels[4][16:48, 16:64] == FailureKind.NOISE).mean() > 0.9
    dead = [int((lab == FailureKind.DEAD).sum()) for lab in labels]
    assert dead == [0] * len(frames), dead


def test_weak_noise_burst_at_night_is_flagged_but_a_speck_is_not():
    """Gain noise scales with brightness: over a dim road it is weak (std 6 + 0.5 x mean), far
    below day texture, yet independent per pixel and three times the cells' own texture. A
    burst spans many cells; a speck of fresh fine texture (a few cells) is scene detail."""
    rng = np.random.default_rng(5)
    dim = [
        np.clip(frame.astype(np.int16) // 5 + 10, 0, 255).astype(np.uint8)
        for frame in moving_scene(10, shape=(120, 192))
    ]  # a dim road at night: luma about 20-55
    detector = FailureDetector()
    for index, frame in enumerate(dim[:9]):
        assert not detector.detect(frame).mask.any(), f"dim frame {index} flagged"
    burst = dim[9].copy()
    region = burst[32:88, 24:104].astype(np.float32)
    sigma = 6.0 + 0.5 * float(region.mean())
    burst[32:88, 24:104] = np.clip(np.rint(region + rng.normal(0, sigma, region.shape)), 0, 255)
    speck = burst[8:24, 160:176].astype(np.float32)  # 2 x 2 cells
    burst[8:24, 160:176] = np.clip(np.rint(speck + rng.normal(0, sigma, speck.shape)), 0, 255)
    labels = detector.detect(burst).labels
    assert (labels[32:88, 24:104] == FailureKind.NOISE).mean() > 0.9
    assert not labels[:28, 120:].any(), "a speck of 4 cells is no burst"


def dark_sky_over_a_lit_road(frames: int, shape=(120, 192)) -> list[np.ndarray]:
    """Night as a codec keeps it: a flat sky at luma 3 over a lit road panning below."""
    road = moving_scene(frames, shape=(shape[0] // 3, shape[1]))
    scenes = []
    for lit in road:
        frame = np.full((*shape, 3), 3, np.uint8)
        frame[-lit.shape[0] :] = lit // 3
        scenes.append(frame)
    return scenes


def test_noise_burst_over_the_night_sky_is_flagged_and_its_dark_neighbours_are_not():
    """Over a sky at luma 3 gain noise has std 6-8, a texture of 11-15 where day scenes reach 45:
    the floor follows the cell's brightness (2 x luma, at least 10). A flat dark cell beside a
    strong burst takes 10-19 levels of texture from its border pixels alone (the Laplacian
    looks one pixel across); it is not noise."""
    frames = dark_sky_over_a_lit_road(12)
    detector = FailureDetector()
    for index, frame in enumerate(frames[:9]):
        assert not detector.detect(frame).mask.any(), f"night frame {index} flagged"
    weak = frames[9].copy()
    sky = weak[16:64, 40:136].astype(np.float32)
    noise = np.random.default_rng(4).normal(0.0, 6.0 + 0.5 * float(sky.mean()), sky.shape)
    weak[16:64, 40:136] = np.clip(np.rint(sky + noise), 0, 255).astype(np.uint8)
    labels = detector.detect(weak).labels
    assert (labels[16:64, 40:136] == FailureKind.NOISE).mean() > 0.9, "weak burst at night"

    detector = FailureDetector()
    for frame in frames[:9]:
        detector.detect(frame)
    strong = frames[9].copy()
    # Cell-aligned, values 0-199: the sky cells beside it get a texture of about 12.
    strong[16:64, 40:136] = np.random.default_rng(5).integers(0, 200, (48, 96, 3), np.uint8)
    labels = detector.detect(strong).labels
    assert (labels[16:64, 40:136] == FailureKind.NOISE).all()
    outside = np.ones(labels.shape, bool)
    outside[16:64, 40:136] = False
    assert not labels[outside].any(), "flat night sky beside the burst flagged"


def night_sky_beside_a_lit_street(frames: int, shape=(120, 192)) -> list[np.ndarray]:
    """Night: a flat sky at luma 3 on the left, a lit street panning on the right (luma 3-63,
    fine texture of a street at night: facades, signs)."""
    scenes = []
    for street in moving_scene(frames, shape=shape, blur=1.0):
        frame = np.clip(street.astype(np.int16) // 3 - 10, 0, 255).astype(np.uint8)
        frame[:, :80] = 3
        scenes.append(frame)
    return scenes


def test_a_noise_burst_over_the_night_sky_and_a_lit_street_is_flagged_as_one():
    """Gain noise scales with the light (std 6 + 0.5 x mean): over the lit street it stays under
    the noise signature's floor, which the street's own texture sets, and only 19 % of it was
    flagged while the part over the sky was. Its cells doubled their own texture and their
    pixels are independent: joined to the burst's onset, they belong to it, and stay flagged
    while the burst lasts. A lit truck's side entering below the burst in its first frame
    (texture where the sky was flat, but smooth at the pixel scale) stays scene."""
    frames = night_sky_beside_a_lit_street(12)
    detector = FailureDetector()
    for index, frame in enumerate(frames[:9]):
        assert not detector.detect(frame).mask.any(), f"night frame {index} flagged"
    box = (slice(24, 96), slice(32, 176))
    outside = np.ones(frames[0].shape[:2], bool)
    outside[box] = False
    rng = np.random.default_rng(4)
    for index in (9, 10, 11):  # a burst of three frames: the weak part is held with the rest
        burst = frames[index].copy()
        region = burst[box].astype(np.float32)
        noise = rng.normal(0.0, 6.0 + 0.5 * float(region.mean()), region.shape)
        burst[box] = np.clip(np.rint(region + noise), 0, 255).astype(np.uint8)
        if index == 9:
            burst[96:120, 16:80] = moving_scene(1, shape=(24, 64), seed=7)[0] // 2  # the truck
        labels = detector.detect(burst).labels
        assert (labels[24:96, 32:80] == FailureKind.NOISE).mean() > 0.9, f"sky, frame {index}"
        street = (labels[24:96, 80:176] == FailureKind.NOISE).mean()
        assert street > 0.9, f"the lit street, frame {index}: {street:.2f}"
        assert not labels[outside].any(), "the truck or the night beside the burst flagged"


def test_noise_bursts_over_a_city_at_night_are_flagged_on_real_frames():
    """urban_night: bursts of gain noise over the lit street (the development clip's first 90
    frames, a burst every third frame). Before the whitened cells joined the onset, the parts
    over lit scene stayed under the signature's floor: recall 0.89 on this schedule."""
    from frame_restore_ros.evaluation.detection_scores import DetectionReport, evaluate_clip

    frames = read_frames(_development_clip("driving_urban_night_1280x720.mp4"), max_frames=90)
    report, kinds = DetectionReport(), ("night_noise",)
    evaluate_clip("city", frames, FailureDetector, None, report, kinds=kinds, seed=1, gallery=0)
    score = report.clips["city"].ours["night_noise"]
    assert score.recall >= 0.95 and score.precision >= 0.99, (score.recall, score.precision)


def test_light_revealed_behind_a_passer_by_is_scene_by_its_glow():
    """No core was visible before (occluded), but a light fades out through a glow."""
    frames = moving_scene(8, shape=(160, 240))
    detector = FailureDetector()
    for index, frame in enumerate(frames[:7]):
        lit = _lamp(frame, (120, 80), 14)
        if index < 5:  # a dark coat in front of the lamp
            lit[40:120, 80:160] = 20
        assert not detector.detect(lit).mask.any(), f"revealed light flagged in frame {index}"
    stuck = frames[7].copy()  # a sensor region stuck high: x * 20 + 200, no glow around it
    stuck[24:64, 32:96] = np.clip(stuck[24:64, 32:96].astype(np.int32) * 20 + 200, 0, 255)
    labels = detector.detect(stuck).labels
    assert (labels[24:64, 32:96] == FailureKind.SATURATED).mean() > 0.9


def test_black_coat_walking_in_is_scene_but_a_dead_block_is_a_failure():
    """A clipped-black object moving 3 cells a frame overlaps the dark core it had before."""
    import cv2

    frames = moving_scene(11, shape=(160, 240))
    detector = FailureDetector()
    for index, frame in enumerate(frames[:10]):
        coat = frame.copy()
        cv2.ellipse(coat, (20 + 22 * index, 90), (30, 40), 0, 0, 360, (0, 0, 0), -1)
        assert not detector.detect(coat).mask.any(), f"coat flagged in frame {index}"
    block = frames[10].copy()
    block[16:56, 16:80] = 3
    labels = detector.detect(block).labels
    assert (labels[16:56, 16:80] == FailureKind.DEAD).mean() > 0.9


def test_black_bonnet_after_a_lost_rows_failure_is_released():
    """Grey decoder fill over the bottom, then the camera recovers: the black bonnet is back."""
    frames = moving_scene(10, shape=(120, 160))
    detector = FailureDetector()
    flagged = []
    for index, frame in enumerate(frames):
        frame = frame.copy()
        frame[100:] = 3  # a black bonnet, scene from the first frame
        if index == 5:
            frame[80:] = 128  # lost rows to the bottom, filled grey
        flagged.append(int((detector.detect(frame).labels == FailureKind.LOST_ROWS).sum()))
    assert flagged[5] >= 40 * 160 * 0.9, flagged
    assert flagged[:5] == [0] * 5 and flagged[6:] == [0] * 4, flagged


def _dark_band_after_a_reflection(config: DetectorConfig | None = None) -> tuple[list[int], int]:
    """Dead-line pixels flagged per frame over the bottom band, and on a real dead line.

    The bottom 24 rows are a smooth dark band (a bonnet's shadow: flat along each row, ~50 at
    its edges down to 10 in its middle); in frames 0-7 a reflection (the scene's texture)
    crosses the band's middle rows, then it is gone: those rows changed by far more than 10
    levels and now look dead (flat, <= 12, lit rows within 6). At frame 11 two rows across the
    lit scene above read black: a readout fault.
    """
    detector = FailureDetector(config)
    profile = np.abs(np.arange(24, dtype=np.float32) - 12) * 3.5 + 10  # 52 .. 10 .. 48.5
    band = np.repeat(profile[:, None, None], 160, axis=1).repeat(3, axis=2).astype(np.uint8)
    in_band, on_line = [], 0
    for index, frame in enumerate(moving_scene(14, shape=(96, 160))):
        frame = frame.copy()
        frame[72:] = band
        if index < 8:
            frame[80:88] = frame[8:16]  # the reflection
        if index == 11:
            frame[40:42] = 2
        labels = detector.detect(frame, index / 30).labels
        in_band.append(int((labels[72:] == FailureKind.DEAD).sum()))
        if index == 11:
            on_line = int((labels[40:42] == FailureKind.DEAD).sum())
    return in_band, on_line


def test_a_smooth_dark_band_of_scene_is_no_dead_line_a_readout_fault_is():
    """A dead line breaks the image: it differs from the rows just outside it. A dark band of
    scene continues them (H.264 tunnel footage: a bonnet's shadow after a reflection passed
    was flagged as a dead row for 6 frames). Without the break test the band is flagged."""
    in_band, on_line = _dark_band_after_a_reflection()
    assert in_band == [0] * 14, in_band
    assert on_line == 2 * 160, "the readout fault is found"
    in_band, _ = _dark_band_after_a_reflection(DetectorConfig(line_min_break=0.0))
    assert sum(in_band[8:]) >= 160, "the look-alike the break test exists for"


def _dark_seam_after_a_reflection(config: DetectorConfig | None = None) -> list[int]:
    """Dead-line pixels flagged per frame on a thin dark seam of scene: one row (84) that
    darkens smoothly from 20 to 2 along its length between lit rows (45), uncovered at frame
    8 by a reflection (the scene's texture over rows 80-88 until then). It is dark, flat pixel
    to pixel, breaks the rows beside it and changed: only its luma along the row varies."""
    detector = FailureDetector(config)
    flagged = []
    for index, frame in enumerate(moving_scene(14, shape=(96, 160))):
        frame = frame.copy()
        frame[72:] = 45
        frame[84] = np.linspace(20, 2, 160).astype(np.uint8)[:, None]
        if index < 8:
            frame[80:88] = frame[8:16]
        flagged.append(
            int((detector.detect(frame, index / 30).labels[72:] == FailureKind.DEAD).sum())
        )
    return flagged


def test_a_dark_seam_that_varies_along_its_length_is_no_dead_line():
    """A readout fault reads one value along its whole length; a dark seam of scene follows
    the scene along it (a 1080p upscale of low_sun: the horizon's dark row, std 10.5 along
    it, flagged for a frame after a bright car left it)."""
    assert _dark_seam_after_a_reflection() == [0] * 14
    assert sum(_dark_seam_after_a_reflection(DetectorConfig(line_max_std=255.0))[8:]) >= 160


def _dead_rows_across_a_dim_street(config: DetectorConfig | None = None) -> list[int]:
    """Dead-line pixels flagged per frame: a panning street at night (luma ~8-33, row means
    ~20), two rows of which read black (level 2) from frame 8."""
    detector = FailureDetector(config)
    flagged = []
    for index, frame in enumerate(moving_scene(12, shape=(96, 160))):
        frame = (frame.astype(np.float32) * 0.15).astype(np.uint8)
        if index >= 8:
            frame[40:42] = 2
        flagged.append(int((detector.detect(frame, index / 30).labels == FailureKind.DEAD).sum()))
    return flagged


def test_dead_rows_across_a_dim_street_are_found():
    """A dead line must cross scene brighter than itself: ``line_lit_gray`` (15) within 6
    lines. At 30 the dead lines over a dim night street went unseen (dead lines at pixel
    level: recall 0.863 -> 0.973 with 15); the break and uniformity tests keep the night's own
    dark rows out (``line_lit_gray`` 0 flagged 1.9 % of night_rural's clean pixels)."""
    flagged = _dead_rows_across_a_dim_street()
    assert flagged[:8] == [0] * 8, flagged
    assert all(count >= 2 * 160 for count in flagged[8:]), flagged
    assert _dead_rows_across_a_dim_street(DetectorConfig(line_lit_gray=30.0)) == [0] * 12


def test_smear_is_flagged_whole_where_its_first_rows_barely_change():
    """The last good row repeated to the bottom: on a smooth road the rows under it barely
    change (they show the road's level again), the far rows do. One failure, flagged whole."""
    rng = np.random.default_rng(4)
    frames = moving_scene(9, shape=(120, 160))
    detector = FailureDetector()
    for index, frame in enumerate(frames):
        frame = frame.copy()
        road = rng.integers(97, 104, size=(30, 160, 3), dtype=np.uint8)
        frame[50:80] = road  # a smooth road: only sensor noise changes there
        if index == 8:
            frame[60:] = frame[59]  # lost rows to the bottom, a smear
        labels = detector.detect(frame).labels
        if index < 8:
            assert not labels.any(), f"clean frame {index} flagged"
    assert (labels[60:] == FailureKind.LOST_ROWS).all()
    assert not labels[:60].any(), "the last good row, which the smear repeats, is scene"


def test_smear_between_pillarbox_borders_is_flagged_though_its_mean_change_is_small():
    """Half the width is black border, which a smear repeats unchanged, and the road under the
    smear's first rows barely changes: the rows' mean change is diluted below the motion level,
    yet a third of the fresh rows (the bright band at the bottom) changed: the run is one
    failure. Rows only (no failure) changing as little are not flagged (the clean frames)."""
    rng = np.random.default_rng(6)
    frames = moving_scene(9, shape=(120, 160))
    detector = FailureDetector()
    before, change = frames[0], np.inf
    for index, frame in enumerate(frames):
        frame = frame.copy()
        frame[50:100] = rng.integers(97, 104, size=(50, 160, 3), dtype=np.uint8)  # road
        frame[100:] = rng.integers(137, 144, size=(20, 160, 3), dtype=np.uint8)  # a lit band
        frame[:, :40] = frame[:, 120:] = 0  # pillarbox borders
        if index == 8:
            change = np.abs(frame[59].astype(int) - before[60:]).mean()
            frame[60:] = frame[59]
        labels = detector.detect(frame).labels
        if index < 8:
            assert not labels.any(), f"clean frame {index} flagged"
        before = frame
    assert change < 10.0, "the test's premise: the mean change is below the motion level"
    assert (labels[60:] == FailureKind.LOST_ROWS).all()
    assert not labels[:60].any()


@pytest.mark.parametrize("cover", ["noise burst", "light block"])
def test_pillarbox_border_is_scene_again_after_a_failure_over_it(cover):
    """A failure over the scene and the black border beside it lifts the border columns' mean
    for one frame; when it ends the columns are black again. A dead-looking line is new when it
    looks dead at another level than it did as scene, and neither a flagged failure over it (a
    noise burst) nor one the detector missed (a light flat block, luma 200: not saturated)
    moves that level. Before, the covered frame's mean was remembered and the border was a
    dead-column onset, held for 30 frames (low_sun in eval-detection: 2 160 px per frame from
    frame 30 to past frame 70)."""
    rng = np.random.default_rng(3)
    frames = moving_scene(14, shape=(120, 160))
    detector = FailureDetector()
    box = (slice(30, 90), slice(0, 80))
    flagged = []
    for index, frame in enumerate(frames):
        frame = frame.copy()
        frame[:, :24] = 0  # pillarbox border
        if index == 8 and cover == "noise burst":
            noise = rng.normal(0.0, 40.0, size=frame[box].shape)
            frame[box] = np.clip(frame[box] + noise + 60.0, 0, 255).astype(np.uint8)
        elif index == 8:
            frame[box] = 200
        flagged.append(detector.detect(frame).labels)
    assert not any(labels.any() for labels in flagged[:8])
    if cover == "noise burst":
        assert (flagged[8][box] == FailureKind.NOISE).mean() > 0.9, "the burst is flagged"
        assert (flagged[8][box][:, :24] != FailureKind.CLEAN).mean() > 0.9
    else:
        assert not flagged[8][:, :24].any(), "the test's premise: the block is missed there"
    for index, labels in enumerate(flagged[9:], start=9):
        assert not (labels == FailureKind.DEAD).any(), f"frame {index}: the border is scene"


def test_night_frame_with_a_few_black_rows_more_is_not_a_whole_frame_loss():
    rng = np.random.default_rng(4)
    detector = FailureDetector()
    for index in range(8):
        frame = np.full((120, 160, 3), 2, np.uint8)  # night: flat black almost everywhere
        frame[20:28, 60 + index : 100 + index] = rng.integers(80, 255, (8, 40, 3), np.uint8)
        if index == 6:
            frame[100:] = 0
        assert not detector.detect(frame).whole_frame, index


def _night_road_with_a_loss(loss: str, config: DetectorConfig | None = None) -> Detection:
    """A night frame: black sky (level 2) with three distant lights (4 x 4 px at level 120) over a
    lit, textured road in the bottom 55 rows, panning; frame 8 loses its bottom 60 rows to black
    (``loss`` "rows") or the whole frame ("frame"). Returns frame 8's detection."""
    road = moving_scene(9, shape=(55, 160))
    detector = FailureDetector(config)
    for index in range(9):
        frame = np.full((120, 160, 3), 2, np.uint8)
        for x in (18, 66, 130):  # each inside one cell
            frame[26:30, x : x + 4] = 120
        frame[65:] = road[index]
        if index < 8:
            assert not detector.detect(frame).mask.any(), f"night frame {index} flagged"
    frame[60:] = 0
    if loss == "frame":
        frame[:] = 0
    return detector.detect(frame)


def test_black_rows_over_a_night_road_whose_lights_go_on_are_no_whole_frame_loss():
    """Black lost rows over the lit road of a night frame leave it 99 % flat black: as flat as a
    lost frame. But a lost frame keeps none of its scene, and the lights above the rows kept
    their levels: the rows are lost rows, the lights and the sky scene. The same frame lost
    whole is a whole-frame loss; with `whole_frame_kept_share` 0 the rows were one too (as the
    evaluation found over night_rural: a frame's 520 night patches flagged with its rows)."""
    rows = _night_road_with_a_loss("rows")
    assert not rows.whole_frame
    assert (rows.labels[64:] != FailureKind.CLEAN).mean() > 0.95, rows.counts
    assert not rows.labels[:56].any(), "the lights and the sky are scene"
    lost = _night_road_with_a_loss("frame")
    assert lost.whole_frame and lost.failed_ratio == 1.0
    before = _night_road_with_a_loss("rows", DetectorConfig(whole_frame_kept_share=0.0))
    assert before.whole_frame, "the test's premise: the flat share alone reads a lost frame"


def test_black_rows_over_a_rural_night_are_lost_rows_not_a_lost_frame_on_real_frames():
    """night_rural: the bottom half of a frame turned black over the headlit road leaves 98 %
    of its cells flat black; the distant lights above went on. Lost rows, not a lost frame; the
    same frame black all over is a lost frame."""
    path = _development_clip("driving_night_rural_640x360.mp4")
    frames = read_frames(path, max_frames=231)[200:]
    for loss in ("rows", "frame"):
        detector = FailureDetector()
        for index, frame in enumerate(frames[:-1]):
            assert not detector.detect(frame, index / 30).mask.any(), f"frame {200 + index}"
        damaged = frames[-1].copy()
        damaged[180 if loss == "rows" else 0 :] = 0
        found = detector.detect(damaged, 30 / 30)
        assert found.whole_frame == (loss == "frame"), (loss, found.counts)
        if loss == "rows":
            assert (found.labels[184:] == FailureKind.LOST_ROWS).mean() > 0.95, found.counts
            assert (found.labels[:176] != FailureKind.CLEAN).mean() < 0.01, found.counts


def _block_above_a_dark_road(config: DetectorConfig | None = None) -> np.ndarray:
    """A lit scene panning over a dark night road (level 6 with sensor noise, rows 60 on); at
    frame 8 a dead block (level 2) covers rows 32-59 of the lit part, its lower edge inside a
    cell row. Returns frame 8's (H, W) labels."""
    rng = np.random.default_rng(8)
    detector = FailureDetector(config)
    for index, frame in enumerate(moving_scene(9, shape=(120, 160))):
        frame = frame.copy()
        frame[60:] = np.clip(6 + rng.normal(0, 1, frame[60:].shape), 0, 255).astype(np.uint8)
        if index == 8:
            frame[32:60, 40:104] = 2
            return detector.detect(frame).labels
        assert not detector.detect(frame).mask.any(), f"frame {index} flagged"
    raise AssertionError("unreachable")


def test_a_dead_blocks_edge_takes_only_the_pixels_it_covered():
    """The cells around a dead region are judged per pixel (a block's edge rarely falls on the
    cell grid): a pixel as dark as the block joins it. Dark night road beside the block is as
    dark but was not covered: it did not change. The block's pixels are flagged to its edge,
    the road below it stays scene (with `dead_ring_change` 0 it joined the block: in the
    evaluation a row of night patches above black lost rows, as on night_rural)."""
    labels = _block_above_a_dark_road()
    assert (labels[32:60, 40:104] == FailureKind.DEAD).all()
    # Rows 60-63 share a cell with the block's last rows (flagged as a cell, dark as it). Below
    # them only the odd pixel whose sensor noise moved its 3 x 3 mean by 2 levels joins.
    ring = labels[64:72, 32:112] == FailureKind.DEAD
    assert ring.mean() < 0.01, f"the dark road below the block's cells: {ring.mean():.3f}"
    assert not labels[72:].any()
    before = _block_above_a_dark_road(DetectorConfig(dead_ring_change=0.0))
    assert (before[64:72, 40:104] == FailureKind.DEAD).mean() > 0.9, "the premise"


def test_soft_edged_dark_blockage_is_flagged_out_to_its_half_covered_rim():
    """Mud or a sticker out of focus fades into the scene: the rim where it covers >= half counts.

    The cell rules alone found about 70 % of such blobs (their dark core and one ring of cells);
    the rest is the rim, found by how much each pixel darkened towards the core.
    """
    from frame_restore_ros.synthetic.corruption import dark_blockage

    frames = moving_scene(8, shape=(180, 320))
    detector = FailureDetector()
    for frame in frames[:6]:
        assert not detector.detect(frame).mask.any()
    blob = dark_blockage(frames[6], np.random.default_rng(5), size_range=(0.35, 0.45))
    found = detector.detect(blob.damaged)
    labelled = blob.labels == FailureKind.BLOCKAGE
    assert found.mask[labelled].mean() >= 0.9, found.mask[labelled].mean()
    untouched = ~blob.touched
    assert found.mask[untouched].mean() <= 0.005, "the rim stops where the blockage does"
    # The blockage stays: its rim is held (it does not darken again against this frame).
    again = dark_blockage(frames[7], np.random.default_rng(5), size_range=(0.35, 0.45))
    assert detector.detect(again.damaged).mask[labelled].mean() >= 0.9


def _labels_of_black_block_after(frames: list[np.ndarray], box: tuple, seed: int) -> np.ndarray:
    """Stream ``frames`` but the last (each must stay unflagged), then the last with a black
    block (values 0-2) in ``box``; return that frame's (H, W) labels."""
    detector = FailureDetector()
    for index, frame in enumerate(frames[:-1]):
        assert not detector.detect(frame).mask.any(), f"clean frame {index} flagged"
    block = frames[-1].copy()
    size = block[box].shape
    block[box] = np.random.default_rng(seed).integers(0, 3, size=size, dtype=np.uint8)
    return detector.detect(block).labels


def test_dead_block_over_a_lit_night_road_is_flagged():
    """A black block over the lit road of a night scene: the night around it is no dark core.

    Before, a new dark region touching the night (most of the frame) counted as the night
    grown; now a dark region is an object moved only if dark also left where it came from.
    """
    lit = lit_night_road(night_scene(10, shape=(120, 200)))
    labels = _labels_of_black_block_after(lit[:9], (slice(32, 96), slice(50, 150)), seed=6)
    visible = lit[8][32:96, 50:150].max(axis=2) > 20  # where the block hides lit road
    assert (labels[32:96, 50:150][visible] == FailureKind.DEAD).mean() > 0.9


def _dead_over_night_and_road(config: DetectorConfig) -> tuple[list[np.ndarray], list]:
    """A night scene with a lit road; a black block mostly bordering the night, its corner
    over the road, on frames 9-11, then gone. Returns (frames shown, labels per frame)."""
    frames = lit_night_road(night_scene(16, shape=(120, 200)))
    box = (slice(8, 96), slice(6, 120))  # the road: rows 40-100, columns 30-170
    detector, shown, labels = FailureDetector(config), [], []
    for index, frame in enumerate(frames):
        if 9 <= index < 12:
            frame = frame.copy()
            size = frame[box].shape
            frame[box] = np.random.default_rng(index).integers(0, 3, size=size, dtype=np.uint8)
        shown.append(frame)
        labels.append(detector.detect(frame).labels)
    return frames, labels


def test_dead_block_beside_the_night_is_flagged_by_its_new_edge_and_released_when_gone():
    """Most of the block's ring is night already, so by its ring it extends the dark scene;
    but its edge against the lit road is new (nothing as dark lay within 2 % of the frame
    height there a frame ago): a failure. It is held while steady and released in the frame
    it goes, though the night under it looks alike (no flag left on the night)."""
    frames, labels = _dead_over_night_and_road(DetectorConfig())
    corner = (slice(40, 96), slice(30, 120))  # where the block hides lit road
    for index in (9, 10, 11):
        assert (labels[index][corner] == FailureKind.DEAD).mean() > 0.9, index
    assert not labels[8].any()
    for index in range(12, 16):
        assert not labels[index].any(), index
    # Without the new-edge rule the ring decides: the block is taken for the night grown.
    _, without = _dead_over_night_and_road(DetectorConfig(dead_new_edge_px=0))
    assert not (without[9][corner] == FailureKind.DEAD).any()


def test_a_dark_object_sliding_in_beside_the_night_is_not_dead():
    """The same dark block sliding in from the night, 4 px a frame: it grows from its own dark
    core a frame ago (the moved-object rule, ahead of the ring and the new-edge rules), so it
    stays the night growing, not a failure, on every frame."""
    frames = lit_night_road(night_scene(16, shape=(120, 200)))
    detector = FailureDetector()
    for index, frame in enumerate(frames):
        frame = frame.copy()
        if index >= 9:
            right = 30 + 4 * (index - 8)
            frame[8:96, 6:right] = 1
        assert not (detector.detect(frame).labels == FailureKind.DEAD).any(), index


def test_dead_block_over_a_dim_tunnel_ceiling_is_flagged_by_its_ratio():
    """A tunnel ceiling at luma 12-21: a block at 0-2 is not 20 levels below its darkest
    neighbour, yet 2.5 times darker (from luma + 2) and at least 8 levels: a dark scene's
    failure is judged by the ratio, as the eye judges it."""
    ceiling = [frame // 20 + 10 for frame in moving_scene(10, shape=(120, 200))]
    labels = _labels_of_black_block_after(ceiling, (slice(32, 96), slice(48, 144)), seed=8)
    assert (labels[32:96, 48:144] == FailureKind.DEAD).mean() > 0.9
    assert not labels[:16].any() and not labels[112:].any()


def lit_night_road(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Night frames with a lit, textured road patch (headlights) in the middle."""
    import cv2

    out = []
    texture = moving_scene(len(frames), shape=(60, 140), step=2, seed=9)
    for frame, road in zip(frames, texture, strict=True):
        frame = frame.copy()
        patch = cv2.GaussianBlur(road, (0, 0), 1.0)
        frame[40:100, 30:170] = patch
        out.append(frame)
    return out


def _disc(frame: np.ndarray, centre: tuple[int, int], radius: int) -> np.ndarray:
    """A sharp saturated disc (a lamp without a halo, so only its motion can explain it)."""
    import cv2

    lit = frame.copy()
    cv2.circle(lit, centre, radius, (255, 255, 255), -1)
    return lit


def _flags_of_a_fast_lamp(stamps: list[float | None]) -> list[bool]:
    """Per frame: is anything flagged while a lamp jumps 48 px (6 cells) a frame?"""
    frames = moving_scene(len(stamps), shape=(240, 320))
    detector = FailureDetector()
    flagged = []
    for index, (frame, stamp) in enumerate(zip(frames, stamps, strict=True)):
        lamp = _disc(frame, (40 + 48 * index, 190 - 24 * index), 14)
        flagged.append(bool(detector.detect(lamp, stamp).mask.any()))
    return flagged


def test_a_lamp_moving_fast_at_10_hz_is_scene_where_the_nominal_30_hz_reach_flags_it():
    """Objects move farther between frames of a slower camera: the reach follows the stamps.

    At the nominal 30 Hz an object moves at most ``object_motion`` (6 %) of the height a frame,
    2 cells here; the lamp's 6 cells are beyond that. Stamped 0.1 s apart, it may move 3x as far.
    """
    assert any(_flags_of_a_fast_lamp([None] * 6)), "the 30 Hz reach should not explain it"
    assert any(_flags_of_a_fast_lamp([i / 30 for i in range(6)]))
    assert not any(_flags_of_a_fast_lamp([i / 10 for i in range(6)]))
    # The wider reach does not hide a failure away from any light.
    frames = moving_scene(7, shape=(240, 320))
    detector = FailureDetector()
    for index, frame in enumerate(frames[:6]):
        detector.detect(frame, index / 10)
    block = frames[6].copy()
    block[40:72, 120:168] = 255
    labels = detector.detect(block, 0.6).labels
    assert (labels[40:72, 120:168] == FailureKind.SATURATED).mean() > 0.9


@pytest.mark.parametrize(
    ("stamps", "scale"),
    [
        ([0.0, 0.1], 3.0),  # 10 Hz
        ([0.0, 1 / 60], 1.0),  # faster than nominal: never below the tuned reach
        ([0.0, 5.0], 6.0),  # a long gap: capped at max_interval_scale
        ([1.0, 0.5], 1.0),  # stamps going back (a bag loop): nominal
        ([None, 0.1], 1.0),  # no stamp before: nominal
        ([0.0, float("nan"), 0.2], 1.0),  # a NaN stamp, and the frame after it: nominal
        ([0.0, float("inf")], 1.0),
    ],
)
def test_interval_scale_follows_the_stamps_within_its_bounds(stamps, scale):
    frames = moving_scene(len(stamps))
    detector = FailureDetector()
    for frame, stamp in zip(frames, stamps, strict=True):
        detector.detect(frame, stamp)
    assert detector._interval_scale == pytest.approx(scale)


def test_frame_rate_settings_are_validated():
    with pytest.raises(ValueError, match="nominal_frame_rate"):
        DetectorConfig(nominal_frame_rate=0.0)
    with pytest.raises(ValueError, match="max_interval_scale"):
        DetectorConfig(max_interval_scale=0.5)


def _car_drives_off_a_black_pillar(config: DetectorConfig | None = None) -> list[int]:
    """Dead pixels flagged per frame while a car, tail lights lit, drives off a black pillar.

    The car stands over the pillar for longer than the detector remembers, then drives right
    48 px a frame: the pillar comes back from under its trailing edge in one frame.
    """
    frames = moving_scene(20, shape=(160, 320), step=0)  # a parked camera: the scene stands
    body = np.full((56, 240, 3), 120, np.uint8)
    body[8:48, :16] = 220  # its lit tail lights, at its trailing edge
    detector = FailureDetector(config)
    flagged = []
    for index, frame in enumerate(frames):
        frame = frame.copy()
        frame[64:112, 120:160] = 2  # the pillar, black in every frame
        left = 60 + 48 * max(0, index - 12)
        width = max(0, min(240, 320 - left))
        frame[60:116, left : left + width] = body[:, :width]
        flagged.append(int((detector.detect(frame, index / 30).labels == FailureKind.DEAD).sum()))
    return flagged


def test_dark_uncovered_by_a_lit_object_driving_off_is_scene():
    """A car driving off a black pillar at night uncovers dark that was there before the memory.

    Nothing dark left (the dark "object moved" rule has nothing to see), but the car moved: next
    to the new dark, cells its tail lights now cover became brighter.
    """
    assert sum(_car_drives_off_a_black_pillar()) == 0
    # Without the uncovered-scene rule the pillar is a dead onset.
    assert sum(_car_drives_off_a_black_pillar(DetectorConfig(dead_uncovered_share=1e6))) > 0
    with pytest.raises(ValueError, match="dead_uncovered_share"):
        DetectorConfig(dead_uncovered_share=0.0)


def test_dead_block_beside_a_white_fill_is_still_a_failure():
    """A frame corrupted with a black and a white block side by side is two failures.

    The white block brightened the cells beside the black one, fewer than a quarter as many as
    turned dark: the black block is no dark uncovered by a lit object.
    """
    frames = moving_scene(9, shape=(160, 240))
    detector = FailureDetector()
    for index, frame in enumerate(frames[:8]):
        assert not detector.detect(frame, index / 30).mask.any()
    corrupted = frames[8].copy()
    corrupted[16:64, 16:80] = 2
    corrupted[16:64, 80:144] = 255
    labels = detector.detect(corrupted, 8 / 30).labels
    assert (labels[16:64, 16:80] == FailureKind.DEAD).mean() > 0.9


def _dead_block_beside_an_arriving_truck(box: tuple[slice, slice]) -> float:
    """Share of ``box``, blacked out in frame 11, labelled dead; a light truck side slides in
    from the right 16 px a frame to touch the box's right edge (x 104) in that frame."""
    frames = moving_scene(12, shape=(160, 240))
    truck = moving_scene(1, shape=(160, 240), seed=5)[0] // 5 + 190  # light, textured
    detector = FailureDetector()
    for index, frame in enumerate(frames):
        frame = frame.copy()
        left = 104 + 16 * (11 - index)
        if left < 240:
            frame[24:136, left:] = truck[24:136, : 240 - left]
        if index == 11:
            size = frame[box].shape
            frame[box] = np.random.default_rng(1).integers(0, 3, size=size, dtype=np.uint8)
        labels = detector.detect(frame).labels
        if index < 11:
            assert not labels.any(), f"frame {index} flagged"
    return float((labels[box] == FailureKind.DEAD).mean())


def test_dark_deeper_than_a_frames_motion_is_no_uncovered_scene(monkeypatch):
    """A lit object that moved uncovers (or a dark one brings) at most a band of its motion a
    frame: a block 8 cells deep beside a truck that brightened 24 cells (more than a quarter of
    the 64 that turned dark) is a failure, not scene the truck drove off (2 cells a frame here;
    the tunnel's lamps brightened the wall beside a dead block the same way)."""
    box = (slice(40, 104), slice(40, 104))
    assert _dead_block_beside_an_arriving_truck(box) == 1.0
    # Without the depth bound the truck's brightened cells explain the block away.
    monkeypatch.setattr(detector_module, "depth_cells", lambda cells: 0.0)
    assert _dead_block_beside_an_arriving_truck(box) == 0.0


def test_dead_block_at_10_hz_beside_a_moving_object_a_few_cells_away_is_a_failure():
    """The lit object that uncovers dark is beside it now, within one nominal frame's motion.

    At 10 Hz objects may have moved 6 cells here (2 at 30 Hz); a light car driving towards a new
    black block, 4 cells from it, brightens 3 x 8 cells but uncovered nothing: a failure.
    """
    frames = moving_scene(9, shape=(240, 320))
    car = moving_scene(1, shape=(64, 64), seed=3)[0] // 4 + 190  # light, textured: 200-245
    box = (slice(120, 168), slice(48, 96))
    detector = FailureDetector()
    for index, frame in enumerate(frames):
        frame = frame.copy()
        left = 128 + 24 * (8 - index)  # enters from the right, 24 px a frame to the left
        width = min(64, 320 - left)
        frame[120:184, left : left + width] = car[:, :width]
        if index == 8:
            frame[box] = 2
        found = detector.detect(frame, index / 10)
        if index < 8:
            assert not found.mask.any(), f"frame {index} flagged"
    assert (found.labels[box] == FailureKind.DEAD).mean() > 0.9


def test_dead_block_beside_a_grey_decoder_fill_is_a_failure():
    """A black block and a grey decoder fill beside it, in one frame over a dim scene.

    The fill brightened the cells beside the block, but a fill is a failure, not a lit object
    that drove off the block: the block is flagged (and the fill as a cast).
    """
    frames = [f // 3 + 20 for f in moving_scene(10, shape=(160, 240))]  # a dim street: 33-93
    block, fill = (slice(48, 96), slice(48, 96)), (slice(40, 104), slice(96, 144))
    detector = FailureDetector()
    for index, frame in enumerate(frames[:9]):
        assert not detector.detect(frame, index / 30).mask.any()
    corrupted = frames[9].copy()
    corrupted[block] = 2
    corrupted[fill] = 128
    labels = detector.detect(corrupted, 9 / 30).labels
    assert (labels[block] == FailureKind.DEAD).mean() > 0.9
    assert (labels[fill] == FailureKind.CAST).mean() > 0.5


def _upscaled(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC)


def test_rows_an_upscaling_camera_repeats_at_the_bottom_are_not_lost_rows():
    """bikes.mp4 upscaled to 1080p (bicubic): its last 2-5 rows repeat, with new content in
    every frame, well under 1 % of the height: no decoder loss (without the minimum share
    they read as lost rows). A real loss of 6 % of the rows in the same stream is found."""
    frames = [_upscaled(f, (1920, 1080)) for f in read_frames(sample_video_path("bikes.mp4"), 16)]
    flagged = {}
    for share in (DetectorConfig().lost_rows_min_share, 0.0):
        detector = FailureDetector(DetectorConfig(lost_rows_min_share=share))
        labels = [detector.detect(frame, index / 25).labels for index, frame in enumerate(frames)]
        flagged[share] = [bool((lab == FailureKind.LOST_ROWS).any()) for lab in labels]
    assert not any(flagged[DetectorConfig().lost_rows_min_share]), flagged
    assert any(flagged[0.0]), "the repeated rows no longer read as lost: the test proves nothing"
    lost = frames[-1].copy()
    lost[-65:] = (0, 135, 0)  # a green decoder fill over the bottom 6 %
    detector = FailureDetector()
    for index, frame in enumerate(frames[:-1]):
        detector.detect(frame, index / 25)
    assert (detector.detect(lost, 15 / 25).labels[-65:] == FailureKind.LOST_ROWS).all()


def test_flat_grey_car_driving_in_is_scene_but_a_grey_fill_appearing_in_place_is_cast():
    """A flat grey object within the decoder fill's tolerance (a grey car body behind soft
    optics, as in bikes.mp4 upscaled to 1080p) moves in from the side, 1.5 cells a frame, from
    where it already looked like the fill: scene. A grey fill appearing in place, away from
    it, in the same stream: a cast failure."""
    frames = moving_scene(14, shape=(160, 240))
    detector = FailureDetector()
    fill = (slice(96, 144), slice(160, 224))
    for index, frame in enumerate(frames):
        frame = frame.copy()
        right = 8 + 12 * index  # the car's front edge, 12 px a frame
        frame[16:64, max(0, right - 80) : right] = (127, 129, 128)  # within 2 of grey 128
        if index == 13:
            frame[fill] = 128
        labels = detector.detect(frame, index / 30).labels
        if index < 13:
            assert not (labels == FailureKind.CAST).any(), f"the grey car flagged in {index}"
    assert (labels[fill] == FailureKind.CAST).mean() > 0.9
    assert not (labels[16:64] == FailureKind.CAST).any()


SCENE_BOX, FILL_BOX = (slice(32, 80), slice(32, 96)), (slice(96, 144), slice(160, 224))


def _cast_after_appearing(config: DetectorConfig, scene, fill) -> np.ndarray:
    """(H, W) bool cast labels of frame 11 of a moving scene, where ``scene`` (an image or a
    colour) appears in place at SCENE_BOX and a decoder fill of colour ``fill`` at FILL_BOX."""
    detector = FailureDetector(config)
    for index, frame in enumerate(moving_scene(12, shape=(160, 240))):
        if index == 11:
            frame = frame.copy()
            frame[SCENE_BOX] = scene
            frame[FILL_BOX] = fill
        labels = detector.detect(frame, index / 30).labels
    return labels == FailureKind.CAST


def test_flat_grey_scene_with_a_level_of_spread_is_no_fill_but_one_grey_value_is():
    """Flat grey scene within the fill's tolerance and texture (smooth +-1-2 level variations,
    as an upscaled stream or soft optics leave on a grey road or a mono camera's sky) appears
    in place beside a decoder's grey fill of one value: the fill is cast, the scene is not
    (with the one-value test off, part of the scene is flagged too)."""
    import cv2

    rng = np.random.default_rng(1)
    coarse = (128 + rng.normal(0.0, 0.8, size=(16, 22, 3))).astype(np.float32)
    smooth = cv2.resize(coarse, (64, 48), interpolation=cv2.INTER_CUBIC)
    scene_grey = np.clip(np.round(smooth), 0, 255).astype(np.uint8)
    flagged = _cast_after_appearing(DetectorConfig(), scene_grey, 128)
    assert flagged[FILL_BOX].mean() > 0.9
    assert not flagged[SCENE_BOX].any()
    off = _cast_after_appearing(DetectorConfig(cast_min_one_value=0.0), scene_grey, 128)
    assert off[SCENE_BOX].any(), "the scene's grey is no fill look-alike: proves nothing"


@pytest.mark.parametrize(
    ("scene_colour", "fill_colour"),
    [((126, 129, 127), (130, 130, 130)), ((2, 133, 1), (0, 136, 0))],
)
def test_one_flat_colour_off_the_fill_chroma_is_no_fill(scene_colour, fill_colour):
    """One exact colour within 2 levels of a fill but of another chroma (a codec flattens a
    grey wall or a green sign to one value: its channels differ from the fill's by 2-4 levels)
    appears in place beside a fill of that colour brightened or shifted by a range conversion
    (limited-range grey 130, green 136): the fill is cast, the scene is not (with the chroma
    test off both are)."""
    flagged = _cast_after_appearing(DetectorConfig(), scene_colour, fill_colour)
    assert flagged[FILL_BOX].mean() > 0.9
    assert not flagged[SCENE_BOX].any()
    off = _cast_after_appearing(DetectorConfig(cast_chroma_tolerance=255.0), scene_colour, 0)
    assert off[SCENE_BOX].mean() > 0.9, "the scene's colour is no look-alike: proves nothing"


def test_an_exposure_jump_through_a_harsh_tone_curve_is_no_blockage_on_real_frames():
    """driving_low_sun, frames 135-179, through a cheap camera's tone curve ((luma - 30) x 1.4,
    clipped: a black level). At frame 175 the exposure jumps (the global gain 1.42); the dark
    road under the sun went 5.6 -> 22.5, four times as bright, and stood 10 levels beyond its
    last look scaled by the gain: a blockage onset. Mapped through the frame's exposure line
    (affine) the road is where it is expected: nothing is flagged (with the line off, the road
    is flagged from frame 175 on)."""
    from frame_restore_ros.detection.cell_stats import compute_cell_stats
    from frame_restore_ros.detection.onset import exposure_line

    frames = read_frames(_development_clip("driving_low_sun_640x360.mp4"), max_frames=180)
    harsh = np.clip((np.arange(256) - 30) * 1.4, 0, 255).astype(np.uint8)
    flagged = {}
    for change in (DetectorConfig().exposure_change, 0.0):
        detector = FailureDetector(DetectorConfig(exposure_change=change))
        labels = [detector.detect(harsh[f], i / 30).labels for i, f in enumerate(frames[135:])]
        flagged[change] = [bool((lab == FailureKind.BLOCKAGE).any()) for lab in labels]
    assert not any(flagged[DetectorConfig().exposure_change])
    assert flagged[0.0][40:] == [True] * 5, "the jump no longer reads as a blockage"
    now, before = (compute_cell_stats(harsh[frames[i]], None, 8).gray for i in (175, 174))
    slope, offset = exposure_line(now, before)
    assert offset > 10.0 and slope < 1.42  # affine: dark content moved by a larger ratio


def test_exposure_line_goes_through_the_medians_of_the_darker_and_brighter_halves():
    from frame_restore_ros.detection.onset import exposure_line

    before = np.linspace(20.0, 200.0, 400, dtype=np.float32).reshape(20, 20)
    now = before * np.float32(1.3) + np.float32(13.0)
    now[0, :5] = 0.0  # a failure: a few cells out of line
    slope, offset = exposure_line(now, before)
    assert slope == pytest.approx(1.3, abs=0.02) and offset == pytest.approx(13.0, abs=2.0)
    assert exposure_line(now, np.full_like(before, 100.0)) is None  # no lever
    dark = before.copy()
    dark[4:] = 5.0  # at night: a fifth of the cells lit
    assert exposure_line(now, dark) is None


def _codec_stream_with_a_stop(
    refresh: bool,
    config: DetectorConfig | None = None,
    busy: bool = False,
    refreshed_rows: slice = slice(None),
) -> list:
    """Frozen labels of a stream whose codec skips most of the picture: a static textured
    scene (identical frame to frame), a band that moves until frame 9 and then stops, and a
    band that keeps moving (the scene around). ``refresh``: frame 9 is a keyframe that
    changes every cell of ``refreshed_rows`` by a level of requantisation. ``busy``: one more
    band keeps moving, so that 60 % of the cells change per frame before the keyframe (40 %
    without it)."""
    moving = moving_scene(16, shape=(32, 192), step=4, seed=3)
    other = moving_scene(16, shape=(32, 192), step=4, seed=4)
    still_scene = moving_scene(1, shape=(160, 192), seed=5)[0]
    detector = FailureDetector(config)
    flagged = []
    for index in range(16):
        frame = still_scene.copy()
        frame[48:80] = moving[min(index, 9)]  # stops after frame 9
        frame[80:112] = moving[index]  # keeps moving, beside it
        if busy:
            frame[112:144] = other[index]
        if refresh and index >= 9:  # the keyframe's requantised picture, kept after it
            part = frame[refreshed_rows]
            part[:] = np.clip(part.astype(np.int16) + 2, 0, 255).astype(np.uint8)
        labels = detector.detect(frame, index / 30).labels
        flagged.append(float((labels[48:80] == FailureKind.FROZEN).mean()))
    return flagged


def test_cells_the_codec_skips_again_after_a_keyframe_are_not_frozen():
    """After a keyframe (every cell changed once, amid frames where the codec skipped most
    of them) the encoder skips again everywhere at once: a band that stopped just then is no
    evidence of a freeze. The same stop without the keyframe is a freeze. Re-encoded footage
    (an MPEG-4 transcode of the rain clip) flagged up to 35 % of a frame this way."""
    assert max(_codec_stream_with_a_stop(refresh=True)) == 0.0
    assert max(_codec_stream_with_a_stop(refresh=False)[11:]) > 0.9
    # Without the rule (a refresh would need more cells than there are) the band is frozen.
    without = DetectorConfig(frozen_refresh_share=1.0)
    without.frozen_refresh_share = 1.01  # past validation: a development switch
    assert max(_codec_stream_with_a_stop(refresh=True, config=without)[11:]) > 0.9


def test_a_keyframe_in_a_busy_stream_is_a_refresh_too():
    """A busy clip changes 55-60 % of its cells per frame and 95 % at a keyframe: the frames
    around it changed more than half as many, so a keyframe was taken for motion and the
    sky that the codec kept identical right after it (every sky cell had "moved" in it)
    stopped as one tile (country_bluesky in eval-detection: 39 168 px flagged frozen on a
    clean frame; veil precision there 0.586). At most ``frozen_refresh_around`` (0.65) as
    many around it: a refresh."""
    assert max(_codec_stream_with_a_stop(refresh=True, busy=True)) == 0.0
    assert max(_codec_stream_with_a_stop(refresh=False, busy=True)[11:]) > 0.9
    half = DetectorConfig(frozen_refresh_around=0.5)  # the rule before
    assert max(_codec_stream_with_a_stop(refresh=True, config=half, busy=True)[11:]) > 0.9


def test_a_refresh_of_part_of_the_picture_is_a_refresh_too():
    """An encoder may refresh part of the picture (a rate-control step, a periodic intra
    refresh): here the top 60 % of the rows, 70 % of the cells changing in one frame amid 20-40
    %. The cells the encoder skips again right after it are no freeze: at a red light at night
    (the MPEG-4 copy of urban_night, vehicle stopped) 60 % of the cells changed in one frame
    amid 17-27 %, and a tile grown through the cells that stopped after it covered up to 36 %
    of 17 frames. A refresh needs half of the cells (``frozen_refresh_share``); 80 % before."""
    partial = slice(0, 96)  # of 160 rows: the stopping band (48-80) inside it
    assert max(_codec_stream_with_a_stop(refresh=True, refreshed_rows=partial)) == 0.0
    before = DetectorConfig(frozen_refresh_share=0.8)
    assert max(_codec_stream_with_a_stop(True, before, refreshed_rows=partial)[11:]) > 0.9


def _stills(names_and_indices: list[tuple[str, int]], shape=(360, 640)) -> list[np.ndarray]:
    """One frame of each named development clip, resized to ``shape``; skips without them."""
    import cv2

    frames = []
    for name, index in names_and_indices:
        path = _development_clip(name)
        frame = list(iter_frames(path, max_frames=index + 1))[index]
        frames.append(cv2.resize(frame, shape[::-1], interpolation=cv2.INTER_AREA))
    return frames


STILLS = [
    ("driving_night_rural_640x360.mp4", 120),
    ("driving_country_bluesky_640x360.mp4", 200),
    ("driving_low_sun_640x360.mp4", 60),  # dark pillarbox borders and bonnet
    ("driving_urban_night_1280x720.mp4", 90),
    ("driving_highway_solidWhiteRight_960x540.mp4", 150),
    ("driving_night_rural_640x360.mp4", 220),
]


def test_stills_played_as_a_video_are_scene_cuts_even_to_night():
    """A folder of stills from other drives played as a video (a dataset's stills, a camera
    switch): every frame is a new scene. A cut to a night scene darkens most cells at once,
    as a dead sensor would, and brings dark borders and rows; but the rest of the frame is
    new too, so nothing is an onset (before: 53-72 % of a cut to night flagged dead, the
    pillarbox border's columns and the bonnet's rows as dead lines and lost rows)."""
    lit = read_frames(_development_clip("driving_country_bluesky_640x360.mp4"), max_frames=8)
    detector = FailureDetector()
    for frame in [*lit, *_stills(STILLS)]:
        detection = detector.detect(frame)
        assert not detection.mask.any(), f"{detection.failed_ratio:.1%} {detection.counts}"


def test_a_dead_region_shaped_like_a_night_scene_over_a_continuing_drive_is_a_failure():
    """The pair of the test above: the night still's dark region appears over the drive that
    goes on (the same 8 frames, then the 9th with those pixels black). The scene beside it
    continues: a failure, found over the region."""
    night = _stills(STILLS[:1])[0]
    lit = read_frames(_development_clip("driving_country_bluesky_640x360.mp4"), max_frames=9)
    dark = night.max(axis=2) <= 10
    assert 0.5 < dark.mean() < 0.95
    damaged = lit[8].copy()
    damaged[dark] = np.random.default_rng(0).integers(0, 3, size=(int(dark.sum()), 3))
    detector = FailureDetector()
    for frame in lit[:8]:
        assert not detector.detect(frame).mask.any()
    detection = detector.detect(damaged)
    assert (detection.mask & dark).sum() / dark.sum() > 0.9
    assert (detection.mask & ~dark).sum() / max(1, (~dark).sum()) < 0.3


def test_onsets_wait_for_the_warm_up_after_a_start_or_reset():
    """A cell's "before" in the first frames of a stream is one or two looks: no onsets yet.

    A dark block there (as new as a shadow that swept in between the first two frames) is
    scene while it lasts; a block after the warm-up is a failure, and a resolution change
    starts the warm-up again. With ``onset_warmup_frames`` 0 the early block is flagged.
    """
    frames = moving_scene(12, shape=(160, 240))
    early, late = (slice(16, 64), slice(16, 80)), (slice(96, 144), slice(144, 208))

    def stream(config: DetectorConfig) -> list[int]:
        detector = FailureDetector(config)
        flagged = []
        for index, frame in enumerate(frames):
            frame = frame.copy()
            if index >= 1:
                frame[early] = 2  # from the stream's second frame on
            if index >= 8:
                frame[late] = 2
            labels = detector.detect(frame, index / 30).labels
            flagged.append(int((labels[early] == FailureKind.DEAD).sum()))
            if index >= 8:
                assert (labels[late] == FailureKind.DEAD).mean() > 0.9, f"frame {index}"
        return flagged

    assert sum(stream(DetectorConfig())) == 0
    assert stream(DetectorConfig(onset_warmup_frames=0))[1] > 0.9 * 48 * 64
    detector = FailureDetector()
    for index, frame in enumerate(frames[:6]):
        detector.detect(frame, index / 30)
    small = [frame[::2, ::2].copy() for frame in frames[6:12]]
    for index, frame in enumerate(small):  # a new resolution: a new stream
        frame[8:32, 8:40] = 2 if index >= 1 else frame[8:32, 8:40]
        assert not detector.detect(frame, (6 + index) / 30).mask.any(), f"frame {index}"
    with pytest.raises(ValueError, match="onset_warmup_frames"):
        DetectorConfig(onset_warmup_frames=-1)


def _night_road(index: int, rng: np.random.Generator) -> np.ndarray:
    """(120, 160, 3) a dim road at night, two lane markings converging upwards, sensor noise."""
    frame = rng.integers(3, 8, size=(120, 160, 3), dtype=np.uint8)
    for row in range(40, 120):
        spread = (row - 40) // 2
        for centre in (70 - spread + index, 90 + spread + index):
            frame[row, max(0, centre - 2) : centre + 2] = 40
    return frame


def test_smear_of_a_structured_row_over_the_night_is_flagged_though_little_changed():
    """A smear copies the last good row (lane markings) down over a dark road: the rows change
    by a few levels only, but scene never repeats a structured row exactly across the frame.
    A flat run (a black bonnet) that grows as little is scene, and so are smooth rows that
    only resemble each other."""
    rng = np.random.default_rng(9)

    def stream(config: DetectorConfig, damage) -> np.ndarray:
        detector = FailureDetector(config)
        for index in range(9):
            frame = _night_road(index, rng)
            if index == 8:
                damage(frame)
            labels = detector.detect(frame, index / 30).labels
            if index < 8:
                assert not labels.any(), f"clean frame {index} flagged"
        return labels

    def smear(frame: np.ndarray) -> None:
        frame[80:] = frame[79]

    def bonnet(frame: np.ndarray) -> None:
        frame[100:] = 4  # flat, 2-4 levels from the road it covers

    def smooth(frame: np.ndarray) -> None:  # rows alike within a level, not copied
        frame[80:] = frame[79]
        frame[80:, ::7] += np.arange(40, dtype=np.uint8)[:, None, None] % 2

    assert (stream(DetectorConfig(), smear)[80:] == FailureKind.LOST_ROWS).all()
    assert not stream(DetectorConfig(lost_rows_smear_std=1e9), smear).any()  # the rule off
    assert not stream(DetectorConfig(), bonnet).any()
    assert not (stream(DetectorConfig(), smooth) == FailureKind.LOST_ROWS).any()


def _dim_night_road(frames: int) -> list[np.ndarray]:
    """Night frames (luma 2-9) with a dim textured road (luma 13-28) in rows 40-72: the night
    is within two 8-px cells of every road cell."""
    road = [frame // 12 + 10 for frame in moving_scene(frames, shape=(32, 140), step=2, seed=9)]
    night = night_scene(frames, shape=(120, 200))
    for frame, patch in zip(night, road, strict=True):
        frame[40:72, 30:170] = patch
    return night


def _dead_labels_over_dim_road(change, config: DetectorConfig | None = None) -> np.ndarray:
    """(H, W) bool dead labels of the 10th dim-road frame, ``change``d in place, after 9
    clean frames (each unflagged)."""
    frames = _dim_night_road(10)
    detector = FailureDetector(config)
    for index, frame in enumerate(frames[:9]):
        assert not detector.detect(frame).mask.any(), f"clean frame {index} flagged"
    change(frames[9])
    return detector.detect(frames[9]).labels == FailureKind.DEAD


DIM_ROAD_BOX = (slice(40, 72), slice(40, 96))


def _black_block(frame: np.ndarray) -> None:
    """A dead block at 0-4 over DIM_ROAD_BOX."""
    size = frame[DIM_ROAD_BOX].shape
    frame[DIM_ROAD_BOX] = np.random.default_rng(3).integers(0, 5, size=size, dtype=np.uint8)


def test_dead_block_over_a_dim_night_road_is_flagged_as_a_region():
    """A block at 0-4 over a road at luma 13-28, the night (2-9) within two cells of every
    cell: no cell is 2.5 times darker than its darkest neighbour, so the per-cell test sees
    nothing. As a region it turned dark in place: each cell far below its own past, a new edge
    against the lit road, and its pixels no longer following theirs a frame ago."""
    dead = _dead_labels_over_dim_road(_black_block)
    assert dead[DIM_ROAD_BOX].mean() > 0.8
    assert not dead[:32].any() and not dead[80:].any() and not dead[:, 112:].any()
    assert not _dead_labels_over_dim_road(
        _black_block, DetectorConfig(dead_region_min_cells=0)
    ).any()


def test_dim_night_road_darkened_by_light_leaving_is_not_dead():
    """The same road dimming to a quarter where a headlight turned away: every cell far below
    its past with a new edge, as a block; but the road's structure is still there (its pixels
    follow theirs a frame ago, moved 2 px): a light that changed, not a failure."""

    def dimmed(frame: np.ndarray) -> None:
        frame[DIM_ROAD_BOX] //= 4

    assert not _dead_labels_over_dim_road(dimmed).any()
    # By the other region cues alone it would be a block.
    anything = DetectorConfig(dead_region_max_correlation=1.0)
    assert _dead_labels_over_dim_road(dimmed, anything)[DIM_ROAD_BOX].mean() > 0.8


def test_dead_block_over_the_lit_night_road_is_no_dim_shade_that_moved_on_real_frames():
    """night_rural, frame 26: a dead block (0-3) over the headlit road where a schedule of the
    evaluation put one. Its patch correlates at 0.73-0.76 with dim shades of the road near it a
    frame ago, a quarter as dark against the road as the block: without the contrast a dark
    object brings along, it was taken for one that moved and missed (night_rural's dead recall
    0.21-0.31 over three schedules, three blocks of this kind)."""
    frames = read_frames(_development_clip("driving_night_rural_640x360.mp4"), max_frames=27)
    box = (slice(293, 351), slice(163, 274))
    damaged = frames[26].copy()
    damaged[box] = np.random.default_rng(3).integers(0, 4, size=damaged[box].shape, dtype=np.uint8)

    def dead_labels(config: DetectorConfig) -> np.ndarray:
        detector = FailureDetector(config)
        for index, frame in enumerate(frames[:26]):
            assert not detector.detect(frame, index / 30).mask.any(), f"clean frame {index}"
        return detector.detect(damaged, 26 / 30).labels == FailureKind.DEAD

    dead = dead_labels(DetectorConfig())
    assert dead[box].mean() > 0.95
    near = np.zeros_like(dead)
    near[285:359, 155:282] = True  # the block and the cell around it (its rim)
    assert not (dead & ~near).any()
    assert not dead_labels(DetectorConfig(dead_region_match_contrast=0)).any()


def test_a_dark_car_driving_from_dark_bushes_onto_the_lit_road_at_10_fps_is_scene():
    """urban_night at 10 fps (every third frame): a black car crosses from in front of dark
    bushes onto the lit road in one frame interval. Its body is flat, far below its own past,
    with a new edge: a region that turned dark in place, unless it moved here. Its outline a
    frame ago matches (0.70) where it had almost no contrast against the bushes; it kept its
    own darkness there, which a dim shade of a block's shape does not (a block at 0-2 is
    2.4-5.6 times darker than the shades it matched, from the black floor)."""
    path = _development_clip("driving_urban_night_1280x720.mp4")
    frames = [frame for index, frame in enumerate(iter_frames(path)) if index % 3 == 0]

    def flagged(config: DetectorConfig) -> list[int]:
        detector = FailureDetector(config)
        found = [
            detector.detect(frame, index / 10).mask.any()
            for index, frame in enumerate(frames[:43])
        ]
        return [index for index, any_flag in enumerate(found) if any_flag]

    assert flagged(DetectorConfig()) == []
    assert flagged(DetectorConfig(dead_region_match_darker=0)) == [42]  # the contrast alone


def test_a_dark_region_at_the_frames_edge_is_matched_without_its_contrast(monkeypatch):
    """A dark region touching the frame's edge and no deeper than the outline match's reach
    (15 % of the height a frame: 3 cells here) may have entered from outside this frame: what
    it looked like against its surroundings lay beyond the edge, so its match asks no contrast
    (bikes through a harsh tone curve: a van's dark window entering at the right edge, 4
    cells deep at 272 px, was dropped by its outline match alone, and flagged once the
    contrast was asked). A block deeper in the frame is matched with it. This checks which
    regions the match is asked for without them (both synthetic blocks are flagged either way:
    the van's window is in a derived clip, measured in docs/detection.md)."""
    asked = []
    plain = FailureDetector._moved_here

    def spy(self, stats, region, box, contrast=True):
        asked.append((int(box[0]), int(box[2]), contrast))
        return plain(self, stats, region, box, contrast)

    monkeypatch.setattr(FailureDetector, "_moved_here", spy)
    for columns in (slice(176, 200), slice(40, 96)):
        road = [frame // 12 + 10 for frame in moving_scene(10, shape=(32, 170), step=2, seed=9)]
        frames = night_scene(10, shape=(120, 200))
        for frame, patch in zip(frames, road, strict=True):
            frame[40:72, 30:200] = patch  # the dim road reaches the right edge
        detector = FailureDetector()
        for index, frame in enumerate(frames[:9]):
            assert not detector.detect(frame).mask.any(), f"clean frame {index} flagged"
        size = (32, columns.stop - columns.start, 3)
        frames[9][40:72, columns] = np.random.default_rng(3).integers(0, 5, size, np.uint8)
        detector.detect(frames[9])
    # (first cell, width in cells, contrast asked) of the regions judged (the block's flat
    # cells, its border's texture left out): at the right edge (cells 23-24 of 25), then
    # inside (cells 6-10)
    assert asked == [(23, 2, False), (6, 5, True)], asked


NIGHT_ABOVE_ROAD = (slice(16, 40), slice(40, 96))


def _block_over_road_and_night(frame: np.ndarray) -> None:
    """A dead block at 0-2 over DIM_ROAD_BOX and the night above it (luma 2-9, rows 16-40)."""
    rows, cols = slice(16, 72), slice(40, 96)
    size = frame[rows, cols].shape
    frame[rows, cols] = np.random.default_rng(3).integers(0, 3, size=size, dtype=np.uint8)


def test_dead_block_covers_the_dark_night_it_spreads_over():
    """A block over the dim road and the night above it: the road part is an onset (a region
    that turned dark in place); the night part was dark already, so it is no onset of its own,
    but its level moved ~4 levels with the block in the same frame (the night's cells move
    well under 2 a frame): it is the same block and is flagged with it."""
    dead = _dead_labels_over_dim_road(_block_over_road_and_night)
    assert dead[DIM_ROAD_BOX].mean() > 0.8
    assert dead[NIGHT_ABOVE_ROAD].mean() > 0.8
    assert not dead[:8].any() and not dead[80:].any() and not dead[:, 112:].any()
    # Without the join only the rim next to the road's part is marked (the soft-rim rule).
    alone = _dead_labels_over_dim_road(
        _block_over_road_and_night, DetectorConfig(dead_join_step=0)
    )
    assert alone[DIM_ROAD_BOX].mean() > 0.8
    assert alone[16:32, 40:96].mean() < 0.1


def test_dark_scene_joined_to_a_block_is_released_when_the_block_goes():
    """The night above the road darkens for good (a street light went out) in the frame a
    block covers the road: the night joins the block. Next frame the block has gone (the road
    moves again) but the darker night stays steady, away from its old level: held on its own
    it would stay flagged; it ended with the block, as a whole."""

    def labels_after(config: DetectorConfig) -> tuple[np.ndarray, np.ndarray]:
        frames = _dim_night_road(11)
        detector = FailureDetector(config)
        for index, frame in enumerate(frames[:9]):
            assert not detector.detect(frame).mask.any(), f"clean frame {index} flagged"
        for frame in frames[9:]:
            frame[24:40, 40:96] //= 4  # the light went out: 2-9 -> 0-2, and stays so
        _black_block(frames[9])
        onset = detector.detect(frames[9]).labels == FailureKind.DEAD
        return onset, detector.detect(frames[10]).labels == FailureKind.DEAD

    onset, after = labels_after(DetectorConfig())
    assert onset[DIM_ROAD_BOX].mean() > 0.8 and onset[24:40, 40:96].mean() > 0.8
    assert not after.any()
    # Held alone without the whole-region release (and without the moved-edge release, which
    # also lets it go here: the dim road beside it is as dark and pans)
    _, held_alone = labels_after(DetectorConfig(dead_release_share=0, dead_steady_share=0))
    assert held_alone[24:40, 40:96].mean() > 0.8
    for bad in (
        {"dead_join_step": -1.0},
        {"dead_join_step": float("nan")},
        {"dead_release_share": 1.5},
    ):
        with pytest.raises(ValueError, match="dead_join_step must be >= 0"):
            DetectorConfig(**bad)


def _sky_over_dark_road(frames: int) -> list[np.ndarray]:
    """(120, 160, 3) frames of a panning texture: a bright top (150-210) over a dark road that
    brightens towards the camera (15 -> 80 plus a little texture), as a street scene does."""
    scene = []
    for frame in moving_scene(frames, shape=(120, 160)):
        frame = frame.astype(np.float32)
        frame[:50] = frame[:50] * 0.25 + 150.0
        frame[50:] = frame[50:] * 0.15 + np.linspace(15.0, 80.0, 70)[:, None, None]
        scene.append(frame.astype(np.uint8))
    return scene


def test_a_grey_fill_over_most_of_a_dark_road_is_lost_rows_not_a_scene_cut():
    """A decoder's grey (128) over the bottom 58 % of a dark road raises the frame's median luma
    ratio to 1.44; measured with the fill, the exposure gain made the unchanged sky above look
    moved and the frame read as a scene cut (no onset judged: urban_overcast's bottom losses of
    more than half the frame were all missed). The gain of the cut test leaves out what looks
    failed. Nothing is flagged once the fill is gone."""
    from frame_restore_ros.synthetic.corruption import GRAY_FILL

    detector = FailureDetector()
    for index, frame in enumerate(_sky_over_dark_road(14)):
        if index == 10:
            frame[50:] = GRAY_FILL
        found = detector.detect(frame, index / 30)
        if index == 10:
            assert not found.scene_cut
            assert (found.labels[50:] == FailureKind.LOST_ROWS).all()
            assert not found.mask[:50].any()
        else:
            assert not found.mask.any(), (index, found.counts)


def test_grey_fills_over_most_of_a_real_road_are_found_as_lost_rows():
    """urban_overcast: grey fills from 42 % of the height down (the road and the cars on it)."""
    from frame_restore_ros.synthetic.corruption import GRAY_FILL

    frames = read_frames(_development_clip("driving_urban_overcast_640x360.mp4"), max_frames=62)
    detector, found_rows = FailureDetector(), []
    for index, frame in enumerate(frames):
        if index in (20, 40, 60):
            frame = frame.copy()
            frame[150:] = GRAY_FILL
        found = detector.detect(frame, index / 30)
        if index in (20, 40, 60):
            found_rows.append(float((found.labels[150:] == FailureKind.LOST_ROWS).mean()))
        else:
            assert not found.mask.any(), (index, found.counts)
    assert found_rows == [1.0, 1.0, 1.0]


def test_an_exposure_jump_that_clips_the_sky_through_a_harsh_tone_curve_is_no_failure():
    """low_sun through a cheap camera's tone curve ((luma - 30) x 1.4, clipped): its exposure
    jump at frame 3 clips the sky to white and crushes the road. Measured without what looks
    failed (the clipped sky), the gain is the exposure jump itself, so the cut test keeps the
    frame's own gain there: the jump is a cut, not a saturated sky, dead cars and lost rows
    (they were flagged in 297 of 300 frames when the failure-free gain served here too)."""
    harsh = np.clip((np.arange(256) - 30) * 1.4, 0, 255).astype(np.uint8)
    path = _development_clip("driving_low_sun_640x360.mp4")
    detector = FailureDetector()
    for index, frame in enumerate(read_frames(path, max_frames=12)):
        found = detector.detect(harsh[frame], index / 30)
        assert not found.mask.any(), (index, found.counts)


def test_the_night_after_a_veil_is_no_dead_region_at_10_fps():
    """urban_night at 10 frames a second (every third frame), scored as `eval-detection` scores
    it (seed 7: a veil at frame 39). The veil's faint edge (below half opacity, no look counts it
    failed) lit the night around it for that one frame; when the night came back, the cells dark
    two frames before took it for fresh darkness, and one small dark region's onset grew through
    all of them: a dead region of ~35 000 pixels held for 30 frames (3 s), 1 469 false patches
    over the classes injected meanwhile. Dark scene two frames back that a single frame lit is
    not fresh darkness."""
    from frame_restore_ros.evaluation.detection_scores import DetectionReport, evaluate_clip

    frames = read_frames(_development_clip("driving_urban_night_1280x720.mp4"))[::3]
    clip = evaluate_clip(
        "urban_night_10fps",
        frames,
        FailureDetector,
        None,
        DetectionReport(),
        seed=7,
        frame_rate=10.0,
    )
    false = {kind: score.false_positive for kind, score in clip.ours.items()}
    assert sum(false.values()) <= 25, false


def test_white_lane_dashes_entering_at_the_bottom_through_a_harsh_tone_curve_are_scene():
    """A cheap camera's tone curve ((luma - 30) x 1.4, clipped: `scripts/derive_clips.py`
    contrast) clips the highway's lane dashes to 255 as they rise from the bottom edge: 2-7
    cells of new white at the edge, flagged saturated in 10 of these 48 frames before. What
    enters the view within a frame's motion of its edge has no past to be new against
    (`onset.entering_from_edge`)."""
    from frame_restore_ros.media.video import read_frames

    harsh = np.clip((np.arange(256) - 30) * 1.4, 0, 255).astype(np.uint8)
    path = _development_clip("driving_highway_solidWhiteRight_960x540.mp4")
    detector = FailureDetector()
    flagged = [
        index
        for index, frame in enumerate(read_frames(path, max_frames=48))
        if detector.detect(harsh[frame], index / 25).mask.any()
    ]
    assert flagged == [], flagged


@pytest.mark.parametrize(
    ("level", "kind"),
    [(255, FailureKind.SATURATED), (0, FailureKind.DEAD)],
    ids=["white", "black"],
)
def test_a_block_at_the_bottom_edge_deeper_than_a_frames_motion_is_flagged(level, kind):
    """Entering scene reaches no deeper than a frame's motion (6 % of the height, 2 cells here);
    a white or black block at the edge twice that deep is a failure as anywhere else, and a
    strip of it that deep is not judged (it is flagged without `onset.entering_from_edge`),
    unless the same look failed elsewhere in the frame too."""
    frames = moving_scene(12, shape=(192, 320))
    detector = FailureDetector()
    for index, frame in enumerate(frames[:10]):
        assert not detector.detect(frame, index / 30).mask.any()
    block = frames[10].copy()
    block[192 - 32 :, 100:180] = level  # 32 px: 4 cells
    found = detector.detect(block, 10 / 30)
    assert (found.labels[192 - 32 :, 100:180] == kind).mean() >= 0.9
    strip = frames[11].copy()
    strip[192 - 16 :, 100:180] = level  # two cells deep, a frame's motion: it may have entered
    shallow = FailureDetector()
    for index, frame in enumerate(frames[:11]):
        shallow.detect(frame, index / 30)
    assert not shallow.detect(strip, 11 / 30).mask.any()
    # The same strip in a frame where that look failed off the edge too (a burst of failed blocks):
    # a piece of that failure, flagged with it.
    burst = strip.copy()
    burst[64:112, 40:120] = level
    with_burst = FailureDetector()
    for index, frame in enumerate(frames[:11]):
        with_burst.detect(frame, index / 30)
    labels = with_burst.detect(burst, 11 / 30).labels
    assert (labels[64:112, 40:120] == kind).mean() >= 0.9
    assert (labels[192 - 16 :, 100:180] == kind).mean() >= 0.9


def test_a_dark_coat_entering_at_the_edge_of_an_upscaled_frame_is_scene():
    """The surveillance clip upscaled to 1920x1080 (`scripts/derive_clips.py` hd1080): pedestrians
    in dark coats walk in at the right edge, 18-69 px of new near-black there, flagged dead in 5
    of these 45 frames before (`onset.entering_from_edge`, for black as for white)."""
    import cv2

    path = _development_clip("surveillance_vtest_768x576.avi")
    detector = FailureDetector()
    flagged = [
        index
        for index, frame in enumerate(read_frames(path, max_frames=45))
        if detector.detect(
            cv2.resize(frame, (1920, 1080), interpolation=cv2.INTER_CUBIC), index / 10
        ).mask.any()
    ]
    assert flagged == [], flagged


def _bikes_at_dusk(
    config: DetectorConfig, start: int, stop: int
) -> Iterator[tuple[int, Detection]]:
    """(index, detection) of bikes.mp4 frames ``start`` to ``stop`` - 1, darkened to dusk
    (`scripts/derive_clips.py` dusk: a quarter of the light in linear light, sensor noise of
    sigma 2), the detector running from ``start``."""
    values = np.arange(256) / 255.0
    linear = np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)
    linear *= 0.25
    encoded = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    dusk = np.clip(encoded * 255 + 0.5, 0, 255).astype(np.uint8)
    rng = np.random.default_rng(0)
    detector = FailureDetector(config)
    for index, frame in enumerate(read_frames(sample_video_path("bikes.mp4"), max_frames=stop)):
        if index < start:
            continue
        noisy = np.clip(dusk[frame] + rng.normal(0.0, 2.0, frame.shape), 0, 255)
        yield index, detector.detect(noisy.astype(np.uint8), index / 30)


def _dead_frames_of_bikes_at_dusk(config: DetectorConfig) -> list[int]:
    """Indices of bikes.mp4 frames 85-139 at dusk (:func:`_bikes_at_dusk`) with a dead flag."""
    return [
        index
        for index, detection in _bikes_at_dusk(config, 85, 140)
        if (detection.labels == FailureKind.DEAD).any()
    ]


def test_a_dark_jersey_held_as_dead_is_released_when_its_outline_moves():
    """At dusk a passing car uncovers a cyclist whose jersey is crushed to black: taken for a
    dead block at its onset (frame 97) and, without the rule, held while it stays black (36
    frames). A sensor failure stays on its pixels; the jersey's edge against the lit street
    moves as he rides (`new_edges.steady_edge_pixels`): released within a few frames. A dead
    block's hold is unchanged (test_dead_block_is_flagged_at_its_onset_held_and_cleared)."""
    flagged = _dead_frames_of_bikes_at_dusk(DetectorConfig())
    assert len(flagged) <= 10, flagged
    held = _dead_frames_of_bikes_at_dusk(DetectorConfig(dead_steady_share=0))
    assert len(held) >= 30, held
    with pytest.raises(ValueError, match="dead_steady_share"):
        DetectorConfig(dead_steady_share=1.5)


def test_a_film_cut_at_dusk_is_a_scene_cut_not_a_failure():
    """bikes.mp4 cuts between shots at frames 76 and 137. At dusk its levels lie close together:
    after each cut most cells find a level like theirs a cell away, and the level test
    (`scene_cut.new_everywhere`) missed both cuts; the new shot's darker or brighter parts were
    flagged as dead or blockage and held for frames. Normalised correlation does not scale with
    the light: the cut's textured blocks match nothing near them a frame ago
    (`scene_cut.new_structure_everywhere`)."""
    cuts = (76, 137)

    def run(config: DetectorConfig) -> tuple[list[int], list[int]]:
        read_as_cut, flagged = [], []
        for index, detection in _bikes_at_dusk(config, 60, 150):
            if detection.scene_cut:
                read_as_cut.append(index)
            if detection.mask.any() and any(0 <= index - cut < 10 for cut in cuts):
                flagged.append(index)
        return read_as_cut, flagged

    read_as_cut, flagged = run(DetectorConfig())
    assert read_as_cut == list(cuts)
    assert flagged == []
    # The level test alone: neither cut seen, the new shots flagged after them.
    read_as_cut, flagged = run(DetectorConfig(cut_structure_share=0.0))
    assert read_as_cut == []
    assert len(flagged) >= 5, flagged
    with pytest.raises(ValueError, match="cut_structure_share"):
        DetectorConfig(cut_structure_share=1.5)


def test_a_dashcam_clock_and_logo_burnt_into_the_picture_stay_unflagged():
    """Dashcam footage carries a burnt-in clock that ticks once a second (textured content that
    changes and then holds for 29 frames while the scene moves, as a frozen tile's would) and a
    half-transparent logo fixed over the moving scene. Neither is a failure. bikes.mp4, 150
    frames with both drawn in; the same frames flag nothing without them either."""
    import cv2

    detector = FailureDetector()
    flagged = []
    for index, frame in enumerate(read_frames(sample_video_path("bikes.mp4"), max_frames=150)):
        height, width = frame.shape[:2]
        second = index // 30
        clock = f"2026/12/06 14:32:{second:02d}  {54 + second % 7} km/h"
        origin = (10, height - 12)
        for colour, thickness in (((0, 0, 0), 4), ((255, 255, 255), 1)):
            cv2.putText(frame, clock, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, thickness)
        logo = frame.copy()
        cv2.putText(
            logo, "DASHCAM", (width - 150, 30), cv2.FONT_HERSHEY_DUPLEX, 0.8, (255,) * 3, 2
        )
        cv2.addWeighted(logo, 0.5, frame, 0.5, 0, dst=frame)
        if detector.detect(frame, index / 30).mask.any():
            flagged.append(index)
    assert flagged == []


@pytest.mark.parametrize("excursion", [30, 40])
def test_a_change_that_came_and_went_is_no_motion_for_the_frozen_rule(excursion):
    """The lower half of a scene whose top changes by 3 levels a frame drifts by a level or
    two (the codec's requantisation: too little to count as live content), jumps for one
    frame and comes back (a smear the detector missed: it touches the frame's edge, so it is
    no blockage), then stays bit-identical as a codec keeps still scene. Learnt as motion,
    the jump made the half "live content that stopped": a frozen tile over half the frame
    (the rain clip: 62 %). A change that came and went in one frame is forgotten, its way in
    included; with ``activity_return_step`` 0 the old behaviour comes back."""
    ground = moving_scene(1, shape=(128, 160), seed=4)[0].astype(np.int16)
    lower = (slice(64, 128), slice(0, 160))

    def frozen_pixels(config: DetectorConfig) -> list[int]:
        detector, counts = FailureDetector(config), []
        for index in range(18):
            frame = ground + 3 * (index % 2)
            drift = index % 3 if index <= 13 else 13 % 3
            frame[lower] = ground[lower] + drift + (excursion if index == 12 else 0)
            found = detector.detect(np.clip(frame, 0, 255).astype(np.uint8), index / 30)
            counts.append(int((found.labels == FailureKind.FROZEN).sum()))
        return counts

    assert frozen_pixels(DetectorConfig()) == [0] * 18
    assert frozen_pixels(DetectorConfig(activity_return_step=0))[15:] == [64 * 160] * 3


def _bonnet_after_a_long_grey_fill(config: DetectorConfig | None = None) -> list[int]:
    """Lost-row pixels flagged per frame after a grey fill over the bottom half ends.

    A flat bonnet over the bottom 20 rows (scene from the first frame, so never flagged by
    itself); a decoder fills the bottom 60 rows grey for 40 frames, and meanwhile the light
    on the bonnet changes (3 -> 15): when the camera recovers the bonnet is back at another
    level than before the onset.
    """
    detector = FailureDetector(config)
    flagged = []
    for index, frame in enumerate(moving_scene(50, shape=(120, 160))):
        frame = frame.copy()
        frame[100:] = 3 if index < 5 else 15
        if 5 <= index < 45:
            frame[60:] = 128
        labels = detector.detect(frame, index / 30).labels
        if index >= 45:
            flagged.append(int((labels == FailureKind.LOST_ROWS).sum()))
    return flagged


def test_lost_rows_end_as_a_whole_and_the_bonnet_left_is_scene():
    """When most of a flagged run shows scene again, the failure ended: the bonnet rows that
    still look lost are released, though their level moved while the fill lasted. With each
    row held while it looks lost (lost_rows_end_share 1), the bonnet stays flagged."""
    assert _bonnet_after_a_long_grey_fill() == [0] * 5
    held = _bonnet_after_a_long_grey_fill(DetectorConfig(lost_rows_end_share=1.0))
    assert all(count == 20 * 160 for count in held), held


def test_lost_rows_that_shrink_to_fewer_rows_of_the_same_fill_stay_flagged():
    """A loss of the bottom 60 rows shrinks to the bottom 20, the same dark grey fill: most of the
    run shows scene again, but the rows left did not change: the loss goes on (a review's
    case: released as a whole, they were learnt as scene for all 15 frames)."""
    detector = FailureDetector()
    flagged = []
    for index, frame in enumerate(moving_scene(40, shape=(120, 160))):
        frame = frame.copy()
        if 5 <= index < 25:
            frame[60:] = 90
        elif 25 <= index < 40:
            frame[100:] = 90
        if index >= 25:
            flagged.append(int((detector.detect(frame).labels == FailureKind.LOST_ROWS).sum()))
        else:
            detector.detect(frame)
    assert flagged == [20 * 160] * 15, flagged

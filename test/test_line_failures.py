"""`LineFailures` on its own: dead rows and columns and lost rows, at their onset only.

A textured scene pans 3 px a frame; failures are written into its pixels. The module labels the
failed lines in place and leaves everything else as the cell rules labelled it.
"""

from __future__ import annotations

import cv2
import numpy as np

from frame_restore_ros.detection.detector_config import DetectorConfig
from frame_restore_ros.detection.failures import FailureKind
from frame_restore_ros.detection.line_failures import LineFailures

SHAPE = (160, 256)


def _panning(count: int) -> list[np.ndarray]:
    """``count`` (H, W) uint8 luma frames of a smooth texture panning 3 px a frame.

    Brighter at the top than at the bottom (sky and road): row means from ~170 down to ~50.
    """
    noise = np.random.default_rng(5).normal(110, 40, (SHAPE[0], SHAPE[1] + 3 * count))
    noise += np.linspace(60, -60, SHAPE[0])[:, None]
    texture = np.clip(cv2.GaussianBlur(noise, (0, 0), 1.5), 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(texture[:, 3 * i : 3 * i + SHAPE[1]]) for i in range(count)]


def _labels(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Mark each frame's lines after the one before it; return the (H, W) labels per frame."""
    lines, previous, out = LineFailures(DetectorConfig()), None, []
    for gray in frames:
        labels = np.zeros(gray.shape, dtype=np.uint8)
        lines.mark(gray, previous, labels, repeated=False)
        out.append(labels)
        previous = gray
    return out


def test_dead_rows_and_a_dead_column_are_labelled_from_their_onset_and_held():
    frames = _panning(10)
    for gray in frames[6:]:
        gray[80:83] = 0
        gray[:, 200] = 0
    labels = _labels(frames)
    assert not any(frame.any() for frame in labels[:6])
    for frame in labels[6:]:
        expected = np.zeros(SHAPE, dtype=np.uint8)
        expected[80:83] = FailureKind.DEAD
        expected[:, 200] = FailureKind.DEAD
        assert (frame == expected).all()


def test_a_black_border_there_from_the_start_is_scene():
    frames = _panning(10)
    for gray in frames:
        gray[:4] = 0  # a letterbox bar: dead-looking rows that never had an onset
    assert not any(frame.any() for frame in _labels(frames))


def test_lost_rows_filled_grey_or_repeating_the_last_good_row_are_labelled():
    for fill in ("grey", "smear"):
        frames = _panning(8)
        for gray in frames[5:]:
            gray[-20:] = 128 if fill == "grey" else gray[-21]
        labels = _labels(frames)
        assert not any(frame.any() for frame in labels[:5]), fill
        expected = np.zeros(SHAPE, dtype=np.uint8)
        expected[-20:] = FailureKind.LOST_ROWS  # a smear's row -21 is the last good row itself
        assert (labels[5] == expected).all(), fill
        if fill == "grey":  # held while the rows keep the fill
            assert all((frame == expected).all() for frame in labels[6:])


def test_a_repeated_frame_keeps_the_lines_flagged_before():
    frames = _panning(8)
    for gray in frames[5:]:
        gray[80:83] = 0
    lines, previous = LineFailures(DetectorConfig()), None
    for gray in frames:
        lines.mark(gray, previous, np.zeros(SHAPE, dtype=np.uint8), repeated=False)
        previous = gray
    again = np.zeros(SHAPE, dtype=np.uint8)
    lines.mark(frames[-1], frames[-1], again, repeated=True)
    assert (again[80:83] == FailureKind.DEAD).all() and not again[:80].any()
    lines.reset()
    assert lines.dead_rows.flagged is None


def _gained(gray: np.ndarray, gain: float) -> np.ndarray:
    """``gray`` through an exposure change of ``gain`` (rounded, clipped)."""
    return np.clip(np.rint(gray * gain), 0, 255).astype(np.uint8)


def _labels_with_gain(frames: list[np.ndarray], gains: list[float]) -> list[np.ndarray]:
    """As :func:`_labels`, each frame told the exposure change since the one before it."""
    lines, previous, out = LineFailures(DetectorConfig()), None, []
    for gray, gain in zip(frames, gains, strict=True):
        labels = np.zeros(gray.shape, dtype=np.uint8)
        lines.mark(gray, previous, labels, repeated=False, gain=gain)
        out.append(labels)
        previous = gray
    return out


def test_a_smeared_bottom_band_under_a_flickering_exposure_is_scene():
    # A decoder's padding smear at the bottom (the last rows repeat the one above them, 4 to 6
    # of them as the content varies) is there from the start; the exposure flickers by 10 %
    # a frame. The band's rows change only as the whole frame does: no lost-row onset.
    frames, gains, level = _panning(16), [1.0], 1.0
    for index, gray in enumerate(frames):
        band = 4 + 2 * (index % 2)
        gray[-band:] = gray[-band - 1]
        factor = 1.1 if index % 2 else 1.0
        frames[index] = _gained(gray, factor)
        if index:
            gains.append(factor / level)
        level = factor
    assert not any(frame.any() for frame in _labels_with_gain(frames, gains))
    # Told of no exposure change, the band's longer frames read as a new lost run.
    assert any(frame.any() for frame in _labels_with_gain(frames, [1.0] * len(frames)))


def test_lost_rows_during_an_exposure_change_are_still_labelled():
    frames = _panning(10)
    gains = [1.0] * 6 + [1.1] * 4
    for index in range(6, 10):
        frames[index] = _gained(frames[index], 1.1 ** (index - 5))
        frames[index][-24:] = 128  # a decoder's grey fill from frame 6 on
    labels = _labels_with_gain(frames, gains)
    assert not any(frame.any() for frame in labels[:6])
    for frame in labels[6:]:
        assert (frame[-24:] == FailureKind.LOST_ROWS).all() and not frame[:-24].any()

"""Pixel/patch-grid mapping, synthetic failures and full-resolution compositing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fakes import repair

from frame_restore_ros.backends.torch_backend import TorchBackend
from frame_restore_ros.media.grid import cell_edges, cells_to_pixels, pixels_to_cells
from frame_restore_ros.model import SiamMCVAE, preset
from frame_restore_ros.synthetic.corruption import random_patches


@pytest.fixture(scope="module")
def tiny_backend() -> TorchBackend:
    torch.manual_seed(0)
    return TorchBackend(SiamMCVAE(preset("tiny")))


def test_cells_roundtrip_on_uneven_sizes():
    rng = np.random.default_rng(0)
    cells = rng.random((14, 25)) < 0.5
    pixels = cells_to_pixels(cells, (272, 640))
    assert pixels.shape == (272, 640)
    assert np.array_equal(pixels_to_cells(pixels, (14, 25)), cells)
    assert cell_edges(272, 14)[[0, -1]].tolist() == [0, 272]


def test_one_failed_pixel_fails_its_whole_patch():
    failed = np.zeros((100, 170), dtype=bool)
    failed[55, 3] = True
    cells = pixels_to_cells(failed, (5, 10))
    assert cells.sum() == 1 and cells[2, 0]


def test_grid_larger_than_frame_is_rejected():
    with pytest.raises(ValueError, match="smaller than the patch grid"):
        pixels_to_cells(np.zeros((4, 4), dtype=bool), (5, 5))


def test_random_patches_mask_is_exactly_the_changed_pixels(bikes_frames):
    frame = bikes_frames[5]
    result = random_patches(frame, (14, 25), 0.6, np.random.default_rng(3))
    damaged, failed = result.damaged, result.mask
    assert failed.shape == frame.shape[:2]
    assert pixels_to_cells(failed, (14, 25)).sum() == round(0.6 * 14 * 25)
    assert np.array_equal(damaged[~failed], frame[~failed])
    changed = (damaged != frame).any(axis=2)
    assert changed[failed].mean() > 0.95  # fills differ from real content almost everywhere
    again = random_patches(frame, (14, 25), 0.6, np.random.default_rng(3))
    assert np.array_equal(again.damaged, damaged) and np.array_equal(again.labels, result.labels)


def test_restore_changes_only_failed_pixels_at_full_resolution(tiny_backend, bikes_frames):
    reference, truth = bikes_frames[10], bikes_frames[11]
    result = random_patches(truth, (7, 9), 0.5, np.random.default_rng(1))
    damaged, failed = result.damaged, result.mask
    restored = repair(tiny_backend, reference, damaged, failed)[0]
    assert restored.dtype == np.uint8 and restored.shape == truth.shape
    assert np.array_equal(restored[~failed], damaged[~failed])
    assert not np.array_equal(restored[failed], damaged[failed])


def test_a_failed_block_is_written_through_its_bounding_box_only(tiny_backend, bikes_frames):
    # Compositing works on the failed pixels' box (views of the output, written in place).
    reference, truth = bikes_frames[10], bikes_frames[11]
    damaged = truth.copy()
    failed = np.zeros(truth.shape[:2], bool)
    failed[60:140, 200:330] = True
    failed[100, 400] = True  # a second, lone pixel widens the box
    damaged[failed] = 0
    restored = repair(tiny_backend, reference, damaged, failed)[0]
    assert np.array_equal(restored[~failed], damaged[~failed])
    written = np.any(restored != damaged, axis=-1)
    assert written[failed].mean() > 0.99 and written[100, 400]


def test_restore_with_nothing_failed_returns_the_same_bytes(tiny_backend, bikes_frames):
    frame = bikes_frames[3]
    out = repair(tiny_backend, bikes_frames[2], frame, np.zeros(frame.shape[:2], bool))[0]
    assert np.array_equal(out, frame) and out is not frame


def test_restore_rejects_mismatched_shapes(tiny_backend, bikes_frames):
    with pytest.raises(ValueError, match="shapes differ"):
        repair(tiny_backend, bikes_frames[0][:100], bikes_frames[1], np.zeros((272, 640), bool))[0]


@pytest.mark.parametrize(
    ("source", "target"),
    [((1080, 1920), (224, 400)), ((272, 640), (224, 400)), ((100, 150), (224, 400))],
)
def test_downscale_hits_the_size_and_keeps_flat_colour(source, target):
    from frame_restore_ros.media.resize import downscale

    frame = np.full((*source, 3), (10, 120, 250), dtype=np.uint8)
    out = downscale(frame, target)
    assert out.shape == (*target, 3) and out.dtype == np.uint8
    assert np.array_equal(out, np.full((*target, 3), (10, 120, 250), dtype=np.uint8))

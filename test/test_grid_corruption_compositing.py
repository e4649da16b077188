"""Pixel/patch-grid mapping, synthetic failures and full-resolution compositing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fakes import repair

from frame_restore_ros.backends.torch_backend import TorchBackend
from frame_restore_ros.media.grid import cell_edges, cells_to_pixels, pixels_to_cells
from frame_restore_ros.media.resize import downscale
from frame_restore_ros.media.tensors import frame_to_array
from frame_restore_ros.model import SiamMCVAE, preset
from frame_restore_ros.pipeline import compositing
from frame_restore_ros.synthetic.corruption import random_patches


@pytest.fixture(scope="module")
def tiny_backend() -> TorchBackend:
    torch.manual_seed(0)
    return TorchBackend(SiamMCVAE(preset("tiny")))


@pytest.fixture(scope="module")
def small_backend() -> TorchBackend:
    """The small preset's sizes (224x400, patch 16), random weights: crops narrower than it."""
    torch.manual_seed(0)
    return TorchBackend(SiamMCVAE(preset("small")))


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


def test_pixels_to_cells_over_the_failed_box_equals_every_cell():
    # The reduction runs over the cells the failed pixels' box touches; any-per-cell on every
    # cell is the definition.
    rng = np.random.default_rng(5)
    for _ in range(300):
        height, width = (int(v) for v in rng.integers(20, 160, 2))
        grid = tuple(int(rng.integers(1, min(side, 16) + 1)) for side in (height, width))
        failed = np.zeros((height, width), bool)
        for _ in range(int(rng.integers(0, 4))):
            top, left = rng.integers(0, height), rng.integers(0, width)
            failed[top : top + rng.integers(1, 25), left : left + rng.integers(1, 25)] = True
        rows, cols = cell_edges(height, grid[0]), cell_edges(width, grid[1])
        expected = np.array(
            [
                [failed[a:b, c:d].any() for c, d in zip(cols[:-1], cols[1:], strict=True)]
                for a, b in zip(rows[:-1], rows[1:], strict=True)
            ]
        )
        assert np.array_equal(pixels_to_cells(failed, grid), expected)


@pytest.mark.parametrize("feather_px", [0, 24, 200])
@pytest.mark.parametrize("layout", ["block", "corner", "two_blocks", "patches"])
def test_gate_and_seam_on_their_crop_equal_the_whole_frame(
    small_backend, bikes_frames, monkeypatch, layout, feather_px
):
    # The change gate and the seam run on a crop around the failed patches: every pixel the
    # compositing writes must equal the whole-frame computation bit for bit.
    reference, truth = bikes_frames[10], bikes_frames[12]
    failed = np.zeros(truth.shape[:2], bool)
    if layout == "block":
        failed[100:160, 250:380] = True
    elif layout == "corner":
        failed[:50, -90:] = True
    elif layout == "two_blocks":
        failed[20:40, 30:60] = True
        failed[200:250, 500:600] = True
    else:
        failed = random_patches(truth, (7, 9), 0.4, np.random.default_rng(2)).mask
    damaged = truth.copy()
    damaged[failed] = 0
    backend = small_backend
    size = backend.input_size
    small = compositing.to_model_size(damaged, failed, size)
    reference_input = frame_to_array(reference, size)

    def composite() -> np.ndarray:
        out, _ = compositing.composite_prediction(
            backend, damaged, failed, small, reference_input, None,
            feather_px=feather_px, change_tau=24.0, uncertainty=False,
        )  # fmt: skip
        return out

    if layout in ("block", "corner") and feather_px <= 24:  # a crop smaller than the frame
        rows, cols = compositing._gate_crop(
            pixels_to_cells(failed, (size[0] // 16, size[1] // 16)), backend.patch_size,
            size, 24 * size[0] / truth.shape[0],
        )  # fmt: skip
        assert (rows.stop - rows.start) * (cols.stop - cols.start) < size[0] * size[1] / 2
    cropped = composite()
    whole = (slice(0, size[0]), slice(0, size[1]))
    monkeypatch.setattr(compositing, "_gate_crop", lambda *args: whole)
    assert np.array_equal(cropped, composite())
    assert not np.array_equal(cropped[failed], damaged[failed])


def test_what_failed_pixels_hold_never_reaches_the_model_input(bikes_frames):
    # The anti-aliasing filter would spread a failure's content into the clean pixels beside it:
    # at model size a partly failed pixel is the mean of its footprint's clean pixels, the same
    # whatever the failed pixels hold, and clean pixels are the plain downscale.
    frame = bikes_frames[7]
    failed = np.zeros(frame.shape[:2], bool)
    failed[50:130, 200:333] = True  # not on the model grid: many partly failed pixels
    size = (224, 400)
    small = {}
    for fill in (0, 255, "noise"):
        damaged = frame.copy()
        if fill == "noise":
            noise = np.random.default_rng(1).integers(0, 256, frame.shape, dtype=np.uint8)
            damaged[failed] = noise[failed]
        else:
            damaged[failed] = fill
        small[fill] = compositing.to_model_size(damaged, failed, size)
    assert np.array_equal(small[0].image, small[255].image)
    assert np.array_equal(small[0].image, small["noise"].image)
    valid = small[0].valid
    mixed = (valid > 64) & (valid < 255)
    assert mixed.sum() > 100
    truth = compositing.to_model_size(frame, np.zeros_like(failed), size).image.astype(int)
    error = np.abs(small[0].image.astype(int) - truth)
    # Mixed pixels show the clean part of their footprint (close to the whole footprint's mean),
    # not a blend with black: the plain downscale of the black-filled frame is far off there.
    plain = downscale(np.where(failed[..., None], 0, frame).astype(np.uint8), size).astype(int)
    assert np.median(error[mixed]) <= 6 < np.median(np.abs(plain - truth)[mixed])
    clean = valid == 255
    assert np.abs(small[0].image.astype(int) - plain)[clean].max() <= 1


@pytest.mark.parametrize("layout", ["block", "burst"])
def test_the_detail_is_added_to_the_upsampled_prediction_saturated_and_rounded(layout):
    # The detail transfer writes round(upsampled prediction + detail), clipped to 0-255, into
    # the failed pixels (over their box: an add, then a masked copy) and nothing elsewhere.
    from fakes import CopyBackend

    rng = np.random.default_rng(5)
    height, width = 272, 640
    reference = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    damaged = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    if layout == "block":
        failed = np.zeros((height, width), bool)
        failed[70:150, 200:330] = True
    else:
        failed = rng.random((height, width)) < 0.75
    # Large details saturate both ways; halves test the rounding.
    detail = rng.choice(np.float32([-300.0, -2.5, -0.5, 0.5, 1.5, 2.5, 300.0]), (height, width, 3))
    backend = CopyBackend((224, 400), 16)
    size = backend.input_size
    small = compositing.to_model_size(damaged, failed, size)
    reference_input = frame_to_array(reference, size)

    def composite(extra: np.ndarray | None) -> np.ndarray:
        out, _ = compositing.composite_prediction(
            backend, damaged, failed, small, reference_input, extra,
            feather_px=0, change_tau=None, uncertainty=False,
        )  # fmt: skip
        return out

    upsampled = composite(None)  # the upsampled prediction at the failed pixels
    added = composite(detail)
    expected = np.clip(np.rint(upsampled[failed].astype(np.float32) + detail[failed]), 0, 255)
    assert np.array_equal(added[failed], expected.astype(np.uint8))
    assert np.array_equal(added[~failed], damaged[~failed])
    assert (added[failed] == 0).any() and (added[failed] == 255).any()


@pytest.mark.parametrize("shape", [(720, 1280), (1080, 1920), (272, 640), (150, 260)])
def test_model_size_valid_share_is_the_clean_masks_own_downscale(shape):
    # The clean mask rides along as a fourth channel of the frame's downscale: each channel is
    # filtered alone, so both are what their own downscales give, at every frame size (the
    # pyramid and area path, and the upscale of a frame smaller than the model input).
    rng = np.random.default_rng(sum(shape))
    frame = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    failed = np.zeros(shape, bool)
    failed[shape[0] // 4 : shape[0] // 2, shape[1] // 3 : shape[1] // 2 + 7] = True
    failed |= rng.random(shape) < 0.01
    size = (224, 400)
    small = compositing.to_model_size(frame, failed, size)
    clean_mask = (~failed).astype(np.uint8) * 255
    assert np.array_equal(small.valid, downscale(clean_mask, size))
    plain = downscale(np.where(failed[..., None], 0, frame).astype(np.uint8), size)
    whole = small.valid == 255
    assert np.array_equal(small.image[whole], plain[whole])

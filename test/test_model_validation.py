"""Bad model input raises ValueError naming the problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from frame_restore_ros.model import SiamMCVAE, SiamMCVAEConfig, preset

TINY = preset("tiny")
H, W = TINY.input_size
ROWS, COLS = TINY.grid_size


@pytest.fixture(scope="module")
def model() -> SiamMCVAE:
    return SiamMCVAE(TINY).eval()


def good() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        torch.rand(1, 3, H, W),
        torch.rand(1, 3, H, W),
        torch.zeros(1, ROWS, COLS, dtype=torch.bool),
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r, d, m: (r[0], d, m), "reference must be \\(B, C, H, W\\)"),
        (lambda r, d, m: (r, d[:, :2], m), "damaged has 2 channels"),
        (lambda r, d, m: (r, d[..., :40], m), "must have the same shape"),
        (lambda r, d, m: ((r * 255).to(torch.uint8), d, m), "floating tensor"),
        (lambda r, d, m: (r.double(), d, m), "dtype"),
        (lambda r, d, m: (r, d, m[:, :, :-1]), "patch_mask must have shape \\(1, 4, 6\\)"),
        (lambda r, d, m: (r, d, m[0]), "patch_mask must have shape"),
        (
            lambda r, d, m: (r[..., :30, :], d[..., :30, :], m),
            "not a multiple of the patch size 8",
        ),
        (lambda r, d, m: (r.numpy(), d, m), "must be a torch.Tensor, got ndarray"),
        (lambda r, d, m: (torch.full_like(r, float("nan")), d, m), "reference contains NaN"),
        (
            lambda r, d, m: (r, torch.full_like(d, float("inf")), m),
            "damaged contains NaN or infinite values outside",
        ),
    ],
)
def test_bad_input_raises_value_error_naming_it(model, change, message):
    with pytest.raises(ValueError, match=message):
        model(*change(*good()))


def test_nan_inside_failed_patches_is_accepted(model):
    reference, damaged, mask = good()
    mask[0, 1, 2] = True
    damaged[0, :, 8:16, 16:24] = float("nan")
    assert torch.isfinite(model.restore(reference, damaged, mask)).all()


def test_numeric_masks_are_accepted_like_bool(model):
    reference, damaged, mask = good()
    mask[0, 0, :3] = True
    a = model.restore(reference, damaged, mask)
    b = model.restore(reference, damaged, mask.to(torch.uint8))
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"input_size": (30, 48)}, "input height 30 is not a positive multiple of patch_size 8"),
        ({"enc_dim": 31}, "not divisible by enc_heads"),
        ({"latent_dim": 18}, "latent_dim 18 must be a multiple of 4"),
        ({"enc_depth": 0}, "depth"),
    ],
)
def test_bad_config_raises(fields, message):
    with pytest.raises(ValueError, match=message):
        TINY.replace(**fields)


def test_config_json_roundtrip_and_unknown_fields():
    assert SiamMCVAEConfig.from_json(TINY.to_json()) == TINY
    with pytest.raises(ValueError, match="unknown SiamMCVAEConfig fields: colour"):
        SiamMCVAEConfig.from_dict(TINY.to_dict() | {"colour": 1})


def test_numpy_is_not_silently_accepted():
    with pytest.raises(ValueError):
        SiamMCVAE(TINY)(np.zeros((1, 3, H, W)), np.zeros((1, 3, H, W)), np.zeros((1, ROWS, COLS)))

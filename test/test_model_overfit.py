"""A tiny SiamMCVAE overfits one real frame pair on CPU: the loss falls at least 10x."""

from __future__ import annotations

import torch

from frame_restore_ros.model import (
    SiamMCVAE,
    patch_mask_to_pixels,
    preset,
    random_patch_mask,
    siammcvae_loss,
)


def test_tiny_model_overfits_one_real_pair(real_pair):
    torch.manual_seed(0)
    cfg = preset("tiny").replace(input_size=(48, 80))
    model = SiamMCVAE(cfg).train()
    reference, clean = real_pair(*cfg.input_size, gap=2)
    mask = random_patch_mask(1, cfg.grid_size, 0.75, torch.Generator().manual_seed(0))
    damaged = torch.where(
        patch_mask_to_pixels(mask, cfg.patch_size), torch.zeros_like(clean), clean
    )
    target = model.target_patches(clean)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(300):
        out = model(reference, damaged, mask)
        terms = siammcvae_loss(out, target, mask, beta=1e-3)
        optimizer.zero_grad()
        terms.total.backward()
        optimizer.step()
        losses.append(terms.total.item())
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first / 10, f"loss fell only from {first:.4f} to {last:.4f}"

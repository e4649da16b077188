"""SiamMCVAE pieces checked against the paper's equations (arXiv 2401.10402, section 3)."""

from __future__ import annotations

import pytest
import torch

from frame_restore_ros.model import (
    DeployGraph,
    SiamMCVAE,
    SingleFrameMAE,
    build_model,
    kl_divergence,
    patch_mask_to_pixels,
    patchify,
    preset,
    random_patch_mask,
    reconstruction_loss,
    siammcvae_loss,
    unpatchify,
)
from frame_restore_ros.model.layers import sincos_pos_embed
from frame_restore_ros.model.loss import (
    LOG_EPS,
    log_reconstruction_loss,
    per_frame_reconstruction,
)

TINY = preset("tiny")


def tiny_model(dtype: torch.dtype = torch.float32, **changes) -> SiamMCVAE:
    return SiamMCVAE(TINY.replace(**changes)).to(dtype).eval()


def test_patchify_roundtrip_non_square_and_layout():
    images = torch.rand(2, 3, 16, 40)
    patches = patchify(images, 8)
    assert patches.shape == (2, 2 * 5, 8 * 8 * 3)
    # Patch 6 is grid row 1, col 1; its first entry is pixel (8, 8) channel 0, then channel 1 (P,
    # P, C order).
    assert patches[1, 6, 0] == images[1, 0, 8, 8]
    assert patches[1, 6, 1] == images[1, 1, 8, 8]
    assert torch.equal(unpatchify(patches, 8, (2, 5)), images)


def test_patch_mask_to_pixels_marks_exactly_the_patch():
    mask = torch.zeros(1, 2, 3, dtype=torch.bool)
    mask[0, 1, 2] = True
    pixels = patch_mask_to_pixels(mask, 4)
    assert pixels.shape == (1, 1, 8, 12)
    assert pixels[0, 0, 4:, 8:].all() and pixels.sum() == 16


def test_random_patch_mask_ratio_is_exact():
    mask = random_patch_mask(3, (10, 20), 0.75, torch.Generator().manual_seed(1))
    assert mask.shape == (3, 10, 20)
    assert mask.reshape(3, -1).sum(1).tolist() == [150, 150, 150]


def test_sincos_pos_embed_distinguishes_positions():
    table = sincos_pos_embed(16, (3, 5))
    assert table.shape == (16, 16)
    assert torch.equal(table[0], torch.zeros(16))
    assert torch.unique(table[1:], dim=0).shape[0] == 15


@pytest.mark.parametrize("ratio", [0.0, 0.45, 0.75, 0.90])
def test_masked_attention_equals_encoding_only_visible_patches(ratio, real_pair):
    """The export form (all N tokens, masked keys hidden) equals the visible-only encoder."""
    model = tiny_model(torch.float64)
    height, width = TINY.input_size
    _, damaged = real_pair(height, width)
    damaged = damaged.double()
    grid = TINY.grid_size
    mask = random_patch_mask(2, grid, ratio, torch.Generator().manual_seed(3))
    patches = patchify(model.normalize(damaged.repeat(2, 1, 1, 1)), TINY.patch_size)
    flat = mask.reshape(2, -1)
    with torch.no_grad():
        fixed_shape = model.encoder(patches, grid, flat)  # (B, N+1, D')
        keep = SiamMCVAE._keep_index(flat)
        visible_only = model.encoder.forward_visible(patches, grid, keep)  # (B, V+1, D')
    assert visible_only.shape[1] == 1 + int((~flat[0]).sum())
    torch.testing.assert_close(fixed_shape[:, 0], visible_only[:, 0], rtol=0, atol=1e-12)  # cls
    for b in range(2):
        rows = keep[b] + 1
        torch.testing.assert_close(fixed_shape[b, rows], visible_only[b, 1:], rtol=0, atol=1e-12)


@pytest.mark.parametrize("ratio", [0.45, 0.75])
def test_drop_tokens_forward_equals_fixed_shape_forward(ratio, real_pair):
    model = tiny_model(torch.float64)
    reference, damaged = (t.double() for t in real_pair(*TINY.input_size))
    mask = random_patch_mask(1, TINY.grid_size, ratio, torch.Generator().manual_seed(4))
    with torch.no_grad():
        a = model(reference, damaged, mask)
        b = model(reference, damaged, mask, drop_tokens=True)
    torch.testing.assert_close(a.prediction, b.prediction, rtol=0, atol=1e-10)
    torch.testing.assert_close(a.mean, b.mean, rtol=0, atol=1e-10)


def test_drop_tokens_rejects_unequal_visible_counts():
    model = tiny_model()
    images = torch.rand(2, 3, *TINY.input_size)
    mask = torch.zeros(2, *TINY.grid_size, dtype=torch.bool)
    mask[0, 0, 0] = True
    with pytest.raises(ValueError, match="same number of visible patches"):
        model(images, images, mask, drop_tokens=True)


def test_one_encoder_shared_by_both_branches_receives_both_gradients(real_pair):
    model = tiny_model().train()
    encoders = [m for m in model.modules() if type(m).__name__ == "SiamViT"]
    assert len(encoders) == 1, "exactly one SiamViT (weights shared by both branches)"
    reference, damaged = real_pair(*TINY.input_size)
    mask = random_patch_mask(1, TINY.grid_size, 0.5, torch.Generator().manual_seed(5))
    x2, u1, u = model.encode(reference, damaged, mask)
    latent = TINY.latent_dim
    u2_visible = u[..., latent:][:, 1:][~mask.reshape(1, -1)]
    for branch in (u1.square().sum(), u2_visible.square().sum()):
        model.zero_grad()
        branch.backward(retain_graph=True)
        grad = model.encoder.patch_embed.weight.grad
        assert grad is not None and grad.abs().sum() > 0
        assert model.encoder.transformer.blocks[0].attn.qkv.weight.grad.abs().sum() > 0


def test_mask_token_replaces_u2_only_at_masked_patches(real_pair):
    model = tiny_model()
    reference, damaged = real_pair(*TINY.input_size)
    mask = random_patch_mask(1, TINY.grid_size, 0.5, torch.Generator().manual_seed(6))
    with torch.no_grad():
        _, u1, u = model.encode(reference, damaged, mask)
    latent = TINY.latent_dim
    assert u.shape == (1, TINY.num_patches + 1, 2 * latent)
    assert torch.equal(u[..., :latent], u1)
    u2 = u[0, 1:, latent:]
    flat = mask.reshape(-1)
    assert torch.equal(u2[flat], model.mask_token[0].expand(int(flat.sum()), -1))
    assert not torch.isclose(u2[~flat], model.mask_token[0]).all(dim=-1).any()


def test_reparameterization_eval_uses_mean_and_noise_is_m_plus_s_e(real_pair):
    model = tiny_model()
    reference, damaged = real_pair(*TINY.input_size)
    mask = random_patch_mask(1, TINY.grid_size, 0.75)
    with torch.no_grad():
        out = model(reference, damaged, mask)
        assert torch.equal(out.latent, out.mean)
        noise = torch.randn_like(out.mean)
        sampled = model(reference, damaged, mask, noise=noise)
    assert (out.std > 0).all()
    torch.testing.assert_close(sampled.latent, out.mean + out.std * noise)


@pytest.mark.parametrize("size", [(32, 48), (48, 32), (24, 64)])
def test_visible_patches_are_the_damaged_input_bit_for_bit(size, real_pair):
    model = tiny_model()
    reference, damaged = real_pair(*size)
    rows, cols = size[0] // 8, size[1] // 8
    mask = random_patch_mask(1, (rows, cols), 0.6, torch.Generator().manual_seed(7))
    damaged_with_garbage = damaged.clone()
    pixels = patch_mask_to_pixels(mask, 8).expand_as(damaged)
    damaged_with_garbage[pixels] = float("nan")  # failed pixels may hold anything
    restored = model.restore(reference, damaged_with_garbage, mask)
    assert restored.shape == damaged.shape
    assert torch.equal(restored[~pixels], damaged[~pixels])
    assert torch.isfinite(restored).all()
    out = model(reference, damaged, mask)
    flat = mask.reshape(1, -1)
    x2 = patchify(model.normalize(damaged), 8)
    assert torch.equal(
        out.merged[flat.logical_not()], x2[flat.logical_not()]
    )  # eq. 15, patch space
    assert torch.equal(out.merged[flat], out.prediction[flat])


def test_deploy_graph_visible_exact_and_std_zero_there(real_pair):
    model = tiny_model()
    reference, damaged = real_pair(*TINY.input_size)
    mask = random_patch_mask(1, TINY.grid_size, 0.75, torch.Generator().manual_seed(8))
    graph = DeployGraph(model, num_samples=4)
    with torch.no_grad():
        restored, std = graph(reference, damaged, mask.float(), torch.randn(graph.noise_shape()))
        plain = DeployGraph(model)(reference, damaged, mask.float())
    pixels = patch_mask_to_pixels(mask, TINY.patch_size)
    assert std.shape == (1, 1, *TINY.input_size)
    # Z = M path does not depend on the samples (batched GEMMs may differ in the last bits).
    torch.testing.assert_close(restored, plain, rtol=0, atol=1e-6)
    visible = ~pixels.expand_as(damaged)
    assert torch.equal(restored[visible], damaged[visible])
    assert torch.equal(std[~pixels], torch.zeros_like(std[~pixels]))
    assert (std[pixels] > 0).any()


def test_kl_matches_closed_form_by_hand_in_float64():
    mean = torch.tensor(
        [[[0.5, -1.0], [2.0, 0.0], [0.1, 0.3]]], dtype=torch.float64
    )  # (1, N+1=3, D'=2)
    std = torch.tensor([[[1.0, 0.5], [2.0, 0.1], [0.9, 1.2]]], dtype=torch.float64)
    by_hand = 0.0
    for m, s in zip(mean.flatten().tolist(), std.flatten().tolist(), strict=True):
        by_hand += 0.5 * (m * m + s * s - __import__("math").log(s * s) - 1.0)
    by_hand /= 6
    assert kl_divergence(mean, torch.log(std**2)).item() == pytest.approx(by_hand, rel=1e-12)
    # eq. 20 written as (||M||^2 + ||S||^2 - sum log S^2) / (2 (N+1) D') - 1/2
    eq20 = (mean.square().sum() + std.square().sum() - torch.log(std**2).sum()) / (2 * 6) - 0.5
    assert kl_divergence(mean, torch.log(std**2)).item() == pytest.approx(eq20.item(), rel=1e-12)
    assert kl_divergence(torch.zeros(1, 3, 2), torch.zeros(1, 3, 2)).item() == 0.0


def test_reconstruction_loss_counts_only_masked_patches():
    torch.manual_seed(1)
    prediction = torch.randn(1, 6, 12, dtype=torch.float64)
    target = torch.randn(1, 6, 12, dtype=torch.float64)
    mask = torch.tensor([[True, False, True, False, False, False]])
    expected = ((prediction - target)[0, [0, 2]] ** 2).sum() / (12 * 2)  # / (P^2 C |P|)
    assert reconstruction_loss(prediction, target, mask).item() == pytest.approx(
        expected.item(), rel=1e-12
    )
    changed = target.clone()
    changed[0, 1] += 100.0  # a visible patch's target
    assert (
        reconstruction_loss(prediction, changed, mask).item()
        == reconstruction_loss(prediction, target, mask).item()
    )
    changed[0, 0] += 1.0  # a masked patch's target
    assert (
        reconstruction_loss(prediction, changed, mask).item()
        != reconstruction_loss(prediction, target, mask).item()
    )
    assert reconstruction_loss(prediction, target, torch.zeros_like(mask)).item() == 0.0


def test_per_frame_log_loss_is_eq19_per_frame_and_weighs_frames_alike():
    torch.manual_seed(2)
    prediction = torch.randn(2, 6, 12, dtype=torch.float64)
    target = torch.randn(2, 6, 12, dtype=torch.float64)
    mask = torch.tensor([[True, False, True, False, False, False], [False] * 5 + [True]])
    per_frame = per_frame_reconstruction(prediction, target, mask)
    for b in range(2):  # each frame alone is eq. 19
        expected = reconstruction_loss(prediction[b : b + 1], target[b : b + 1], mask[b : b + 1])
        assert per_frame[b].item() == pytest.approx(expected.item(), rel=1e-12)
    by_hand = (torch.log(per_frame[0] + LOG_EPS) + torch.log(per_frame[1] + LOG_EPS)) / 2
    assert log_reconstruction_loss(prediction, target, mask).item() == pytest.approx(
        by_hand.item(), rel=1e-12
    )
    # Frame 1's error x100: pooled eq. 19 then puts ~all the gradient on frame 1, the log loss
    # keeps each frame's gradient share (d log(m) = dm / m): frame 0 is not drowned out.
    target[1] = prediction[1] + 100.0 * (target[1] - prediction[1])
    shares = []
    for loss_of in (reconstruction_loss, log_reconstruction_loss):
        leaf = prediction.clone().requires_grad_(True)
        loss_of(leaf, target, mask).backward()
        norms = leaf.grad.flatten(1).norm(dim=1)
        shares.append((norms[0] / norms.sum()).item())
    assert shares[0] < 0.05 and shares[1] > 0.25, shares
    frame_zero = torch.zeros(1, 6, dtype=torch.bool)
    assert per_frame_reconstruction(prediction[:1], target[:1], frame_zero).item() == 0.0


def test_total_loss_is_recon_plus_beta_kl(real_pair):
    model = tiny_model()
    reference, damaged = real_pair(*TINY.input_size)
    mask = random_patch_mask(1, TINY.grid_size, 0.75)
    out = model(
        reference, damaged, mask, noise=torch.randn(1, TINY.num_patches + 1, TINY.latent_dim)
    )
    terms = siammcvae_loss(out, model.target_patches(damaged), mask, beta=0.2)
    torch.testing.assert_close(terms.total, terms.reconstruction + 0.2 * terms.kl)
    logged = siammcvae_loss(out, model.target_patches(damaged), mask, 0.2, per_frame_log=True)
    torch.testing.assert_close(logged.kl, terms.kl)
    torch.testing.assert_close(
        logged.reconstruction,
        torch.log(terms.reconstruction + LOG_EPS),  # one frame
    )
    with pytest.raises(ValueError, match="beta"):
        siammcvae_loss(out, model.target_patches(damaged), mask, beta=-1.0)


def test_presets_have_paper_sizes():
    base = preset("base")
    assert (base.enc_dim, base.enc_depth, base.latent_dim, base.dec_depth, base.patch_size) == (
        768,
        12,
        512,
        8,
        16,
    )
    small = preset("small")
    assert small.input_size[1] > small.input_size[0], (
        "small preset is wide (driving cameras are 16:9)"
    )
    with pytest.raises(ValueError, match="unknown preset"):
        preset("huge")


def test_reference_skip_adds_x1_and_starts_as_the_hold_baseline(real_pair):
    reference, damaged = real_pair(*TINY.input_size)
    mask = random_patch_mask(1, TINY.grid_size, 0.75, torch.Generator().manual_seed(3))
    skip = tiny_model(torch.float64, reference_skip=True)
    reference, damaged = reference.double(), damaged.double()
    with torch.no_grad():
        out = skip(reference, damaged, mask)
        x1 = skip.target_patches(reference)
        # untrained: O_dec = 0 exactly, so O = X1 and failed patches get the reference
        assert torch.equal(out.prediction, x1)
        restored = skip.restore(reference, damaged, mask)
        pixels = patch_mask_to_pixels(mask, TINY.patch_size).expand_as(reference)
        torch.testing.assert_close(restored[pixels], reference[pixels], rtol=0, atol=1e-12)
        # once trained, O = X1 + O_dec: the same decoder output as the paper's model plus X1
        torch.nn.init.normal_(skip.to_pixels.weight, std=0.02)
        plain = tiny_model(torch.float64)
        plain.load_state_dict(skip.state_dict())
        noise = torch.randn(1, TINY.num_patches + 1, TINY.latent_dim, dtype=torch.float64)
        with_skip = skip(reference, damaged, mask, noise).prediction
        without = plain(reference, damaged, mask, noise).prediction
        torch.testing.assert_close(with_skip, without + x1, rtol=0, atol=1e-12)
        # the deploy graph (K samples too) applies the same skip
        graph = DeployGraph(skip, num_samples=2)
        restored_k, _ = graph(
            reference, damaged, mask.double(), torch.randn(graph.noise_shape()).double()
        )
        torch.testing.assert_close(
            restored_k, skip.restore(reference, damaged, mask), rtol=0, atol=1e-9
        )
    with pytest.raises(ValueError, match="needs the reference"):
        skip.decode(out.latent, out.latent, TINY.grid_size)


def test_single_frame_mae_ignores_the_reference_and_keeps_visible_pixels(real_pair):
    reference, damaged = real_pair(*TINY.input_size)
    mask = random_patch_mask(1, TINY.grid_size, 0.75, torch.Generator().manual_seed(4))
    mae = build_model(TINY.replace(architecture="mae")).eval()
    assert isinstance(mae, SingleFrameMAE)
    with torch.no_grad():
        out = mae(reference, damaged, mask)
        other = mae(torch.rand_like(reference), damaged, mask)
        assert torch.equal(out.prediction, other.prediction)  # no reference path
        dropped = mae(reference, damaged, mask, drop_tokens=True)
        torch.testing.assert_close(dropped.prediction, out.prediction, rtol=1e-4, atol=1e-4)
        restored = DeployGraph(mae)(reference, damaged, mask.float())
    visible = ~patch_mask_to_pixels(mask, TINY.patch_size).expand_as(damaged)
    assert torch.equal(restored[visible], damaged[visible])
    loss = siammcvae_loss(mae(reference, damaged, mask), mae.target_patches(damaged), mask, 0.0)
    assert loss.total == loss.reconstruction
    siam = SiamMCVAE(TINY)
    sizes = [sum(p.numel() for p in m.parameters()) for m in (mae, siam)]
    assert 0.8 < sizes[0] / sizes[1] <= 1.0  # same widths and depths, no reference heads

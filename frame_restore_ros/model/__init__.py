"""SiamMCVAE: config presets, ViT blocks, the model, the loss, checkpoints and the deploy graph."""

from .build import RestorationModel, build_model
from .checkpoint import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from .config import PRESETS, SiamMCVAEConfig, preset
from .deploy import DeployGraph, VisibleTokenGraph
from .loss import LossTerms, kl_divergence, reconstruction_loss, siammcvae_loss
from .mae import SingleFrameMAE
from .patches import patch_mask_to_pixels, patchify, random_patch_mask, unpatchify
from .siammcvae import SiamMCVAE, SiamMCVAEOutput

__all__ = [
    "PRESETS",
    "CheckpointError",
    "DeployGraph",
    "VisibleTokenGraph",
    "LossTerms",
    "RestorationModel",
    "SiamMCVAE",
    "SiamMCVAEConfig",
    "SiamMCVAEOutput",
    "SingleFrameMAE",
    "build_model",
    "kl_divergence",
    "load_checkpoint",
    "patch_mask_to_pixels",
    "patchify",
    "preset",
    "random_patch_mask",
    "read_metadata",
    "reconstruction_loss",
    "save_checkpoint",
    "siammcvae_loss",
    "unpatchify",
]

"""SiamMCVAE: config presets, ViT blocks, the model, the loss, checkpoints and the deploy graph."""

from frame_restore_ros.model.build import RestorationModel, build_model
from frame_restore_ros.model.checkpoint import (
    CheckpointError,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
)
from frame_restore_ros.model.config import PRESETS, SiamMCVAEConfig, preset
from frame_restore_ros.model.deploy import DeployGraph, VisibleTokenGraph
from frame_restore_ros.model.loss import (
    LossTerms,
    kl_divergence,
    reconstruction_loss,
    siammcvae_loss,
)
from frame_restore_ros.model.mae import SingleFrameMAE
from frame_restore_ros.model.patches import (
    patch_mask_to_pixels,
    patchify,
    random_patch_mask,
    unpatchify,
)
from frame_restore_ros.model.siammcvae import SiamMCVAE, SiamMCVAEOutput

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

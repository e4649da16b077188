"""Build the model a config describes (SiamMCVAE or the single-frame MAE baseline)."""

from __future__ import annotations

from frame_restore_ros.model.config import SiamMCVAEConfig
from frame_restore_ros.model.mae import SingleFrameMAE
from frame_restore_ros.model.siammcvae import SiamMCVAE

RestorationModel = SiamMCVAE | SingleFrameMAE


def build_model(cfg: SiamMCVAEConfig) -> RestorationModel:
    """Return a freshly initialised model of ``cfg.architecture``."""
    return SingleFrameMAE(cfg) if cfg.architecture == "mae" else SiamMCVAE(cfg)

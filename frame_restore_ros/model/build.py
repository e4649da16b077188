"""Build the model a config describes (SiamMCVAE or the single-frame MAE baseline)."""

from __future__ import annotations

from .config import SiamMCVAEConfig
from .mae import SingleFrameMAE
from .siammcvae import SiamMCVAE

RestorationModel = SiamMCVAE | SingleFrameMAE


def build_model(cfg: SiamMCVAEConfig) -> RestorationModel:
    """Return a freshly initialised model of ``cfg.architecture``."""
    return SingleFrameMAE(cfg) if cfg.architecture == "mae" else SiamMCVAE(cfg)

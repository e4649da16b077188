"""Calibrated defect maps: the pixels a camera is known to get wrong, OR-ed into every detection.

Camera vendors ship a factory defect table (dead or hot pixels, a scratched or covered area)
rather than relying on a brightness threshold. A defect mask is such a table as a file: an image
(PNG, TIFF, BMP, ...; any nonzero pixel, in any channel, is defective) or a NumPy ``.npy`` array
of shape (H, W) (nonzero or True = defective). It belongs to one sensor resolution: the detector
refuses a mask of another size with an error naming both sizes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from frame_restore_ros.media.file_checks import file_problem, shown_path


class DefectMaskError(ValueError):
    """A defect mask file that cannot be used; the message names the file and the problem."""


def load_defect_mask(path: str | Path) -> np.ndarray:
    """Read a defect mask file; return (H, W) bool, True = defective pixel.

    Raises DefectMaskError naming the file (shortened if long) when it is missing, no regular
    file (a directory, device or pipe is never opened), unreadable, not 2-D, or empty.
    """
    if problem := file_problem(path, "defect mask"):
        raise DefectMaskError(problem)
    path = Path(path)
    mask = _read_npy(path) if path.suffix.lower() == ".npy" else _read_image(path)
    if mask.shape[0] < 2 or mask.shape[1] < 2:
        raise DefectMaskError(
            f"defect mask {shown_path(path)} is {mask.shape[0]}x{mask.shape[1]} pixels"
        )
    return mask


def _read_npy(path: Path) -> np.ndarray:
    """Return the defective pixels of a .npy mask: nonzero or True."""
    shown = shown_path(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DefectMaskError(f"cannot read defect mask {shown}: {exc}") from exc
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise DefectMaskError(
            f"defect mask {shown} must be a 2-D numeric or bool array, got "
            f"{array.dtype} {array.shape}"
        )
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise DefectMaskError(f"defect mask {shown} contains NaN or infinite values")
    return array != 0


def _read_image(path: Path) -> np.ndarray:
    """Return the defective pixels of an image mask: nonzero in any channel."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DefectMaskError(
            f"cannot read defect mask {shown_path(path)}: not an image file OpenCV can decode "
            "(use PNG/TIFF/BMP or a .npy array)"
        )
    return (image.max(axis=2) if image.ndim == 3 else image) > 0

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


class DefectMaskError(ValueError):
    """A defect mask file that cannot be used; the message names the file and the problem."""


def load_defect_mask(path: str | Path) -> np.ndarray:
    """Read a defect mask file; return (H, W) bool, True = defective pixel.

    Raises DefectMaskError naming the file when it is missing, unreadable, not 2-D, or empty.
    """
    path = Path(path)
    if not path.is_file():
        raise DefectMaskError(f"defect mask {path} does not exist or is not a file")
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise DefectMaskError(f"cannot read defect mask {path}: {exc}") from exc
        if array.ndim != 2 or array.dtype.kind not in "biuf":
            raise DefectMaskError(
                f"defect mask {path} must be a 2-D numeric or bool array, got "
                f"{array.dtype} {array.shape}"
            )
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise DefectMaskError(f"defect mask {path} contains NaN or infinite values")
        mask = array != 0
    else:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise DefectMaskError(
                f"cannot read defect mask {path}: not an image file OpenCV can decode "
                "(use PNG/TIFF/BMP or a .npy array)"
            )
        mask = (image.max(axis=2) if image.ndim == 3 else image) > 0
    if mask.shape[0] < 2 or mask.shape[1] < 2:
        raise DefectMaskError(f"defect mask {path} is {mask.shape[0]}x{mask.shape[1]} pixels")
    return mask

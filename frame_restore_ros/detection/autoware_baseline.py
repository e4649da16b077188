"""Baseline: the block classifier of Autoware's ``image_diagnostics`` node, in numpy.

Same algorithm and published defaults (autoware.universe, sensing/image_diagnostics): luma resized
to 480 rows, a 5x5 block grid; per block the mean intensity, the ratio of pixels at or below the
blockage intensity, and the mean log magnitude of the block's shifted DFT (real part). A block is
DARK, BLOCKAGE, LOW_VIS or BACKLIGHT by those thresholds, else NORMAL. It classifies but repairs
nothing; here every non-NORMAL block counts as failed so it can be scored like our detector.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AutowareParams:
    image_resize_height: int = 480
    number_block_horizontal: int = 5
    number_block_vertical: int = 5
    blockage_ratio_thresh: float = 90.0
    blockage_intensity_thresh: int = 10
    blockage_freq_ratio_thresh: float = 30.0
    dark_intensity_thresh: int = 10
    low_vis_freq_thresh: float = 400.0
    backlight_intensity_thresh: int = 230


NORMAL, DARK, BLOCKAGE, LOW_VIS, BACKLIGHT = range(5)


class AutowareBlockDetector:
    """Stateless 5x5 block classifier; ``detect`` returns a full-resolution failed mask."""

    def __init__(self, params: AutowareParams | None = None) -> None:
        self.params = params or AutowareParams()

    def classify(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 BGR -> (5, 5) uint8 block states (NORMAL, DARK, ...)."""
        p = self.params
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        height = p.image_resize_height
        width = int(gray.shape[1] * height / gray.shape[0])
        gray = cv2.resize(gray, (width, height))
        block_h = height // p.number_block_vertical
        block_w = width // p.number_block_horizontal
        states = np.zeros((p.number_block_vertical, p.number_block_horizontal), dtype=np.uint8)
        for v in range(p.number_block_vertical):
            for h in range(p.number_block_horizontal):
                block = gray[v * block_h : (v + 1) * block_h, h * block_w : (h + 1) * block_w]
                average = int(block.mean())
                blockage_ratio = float((block <= p.blockage_intensity_thresh).mean())
                spectrum = np.fft.fftshift(np.fft.fft2(block.astype(np.float32))).real
                freq = float(np.log(np.abs(spectrum) + 1e-12).mean())
                if average < p.dark_intensity_thresh:
                    states[v, h] = DARK
                elif (
                    blockage_ratio > p.blockage_ratio_thresh / 100
                    and freq < p.blockage_freq_ratio_thresh / 100
                ):
                    states[v, h] = BLOCKAGE
                elif freq < p.low_vis_freq_thresh / 100 and average < p.backlight_intensity_thresh:
                    states[v, h] = LOW_VIS
                elif average > p.backlight_intensity_thresh:
                    states[v, h] = BACKLIGHT
        return states

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """(H, W) bool: pixels of every non-NORMAL block (blocks map onto the full frame)."""
        states = self.classify(frame)
        rows, cols = states.shape
        height, width = frame.shape[:2]
        row_edges = np.linspace(0, height, rows + 1).astype(int)
        col_edges = np.linspace(0, width, cols + 1).astype(int)
        mask = np.zeros((height, width), dtype=bool)
        for v in range(rows):
            for h in range(cols):
                if states[v, h] != NORMAL:
                    mask[row_edges[v] : row_edges[v + 1], col_edges[h] : col_edges[h + 1]] = True
        return mask

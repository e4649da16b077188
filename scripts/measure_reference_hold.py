"""Failed-region PSNR of a dead block lasting K frames on a moving clip (docs/detection.md).

Usage: .venv/bin/python scripts/measure_reference_hold.py CLIP [--backend openvino-cpu]

The detector is replaced by the exact mask, so only the reference and the repair are measured:
for K in 1, 4, 8, 16, a block of 6 % of the frame is zeroed for K frames at four start points,
and the failed region of every repaired frame is scored against the real frame.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from frame_restore_ros.backends.selection import create_backend
from frame_restore_ros.evaluation.metrics import psnr
from frame_restore_ros.evaluation.persistent import ScriptedDetector
from frame_restore_ros.media.video import read_frames
from frame_restore_ros.model.bundled import load_default_or
from frame_restore_ros.pipeline.restorer import Restorer, Status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip")
    parser.add_argument("--backend", default="openvino-cpu")
    args = parser.parse_args()
    frames = read_frames(args.clip, max_frames=200)
    backend = create_backend(load_default_or(None), args.backend)
    height, width = frames[0].shape[:2]
    block = np.zeros((height, width), bool)
    block[height // 3 : height // 3 + height // 4, width // 2 : width // 2 + width // 4] = True
    results = {}
    for frames_failed in (1, 4, 8, 16):
        scores = []
        for start in range(10, 190, 45):
            restorer = Restorer(backend)
            restorer.detector = ScriptedDetector()  # reports exactly the mask set below
            for index in range(start - 5, start + frames_failed):
                mask = block if index >= start else np.zeros_like(block)
                frame = frames[index].copy()
                frame[mask] = 0
                restorer.detector.mask = mask
                result = restorer.process(frame, index / 25)
                restorer.prepare_reference()
                if index >= start:
                    assert result.status is Status.REPAIRED, result.reason
                    scores.append(psnr(result.frame, frames[index], block))
        results[frames_failed] = round(float(np.mean(scores)), 2)
    print(json.dumps({"failed_region_psnr_db_by_frames_failed": results}))


if __name__ == "__main__":
    main()

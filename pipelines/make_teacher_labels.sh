#!/usr/bin/env bash
# Teacher labels for the shipped models: MediaPipe Holistic (landmarks + person segmentation) on
# every shared clip -> four labels files in OUT_DIR.
# Usage: SIGNSEG_TEACHER_PYTHON=... pipelines/make_teacher_labels.sh [OUT_DIR]
# Landmarks are cached in OUT_DIR/all.h5.landmarks/, so a killed run resumes where it stopped.
# On 2 cores: ~15 min of Holistic (two processes) and ~4 min of mask building.
set -euo pipefail
out="${1:-labels}"; mkdir -p "$out"
shared="$(cd "$(dirname "$0")/../.." && pwd)/shared/data"
lm="$out/all.h5.landmarks"
py="${SIGNSEG_TEACHER_PYTHON:?set it, see make_teacher_env.sh}"
# every frame through Holistic (its tracking needs them all), two processes for two cores
ls "$shared"/signs2/*.mp4 "$shared"/videos/*.mp4 "$shared"/signs/*.mp4 > "$out/clips.txt"
for half in 0 1; do
    awk -v h=$half 'NR % 2 == h' "$out/clips.txt" | xargs env PYTHONPATH="$(dirname "$0")/.." \
        "$py" -m signseg.teacher.holistic --out "$lm" --skip-existing &
done
wait
# then masks from the cached landmarks: the varied signs2 clips every 2nd frame, the Turkish and
# pose clips every 3rd, the long, alike Start ASL course clips every 8th
signseg label "$shared"/signs2/*.mp4 -o "$out/signs2.h5" --landmarks "$lm" --every 2 -q
signseg label "$shared"/signs/tid-asl_*.mp4 "$shared"/videos/*.mp4 -o "$out/tid.h5" --landmarks "$lm" --every 3 -q
signseg label "$shared"/signs/startasl_*.mp4 -o "$out/startasl.h5" --landmarks "$lm" --every 8 -q

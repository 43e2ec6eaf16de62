#!/usr/bin/env bash
# Teacher labels for the shipped models: MediaPipe Holistic on the shared clips -> LABELS.h5.
# Usage: SIGNSEG_TEACHER_PYTHON=... pipelines/make_teacher_labels.sh [OUT.h5]
# Landmarks are cached in OUT.h5.landmarks/, so a killed run resumes where it stopped.
set -euo pipefail
out="${1:-labels.h5}"
shared="$(cd "$(dirname "$0")/../.." && pwd)/shared/data"
# the three pose-repo clips first, then the Turkish/German/ASL clips, then Start ASL
signseg label "$shared"/videos/*.mp4 "$shared"/signs/tid-asl_*.mp4 "$shared"/signs/startasl_*.mp4 \
    -o "$out" --every 2 --teacher-python "${SIGNSEG_TEACHER_PYTHON:?set it, see make_teacher_env.sh}"

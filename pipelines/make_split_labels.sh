#!/usr/bin/env bash
# Teacher labels of one split of pipelines/signers.tsv at a time, leaving out the Start ASL course
# clips: what the shipped refiner trains on (split train) and what it is scored on (val, test).
# Usage: SIGNSEG_TEACHER_PYTHON=... pipelines/make_split_labels.sh OUT_DIR [SPLIT ...]   (default: val test train)
# Writes OUT_DIR/SPLIT_23.h5 (signs2 and signs3 clips, every 2nd frame) and OUT_DIR/SPLIT_tid.h5
# (tid-asl and pose clips, every 3rd), as pipelines/make_teacher_labels.sh samples them. Holistic
# runs first on the 507 clips, held-out ones first, two processes (23 minutes on 2 cores);
# landmarks are cached in OUT_DIR/all.h5.landmarks/, so a killed run resumes where it stopped.
set -euo pipefail
out="${1:?OUT_DIR}"; shift; splits="${*:-val test train}"; mkdir -p "$out"
repo="$(cd "$(dirname "$0")/.." && pwd)"; shared="$(cd "$repo/.." && pwd)/shared/data"
table="$repo/pipelines/signers.tsv"; lm="$out/all.h5.landmarks"
py="${SIGNSEG_TEACHER_PYTHON:?set it, see make_teacher_env.sh}"
clips_of() {  # the clips of split $1 in folder $2 (a glob of names kept by $3), one path a line
    awk -F'\t' -v s="$1" 'NR > 1 && $4 == s && $1 !~ /^startasl_/ {print $1}' "$table" |
        while read -r v; do [ -f "$2/$v.mp4" ] && echo "$2/$v.mp4"; done | grep -E "${3:-.}" || true; }
for s in val test train; do for d in signs2 signs3 signs videos; do clips_of "$s" "$shared/$d"; done; done > "$out/clips.txt"
for half in 0 1; do
    awk -v h=$half 'NR % 2 == h' "$out/clips.txt" | xargs env PYTHONPATH="$repo" \
        "$py" -m signseg.teacher.holistic --out "$lm" --skip-existing &
done
wait
for s in $splits; do
    mapfile -t two < <(clips_of "$s" "$shared/signs2"; clips_of "$s" "$shared/signs3")
    mapfile -t tid < <(clips_of "$s" "$shared/signs" 'tid-asl_'; clips_of "$s" "$shared/videos")
    if [ ${#two[@]} -gt 0 ]; then signseg label "${two[@]}" -o "$out/${s}_23.h5" --landmarks "$lm" --every 2 -q; fi
    if [ ${#tid[@]} -gt 0 ]; then signseg label "${tid[@]}" -o "$out/${s}_tid.h5" --landmarks "$lm" --every 3 -q; fi
done

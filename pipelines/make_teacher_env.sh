#!/usr/bin/env bash
# Create the MediaPipe teacher environment (mediapipe 0.10.21 pins numpy<2 and protobuf<5, so it
# cannot share signseg's TensorFlow environment). Usage: pipelines/make_teacher_env.sh [DIR]
# Then: export SIGNSEG_TEACHER_PYTHON=DIR/bin/python
set -euo pipefail
dir="${1:-.teacher-venv}"
python3 -m venv "$dir"
"$dir/bin/pip" install --quiet "mediapipe==0.10.21"
"$dir/bin/python" -c "import mediapipe as mp; mp.solutions.holistic.Holistic().close(); print('teacher ok:', mp.__version__)"
echo "export SIGNSEG_TEACHER_PYTHON=$(cd "$dir" && pwd)/bin/python"

#!/usr/bin/env bash
# bench/gpu.py on the lent GPU machine in one command (no TensorFlow there: Keras on JAX).
#
# Here, once, from the repository root (both folders are git-ignored):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       -d .whl keras==3.15.1 namex==0.1.0 optree==0.20.0
#   mkdir -p .device && cp -r ../shared/data/signs .device/clips
# Then through the device tool: command "bash bench/gpu_device.sh", carry [".whl", ".device"].
# The table goes to stdout and to $OUT/gpu.txt. Extra arguments go to bench/gpu.py.
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
# the checkout on PYTHONPATH: the shipped weights are package data inside signseg/weights/
export PYTHONPATH="/tmp/site:$PWD" KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 bench/gpu.py --corpus .device/clips "$@" | tee "${OUT:-/tmp}/gpu.txt"

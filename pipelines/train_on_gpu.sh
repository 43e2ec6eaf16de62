#!/usr/bin/env bash
# Train snet (400x400) and snet-lite (224x224) on a lent GPU in one command of under 10 minutes,
# start-up included, and bring the weights back through $OUT (docs/training.md, issue 16).
#
# Here, once, from the repository root (both folders are git-ignored):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       -d .whl keras==3.15.1 namex==0.1.0 optree==0.20.0
#   signseg pack LABELS/signs2.h5 LABELS/tid.h5 LABELS/startasl.h5 -o .device/pack.h5 \
#       --holdout $(awk -F'\t' '$4 == "test" { print $1 }' pipelines/signers.tsv)
# (the pack: 12466 frames of 417 clips in 28 MB; the held-out test signers are not in it).
# Then through the device tool: command "bash pipelines/train_on_gpu.sh", carry [".whl", ".device"].
# MINUTES (default 5.5) is each model's training budget, MODELS which to train (default both),
# SNET_INIT / LITE_INIT what each starts from (a shipped name or a .weights.h5 with its card,
# default the shipped model), SNET_LR / LITE_LR their learning rates, STEPS the batches an epoch
# (default 150), SNET_BATCH / LITE_BATCH the batch sizes (32 / 64), FEED=0 skips the feed figures.
# A CPU rehearsal of the whole call (JAX on the CPU, about 4 minutes; the full pack at 400x400 needs
# more than 23 GB of host memory, so a pack of every 10th frame):
#   signseg pack .device/pack.h5 -o /tmp/pack_small.h5 --every 10
#   PATH=$PWD/.venv/bin:$PATH PACK=/tmp/pack_small.h5 STEPS=2 MINUTES=0.1 SNET_BATCH=4 LIMIT=1200 \
#       bash pipelines/train_on_gpu.sh
# Both train at once on the one GPU, their views made inside the compiled step (--views graph).
# Back in $OUT: each model's .weights.h5 + .json card and its log (one line per epoch, images/s
# included), the GPU's name, and bench/train_feed.py's figures (how fast the views alone can
# feed a step). To continue from a call's weights, copy them with their cards
# over signseg/weights/ (what the tenth session's second call did): a .weights.h5 elsewhere
# must travel too, and the tree (pack, wheels and weights) must stay under 64 MiB.
set -uo pipefail
minutes="${MINUTES:-5.5}"
MODELS="${MODELS:-snet snet-lite}"
pack="${PACK:-.device/pack.h5}"
out="${OUT:-/tmp/signseg-gpu-out}"
runs="${RUNS:-/tmp/signseg-gpu-runs}"
mkdir -p "$out" "$runs"
python3 -c "import keras" 2>/dev/null ||
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
# the checkout on PYTHONPATH: the shipped weights are package data inside signseg/weights/
export PYTHONPATH="/tmp/site:$PWD" KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$out/gpu.txt" 2>&1 || true
# validation: the val rows of signers.tsv (named signers covering the settings, since the thirteenth
# session; the shipped weights' runs validated on a 12% hash of the signer, --val-fraction 0.12)
common=(--views graph --dice --groups pipelines/signers.tsv --max-val-frames 480
        --patience 12 --epochs 500 --max-minutes "$minutes" -q)
limit="${LIMIT:-470}"  # a hard stop after the budget (loading, compiling, the last epoch): 10 minutes a call
train_one() {  # NAME INIT BATCH LR
    timeout "$limit" python3 -m signseg train "$pack" -o "$runs/$1" --name "$1" --init "$2" \
        --batch-size "$3" --steps "${STEPS:-150}" --lr "$4" "${common[@]}" > "$out/$1.log" 2>&1
}
for m in $MODELS; do
    case "$m" in
        snet) train_one snet "${SNET_INIT:-snet}" "${SNET_BATCH:-32}" "${SNET_LR:-1e-3}" & ;;
        snet-lite) train_one snet-lite "${LITE_INIT:-snet-lite}" "${LITE_BATCH:-64}" "${LITE_LR:-3e-4}" & ;;
    esac
done
wait
for m in $MODELS; do
    cp "$runs/$m/$m.weights.h5" "$runs/$m/$m.json" "$out/" 2>/dev/null ||
        cp "$runs/$m/$m.best.weights.h5" "$out/" 2>/dev/null ||  # stopped early: the best epoch so far
        echo "$m: no weights written" >&2
done
for m in $MODELS; do tail -n 4 "$out/$m.log"; done
[ "${FEED:-1}" = 1 ] || exit 0
# the feed alone, with the GPU free again: host batches, views, both (bench/train_feed.py)
timeout 90 python3 bench/train_feed.py "$pack" --frames 2000 --size 400x400 --batch-size 32 --batches 20 \
    > "$out/feed.txt" 2>&1
cat "$out/feed.txt"

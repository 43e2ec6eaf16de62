#!/usr/bin/env bash
# The exact training runs behind weights/*.weights.h5 (docs/model_card.md).
# Usage: pipelines/train_shipped_models.sh LABELS.h5 OUT_DIR
# SOUP, test_video and video (other signers, other settings) are held out for evaluation.
set -euo pipefail
labels="$1"; out="$2"
holdout="SOUP test_video video"
# snet-lite: width 0.5 behind a stride-2 stem at 224x224, the CPU default (~70 min on 2 cores;
# the shipped run was cut by a machine restart after 44.5 min and resumed with --max-minutes 25)
signseg train "$labels" -o "$out/snet-lite" --name snet-lite --width 0.5 --stem 2 --input-size 224x224 \
    --batch-size 8 --steps 120 --epochs 100 --lr 2e-3 --dice --val-fraction 0.1 --holdout $holdout \
    --patience 10 --max-minutes 70 -q
# snet: the paper's full-width network at 400x400, trained on 224x224 windows of the 400x400 view
signseg train "$labels" -o "$out/snet" --name snet --width 1.0 --input-size 400x400 --crop-size 224x224 \
    --batch-size 8 --steps 60 --epochs 100 --lr 1e-3 --dice --val-fraction 0.1 --holdout $holdout \
    --max-val-frames 96 --patience 10 --max-minutes 55 -q
# snet, continued (second session): from the run above at half the learning rate; stopped by hand
# after 5 epochs (60 min); the shipped weights are its best validation epoch (the first)
signseg train "$labels" -o "$out/snet-continued" --name snet --init "$out/snet/snet.weights.h5" \
    --input-size 400x400 --crop-size 224x224 --batch-size 8 --steps 60 --epochs 100 --lr 5e-4 --dice \
    --val-fraction 0.1 --holdout $holdout --max-val-frames 96 --patience 8 --max-minutes 120 -q

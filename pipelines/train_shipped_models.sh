#!/usr/bin/env bash
# The CPU training runs behind the earlier signseg/weights/*.weights.h5 (docs/model_card.md).
# Since the tenth session both shipped models were trained further on a lent GPU from these:
# signseg pack (the labels below, held-out signers left out), then
# pipelines/train_on_gpu.sh twice (docs/model_card.md has the settings).
# Usage: pipelines/train_shipped_models.sh LABELS_DIR OUT_DIR
# LABELS_DIR is what pipelines/make_teacher_labels.sh wrote. Every clip of the held-out test
# signers (pipelines/signers.tsv, split "test": home webcams, selfies, skin-coloured and white
# walls, coloured studios, light clothing) stays out of training and validation; validation
# takes whole signers among the rest. (These runs validated on a 12% hash of the signer,
# --val-fraction 0.12; signers.tsv has named val rows since the thirteenth session, which
# --groups now validates on instead: git show 15fc414:pipelines/signers.tsv is the table they used.)
set -euo pipefail
labels="$1"; out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
holdout=$(awk -F'\t' '$4 == "test" { print $1 }' "$here/signers.tsv")
# snet-lite (seventh session): fine-tuned from the snet-lite shipped before it (sha256 d5def301...,
# trained on shared/data/signs alone) on all of shared/data with the signer pasted onto new
# backgrounds; ~55 images/s on 2 cores, stopped by its time budget or early stopping
signseg train "$labels/signs2.h5" "$labels/tid.h5" "$labels/startasl.h5" -o "$out/snet-lite" --name snet-lite \
    --init snet-lite --batch-size 8 --steps 150 --epochs 100 --lr 1e-3 --dice --val-fraction 0.12 \
    --groups "$here/signers.tsv" --holdout $holdout --max-val-frames 480 --patience 10 --max-minutes 85
# (sessions 7 and 8 ran this in four stages, each --init the previous stage's weights: lr 1e-3, 5e-4,
# 3e-4, 3e-4; the last, stage 4, early-stopped after 29 epochs; docs/model_card.md has the table)
# snet of the third session (teacher labels of shared/data/signs only, held out SOUP test_video
# video; 224x224 windows of the 400x400 view, ~1.8 CPU hours in all), the start of its GPU runs:
#   signseg train LABELS.h5 -o "$out/snet" --name snet --width 1.0 --input-size 400x400 --crop-size 224x224 \
#       --batch-size 8 --steps 60 --epochs 100 --lr 1e-3 --dice --val-fraction 0.1 --holdout SOUP test_video video \
#       --max-val-frames 96 --patience 10 --max-minutes 55
#   then --init "$out/snet/snet.weights.h5" --lr 5e-4 --patience 8 --max-minutes 120 (stopped after 5 epochs)

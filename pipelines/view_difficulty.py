"""How hard each training-view recipe is for a trained model: its loss and IoU on the views.

    python pipelines/view_difficulty.py LABELS.h5 [--model snet-lite] [--batches 50] [--seed 1]

A model fine-tuned on views unlike the ones it was trained on first spends its steps on the
difference (docs/model_card.md, fourteenth session). This scores one model, unchanged, on the
same frames seen through each recipe: no augmentation, the host views
(:mod:`signseg.train.augment`) whole and with one of their steps switched off, the host views
of frames first stored at the input size (as :class:`signseg.train.feed.FrameArrays` keeps
them), and the graph views (:mod:`signseg.train.views`). Loss: BCE + soft Dice, per batch,
averaged; IoU: pooled over all views at threshold 0.5. Each row draws its own random frames
(the views' random numbers decide the next picks), so rows that differ by a few hundredths
are within the sampling noise of a few hundred views. Numbers come from this run.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Iterable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

# one switched-off step of the host recipe per row: augment's module-level probabilities
HOST_ROWS = {
    "host views": {},
    "host, no pasting onto backgrounds": {"P_COMPOSITE": 0.0},
    "host, no new clothes": {"P_CLOTHES": 0.0},
    "host, no blur, noise or JPEG": {"P_BLUR": 0.0, "P_NOISE": 0.0, "P_JPEG": 0.0},
    "host, no JPEG": {"P_JPEG": 0.0},
    "host, no close-ups": {"P_CLOSE_UP": 0.0},
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("labels", nargs="+", help="teacher labels .h5 files or a training pack")
    p.add_argument("--model", default="snet-lite", help="a shipped name or a .weights.h5 with its card")
    p.add_argument("--batches", type=int, default=50, help="batches of 8 views per row")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    import keras
    import signseg.train.augment as augment_module
    from signseg.models import build
    from signseg.models.metrics import SegmentationLoss, iou
    from signseg.train.augment import labelled
    from signseg.train.feed import ArrayBatches, FrameArrays
    from signseg.train.fit import FrameBatches, init_card
    from signseg.train.sources import load_sources
    from signseg.train.views import render_batch

    card = init_card(args.model)
    model = build(card.architecture, **card.config)
    model.load_weights(card.extra["_weights_path"])
    size, n = tuple(card.input_size), args.batches
    data = load_sources(args.labels)

    def score(batches: Iterable) -> tuple[float, float]:
        losses, marked, truths = [], [], []
        for x, y in batches:
            prob = np.asarray(model.predict_on_batch(np.asarray(x, np.float32)))
            y = np.asarray(y, np.float32).reshape((*prob.shape[:3], 1))  # the view's label map
            losses.append(float(np.mean(np.asarray(SegmentationLoss(dice=True)(y, prob)))))
            marked.append(prob[..., 0] >= 0.5)
            truths.append(labelled(y[..., 0].astype(np.uint8)))
        return float(np.mean(losses)), iou(np.concatenate(marked), np.concatenate(truths))

    def host(frames, switched_off: dict) -> tuple[float, float]:
        before = {k: getattr(augment_module, k) for k in switched_off}
        for k, v in switched_off.items():
            setattr(augment_module, k, v)
        try:
            batches = FrameBatches(frames, size, 8, steps=n, seed=args.seed)
            return score(batches[i] for i in range(n))
        finally:
            for k, v in before.items():
                setattr(augment_module, k, v)

    arrays = FrameArrays.from_frames(data, size, 0)  # every frame resized once, for both rows below

    def graph():
        batches = ArrayBatches(arrays, 8, n, seed=args.seed)
        for i in range(n):
            inputs, labels = batches[i]
            x, y = render_batch({k: keras.ops.convert_to_tensor(v) for k, v in inputs.items()},
                                keras.ops.convert_to_tensor(labels), size)
            yield keras.ops.convert_to_numpy(x), keras.ops.convert_to_numpy(y)

    spread = np.zeros(len(data), bool)  # the frames as they are: evenly spaced over all clips
    spread[np.linspace(0, len(data) - 1, min(n * 8, len(data))).round().astype(int)] = True
    plain = FrameBatches(data.subset(spread), size, 8, train=False)
    rows = {"no augmentation": score(plain[i] for i in range(len(plain)))}
    rows.update({name: host(data, off) for name, off in HOST_ROWS.items()})
    small = data.subset(np.ones(len(data), bool))  # every frame stored at the input size first
    small.images = list(arrays.images)
    small.masks = list(arrays.labels[..., 0])
    small.persons = [q[..., 0] if has else None for q, has in zip(arrays.persons, arrays.has_person)]
    rows["host, frames stored at the input size"] = host(small, {})
    rows["graph views"] = score(graph())

    print(f"{card.name} ({size[0]}x{size[1]}), {len(data)} frames of {', '.join(args.labels)}, "
          f"{n} batches of 8 a row")
    print("| views | loss | IoU |\n| --- | --- | --- |")
    for name, (loss, pooled_iou) in rows.items():
        print(f"| {name} | {loss:.4f} | {pooled_iou:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

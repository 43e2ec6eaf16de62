"""Benchmark: training images/s on this machine -- the input pipeline alone and whole fit steps.

    python bench/train.py LABELS.h5 [--model snet-lite] [--batch-size 8] [--steps 20] [--rounds 2] [--json]

Run it with ``PYTHONPATH`` at an older checkout to time that version's pipeline on the same data.

Rows:
- ``augment``: training views made per second by ``FrameBatches`` alone (one thread), with and
  without the signer pasted onto new backgrounds (frames that carry a person mask);
- ``fit``: images per second through ``model.fit`` (augmentation, forward, backward, update),
  the second and later epochs of ``--steps`` steps timed (the first compiles), best of
  ``--rounds``, for each way of running it: eager Keras steps or XLA-compiled ones
  (``jit_compile``), and the views made on the training thread or by a feeder thread
  (``PyDataset(workers=1)``) while the step runs, or the views made inside the step from uint8
  arrays (``--views graph``, :mod:`signseg.train.views`), in float32 or with bfloat16 compute
  (``--precision mixed_bfloat16``; ``train_precision`` in the header says which of the two
  ``signseg train`` picks on this machine). Numbers are printed, never asserted.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from _report import report  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("labels")
    p.add_argument("--model", default="snet-lite")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--precision", nargs="+", default=["float32", "mixed_bfloat16"],
                   help="Keras dtype policies to time the fit rows in")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    import keras
    from signseg.models.metrics import SegmentationLoss, mask_iou
    from signseg.models import build
    from signseg.infer.presets import resolve
    from signseg.train.fit import FrameBatches
    from signseg.train.sources import load_sources
    try:  # graph views (issue 16); an older checkout has host views only
        from signseg.train.feed import ArrayBatches, FrameArrays, ViewTrainer
        has_graph_views = True
    except ImportError:
        has_graph_views = False

    card, _ = resolve(args.model)
    size = tuple(card.input_size)
    data = load_sources([args.labels])
    rows = []
    variants = [("as loaded", data)]
    if hasattr(data, "persons"):  # an older signseg (no compositing) can be timed by the same script
        plain = data.subset([True] * len(data))
        plain.persons = [None] * len(plain)
        variants = [("no person masks", plain), ("pasted onto backgrounds", data)]
    for name, d in variants:
        ds = FrameBatches(d, size, args.batch_size, steps=args.steps, seed=0)
        ds[0]
        t = time.perf_counter()
        for i in range(args.steps):
            ds[i]
        rate = args.steps * args.batch_size / (time.perf_counter() - t)
        rows.append({"what": "augment", "how": name, "images_per_s": round(rate, 1)})

    arrays = None
    variants = [("host", False, 0, p) for p in args.precision] + [
        ("host", False, 1, "float32"), ("host", True, 0, "float32"), ("host", True, 0, "mixed_bfloat16"),
        ("graph", False, 0, "float32"),
        ("graph", False, 0, "mixed_bfloat16")]
    for views, jit, workers, precision in variants:
        if views == "graph" and not has_graph_views:
            continue
        keras.utils.set_random_seed(0)
        keras.mixed_precision.set_global_policy(precision)
        model = build(card.architecture, **card.config)
        keras.mixed_precision.set_global_policy("float32")
        if views == "graph":
            arrays = FrameArrays.from_frames(data, size) if arrays is None else arrays
            model = ViewTrainer(model, size)
            ds = ArrayBatches(arrays, args.batch_size, steps=args.steps, seed=0)
        else:
            kw = {"workers": workers, "use_multiprocessing": False, "max_queue_size": 4} if workers else {}
            ds = FrameBatches(data, size, args.batch_size, steps=args.steps, seed=0, **kw)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=SegmentationLoss(dice=True), metrics=[mask_iou],
                      jit_compile=jit)
        times = []

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.t)

        how = (f"{'xla' if jit else 'eager'} steps, "
               + ("views in the step" if views == "graph" else "feeder thread" if workers else "same thread")
               + ("" if precision == "float32" else f", {precision}"))
        try:
            model.fit(ds, epochs=1 + args.rounds, verbose=0, callbacks=[Timer()])
        except Exception as exc:  # e.g. an op XLA cannot compile on this backend and device
            why = str(exc).split("Detected unsupported operations")[-1].split("{{")[0].strip()[:90]
            rows.append({"what": "fit", "how": how, "images_per_s": f"failed: {why}"})
            continue
        rate = args.steps * args.batch_size / min(times[1:])
        rows.append({"what": "fit", "how": how, "images_per_s": round(rate, 1)})
        print(rows[-1], file=sys.stderr, flush=True)
    base = next(r["images_per_s"] for r in rows if r["how"] == "eager steps, same thread")
    for r in rows:
        ok = r["what"] == "fit" and not isinstance(r["images_per_s"], str)
        r["vs_eager_same_thread"] = round(r["images_per_s"] / base, 2) if ok else "-"
    try:  # what `signseg train --precision auto` picks here (an older checkout: float32 always)
        from signseg.train.fit import auto_precision
        default_precision = auto_precision()
    except ImportError:
        default_precision = "float32"
    report({"model": args.model, "input": f"{size[0]}x{size[1]}", "batch": args.batch_size,
            "backend": keras.backend.backend(), "frames": len(data), "train_precision": default_precision},
           rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

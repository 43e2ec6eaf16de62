"""Benchmark: how fast graph views (``signseg train --views graph``) can feed a training step.

    python bench/train_feed.py SOURCE [SOURCE ...] [--size 400x400] [--batch-size 32] [--batches 30]

Rows (images per second, best of ``--rounds``, the first call -- compilation -- not timed):
- ``host``: the batches the host hands over (uint8 gathers plus the numbers of the views,
  ``ArrayBatches``), one thread;
- ``views``: the views made from those batches as the training step makes them
  (``feed.compiled_render``: JAX ``jax.jit`` with a barrier after each stage; TensorFlow each
  stage XLA-compiled), batches prepared beforehand; ``--whole`` compiles ``render`` as one
  function instead (JAX ``jax.jit``, TensorFlow ``tf.function(jit_compile=True)``), the way
  before stages;
- ``host + views``: both in turn, as one training thread does them.
The training step's own images/s (forward, backward, update) is what ``signseg train`` logs per
epoch. Numbers are printed, never asserted.
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
    p.add_argument("sources", nargs="+")
    p.add_argument("--size", default="400x400")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--batches", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--frames", type=int, default=None, help="use the first N frames only (quicker to load)")
    p.add_argument("--whole", action="store_true", help="compile render as one function (no stages)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    import keras
    import numpy as np
    from signseg.train.feed import ArrayBatches, FrameArrays, compiled_render
    from signseg.train.sources import load_sources
    from signseg.train.views import render_batch

    size = tuple(int(v) for v in args.size.split("x"))
    t = time.perf_counter()
    data = load_sources(args.sources)
    if args.frames:
        data = data.subset(np.arange(len(data)) < args.frames)
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    arrays = FrameArrays.from_frames(data, size)
    t_arrays = time.perf_counter() - t
    ds = ArrayBatches(arrays, args.batch_size, steps=args.batches, seed=0)

    def whole(inputs, labels):
        return render_batch(inputs, labels, size)

    views = whole if args.whole else compiled_render(size)
    if keras.backend.backend() == "jax":
        import jax
        compiled = jax.jit(views)
        done = jax.block_until_ready
    elif keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        compiled = tf.function(views, jit_compile=args.whole)
        done = lambda out: [np.asarray(o) for o in out]  # noqa: E731
    else:
        compiled, done = views, (lambda out: [keras.ops.convert_to_numpy(o) for o in out])

    batches = [ds[i] for i in range(args.batches)]
    done(compiled(*batches[0]))  # compile
    rows = []
    n = args.batches * args.batch_size
    for what in ("host", "views", "host + views"):
        best = 0.0
        for _ in range(args.rounds):
            t = time.perf_counter()
            for i in range(args.batches):
                b = ds[i] if what != "views" else batches[i]
                if what != "host":
                    out = compiled(*b)
            if what != "host":
                done(out)
            best = max(best, n / (time.perf_counter() - t))
        rows.append({"what": what, "images_per_s": round(best, 1)})
        print(rows[-1], file=sys.stderr, flush=True)
    report({"backend": keras.backend.backend(), "render": "whole" if args.whole else "stages", "size": args.size,
            "batch": args.batch_size, "frames": len(arrays), "load_s": round(t_load, 1), "arrays_s": round(t_arrays, 1),
            "plates": len(arrays.plates)}, rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

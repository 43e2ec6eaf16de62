"""The GPU path's host cost: a corpus run with the network replaced by a stand-in that costs
nothing, so that what is timed is everything else (decode, resizes, batching, threshold,
post-processing, HDF5 writes), as the host of a GPU machine pays it.

    python bench/driver.py [--videos 48] [--batch-size 256] [--decoders 2] [--input-size 400x400]
                           [--rounds 3] [--json]

The corpus is ``--videos`` clips of ``shared/data`` (mixed lengths and sizes: landscape
512x288 and others, portrait). Rows, each the best of ``--rounds`` runs into a fresh file:
- ``driver``: ``signseg.run.pipeline.process(..., infer="driver")``, batches spanning videos, as
  on a GPU; ``per_video``: the same with ``infer="workers", n_jobs=1`` (one video at a time
  in this process), measured in the same run for the ratio.
The stand-in answers what the device would, at no cost: on the driver path, the uint8
probabilities of :class:`signseg.infer.fixed_shape.FixedShapeNetwork`; where that module is absent
(the code before it, run from an older checkout), the float32 source-size probabilities of
the device-resize graph that path used on a GPU; on the per-video path, float32
probabilities at the input size (it resizes on the host).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _report import report

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"


def corpus(n: int) -> list[Path]:
    """``n`` clips of mixed sizes and lengths: every other one from signs2 (many sizes)."""
    signs = sorted((SHARED / "signs").glob("*.mp4"))
    signs2 = sorted((SHARED / "signs2").glob("*.mp4"))
    picked = []
    for i in range(n):
        pool = signs2 if i % 2 else signs
        picked.append(pool[(i * 7) % len(pool)])
    return picked


def stand_in(input_size: tuple[int, int], batch_size: int, driver: bool):
    """A Segmenter whose network costs nothing (see the module docstring)."""
    import keras
    from signseg.infer.segmenter import Segmenter
    x = keras.Input((*input_size, 3))
    model = keras.Model(x, keras.layers.Lambda(lambda t: t[..., :1] * 0.0)(x), name="stand_in")
    seg = Segmenter(model, input_size=input_size, batch_size=batch_size, runtime="keras", name="stand-in",
                    resize="device" if driver else "host")
    if not driver:
        seg._run = lambda x, threads=None: np.zeros((*x.shape[:3], 1), np.float32)
        return seg
    try:
        from signseg.infer.fixed_shape import FixedShapeNetwork
    except ImportError:  # before: the device-resize graph gave float32 probabilities at the source size
        seg._device_runner = lambda h, w: (lambda x: np.zeros(x.shape[:3], np.float32))
        return seg
    FixedShapeNetwork.of(seg)._call = lambda x, filled: np.zeros(x.shape[:3], np.uint8)
    return seg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--decoders", type=int, default=2, help="decode threads of the driver path")
    ap.add_argument("--input-size", default="400x400")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from signseg.run.jobs import VideoJob
    from signseg.run.pipeline import process

    size = tuple(int(v) for v in args.input_size.split("x"))
    videos = corpus(args.videos)
    jobs = [VideoJob(f"{i:04d}_{p.stem}", p) for i, p in enumerate(videos)]
    frames = 0
    modes = {"driver": dict(infer="driver", n_jobs=args.decoders), "per_video": dict(infer="workers", n_jobs=1)}
    segs = {mode: stand_in(size, args.batch_size, driver=mode == "driver") for mode in modes}
    best = dict.fromkeys(modes, float("inf"))
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for mode, kw in modes.items():  # in turns: both see the same moments of the machine
                out = Path(tmp) / f"{mode}{r}.h5"
                t0 = time.perf_counter()
                summary = process(jobs, out, segs[mode], progress=False, **kw)
                best[mode] = min(best[mode], time.perf_counter() - t0)
                assert not summary.failed, summary.failed
                frames = summary.frames
                out.unlink()
    rows = [{"path": mode, "fps": round(frames / best[mode], 1), "seconds": round(best[mode], 2),
             "vs_per_video": round(best["per_video"] / best[mode], 2)} for mode in modes]
    report({"videos": len(videos), "frames": frames, "input_size": args.input_size, "batch": args.batch_size,
            "decoders": args.decoders, "cpus": os.cpu_count(), "backend": keras.backend.backend()}, rows, args.json)


if __name__ == "__main__":
    main()

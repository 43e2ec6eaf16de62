"""Benchmark: how fast mask files feed a recognizer (clips/s and frames/s per source and reader).

    python bench/readers.py MASKS.h5 [--frames 16] [--size 64x64] [--epochs 2] [--workers 2] [--json]

Each row reads every video of the file as one fixed-length clip per epoch: ``ClipDataset``
(plain numpy, one process), ``to_tf_dataset`` (parallel map + prefetch) and, when PyTorch is
installed, a DataLoader with ``--workers`` processes. Sources that the file lacks are skipped.
MASKS.h5 comes from e.g. ``signseg corpus ROOT -o MASKS.h5 --crops 32``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _report import report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from signseg.store.datasets import ClipDataset, to_tf_dataset, to_torch_dataset  # noqa: E402


def timed_epochs(make_iter, epochs: int) -> float:
    """Seconds per epoch, best of ``epochs`` (the first one warms caches and pools up)."""
    best = float("inf")
    for _ in range(epochs):
        t = time.perf_counter()
        for _ in make_iter():
            pass
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("masks", type=Path)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", default="64x64", help="HxW masks are resized to")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    rows = []
    for source in ("masks", "boxes", "right_hand_crops", ("left_hand_crops", "right_hand_crops", "boxes")):
        kw = dict(source=source, frames=args.frames, size=size if source == "masks" else None)
        try:
            clips = ClipDataset(args.masks, **kw)
        except ValueError as exc:
            print(f"skipped {source}: {exc}", file=sys.stderr)
            continue
        n = len(clips)
        readers = {"numpy": lambda: (clips[i] for i in range(n)),
                   "tf.data": lambda: to_tf_dataset(args.masks, batch_size=args.batch_size, **kw)}
        try:
            from torch.utils.data import DataLoader
            tds = to_torch_dataset(args.masks, **kw)
            readers[f"torch x{args.workers}"] = lambda: DataLoader(tds, batch_size=args.batch_size,
                                                                   num_workers=args.workers)
        except ImportError:
            pass
        for name, make in readers.items():
            seconds = timed_epochs(make, args.epochs)
            rows.append({"source": source if isinstance(source, str) else "+".join(source), "reader": name,
                         "clips/s": round(n / seconds, 1), "frames/s": round(n * args.frames / seconds)})
    report({"file": args.masks.name, "videos": n, "frames_per_clip": args.frames}, rows, args.json)


if __name__ == "__main__":
    main()

"""Benchmark: a corpus run end to end (videos -> one HDF5) against model-only on the same frames.

    python bench/corpus.py [--clips 24] [--model snet-lite] [--batch-size 8]
                           [--runs inprocess loky:2 dask:2 ray:2 driver:2] [--json]

The corpus is the first ``--clips`` real sign clips of ../shared/data/signs, linked into an
AUTSL-style folder. Model-only times ``Segmenter.predict`` in this process on all their frames,
decoded beforehand, in batches of ``--batch-size`` (best of two passes). Each run then processes the whole corpus through ``signseg.run.pipeline.process``
(decode, inference, shard writes, adoption into the output), worker start-up included, and is
reported as frames/s and as a ratio to model-only. Numbers are printed, never asserted.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from _report import report

REPO = Path(__file__).resolve().parents[1]
SIGNS = REPO.parent / "shared" / "data" / "signs"


def make_corpus(folder: Path, n: int) -> list[Path]:
    clips = sorted(SIGNS.glob("*.mp4"))[:n]
    for i, clip in enumerate(clips):
        (folder / f"signer{i % 5}_sample{i}_color.mp4").symlink_to(clip)
    return clips


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=24)
    p.add_argument("--model", default="snet-lite")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--runs", nargs="*", default=["inprocess", "loky:2"],
                   help="inprocess, BACKEND:N_JOBS (loky, threading, dask, ray), or driver:N_THREADS "
                        "(one model in this process, batches spanning videos)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from signseg.run.corpus import scan
    from signseg.run.pipeline import process
    from signseg.run.workers import ModelSpec
    from signseg.decode.video import read_video

    spec = ModelSpec(name=args.model, batch_size=args.batch_size)
    seg = spec.load()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "train"
        corpus.mkdir()
        clips = make_corpus(corpus, args.clips)
        jobs = scan(corpus).jobs
        videos = [read_video(c) for c in clips]
        n_frames = sum(len(v) for v in videos)
        seg.predict(videos[0][: seg.batch_size])  # compile

        def model_only() -> float:
            t = time.perf_counter()
            for v in videos:
                for s in range(0, len(v), seg.batch_size):  # the batches a run feeds the model
                    seg.predict(v[s:s + seg.batch_size])
            return n_frames / (time.perf_counter() - t)
        model_fps = max(model_only() for _ in range(2))  # best of two: the first warms TensorFlow up
        videos.clear()  # free the decoded frames before the runs
        for i, run in enumerate(args.runs):
            backend, n_jobs = ("loky", 1) if run == "inprocess" else (run.split(":")[0], int(run.split(":")[1]))
            in_driver = backend in ("inprocess", "driver") or run == "inprocess"
            t = time.perf_counter()
            summary = process(jobs, Path(tmp) / f"out{i}.h5", seg if in_driver else spec, n_jobs=n_jobs,
                              backend="loky" if backend == "driver" else backend, progress=False,
                              infer="driver" if backend == "driver" else "workers")
            seconds = time.perf_counter() - t
            size = (Path(tmp) / f"out{i}.h5").stat().st_size
            rows.append({"run": run, "videos": len(summary.done), "failed": len(summary.failed),
                         "frames": summary.frames, "seconds": round(seconds, 1),
                         "e2e_fps": round(summary.frames / seconds, 1), "model_fps": round(model_fps, 1),
                         "e2e/model": round(summary.frames / seconds / model_fps, 3),
                         "bytes/frame": round(size / max(1, summary.frames))})
            assert summary.frames == n_frames, (summary.frames, n_frames)
    meta = {"model": seg.name, "input": "x".join(map(str, seg.input_size)), "batch": seg.batch_size,
            "clips": len(clips), "frames": n_frames, "cpus": os.cpu_count(),
            "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    report(meta, rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark for an accelerator: snet and snet-lite at their native sizes and 400x400, float32
and mixed precision, large batches, against the device's own matmul peak.

    KERAS_BACKEND=jax python bench/gpu.py [--models snet snet-lite] [--sizes native]
                                          [--precision float32 mixed_bfloat16] [--batch-size 256]
                                          [--frames 512] [--corpus DIR] [--corpus-videos 240]
                                          [--decoders 14] [--json]

On the lent machine, ``bash bench/gpu_device.sh`` sets up and runs it (the defaults fit its
15 minutes: 4 rows, each with a corpus run of the 240 clips of ``shared/data/signs``).
Runs under any Keras backend (TensorFlow is not needed: on the GPU machine use jax). Rows:
- ``net_fps``: the network alone (``Segmenter.infer``) on frames already resized, numpy in
  and out, host-device copies included; ``of_peak``: its convolution arithmetic rate
  (``segmenter_gflop`` per frame) over the device's practical peak in that precision, an NxN
  matmul through ``keras.ops`` measured in the same run;
- ``host_fps`` / ``device_fps``: ``Segmenter.predict`` on decoded frames with the resizes in and
  out on the host (OpenCV) or inside the compiled graph (``resize="device"``, the GPU default:
  uint8 frames go to the device as decoded);
- ``fixed_fps``: the network as the corpus run calls it (:class:`signseg.infer.fixed_shape.FixedShapeNetwork`:
  uint8 frames at the input size in, uint8 probabilities out, all batches in flight);
- ``corpus_fps``: ``signseg.run.pipeline.process(..., infer="driver")`` over ``--corpus-videos``
  clips of ``--corpus`` with ``--decoders`` decode threads, end to end into an HDF5 file, after
  a warm-up run on a few clips (model load and compile outside the timing); ``corpus/net``
  its share of ``net_fps``, the issue's measure;
- ``mirror``: the model card's test-time flip (``snet-lite``'s is on): every figure then
  includes both passes, and ``of_peak`` counts the arithmetic of both;
- ``mask_iou``: agreement with the float32 host-resized masks of the same model and size.
It also runs on a CPU (slowly), which is how it was checked before any GPU was lent.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from _report import report
from segment import _timed, segmenter_gflop

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CLIP = REPO.parent / "shared" / "data" / "signs" / "tid-asl_hocam.mp4"
CORPUS = REPO.parent / "shared" / "data" / "signs"


def fixed_fps(seg, frames: np.ndarray) -> float:
    """Frames/s of the fixed-shape network on uint8 input-size frames, every batch in flight."""
    from signseg.infer.fixed_shape import FixedShapeNetwork
    from signseg.decode.image import resize
    net = FixedShapeNetwork.of(seg)
    x = np.stack([resize(f, seg.input_size) for f in frames[:net.batch_size]])
    x = np.concatenate([x] * (-(-net.batch_size // len(x))))[:net.batch_size]
    net.fetch(net(x))  # compile
    calls = max(1, len(frames) // net.batch_size)

    def run() -> None:
        for handle in [net(x) for _ in range(calls)]:
            net.fetch(handle)
    return calls * net.batch_size / _timed(run, 3)


def corpus_fps(seg, videos: list[Path], decoders: int) -> tuple[float, int]:
    """Frames/s (and frames) of a whole corpus run on the driver path, after a warm-up run."""
    import tempfile
    from signseg.run.jobs import VideoJob
    from signseg.run.pipeline import process
    jobs = [VideoJob(f"{i:05d}", p) for i, p in enumerate(videos)]
    with tempfile.TemporaryDirectory() as tmp:
        process(jobs[:4], Path(tmp) / "warm.h5", seg, n_jobs=decoders, infer="driver", progress=False)
        summary = process(jobs, Path(tmp) / "out.h5", seg, n_jobs=decoders, infer="driver", progress=False)
    assert not summary.failed, summary.failed
    return summary.fps, summary.frames


def matmul_peak(dtype: str, n: int, repeats: int = 5) -> float:
    """GFLOP/s of an n x n matmul on the backend's default device, in ``dtype``."""
    import keras
    ops = keras.ops
    a = ops.cast(ops.convert_to_tensor(np.random.default_rng(0).random((n, n), np.float32)), dtype)
    sync = lambda x: ops.convert_to_numpy(x[0, 0])  # noqa: E731 - waits for the device
    sync(ops.matmul(a, a))
    return 2 * n ** 3 / _timed(lambda: sync(ops.matmul(a, a)), repeats) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", default=["snet", "snet-lite"])
    ap.add_argument("--sizes", nargs="*", default=["native"])
    ap.add_argument("--precision", nargs="*", default=["float32", "mixed_bfloat16"])
    ap.add_argument("--batch-size", type=int, nargs="*", default=[256])
    ap.add_argument("--frames", type=int, default=512, help="frames per timing pass (the clip repeated)")
    ap.add_argument("--matmul", type=int, default=8192, help="side of the peak matmul")
    ap.add_argument("--corpus", type=Path, default=CORPUS, help="folder of clips for the corpus run")
    ap.add_argument("--corpus-videos", type=int, default=240, help="clips of --corpus to run (0: none)")
    ap.add_argument("--decoders", type=int, default=max(1, (os.cpu_count() or 2) - 2),
                    help="decode threads of the corpus run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from signseg.infer.runtimes import has_gpu
    from signseg.infer.segmenter import Segmenter
    from signseg.decode.video import read_video

    clip = read_video(CLIP)
    frames = np.concatenate([clip] * (-(-args.frames // len(clip))))[:args.frames]
    peaks = {p: matmul_peak("bfloat16" if "bfloat16" in p else "float16" if "float16" in p else "float32",
                            args.matmul) for p in args.precision}
    videos = sorted(args.corpus.glob("*.mp4"))[:args.corpus_videos] if args.corpus_videos else []
    rows = []
    for name in args.models:
        for size in args.sizes:
            input_size = None if size == "native" else tuple(int(v) for v in size.split("x"))
            reference = None
            for precision in args.precision:
                for batch in args.batch_size:
                    seg, dev = (Segmenter.from_pretrained(name, batch_size=batch, input_size=input_size,
                                                          precision=precision, runtime="keras", resize=where)
                                for where in ("host", "device"))
                    x = seg.to_input(frames)
                    seg.infer(x[:batch])  # compile
                    net = len(x) / _timed(lambda: seg.infer(x), 3)
                    dev.predict(frames[:batch])  # compile
                    host_fps, device_fps = (len(frames) / _timed(lambda: s.predict(frames), 2)
                                            for s in (seg, dev))
                    fixed = fixed_fps(seg, frames)
                    corpus, _ = corpus_fps(seg, videos, args.decoders) if videos else (0.0, 0)
                    masks = seg.predict(frames[:64]) > 0
                    if reference is None:
                        reference = masks
                    iou = (masks & reference).sum() / max((masks | reference).sum(), 1)
                    gflop = segmenter_gflop(seg)
                    rows.append({"model": name, "mirror": seg.mirror, "input": "x".join(map(str, seg.input_size)),
                                 "precision": precision,
                                 "batch": batch, "gflop/frame": round(gflop, 2), "net_fps": round(net, 1),
                                 "tflops": round(net * gflop / 1e3, 2), "of_peak": round(net * gflop / peaks[precision], 3),
                                 "host_fps": round(host_fps, 1), "device_fps": round(device_fps, 1),
                                 "fixed_fps": round(fixed, 1), "corpus_fps": round(corpus, 1),
                                 "corpus/net": round(corpus / net, 2), "mask_iou": round(float(iou), 4)})
    import platform
    meta = {"backend": keras.backend.backend(), "gpu": has_gpu(), "host": platform.node(),
            "corpus": f"{len(videos)} clips of {args.corpus}", "decoders": args.decoders,
            **{f"peak_tflops_{p}": round(v / 1e3, 2) for p, v in peaks.items()}}
    report(meta, rows, args.json)


if __name__ == "__main__":
    main()

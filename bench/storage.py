"""Benchmark: how to store masks. Bytes per frame, write and read speed per codec and layout.

    python bench/storage.py [--clips 8] [--size 400x400] [--json]

Real masks: the shipped default model on frames of ``--clips`` shared sign clips, resized to
``--size`` (the paper's 400x400 by default), binary (0/4) and with parts (0..4). Each codec
writes them as one (T, H, W) dataset per clip, chunked as signseg does (chunks <= 1 MiB),
then reads them back whole (``read fps``) and as 16-frame clips, one read per sampled frame
(``clip reads/s``, what a recognizer's loader does). ``packbits`` stores binary masks 8
pixels to a byte before compressing (binary only). hdf5plugin codecs are tried when it is
installed (``pip install hdf5plugin``).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from _report import report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from signseg.store.chunking import chunk_frames  # noqa: E402 - chunked as signseg does
SIGNS = Path(__file__).resolve().parents[2] / "shared" / "data" / "signs"


def codecs() -> dict[str, dict]:
    out = {"gzip-1": {"compression": "gzip", "compression_opts": 1},
           "gzip-6": {"compression": "gzip", "compression_opts": 6},
           "lzf": {"compression": "lzf"}}
    try:
        import hdf5plugin
        out["blosc-lz4+bitshuffle"] = dict(hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.BITSHUFFLE))
        out["blosc-zstd+bitshuffle"] = dict(hdf5plugin.Blosc(cname="zstd", clevel=3, shuffle=hdf5plugin.Blosc.BITSHUFFLE))
        out["zstd-3"] = dict(hdf5plugin.Zstd(clevel=3))
    except ImportError:
        print("hdf5plugin not installed: its codecs are skipped", file=sys.stderr)
    return out


def real_masks(n_clips: int, size: tuple[int, int]) -> list[np.ndarray]:
    """Masks of real clips at ``size``, with parts (0..4)."""
    from signseg.postprocess.parts import split_parts
    from signseg.infer.segmenter import Segmenter
    from signseg.decode.video import read_video
    seg = Segmenter.from_pretrained()
    clips = sorted(SIGNS.glob("tid-asl_*.mp4"))[:n_clips // 2] + sorted(SIGNS.glob("startasl_*.mp4"))[:n_clips - n_clips // 2]
    return [split_parts(seg.predict(read_video(c, size=size)))[0] for c in clips]


def measure(videos: list[np.ndarray], codec: dict, packed: bool) -> dict:
    stored = [np.packbits(v > 0, axis=-1) if packed else v for v in videos]
    n = sum(len(v) for v in videos)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.h5")
        t = time.perf_counter()
        with h5py.File(path, "w") as f:
            for i, v in enumerate(stored):
                f.create_dataset(str(i), data=v, chunks=(min(len(v), chunk_frames(*v.shape[1:])), *v.shape[1:]), **codec)
        write = time.perf_counter() - t
        size = os.path.getsize(path)
        with h5py.File(path, "r") as f:
            t = time.perf_counter()
            for i, v in enumerate(videos):
                x = f[str(i)][()]
                if packed:
                    x = np.unpackbits(x, axis=-1, count=v.shape[-1])
            read = time.perf_counter() - t
            t = time.perf_counter()
            clips = 0
            for _ in range(3):
                for i in range(len(videos)):
                    ds = f[str(i)]
                    for k in np.linspace(0, len(ds) - 1, 16).round().astype(int):
                        x = ds[int(k)]
                        if packed:
                            x = np.unpackbits(x, axis=-1, count=videos[i].shape[-1])
                    clips += 1
            clip_s = time.perf_counter() - t
    return {"bytes/frame": round(size / n), "write fps": round(n / write), "read fps": round(n / read),
            "clip reads/s": round(clips / clip_s, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--size", default="400x400")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    videos = real_masks(args.clips, size)
    binary = [np.where(v > 0, 4, 0).astype(np.uint8) for v in videos]
    rows = []
    for name, codec in codecs().items():
        for kind, data, packed in (("binary", binary, False), ("binary", binary, True), ("parts", videos, False)):
            rows.append({"codec": name, "masks": kind, "layout": "packbits" if packed else "uint8",
                         **measure(data, codec, packed)})
    n = sum(len(v) for v in videos)
    report({"clips": len(videos), "frames": n, "size": args.size, "raw_bytes/frame": size[0] * size[1]},
           rows, args.json)


if __name__ == "__main__":
    main()

"""Benchmark: model-only vs end-to-end (video -> HDF5) frames/s, and MediaPipe Holistic.

    python bench/segment.py [--model snet-lite] [--clip PATH ...] [--batch-size 8]
                            [--input-size 224x224 ...] [--teacher-python PY] [--json]

Model-only times ``Segmenter.predict`` on frames decoded beforehand (resize in and out and
the threshold included); end-to-end times ``signseg segment``'s pipeline on the same clip,
decode and HDF5 writing included. Holistic runs in its own environment on the same clip
(``--teacher-python``), its start-up excluded. Numbers are printed, never asserted.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _report import report

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIPS = [REPO.parent / "shared/data/signs/tid-asl_hocam.mp4", REPO / "examples/data/SOUP.mp4"]


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Practical float32 peak of this CPU: best of a few n x n matmuls."""
    a = np.random.default_rng(0).random((n, n), np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def model_only(seg, frames: np.ndarray, repeats: int = 3) -> float:
    seg.predict(frames[: seg.batch_size])  # compile
    best = min(_timed(lambda: seg.predict(frames)) for _ in range(repeats))
    return len(frames) / best


def end_to_end(seg, clip: Path) -> tuple[float, int]:
    from signseg.pipeline import segment_videos
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        s = segment_videos([clip], Path(tmp) / "bench.h5", seg, progress=False)
        return s.frames / (time.perf_counter() - t), s.frames


def holistic_fps(teacher_python: str, clip: Path) -> float | None:
    """Frames/s of MediaPipe Holistic on ``clip``, timed inside the teacher process."""
    code = (
        "import sys,time,cv2,mediapipe as mp\n"
        "cap=cv2.VideoCapture(sys.argv[1]);fr=[]\n"
        "while True:\n ok,f=cap.read()\n if not ok: break\n fr.append(cv2.cvtColor(f,cv2.COLOR_BGR2RGB))\n"
        "h=mp.solutions.holistic.Holistic(model_complexity=1);h.process(fr[0])\n"
        "t=time.perf_counter()\n"
        "for f in fr: h.process(f)\n"
        "print('FPS',len(fr)/(time.perf_counter()-t))\n")
    r = subprocess.run([teacher_python, "-c", code, str(clip)], capture_output=True, text=True)
    m = re.search(r"FPS ([0-9.]+)", r.stdout)
    return float(m.group(1)) if m else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="snet-lite")
    p.add_argument("--weights", type=Path, default=None, help="a model file instead of --model")
    p.add_argument("--clip", type=Path, nargs="*", default=DEFAULT_CLIPS)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--input-size", nargs="*", default=[], help="HxW sizes to try (default: the model's)")
    p.add_argument("--teacher-python", default=os.environ.get("SIGNSEG_TEACHER_PYTHON"))
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from signseg.segmenter import Segmenter
    from signseg.video import read_video

    def load(size):
        kw = dict(batch_size=args.batch_size, input_size=size)
        return Segmenter.from_file(args.weights, **kw) if args.weights else Segmenter.from_pretrained(args.model, **kw)

    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.input_size] or [None]
    rows = []
    peak = matmul_gflops()
    for clip in args.clip:
        frames = read_video(clip)
        mp_fps = holistic_fps(args.teacher_python, clip) if args.teacher_python else None
        for size in sizes:
            seg = load(size)
            m = model_only(seg, frames)
            e, n = end_to_end(seg, clip)
            rows.append({"clip": clip.name, "frames": n, "source": f"{frames.shape[2]}x{frames.shape[1]}",
                         "model": seg.name, "input": "x".join(map(str, seg.input_size)), "batch": seg.batch_size,
                         "model_fps": round(m, 1), "e2e_fps": round(e, 1), "e2e/model": round(e / m, 3),
                         "holistic_fps": None if mp_fps is None else round(mp_fps, 1),
                         "e2e/holistic": None if not mp_fps else round(e / mp_fps, 2)})
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    meta = {"backend": keras.backend.backend(), "cpus": os.cpu_count(), "matmul_gflops": round(peak, 1),
            "peak_rss_mb": round(rss_mb)}
    report(meta, rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

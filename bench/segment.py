"""Benchmark: runtimes, model-only vs end-to-end (video -> HDF5) frames/s, and MediaPipe Holistic.

    python bench/segment.py [--model snet-lite] [--clip PATH ...] [--runtime keras xla onnx]
                            [--batch-size 1 8] [--input-size 224x224 ...] [--mirror off on] [--max-blobs 0 3]
                            [--parts off on refined refined-keep-still arms]
                            [--rounds 5]
                            [--teacher-python PY] [--json]

One row per clip x input size x runtime x batch size:
- ``net_fps``: the network alone on frames already resized (the runtime's own speed, on
  every lane), and ``net_gflops``: its arithmetic rate, against the practical float32 peak,
  the best 2048x2048 matmul: ``of_peak`` against the best matmul of the row's own rounds
  (taken in turns with the network, so both see the same moments of the machine), and
  ``of_run_peak`` against the best matmul of the whole run (the stricter ratio: a fast
  moment elsewhere in the run raises it);
- ``model_fps``: ``Segmenter.predict`` on frames decoded beforehand (resize in and out and the
  threshold included);
- ``e2e_fps``: ``signseg segment``'s pipeline on the same clip, decode and HDF5 writing
  included, and its ratio to ``model_fps``;
- the network, model-only, end-to-end and matmul timings take turns for ``--rounds`` rounds
  and each keeps its best: this shared machine's slow spells last seconds and would
  otherwise land on one column;
- ``--mirror``: with the test-time flip off / on (default: as the model card says); ``net_gflops``
  counts both passes;
- ``--max-blobs``: masks cut to each frame's N largest blobs, 0 none (default: the card's);
- ``--parts``: end to end with parts off / on / on with the hand refiner's hands (``refined``;
  ``on`` leaves the refiner out) / refined with still hands kept (``refined-keep-still``,
  ``--no-still-hands``; the others drop them, :mod:`signseg.postprocess.still_hands`) / refined
  with the hands named by the arm network (``arms``; the others leave it out); default: off;
  the other columns do not split;
- ``mask_iou``: agreement of the runtime's masks with plain Keras' on the clip;
- Holistic runs in its own environment on the same clip (``--teacher-python``), one pass a
  round in turns with the other columns, best pass kept, start-up excluded, and
  ``e2e/holistic`` compares. Numbers are printed, never asserted.
"""
from __future__ import annotations

import argparse
import itertools
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
from signseg.teacher.env import find_teacher

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIPS = [REPO.parent / "shared/data/signs/tid-asl_hocam.mp4", REPO / "examples/data/SOUP.mp4"]


MATMUL_N = 2048
_A = np.random.default_rng(0).random((MATMUL_N, MATMUL_N), np.float32)


def matmul() -> None:
    """One 2048x2048 float32 matmul: its best time gives this CPU's practical float32 peak."""
    _A @ _A


def matmul_gflops(repeats: int = 8) -> float:
    """Practical float32 peak of this CPU: best of a few 2048x2048 matmuls."""
    matmul()
    return 2 * MATMUL_N ** 3 / _timed(matmul, repeats) / 1e9


def _timed(fn, repeats: int = 1) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``fn``."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def in_turns(fns: dict, rounds: int, self_timed: dict | None = None) -> dict:
    """Seconds of the fastest call of each of ``fns`` (timed here) and of ``self_timed`` (each
    returns its own seconds), the calls taking turns for ``rounds`` rounds: a slow spell of a
    shared machine then hits every column alike, not one."""
    self_timed = self_timed or {}
    best = {k: float("inf") for k in [*fns, *self_timed]}
    for _ in range(rounds):
        for k, fn in fns.items():
            best[k] = min(best[k], _timed(fn))
        for k, fn in self_timed.items():
            best[k] = min(best[k], fn())
    return best


def conv_gflop(model, size: tuple[int, int]) -> float:
    """GFLOP per frame of the model's convolutions (2 x multiply-adds) at input ``size``."""
    import keras
    total = 0.0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Conv2D):
            out = keras.Model(model.inputs, layer.output).compute_output_shape((1, *size, 3))
            kh, kw, cin, cout = layer.kernel.shape
            total += 2.0 * kh * kw * cin * cout * out[1] * out[2]
    return total / 1e9


def segmenter_gflop(seg) -> float:
    """GFLOP per frame of what a Segmenter runs: its convolutions, twice with the test-time flip."""
    return conv_gflop(seg.model, seg.input_size) * (2 if seg.mirror else 1)


def end_to_end(seg, clip: Path, tmp: Path, parts: bool = False, still_hands: bool = True):
    """One pass of the pipeline over ``clip`` into a fresh HDF5 file (with ``parts``, split into
    face and hands as ``--parts`` does, still hands dropped unless ``still_hands`` is False): a
    function returning frames."""
    from signseg.run.pipeline import segment_videos
    runs = itertools.count()
    return lambda: segment_videos([clip], tmp / f"bench{next(runs)}.h5", seg, progress=False, parts=parts,
                                  still_hands=still_hands).frames


class Holistic:
    """MediaPipe Holistic in its own environment (``teacher_python``), holding ``clip``'s frames
    decoded: each :meth:`one_pass` runs a fresh tracker over them and returns the seconds of the
    pass, timed inside the teacher process with start-up (making the tracker and its first frame)
    left out. It lives through the row's rounds, so its passes take turns with the other columns
    (:func:`in_turns`) instead of meeting the machine at another moment."""

    CODE = (
        "import sys,time,cv2,mediapipe as mp\n"
        "cap=cv2.VideoCapture(sys.argv[1]);fr=[]\n"
        "while True:\n ok,f=cap.read()\n if not ok: break\n fr.append(cv2.cvtColor(f,cv2.COLOR_BGR2RGB))\n"
        "print('FRAMES',len(fr),flush=True)\n"
        "for line in sys.stdin:\n"
        " h=mp.solutions.holistic.Holistic(model_complexity=1);h.process(fr[0])\n"
        " t=time.perf_counter()\n"
        " for f in fr: h.process(f)\n"
        " print('SECONDS',time.perf_counter()-t,flush=True);h.close()\n")

    def __init__(self, teacher_python: str, clip: Path):
        self.proc = subprocess.Popen([teacher_python, "-c", self.CODE, str(clip)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.frames = int(self._answer("FRAMES"))

    def _answer(self, key: str) -> float:
        for line in self.proc.stdout:
            if line.startswith(key + " "):
                return float(line.split()[1])
        raise RuntimeError(f"the Holistic process ended without {key} (exit {self.proc.wait()})")

    def one_pass(self) -> float:
        """Seconds of one pass over the clip's frames."""
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return self._answer("SECONDS")

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="snet-lite")
    p.add_argument("--weights", type=Path, default=None, help="a model file instead of --model")
    p.add_argument("--clip", type=Path, nargs="*", default=DEFAULT_CLIPS)
    p.add_argument("--batch-size", type=int, nargs="*", default=[8], help="batch sizes to try")
    p.add_argument("--runtime", nargs="*", default=["keras", "xla", "onnx"], help="runtimes to try")
    p.add_argument("--input-size", nargs="*", default=[], help="HxW sizes to try (default: the model's)")
    p.add_argument("--mirror", nargs="*", choices=["off", "on"], default=[],
                   help="test-time flip settings to try (default: the model card's)")
    p.add_argument("--max-blobs", type=int, nargs="*", default=[],
                   help="largest-blob cuts to try, 0 none (default: the model card's)")
    p.add_argument("--parts", nargs="*", choices=["off", "on", "refined", "refined-keep-still", "arms"], default=["off"],
                   help="end to end with parts off / on (--parts: face, left and right hand, boxes) / refined "
                        "(on, with the hand refiner) / refined-keep-still (refined, --no-still-hands) / arms "
                        "(refined, the hands named by the arm network)")
    p.add_argument("--rounds", type=int, default=5, help="timing rounds; each column keeps its best")
    p.add_argument("--teacher-python", default=None,
                   help="the MediaPipe teacher's python (default: the one signseg finds; none: no Holistic column)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from signseg.infer import runtimes
    from signseg.infer.segmenter import Segmenter
    from signseg.decode.video import read_video

    def load(size, runtime, batch, mirror=None, max_blobs=None, refine_hands=False, arm_sides=False):
        kw = dict(batch_size=batch, input_size=size, runtime=runtime, mirror=mirror, max_blobs=max_blobs,
                  refine_hands=refine_hands, arm_sides=arm_sides)
        return Segmenter.from_file(args.weights, **kw) if args.weights else Segmenter.from_pretrained(args.model, **kw)

    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.input_size] or [None]
    mirrors = [m == "on" for m in args.mirror] or [None]
    cuts = args.max_blobs or [None]
    rows = []
    peak = matmul_gflops()
    for clip in args.clip:
        frames = read_video(clip)
        teacher = None if args.teacher_python == "none" else find_teacher(args.teacher_python)
        holistic = None
        if teacher:
            try:
                holistic = Holistic(teacher, clip)
            except RuntimeError as exc:  # no mediapipe there: the other columns still run
                print(f"no Holistic column for {clip.name}: {exc}", file=sys.stderr)
        for size in sizes:
            reference = load(size, "keras", args.batch_size[0]).predict(frames) > 0
            for runtime, mirror, cut, parts in itertools.product(args.runtime, mirrors, cuts, args.parts):
                if not runtimes.available(runtime):
                    print(f"skipped runtime {runtime}: not available with this backend", file=sys.stderr)
                    continue
                for batch in args.batch_size:
                    seg = load(size, runtime, batch, mirror, cut, parts.startswith("refined") or parts == "arms",
                               parts == "arms")
                    masks = seg.predict(frames) > 0  # also compiles / loads the runtime
                    iou = (masks & reference).sum() / max((masks | reference).sum(), 1)
                    gflop = segmenter_gflop(seg)
                    x = seg.to_input(frames)
                    with tempfile.TemporaryDirectory() as tmp:
                        e2e = end_to_end(seg, clip, Path(tmp), parts != "off", parts != "refined-keep-still")
                        n = e2e()
                        t = in_turns({"net": lambda: seg.infer(x), "model": lambda: seg.predict(frames),
                                      "e2e": e2e, "peak": matmul}, args.rounds,
                                     {"holistic": holistic.one_pass} if holistic else None)
                    net, m, e = n / t["net"], n / t["model"], n / t["e2e"]
                    mp_fps = holistic.frames / t["holistic"] if holistic else None
                    row_peak = 2 * MATMUL_N ** 3 / t["peak"] / 1e9
                    peak = max(peak, row_peak)
                    rows.append({"clip": clip.name, "frames": n, "model": seg.name,
                                 "input": "x".join(map(str, seg.input_size)), "runtime": runtime, "batch": batch, "mirror": seg.mirror,
                                 "max_blobs": seg.max_blobs or 0, "parts": parts,
                                 "net_fps": round(net, 1), "net_gflops": round(net * gflop, 1),
                                 "of_peak": round(net * gflop / row_peak, 2), "of_run_peak": None,
                                 "model_fps": round(m, 1),
                                 "e2e_fps": round(e, 1), "e2e/model": round(e / m, 3), "mask_iou": round(float(iou), 4),
                                 "holistic_fps": None if mp_fps is None else round(mp_fps, 1),
                                 "e2e/holistic": None if not mp_fps else round(e / mp_fps, 2)})
        if holistic:
            holistic.close()
    for row in rows:
        row["of_run_peak"] = round(row["net_gflops"] / peak, 2)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    meta = {"backend": keras.backend.backend(), "cpus": os.cpu_count(), "matmul_gflops": round(peak, 1),
            "gflop_per_frame": round(conv_gflop(seg.model, seg.input_size), 3), "peak_rss_mb": round(rss_mb)}
    report(meta, rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

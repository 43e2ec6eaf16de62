"""How to share the cores among ONNX Runtime calls: one multi-threaded session or one
single-threaded lane per core, and how many frames per call.

    python bench/lanes.py [--model snet-lite] [--frames 64] [--calls 1 2 4 8] [--rounds 5] [--json]

Runs the Segmenter's own ONNX export on random frames at the model's input size, every
configuration and a 2048x2048 matmul taking turns for ``--rounds`` rounds. Each round's
``of_peak`` is the network's arithmetic rate over the better of the matmuls timed just
before and after it; the table prints every round, so the spread shows. This is the
measurement behind :func:`signseg.infer.runtimes.lanes` and ``LANE_BATCH``.
"""
from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from _report import report
from segment import MATMUL_N, _timed, conv_gflop, matmul


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="snet-lite")
    p.add_argument("--frames", type=int, default=64, help="frames per timed pass")
    p.add_argument("--calls", type=int, nargs="*", default=[1, 2, 4, 8], help="frames per call to try")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import onnxruntime as ort
    from signseg.infer import runtimes
    from signseg.infer.segmenter import Segmenter

    seg = Segmenter.from_pretrained(args.model, runtime="onnx")
    path = runtimes.export_onnx(seg.model, seg.input_size, f"{seg.weights_sha256}|{seg.name}")
    cores = runtimes.cpu_threads()
    x = np.random.default_rng(0).random((args.frames, *seg.input_size, 3), np.float32)

    wide, single = (ort.InferenceSession(str(path), runtimes.onnx_options(t), providers=["CPUExecutionProvider"])
                    for t in (cores, 1))
    name = single.get_inputs()[0].name
    pool = ThreadPoolExecutor(cores)

    def one_session(call: int):
        return lambda: [wide.run(None, {name: x[i:i + call]}) for i in range(0, len(x), call)]

    def lanes(call: int):
        return lambda: list(pool.map(lambda i: single.run(None, {name: x[i:i + call]}), range(0, len(x), call)))

    configs = {(f"one session, {cores} threads", c): one_session(c) for c in args.calls}
    configs.update({(f"{cores} single-threaded lanes", c): lanes(c) for c in args.calls})
    for fn in configs.values():
        fn()  # warm-up
    gflop = conv_gflop(seg.model, seg.input_size) * len(x)
    ratios: dict = {k: [] for k in configs}
    for _ in range(args.rounds):
        for key, fn in configs.items():
            before = _timed(matmul, 3)
            t = _timed(fn)
            peak = 2 * MATMUL_N ** 3 / min(before, _timed(matmul, 3)) / 1e9
            ratios[key].append(round(gflop / t / peak, 2))
    rows = [{"how": how, "frames_per_call": call, "of_peak_rounds": " ".join(map(str, r)),
             "min": min(r), "max": max(r)} for (how, call), r in ratios.items()]
    report({"model": seg.name, "input": "x".join(map(str, seg.input_size)), "cores": cores,
            "frames": args.frames, "rounds": args.rounds}, rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

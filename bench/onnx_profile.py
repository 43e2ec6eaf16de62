"""Where ONNX Runtime spends the network's time: per operator type and per convolution.

    python bench/onnx_profile.py [--model snet-lite] [--batch-size 8] [--runs 10] [--threads N] [--json]

Runs the Segmenter's own ONNX export (the graph ``runtime="onnx"`` runs) on random
frames at the model's input size with ONNX Runtime's profiler, and prints each operator
type's share of the kernel time, then every convolution's GFLOP/s and its fraction of the
practical float32 peak (a 2048x2048 matmul, measured in the same run). The convolutions'
share and rate say how close the whole network can get to that peak. Shapes are ONNX
Runtime's blocked ones (channels padded to its block of 8), so the 1-channel output layer
counts 8 channels' work: under 1% of snet-lite's arithmetic.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict

import numpy as np
from _report import report
from segment import matmul_gflops


def matmul_peak(threads: int) -> float:
    """The matmul peak on ``threads`` BLAS threads: in this process for all cores, else in a
    child whose OpenBLAS is limited to them (its thread count is fixed when numpy loads)."""
    from signseg.infer import runtimes
    if threads >= runtimes.cpu_threads():
        return matmul_gflops()
    env = {**os.environ, **{v: str(threads) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
    code = "from segment import matmul_gflops; print(matmul_gflops())"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=os.path.dirname(os.path.abspath(__file__)),
                         capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="snet-lite")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--threads", type=int, default=None,
                   help="ONNX Runtime threads (default: all cores; 1 with --batch-size 2 profiles one lane "
                        "against a one-thread matmul)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import onnxruntime as ort
    from signseg.infer import runtimes
    from signseg.infer.segmenter import Segmenter

    seg = Segmenter.from_pretrained(args.model, runtime="onnx", batch_size=args.batch_size)
    threads = args.threads or runtimes.cpu_threads()
    path = runtimes.export_onnx(seg.model, seg.input_size, f"{seg.weights_sha256}|{seg.name}")
    x = np.random.default_rng(0).random((args.batch_size, *seg.input_size, 3), np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        options = runtimes.onnx_options(threads)  # as the Segmenter runs it
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tmp, "ort")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        session.run(None, {name: x})  # warm-up, counted out below
        for _ in range(args.runs):
            session.run(None, {name: x})
        with open(session.end_profiling()) as f:
            events = [e for e in json.load(f) if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    peak = max(matmul_peak(threads), matmul_peak(threads))

    calls = defaultdict(list)  # node -> per-run microseconds, the warm-up dropped
    for e in events:
        calls[e["name"]].append(e)
    by_type, convs = defaultdict(float), []
    for node, evs in calls.items():
        evs = evs[1:] if len(evs) > args.runs else evs
        us = sum(e["dur"] for e in evs) / len(evs)
        op = evs[0]["args"]["op_name"]
        by_type[op] += us
        if op == "Conv":
            shapes = evs[0]["args"]["input_type_shape"]
            (out_shape,) = evs[0]["args"]["output_type_shape"][0].values()
            (w_shape,) = shapes[1].values()
            gflop = 2.0 * np.prod(out_shape) * np.prod(w_shape[1:]) / 1e9
            convs.append({"conv": node.replace("_kernel_time", "")[-40:], "weights": "x".join(map(str, w_shape)),
                          "output": "x".join(map(str, out_shape[1:])), "ms": round(us / 1e3, 2),
                          "gflops": round(gflop / (us / 1e6), 1), "of_peak": round(gflop / (us / 1e6) / peak, 2)})
    total = sum(by_type.values())
    conv_gflop = sum(float(c["gflops"]) * c["ms"] / 1e3 for c in convs)
    meta = {"model": seg.name, "input": "x".join(map(str, seg.input_size)), "batch": args.batch_size,
            "matmul_gflops": round(peak, 1), "network_ms": round(total / 1e3, 1),
            "network_fps": round(args.batch_size / (total / 1e6), 1),
            "network_of_peak": round(conv_gflop / (total / 1e6) / peak, 2),
            "conv_of_peak": round(conv_gflop / (by_type["Conv"] / 1e6) / peak, 2),
            "share": {k: round(v / total, 3) for k, v in sorted(by_type.items(), key=lambda kv: -kv[1])}}
    report(meta, sorted(convs, key=lambda c: -c["ms"]), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: do the int8 graphs compute here what they compute everywhere? And at what speed?

    python bench/int8.py [--clip PATH ...] [--frames 24] [--seconds 4] [--graph OLD.int8.onnx]

For the shipped card's first network (``snet-lite.int8.onnx``), on frames of each clip:
- ``diff``: mean absolute difference of each output channel from Keras' float32 network, with
  the int8 graph run three ways: ``fused`` (ONNX Runtime's fast kernels, as signseg runs a
  graph whose weights keep to 7 bits), ``exact`` (``session.x64quantprecision``: as signseg runs
  an older graph with full 8-bit weights, :mod:`signseg.infer.runtimes`) and ``plain`` (node by
  node, no fused kernel: the graph's own maths);
- ``agree``: the share of pixels where the hand channel's call at 0.5 matches float32's;
- ``net_fps``: frames/s of that session on a batch of 8 (best of the rounds in ``--seconds``).
The CPU's integer units are printed first: without VNNI, fused kernels add int8 products in
pairs into 16 bits, which full 8-bit weights overflow (docs/performance.md). Numbers are
printed, never asserted. ``--graph``: another int8 graph of the same weights (say, the one
shipped before: ``git show 3549048:signseg/weights/snet-lite.int8.onnx > old.int8.onnx``).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from segment import DEFAULT_CLIPS
from signseg.cpu import int8_units


def session(path: Path, how: str):
    """An ONNX Runtime session on the int8 graph, run ``how`` (fused, exact or plain)."""
    import onnxruntime as ort
    from signseg.infer.runtimes import onnx_options
    options = onnx_options()
    if how == "exact":
        options.add_session_config_entry("session.x64quantprecision", "1")
    if how == "plain":
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    return lambda x: s.run(None, {name: x})[0]


def frames_per_second(run, x: np.ndarray, seconds: float) -> float:
    """Best frames/s of ``run`` on batches of 8 of ``x`` over about ``seconds``."""
    batch = x[:8]
    run(batch)
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        run(batch)
        best = max(best, len(batch) / (time.perf_counter() - t))
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", type=Path, nargs="*", default=DEFAULT_CLIPS)
    p.add_argument("--frames", type=int, default=24, help="frames spread over each clip")
    p.add_argument("--seconds", type=float, default=4.0, help="timing per session")
    p.add_argument("--graph", type=Path, default=None, help="another int8 graph of the shipped weights")
    args = p.parse_args()

    import onnxruntime as ort
    from signseg.decode.video import read_video
    from signseg.infer.preprocess import to_input
    from signseg.infer.segmenter import Segmenter

    seg = Segmenter.from_pretrained("snet-lite", runtime="keras")
    graph, size = args.graph or seg.int8[0], seg.input_size
    print(f"cpu: {int8_units()}; onnxruntime {ort.__version__}; graph {graph.name}")
    print(f"{'clip':20s} {'run':6s} {'diff (channels)':>28s} {'agree':>7s} {'net_fps':>8s}")
    for clip in args.clip:
        video = read_video(clip)
        pick = np.unique(np.linspace(0, len(video) - 1, args.frames).round().astype(int))
        x = to_input(video[pick], size).astype(np.float32) * np.float32(seg.input_scale)
        reference = np.asarray(seg.model.predict(x, verbose=0))
        for how in ("fused", "exact", "plain"):
            run = session(graph, how)
            y = np.concatenate([run(x[i:i + 8]) for i in range(0, len(x), 8)])
            diff = " ".join(f"{d:.4f}" for d in np.abs(y - reference).mean((0, 1, 2)))
            agree = ((y[..., -1] > 0.5) == (reference[..., -1] > 0.5)).mean()
            print(f"{clip.stem[:20]:20s} {how:6s} {diff:>28s} {agree:7.4f} {frames_per_second(run, x, args.seconds):8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

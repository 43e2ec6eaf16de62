"""Benchmark: the hand refiner's cost per frame, split into its stages, on real clips.

    python bench/refiner.py [--clip PATH ...] [--runtime keras onnx onnx-int8] [--weights X.weights.h5 --width N]
                            [--min-peak P ...] [--neighbours K ...] [--rounds 3] [--json]

The first network runs once per clip (not timed: ``bench/segment.py`` times it); then, in
batches of 8 frames as the pipeline sends them, the refiner's whole step
(:meth:`signseg.infer.hand_refiner.HandRefiner.hands`: resize, proposals, crops, network,
paste; boxes borrowed from neighbouring frames, carried between batches) is timed against its
network alone on the same crops. Rows give ms a frame for each,
crops a frame and the network's crops/s. ``onnx-int8`` runs the card's int8 graph of the shipped refiner
(``pipelines/make_int8.py --refiner``), or quantizes ``--weights`` on crops of the first clip; each column is the best of
``--rounds`` rounds taken in turns. Numbers are printed, never asserted.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _report import report

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIPS = [REPO.parent / "shared/data/signs/tid-asl_hocam.mp4", REPO / "examples/data/SOUP.mp4"]
BATCH = 8


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", type=Path, nargs="*", default=DEFAULT_CLIPS)
    p.add_argument("--runtime", nargs="*", default=["keras", "onnx", "onnx-int8"])
    p.add_argument("--weights", type=Path, default=None, help="a refiner's .weights.h5 (default: the shipped card's)")
    p.add_argument("--width", type=int, default=16, help="its width (with --weights)")
    p.add_argument("--min-peak", type=float, nargs="*", default=[0.0],
                   help="crop only blobs whose hand probability peaks at or above this")
    p.add_argument("--neighbours", type=int, nargs="*", default=None,
                   help="frames either side whose boxes a frame borrows (default: the card's)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    import keras
    from signseg.decode.video import read_video
    from signseg.infer import runtimes
    from signseg.infer.hand_refiner import HandRefiner, hand_and_face
    from signseg.infer.quantize import quantize_refiner
    from signseg.infer.segmenter import Segmenter
    from signseg.models.hand_refiner import hand_refiner

    seg = Segmenter.from_pretrained("snet-lite", refine_hands=True)
    shipped = seg.hand_refiner
    if args.weights:
        model = hand_refiner(args.width)
        model.load_weights(str(args.weights))
    else:
        model = shipped.model
    clips = [(c, read_video(c)) for c in args.clip]
    probs = {c.name: seg.predict_parts_proba(f) for c, f in clips}
    int8 = shipped.int8 if not args.weights else None
    if "onnx-int8" in args.runtime and int8 is None:  # calibrated on the first clip's crops
        c0, f0 = clips[0]
        x = shipped.crops(f0, *hand_and_face(probs[c0.name], seg.parts))[0]
        tmp = Path(tempfile.mkdtemp(prefix="signseg-bench-refiner-"))
        int8 = (quantize_refiner(model, x, tmp / "refiner-int8.onnx"), None)
    rows = []
    settings = [(runtime, peak, k) for runtime in args.runtime for peak in args.min_peak
                for k in (args.neighbours if args.neighbours is not None else [shipped.neighbours])]
    for runtime, peak, neighbours in settings:
        ref = HandRefiner(model, shipped.threshold, shipped.propose, runtime=runtime, min_peak=peak,
                          int8=int8 if runtime == "onnx-int8" else None, neighbours=neighbours)
        for clip, frames in clips:
            pp = probs[clip.name]
            batches = [(frames[i:i + BATCH], pp[i:i + BATCH]) for i in range(0, len(frames), BATCH)]
            carry: list = []  # a video's boxes carried between its batches, as the pipeline does
            crops = [ref.crops(f, *hand_and_face(q, seg.parts), carry)[0] for f, q in batches]
            ref.hands(*batches[0], seg.parts)  # the runtime made and warmed
            whole = net = float("inf")
            for _ in range(args.rounds):
                t, carry = time.perf_counter(), []
                for f, q in batches:
                    ref.hands(f, q, seg.parts, carry)
                whole = min(whole, time.perf_counter() - t)
                t = time.perf_counter()
                for x in crops:
                    if len(x):
                        ref.run(x)
                net = min(net, time.perf_counter() - t)
            n, k = len(frames), sum(len(x) for x in crops)
            rows.append({"clip": clip.name, "frames": n, "runtime": runtime, "min_peak": peak,
                         "neighbours": neighbours,
                         "crops_per_frame": round(k / n, 2), "refiner_ms_per_frame": round(1e3 * whole / n, 2),
                         "network_ms_per_frame": round(1e3 * net / n, 2),
                         "rest_ms_per_frame": round(1e3 * (whole - net) / n, 2),
                         "network_crops_per_s": round(k / net, 1) if k else None})
    report({"backend": keras.backend.backend(), "cpus": runtimes.cpu_threads(), "batch": BATCH,
            "refiner": str(args.weights or "shipped")}, rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

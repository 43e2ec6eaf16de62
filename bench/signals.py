"""Benchmark: what writing the per-frame signals costs end to end (video -> HDF5).

    python bench/signals.py [--clip PATH ...] [--rounds 5] [--json]

For each clip, with parts off and on, ``signseg segment``'s pipeline (``segment_videos``, the
shipped default model) runs as shipped, writing ``signals``, and with the flow's mask step
swapped for the bare one it had before signals (threshold, blob cut, no signals written); the
two take turns for ``--rounds`` rounds, each keeping its best. ``cost`` is the share of
end-to-end time the signals add (negative: within the machine's noise). Numbers are printed,
never asserted.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

from _report import report
from segment import DEFAULT_CLIPS, in_turns


def bare_masks(proba, height, width, t, max_blobs):
    """The flow's mask step as it was before signals: masks only."""
    import cv2
    import numpy as np
    from signseg.infer.blobs import keep_largest
    from signseg.infer.preprocess import _threshold_into
    masks = np.empty((len(proba), height, width), np.uint8)
    for p, m in zip(proba[..., 0] if proba.ndim == 4 else proba, masks):
        if p.shape != (height, width):
            p = cv2.resize(p, (width, height), interpolation=cv2.INTER_LINEAR)
        _threshold_into(p, t, m)
        keep_largest(m, max_blobs)
    return masks, None, proba


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", type=Path, nargs="+", default=DEFAULT_CLIPS)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    import signseg.run.flow as flow
    from signseg.infer.segmenter import Segmenter
    from signseg.run.pipeline import segment_videos
    seg = Segmenter.from_pretrained()
    shipped = flow._masks_and_signals
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        n = itertools.count()

        def run(clip, parts, step):
            def go():
                flow._masks_and_signals = step
                try:
                    return segment_videos([clip], Path(tmp) / f"b{next(n)}.h5", seg, progress=False, parts=parts).frames
                finally:
                    flow._masks_and_signals = shipped
            return go

        for clip in args.clip:
            for parts in (False, True):
                frames = run(clip, parts, shipped)()  # warm: compiled, cached
                t = in_turns({"with": run(clip, parts, shipped), "without": run(clip, parts, bare_masks)}, args.rounds)
                rows.append({"clip": clip.name, "parts": parts, "frames": frames,
                             "fps_without": round(frames / t["without"], 1), "fps_with": round(frames / t["with"], 1),
                             "cost": f"{100 * (t['with'] / t['without'] - 1):+.1f}%"})
    report({"model": seg.name, "runtime": seg.runtime, "mirror": seg.mirror, "rounds": args.rounds}, rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

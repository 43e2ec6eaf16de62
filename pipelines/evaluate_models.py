"""Score the shipped models against teacher labels of held-out clips and draw overlays.

    python pipelines/evaluate_models.py LABELS.h5 --videos SOUP test_video video \
        [--models snet-lite snet] [--json docs/model_eval.json] [--images docs/images]

Prints a table; writes the scores as JSON and, per model, an overlay grid of real frames
(model masks on top, teacher masks below) for each video. Numbers come from this run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2
import h5py
import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("labels", type=Path)
    p.add_argument("--videos", nargs="+", required=True)
    p.add_argument("--models", nargs="+", default=None, help="preset names (default: every installed one)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--images", type=Path, default=None)
    p.add_argument("--frames-per-row", type=int, default=4)
    args = p.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from signseg.evaluate import evaluate
    from signseg.overlay import grid, overlay
    from signseg.presets import list_presets
    from signseg.segmenter import Segmenter

    names = args.models or [n for n, e in list_presets().items() if e["available"]]
    results = {}
    for name in names:
        seg = Segmenter.from_pretrained(name)
        results[name] = {
            "all_frames": {k: v.as_dict() for k, v in evaluate(seg, args.labels, args.videos).items()},
            "clean_frames": {k: v.as_dict() for k, v in evaluate(seg, args.labels, args.videos, clean_only=True).items()},
        }
        if args.images:
            args.images.mkdir(parents=True, exist_ok=True)
            with h5py.File(args.labels, "r") as f:
                for vid in args.videos:
                    g = f[f"videos/{vid}"]
                    idx = np.linspace(0, len(g["frames"]) - 1, args.frames_per_row).round().astype(int)
                    frames, truth = g["frames"][:][idx], g["labels"][:][idx]
                    pred = seg.predict(frames)
                    tiles = [overlay(fr, m) for fr, m in zip(frames, pred)] + \
                            [overlay(fr, t) for fr, t in zip(frames, truth)]
                    out = args.images / f"{vid}_{name}_vs_teacher.png"
                    cv2.imwrite(str(out), cv2.cvtColor(grid(tiles, args.frames_per_row), cv2.COLOR_RGB2BGR))
                    print(f"wrote {out}", file=sys.stderr)

    print(f"{'model':10s} {'video':12s} {'frames':>6s} {'IoU':>6s} {'Dice':>6s} {'face':>6s} {'left':>6s} {'right':>6s}  (clean-frame IoU)")
    for name, r in results.items():
        for vid, s in r["all_frames"].items():
            c = s["coverage"]
            clean = r["clean_frames"].get(vid, {}).get("iou")
            fmt = lambda v: "   -  " if v is None else f"{v:6.3f}"  # noqa: E731
            print(f"{name:10s} {vid:12s} {s['frames']:6d} {s['iou']:6.3f} {s['dice']:6.3f} {fmt(c['face'])} "
                  f"{fmt(c['left_hand'])} {fmt(c['right_hand'])}  ({clean})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

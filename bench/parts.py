"""Evaluate the part splitter (face / left hand / right hand) against teacher part labels.

    python bench/parts.py LABELS.h5 [--videos ID ...] [--model snet-lite] [--oracle-only] [--json]

Two rows per video set:
* ``oracle``: the splitter run on the teacher's own hand+face union, so only the splitting
  and tracking is measured (how well parts are told apart from a perfect mask);
* ``model``: the splitter run on the model's masks (model quality and splitting together),
  for the clips held out of training (default: SOUP test_video video).
IoU per part is pooled over frames where the teacher saw every part it should have.
Timing: frames/s of the splitter alone (on the oracle masks).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import h5py
from _report import report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from signseg.train.evaluate import PartScore  # noqa: E402
from signseg.postprocess.parts import split_parts  # noqa: E402
from signseg.teacher.labelset import usable_frames  # noqa: E402

HELD_OUT = ["SOUP", "test_video", "video"]


def score(f: h5py.File, ids: list[str], masks_of) -> tuple[PartScore, float]:
    total, seconds, frames = PartScore(), 0.0, 0
    for vid in ids:
        g = f[f"videos/{vid}"]
        truth = g["labels"][()]
        masks = masks_of(g)
        t = time.perf_counter()
        parts, _ = split_parts(masks)
        seconds += time.perf_counter() - t
        frames += len(masks)
        keep = usable_frames(g["flags"][()])
        total.add(parts[keep], truth[keep])
    return total, frames / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("labels", type=Path)
    ap.add_argument("--videos", nargs="*", default=None, help="oracle rows on these (default: all)")
    ap.add_argument("--held-out", nargs="*", default=HELD_OUT, help="model rows on these")
    ap.add_argument("--model", default="snet-lite")
    ap.add_argument("--oracle-only", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    with h5py.File(args.labels, "r") as f:
        ids = args.videos or sorted(f["videos"])
        for name, subset in (("all", ids), ("held-out", [v for v in args.held_out if f"videos/{v}" in f])):
            s, fps = score(f, subset, lambda g: g["labels"][()] > 0)
            rows.append({"masks": "oracle", "clips": f"{name} ({len(subset)})", "frames": s.frames,
                         **{k: v for k, v in s.as_dict().items() if k != "frames"}, "split fps": round(fps)})
        if not args.oracle_only:
            from signseg.infer.segmenter import Segmenter
            seg = Segmenter.from_pretrained(args.model)
            held = [v for v in args.held_out if f"videos/{v}" in f]
            s, fps = score(f, held, lambda g: seg.predict(g["frames"][()]))
            rows.append({"masks": args.model, "clips": f"held-out ({len(held)})", "frames": s.frames,
                         **{k: v for k, v in s.as_dict().items() if k != "frames"}, "split fps": round(fps)})
            for vid in held:
                s, fps = score(f, [vid], lambda g: seg.predict(g["frames"][()]))
                rows.append({"masks": args.model, "clips": vid, "frames": s.frames,
                             **{k: v for k, v in s.as_dict().items() if k != "frames"}, "split fps": round(fps)})
    report({"labels": args.labels.name}, rows, args.json)


if __name__ == "__main__":
    main()

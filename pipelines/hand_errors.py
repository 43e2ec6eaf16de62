"""Where a model's hand pixels go wrong, per setting: the false ones by what the teacher calls
them, the missed ones by what the model gave them.

    python pipelines/hand_errors.py --split test --labels TEST.h5 [--model snet-lite] [--json OUT]

The parts are what ``signseg segment --parts`` writes (``signseg.train.evaluate.written_parts``).
For each clip: hand precision and recall against the teacher's hands (either hand), the
predicted hand pixels the teacher calls face, person (the signer's other pixels: arms,
clothes, neck; the labels file's ``person`` mask) or background, each as a share of the
predicted hand pixels, and the teacher's hand pixels the model called face or nothing, as a
share of the teacher's. Means over clips per setting of ``pipelines/signers.tsv``; pixels the
labels ignore are left out.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import h5py
import numpy as np

from signseg import labels as L
from signseg.infer.presets import PRESETS
from signseg.infer.segmenter import Segmenter
from signseg.train.evaluate import known_pixels, written_parts

REPO = Path(__file__).resolve().parents[1]
SHARES = ("precision", "recall", "false_face", "false_person", "false_background", "missed_as_face",
          "missed_as_nothing")


def clip_errors(parts: np.ndarray, truth: np.ndarray, person: np.ndarray, known: np.ndarray) -> dict[str, float]:
    """One clip's shares (:data:`SHARES`) from its written parts, the teacher's labels and person mask."""
    pred, true, face = L.is_hand(parts) & known, L.is_hand(truth) & known, (truth == L.FACE) & known
    false = pred & ~true
    n_pred, n_true = max(1, int(pred.sum())), max(1, int(true.sum()))
    return {"precision": int((pred & true).sum()) / n_pred, "recall": int((pred & true).sum()) / n_true,
            "false_face": int((false & face).sum()) / n_pred,
            "false_person": int((false & ~face & person).sum()) / n_pred,
            "false_background": int((false & ~face & ~person).sum()) / n_pred,
            "missed_as_face": int((true & (parts == L.FACE)).sum()) / n_true,
            "missed_as_nothing": int((true & (parts == L.BACKGROUND)).sum()) / n_true}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", choices=("val", "test", "train"), default="test")
    p.add_argument("--labels", type=Path, nargs="+", required=True, help="teacher labels files with person masks")
    p.add_argument("--groups", type=Path, default=REPO / "pipelines" / "signers.tsv")
    p.add_argument("--model", default="snet-lite", help="a shipped model's name or a .weights.h5")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    setting = {r["video"]: r["setting"] for r in csv.DictReader(open(args.groups), delimiter="\t")
               if r["split"] == args.split}
    seg = (Segmenter.from_pretrained if args.model in PRESETS else Segmenter.from_file)(args.model)
    clips = {}
    for path in args.labels:
        with h5py.File(path, "r") as f:
            for vid in sorted(set(f["videos"]) & set(setting)):
                g = f[f"videos/{vid}"]
                truth = g["labels"][()]
                if not L.is_hand(truth).any():
                    continue  # no teacher hand: nothing to miss, and precision says little
                known = known_pixels(g, truth, np.arange(len(truth)))
                known = np.ones(truth.shape, bool) if known is None else known
                _, parts = written_parts(seg, g["frames"][()])
                clips[vid] = clip_errors(parts, truth, g["person"][()] > 0, known)
    rows = defaultdict(list)
    for vid, c in clips.items():
        rows[setting[vid]].append(c)
        rows["all clips"].append(c)
    print(f"{'setting':22s} {'clips':>5s} " + " ".join(f"{s[:12]:>12s}" for s in SHARES))
    table = {}
    for name, cs in sorted(rows.items(), key=lambda kv: (kv[0] == "all clips", kv[0])):
        table[name] = {"clips": len(cs), **{s: round(float(np.mean([c[s] for c in cs])), 4) for s in SHARES}}
        print(f"{name[:22]:22s} {len(cs):5d} " + " ".join(f"{table[name][s]:12.3f}" for s in SHARES))
    if args.json:
        args.json.write_text(json.dumps({"settings": table, "clips": clips}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

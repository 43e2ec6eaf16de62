"""Where a model's hand and face pixels go wrong, per setting: the false hand pixels by what the
teacher calls them, the missed ones by what the model gave them, and the teacher's face
pixels by what the model gave them.

    python pipelines/part_errors.py --split test --labels TEST.h5 [--max-clips N] [--model snet-lite] [--json OUT]

The parts are what ``signseg segment --parts`` writes (``signseg.train.evaluate.written_parts``).
For each clip with teacher hands: hand precision and recall against the teacher's hands (either
hand), the predicted hand pixels the teacher calls face, person (the signer's other pixels:
arms, clothes, neck; the labels file's ``person`` mask) or background, each as a share of the
predicted hand pixels, and the teacher's hand pixels the model called face or nothing, as a
share of the teacher's; the false person pixels split by where they lie (:data:`PERSON_SPLIT`:
near a teacher hand, near the face -- long light hair and necks -- or elsewhere). For each clip
with a teacher face: the face's IoU and the shares of
the teacher's face pixels the model called hand or nothing. Means over clips per setting of
``pipelines/signers.tsv``; pixels the labels ignore are left out.

Where the model has a hand refiner, the hand pixels called nothing are split by where they
were lost (:data:`REFINER_MISSES`): in a blob too large to crop (the first network's call
stood), inside a crop the refiner said no to, in a blob not boxed (its peak under the card's
``min_peak``, or too small), or never proposed (the first network's hand probability under
the card's ``propose``).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import h5py
import numpy as np

from signseg import labels as L
from signseg.infer.hand_refiner import hand_and_face
from signseg.infer.presets import PRESETS
from signseg.infer.segmenter import Segmenter
from signseg.train.evaluate import known_pixels, spread_clips, stored_fps, written_parts

REPO = Path(__file__).resolve().parents[1]
HAND_SHARES = ("precision", "recall", "false_face", "false_person", "false_background", "missed_as_face",
               "missed_as_nothing")
#: ``false_person`` split whole by where the pixel lies: within :data:`NEAR` of the frame's
#: longer side from a teacher hand (the hand's edge, the wrist), else within one face height of
#: the teacher face's box (hair, neck, shoulders), else elsewhere (arms, body, lap).
PERSON_SPLIT = ("pers_by_hand", "pers_by_face", "pers_else")
NEAR = 0.05
REFINER_MISSES = ("missed_too_big", "missed_refiner_said_no", "missed_not_boxed", "missed_never_proposed")
FACE_SHARES = ("face_iou", "face_as_hand", "face_as_nothing")
SHARES = HAND_SHARES + PERSON_SPLIT + REFINER_MISSES + FACE_SHARES


def clip_errors(parts: np.ndarray, truth: np.ndarray, person: np.ndarray, known: np.ndarray) -> dict[str, float]:
    """One clip's shares from its written parts, the teacher's labels and person mask:
    :data:`HAND_SHARES` where the teacher has hands, :data:`FACE_SHARES` where it has a face."""
    pred, true, face = L.is_hand(parts) & known, L.is_hand(truth) & known, (truth == L.FACE) & known
    out = {}
    if true.any():
        false = pred & ~true
        n_pred, n_true = max(1, int(pred.sum())), int(true.sum())
        out.update({"precision": int((pred & true).sum()) / n_pred, "recall": int((pred & true).sum()) / n_true,
                    "false_face": int((false & face).sum()) / n_pred,
                    "false_person": int((false & ~face & person).sum()) / n_pred,
                    "false_background": int((false & ~face & ~person).sum()) / n_pred,
                    "missed_as_face": int((true & (parts == L.FACE)).sum()) / n_true,
                    "missed_as_nothing": int((true & (parts == L.BACKGROUND)).sum()) / n_true})
        out.update({k: int(v.sum()) / n_pred for k, v in zip(PERSON_SPLIT, person_split(false & ~face & person, true, face))})
    if face.any():
        said = (parts == L.FACE) & known
        n_face = int(face.sum())
        out.update({"face_iou": int((said & face).sum()) / int((said | face).sum()),
                    "face_as_hand": int((face & L.is_hand(parts)).sum()) / n_face,
                    "face_as_nothing": int((face & (parts == L.BACKGROUND)).sum()) / n_face})
    return out


def person_split(wrong: np.ndarray, hands: np.ndarray, face: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``wrong`` (T, H, W) split whole into :data:`PERSON_SPLIT`'s three places, frame by frame,
    from the teacher's ``hands`` and ``face`` pixels of each frame."""
    by_hand, by_face = np.zeros_like(wrong), np.zeros_like(wrong)
    near = NEAR * max(wrong.shape[1:])
    for t in np.flatnonzero(wrong.reshape(len(wrong), -1).any(1)):
        if hands[t].any():
            by_hand[t] = wrong[t] & (cv2.distanceTransform((~hands[t]).astype(np.uint8), cv2.DIST_L2, 3) <= near)
        ys, xs = np.nonzero(face[t])
        if len(ys):
            h = ys.max() - ys.min() + 1
            y0, y1, x0, x1 = max(0, ys.min() - h), ys.max() + h + 1, max(0, xs.min() - h), xs.max() + h + 1
            by_face[t, y0:y1, x0:x1] = wrong[t, y0:y1, x0:x1] & ~by_hand[t, y0:y1, x0:x1]
    return by_hand, by_face, wrong & ~by_hand & ~by_face


def refiner_misses(seg: Segmenter, frames: np.ndarray, parts: np.ndarray, truth: np.ndarray,
                   known: np.ndarray) -> dict[str, float]:
    """The teacher's hand pixels that the written ``parts`` call nothing, by where the refiner
    pipeline lost them (:data:`REFINER_MISSES`), as shares of the teacher's hand pixels; one
    more network pass over ``frames``."""
    n, H, W = truth.shape
    true = L.is_hand(truth) & known
    rest = true & (parts == L.BACKGROUND)
    refiner = seg.hand_refiner
    hand_p, face_p = hand_and_face(seg.predict_parts_proba(frames), seg.parts)
    _, where, too_big = refiner.crops(frames, hand_p, face_p)
    covered = np.zeros((n, H, W), bool)
    for i, box in where:
        y0, y1, x0, x1 = box.window((H, W))
        covered[i, y0:y1, x0:x1] = True
    big = np.stack([np.zeros((H, W), bool) if b is None else b for b in too_big])
    proposed = np.stack([cv2.resize(p, (W, H), interpolation=cv2.INTER_LINEAR) for p in hand_p]) > refiner.propose
    out, n_true = {}, max(1, int(true.sum()))
    for key, lost in zip(REFINER_MISSES, (big, covered, proposed, np.ones_like(rest))):
        out[key] = int((rest & lost).sum()) / n_true
        rest &= ~lost
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", choices=("val", "test", "train"), default="test")
    p.add_argument("--labels", type=Path, nargs="+", required=True, help="teacher labels files with person masks")
    p.add_argument("--groups", type=Path, default=REPO / "pipelines" / "signers.tsv")
    p.add_argument("--max-clips", type=int, default=None, help="at most N clips, spread over the split's sorted list")
    p.add_argument("--model", default="snet-lite", help="a shipped model's name or a .weights.h5")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    setting = {r["video"]: r["setting"] for r in csv.DictReader(open(args.groups), delimiter="\t")
               if r["split"] == args.split}
    setting = spread_clips(setting, args.max_clips)
    seg = (Segmenter.from_pretrained if args.model in PRESETS else Segmenter.from_file)(args.model)
    clips = {}
    for path in args.labels:
        with h5py.File(path, "r") as f:
            for vid in sorted(set(f["videos"]) & set(setting)):
                g = f[f"videos/{vid}"]
                truth = g["labels"][()]
                known = known_pixels(g, truth, np.arange(len(truth)))
                known = np.ones(truth.shape, bool) if known is None else known
                frames = g["frames"][()]
                _, parts = written_parts(seg, frames, stored_fps(g))
                clips[vid] = clip_errors(parts, truth, g["person"][()] > 0, known)
                if seg.hand_refiner is not None and "recall" in clips[vid]:
                    clips[vid].update(refiner_misses(seg, frames, parts, truth, known))
    rows = defaultdict(list)
    for vid, c in clips.items():
        rows[setting[vid]].append(c)
        rows["all clips"].append(c)
    print(f"{'setting':22s} {'hands':>5s} {'faces':>5s} " + " ".join(f"{s[:12]:>12s}" for s in SHARES))
    table = {}
    for name, cs in sorted(rows.items(), key=lambda kv: (kv[0] == "all clips", kv[0])):
        counts = {"clips with hands": sum("recall" in c for c in cs), "clips with a face": sum("face_iou" in c for c in cs)}
        # a clip without the teacher's hands (face) has nothing to miss there: left out of those means
        means = {s: round(float(np.mean(v)), 4) if (v := [c[s] for c in cs if s in c]) else None for s in SHARES}
        table[name] = {**counts, **means}
        print(f"{name[:22]:22s} {counts['clips with hands']:5d} {counts['clips with a face']:5d} "
              + " ".join("           -" if means[s] is None else f"{means[s]:12.3f}" for s in SHARES))
    if args.json:
        args.json.write_text(json.dumps({"settings": table, "clips": clips}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

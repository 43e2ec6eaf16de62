"""Draw docs/images/parts_hardest.png: the hardest frames for parts, as ``--parts`` writes them.

    python pipelines/make_parts_figure.py [--split test] [--per-kind 3] [--refined] [--out docs/images/parts_hardest.png]

Two kinds of frame, found in the teacher's parts of the split's clips (``pipelines/signers.tsv``):
the signer's **hands touching** each other, and **a hand over the face** (teacher hand pixels
inside the face's box). Frames are drawn at random (fixed seed) from different clips, not
chosen for looking good. Each row: the frame, the teacher's parts, the shipped model's parts
(green face, red the signer's left hand, blue the right), and each hand's IoU in the title;
``--refined`` adds the parts with the hand refiner's hands (``--refine-hands``) as a fourth column.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import h5py
import numpy as np

from signseg import labels as L
from signseg.infer.segmenter import Segmenter
from signseg.overlay import grid, overlay, write_png
from signseg.train.evaluate import stored_fps, written_parts
from signseg.train.frames import read_splits

REPO = Path(__file__).resolve().parents[1]
RING = np.ones((5, 5), np.uint8)


def touching(t: np.ndarray) -> bool:
    """The teacher's two hands touch each other."""
    left, right = t == L.LEFT_HAND, t == L.RIGHT_HAND
    return left.sum() > 100 and right.sum() > 100 and bool((cv2.dilate(left.astype(np.uint8), RING) & right).any())


def over_face(t: np.ndarray) -> bool:
    """A teacher hand lies over the face: at least 50 of its pixels inside the face's box."""
    ys, xs = np.nonzero(t == L.FACE)
    if len(xs) < 100:
        return False
    box = np.zeros(t.shape, bool)
    box[ys.min():ys.max() + 1, xs.min():xs.max() + 1] = True
    return int((box & L.is_hand(t)).sum()) >= 50


def _iou(a: np.ndarray, b: np.ndarray) -> float | None:
    union = (a | b).sum()
    return None if not b.any() else float((a & b).sum() / union)


def _fit(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` scaled to fit (height, width), its aspect kept, on black."""
    s = min(height / image.shape[0], width / image.shape[1])
    small = cv2.resize(image, (round(image.shape[1] * s), round(image.shape[0] * s)), interpolation=cv2.INTER_AREA)
    out = np.zeros((height, width, 3), np.uint8)
    y, x = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small
    return out


def _caption(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 16), (0, 0, 0), -1)
    cv2.putText(out, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", choices=("val", "test"), default="test")
    p.add_argument("--labels", type=Path, nargs="+",
                   default=[REPO / "labels" / f"{n}.h5" for n in ("signs2", "signs3", "tid", "startasl")])
    p.add_argument("--groups", type=Path, default=REPO / "pipelines" / "signers.tsv")
    p.add_argument("--per-kind", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--refined", action="store_true", help="a fourth column: the hand refiner's hands")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "parts_hardest.png")
    args = p.parse_args()
    clips = {v for v, split in read_splits(args.groups).items() if split == args.split}
    seg = Segmenter.from_pretrained(refine_hands=False)
    models = [("written", seg)] + ([("refined", Segmenter.from_pretrained(refine_hands=True))] if args.refined else [])
    found: dict[str, list[tuple[str, int]]] = {"hands touching": [], "hand over face": []}
    where = {}
    for path in args.labels:
        with h5py.File(path, "r") as f:
            for vid in sorted(set(f["videos"]) & clips):
                truth = f[f"videos/{vid}/labels"][()]
                where[vid] = path
                for i, t in enumerate(truth):
                    if touching(t):
                        found["hands touching"].append((vid, i))
                    elif over_face(t):
                        found["hand over face"].append((vid, i))
    rng = np.random.default_rng(args.seed)
    rows = []
    for kind, frames in found.items():
        by_clip: dict[str, list[int]] = {}
        for vid, i in frames:
            by_clip.setdefault(vid, []).append(i)
        print(f"{kind}: {len(frames)} frames in {len(by_clip)} clips", file=sys.stderr)
        for vid in rng.choice(sorted(by_clip), size=min(args.per_kind, len(by_clip)), replace=False):
            with h5py.File(where[vid], "r") as f:
                g = f[f"videos/{vid}"]
                frames_, truth, fps = g["frames"][()], g["labels"][()], stored_fps(g)
            i = int(rng.choice(by_clip[vid]))
            rows += [_caption(_fit(frames_[i], 240, 320), f"{kind}: {vid}"[:48]),
                     _caption(_fit(overlay(frames_[i], truth[i], 0.55), 240, 320), "teacher")]
            for name, model in models:
                parts = written_parts(model, frames_, fps)[1]  # the whole clip: the hands' sides follow the face
                scores = [_iou(parts[i] == v, truth[i] == v) for v in (L.LEFT_HAND, L.RIGHT_HAND)]
                text = " ".join(f"{n} {s:.2f}" for n, s in zip(("left", "right"), scores) if s is not None)
                rows.append(_caption(_fit(overlay(frames_[i], parts[i], 0.55), 240, 320), f"{name}: {text}"))
    write_png(args.out, grid(rows, columns=2 + len(models)))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

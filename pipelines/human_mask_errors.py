"""Where a model's binary mask disagrees with the masks people drew (hgr1 hands, fasseg faces),
split by what the teacher would have called those pixels.

    python pipelines/human_mask_errors.py [--model snet-lite] [--teacher-python PY] [--json OUT] [--figure OUT.jpg]

* ``hgr1``: people drew skin, hand and forearm; the teacher draws hands only (landmark hulls).
  MediaPipe Hands (in the teacher's environment) finds each image's hands, and the human mask
  is split into the part inside the teacher's kind of hand (the landmarks' hull widened by a
  finger, ``signseg.teacher.masks.hull_hand_mask``) and the rest (forearm, other skin). The
  model's recall is given on each, and the hull's own precision and recall against the human
  mask: the most a model that copies the teacher's hands can reach.
* ``fasseg``: people drew the face as skin, neck, nose, mouth and eyes; eyebrows and fringe are
  "hair". The model's false pixels are split into hair inside the face's convex hull
  (eyebrows, a fringe over the brow: face to the teacher's face mesh), hair outside it, and
  background.

Pixel counts pooled over each set's images (as ``evaluate_models.py --human-masks``). For
measuring only: never train on these masks. ``--figure`` draws the three images of each set
the model finds least of (hgr1: recall; fasseg: precision), coloured by :data:`COLOURS`.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from signseg.infer.presets import PRESETS
from signseg.infer.segmenter import Segmenter
from signseg.teacher.env import find_teacher
from signseg.teacher.masks import hull_hand_mask
from signseg.train.evaluate import FASSEG_CLASSES, FASSEG_FACE, fasseg_classes, human_mask_set

REPO = Path(__file__).resolve().parents[1]
HUMAN = REPO.parent / "shared" / "data" / "human-masks"
FASSEG_HAIR, FASSEG_BACKGROUND = FASSEG_CLASSES.index((127, 0, 0)), FASSEG_CLASSES.index((255, 0, 0))

#: The figure's colours (RGB): found, missed inside the teacher's kind of hand (or the face),
#: missed beyond it (forearm), false on hair inside the face's hull, other false pixels.
COLOURS = {"found": (0, 200, 0), "missed": (0, 90, 255), "missed_beyond": (230, 0, 230),
           "false_brows": (255, 220, 0), "false": (255, 0, 0)}
#: Run by the teacher's python: MediaPipe Hands on every image of a folder, landmarks in pixels.
_HANDS = """
import sys, cv2, numpy as np, mediapipe as mp
from pathlib import Path
out = {}
with mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=2, model_complexity=1,
                              min_detection_confidence=0.3) as hands:
    for f in sorted(Path(sys.argv[1]).iterdir()):
        bgr = cv2.imread(str(f)); h, w = bgr.shape[:2]
        r = hands.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        pts = [[[p.x * w, p.y * h, p.z * w] for p in lm.landmark] for lm in (r.multi_hand_landmarks or [])]
        out[f.stem] = np.array(pts, np.float32).reshape(-1, 21, 3)
np.savez(sys.argv[2], **out)
"""


def hand_landmarks(images: Path, teacher_python: str) -> dict[str, np.ndarray]:
    """Each image's hands (k, 21, 3) in pixels, by MediaPipe Hands in the teacher's environment."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "hands.npz"
        subprocess.run([teacher_python, "-c", _HANDS, str(images), str(out)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with np.load(out) as f:
            return {k: f[k] for k in f.files}


def _paint(image: np.ndarray, layers: dict[str, np.ndarray], outline: np.ndarray | None = None) -> np.ndarray:
    """``image`` (RGB) beside a copy with each layer (bool) tinted its :data:`COLOURS` colour
    and ``outline`` (bool) drawn white: a figure tile, 240 pixels high."""
    tinted = image.astype(np.float32)
    for key, where in layers.items():
        tinted[where] = 0.4 * tinted[where] + 0.6 * np.array(COLOURS[key], np.float32)
    tinted = tinted.astype(np.uint8)
    if outline is not None:
        contours, _ = cv2.findContours(outline.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(tinted, contours, -1, (255, 255, 255), max(1, image.shape[0] // 200))
    pair = np.hstack([image, tinted])
    return cv2.resize(pair, (round(240 * pair.shape[1] / pair.shape[0]), 240), interpolation=cv2.INTER_AREA)


def _keep_worst(worst: list, score: float, make_tile, count: int = 3) -> None:
    """Keep the ``count`` lowest-scoring tiles (``make_tile()`` is called only for those)."""
    if len(worst) < count or score < worst[-1][0]:
        worst.append((score, make_tile()))
        worst.sort(key=lambda t: t[0])
        del worst[count:]


def hgr1_errors(seg: Segmenter, folder: Path, landmarks: dict[str, np.ndarray]) -> tuple[dict[str, float], list]:
    """The model's recall on the hand part and the rest of the hgr1 skin, the hull's own
    figures, and the tiles of the images with the lowest recall."""
    _, images, truths = human_mask_set(folder)
    stems = [f.stem for f in sorted((folder / "images").iterdir())]
    n = dict(skin=0, hand=0, rest=0, marked=0, hit=0, hit_hand=0, hit_rest=0, hull=0, hull_hit=0, no_hand=0)
    worst: list = []
    for stem, image, truth in zip(stems, images, truths):
        skin, marked = truth > 0, seg.predict(image[None])[0] > 0
        hull = np.zeros_like(skin)
        for pts in landmarks.get(stem, ()):
            hull |= hull_hand_mask(pts, skin.shape)
        n["no_hand"] += int(not hull.any())
        for key, value in (("skin", skin), ("hand", skin & hull), ("rest", skin & ~hull), ("marked", marked),
                           ("hit", marked & skin), ("hit_hand", marked & skin & hull),
                           ("hit_rest", marked & skin & ~hull), ("hull", hull), ("hull_hit", hull & skin)):
            n[key] += int(value.sum())
        _keep_worst(worst, (marked & skin).sum() / max(skin.sum(), 1), lambda: _paint(
            image, {"found": marked & skin, "missed": skin & hull & ~marked, "missed_beyond": skin & ~hull & ~marked,
                    "false": marked & ~skin}, hull))
    return {"images": len(stems), "images_no_hand_found": n["no_hand"],
            "precision": n["hit"] / n["marked"], "recall": n["hit"] / n["skin"],
            "skin_beyond_hand_share": n["rest"] / n["skin"],
            "recall_on_hand": n["hit_hand"] / n["hand"], "recall_beyond_hand": n["hit_rest"] / n["rest"],
            "hull_precision": n["hull_hit"] / n["hull"], "hull_recall": n["hull_hit"] / n["skin"]}, worst


def fasseg_errors(seg: Segmenter, folder: Path) -> tuple[dict[str, float], list]:
    """The model's false face pixels split into hair inside the face's hull, hair outside it and
    background, and the tiles of the images with the lowest precision."""
    n = dict(face=0, marked=0, hit=0, brows=0, hair=0, background=0)
    worst: list = []
    files = sorted((folder / "images").iterdir())
    for img_file in files:
        rgb = cv2.cvtColor(cv2.imread(str(img_file)), cv2.COLOR_BGR2RGB)
        cls = fasseg_classes(cv2.cvtColor(cv2.imread(str(folder / "masks" / f"{img_file.stem}.png")),
                                          cv2.COLOR_BGR2RGB))
        face = cls < len(FASSEG_FACE)
        hull = np.zeros(face.shape, np.uint8)
        count, comp, stats, _ = cv2.connectedComponentsWithStats(face.view(np.uint8))
        if count > 1:
            biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            cv2.fillConvexPoly(hull, cv2.convexHull(np.argwhere(comp == biggest)[:, ::-1].astype(np.int32)), 1)
        marked = seg.predict(rgb[None])[0] > 0
        false = marked & ~face
        brows = false & (cls == FASSEG_HAIR) & (hull > 0)
        for key, value in (("face", face), ("marked", marked), ("hit", marked & face), ("brows", brows),
                           ("hair", false & (cls == FASSEG_HAIR) & (hull == 0)),
                           ("background", false & (cls == FASSEG_BACKGROUND))):
            n[key] += int(value.sum())
        _keep_worst(worst, (marked & face).sum() / max(marked.sum(), 1), lambda: _paint(
            rgb, {"found": marked & face, "missed": face & ~marked, "false_brows": brows, "false": false & ~brows}))
    wrong = max(n["marked"] - n["hit"], 1)
    return {"images": len(files), "precision": n["hit"] / n["marked"], "recall": n["hit"] / n["face"],
            "false_on_hair_in_face_hull": n["brows"] / wrong, "false_on_other_hair": n["hair"] / wrong,
            "false_on_background": n["background"] / wrong,
            "precision_with_hair_in_face_hull_as_face": (n["hit"] + n["brows"]) / n["marked"]}, worst


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="snet-lite", help="a shipped model's name or a .weights.h5")
    p.add_argument("--human-masks", type=Path, default=HUMAN)
    p.add_argument("--teacher-python", default=None, help="python with mediapipe (default: the teacher's)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--figure", type=Path, default=None,
                   help="image file (.png, .jpg) of each set's three hardest images")
    args = p.parse_args()
    teacher = find_teacher(args.teacher_python)
    if teacher is None:
        p.error("no teacher environment: give --teacher-python or run `signseg teacher setup`")
    seg = (Segmenter.from_pretrained if args.model in PRESETS else Segmenter.from_file)(args.model)
    hgr1 = args.human_masks / "hgr1"
    (hgr1_figures, hgr1_tiles), (fasseg_figures, fasseg_tiles) = (
        hgr1_errors(seg, hgr1, hand_landmarks(hgr1 / "images", teacher)),
        fasseg_errors(seg, args.human_masks / "fasseg"))
    out = {"hgr1": hgr1_figures, "fasseg": fasseg_figures}
    for name, figures in out.items():
        print(name)
        for key, value in figures.items():
            print(f"  {key:42s} {value:.3f}" if isinstance(value, float) else f"  {key:42s} {value}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    if args.figure:
        rows = [np.hstack([t for _, t in tiles]) for tiles in (hgr1_tiles, fasseg_tiles)]
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
        cv2.imwrite(str(args.figure), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
    return 0


if __name__ == "__main__":
    sys.exit(main())

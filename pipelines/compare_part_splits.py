"""The shipped model's masks split into parts two ways, scored against the teacher's parts:
the network's face with hands named by their side of it (what ``--parts`` writes,
:mod:`signseg.postprocess.network_parts`) and the part tracker alone.

    python pipelines/compare_part_splits.py [--split val|test|train] [--max-clips N] [--labels LABELS.h5 ...] [--json OUT]

Same weights, same masks (one network pass a clip): face, hands, each hand and the swapped
share per setting of ``pipelines/signers.tsv`` (``signseg.train.evaluate.by_setting``). A
third row, ``teacher``, names the teacher's own hands by the side of the teacher's own face
(``signseg.train.evaluate.sides_of_teacher``): what the side rule swaps with perfect masks;
with an arm network (``t.arms``), what naming by the arms swaps with perfect masks.
``--split train`` scores clips the model was trained on (how well it fits its own signers);
``--max-clips`` takes that many clips spread evenly over the split's sorted list.
``--room shelves`` pastes each clip's signer (the teacher's person mask) onto one drawn
bookshelf (``signseg.train.augment.shelves``, seeded by the clip's name), the same in every
frame, and scores only clips that have a person mask: the split's people in a busy room, where
the network once named faces hands (docs/model_card.md), measured without held-out footage.

Two more rows split a held-out split's clips by ``person`` (the table's fifth column): "people
never trained on", and "people also in training", the same person found in training clips
under another signer's name (``pipelines/make_signer_groups.py``, ``SAME_PERSON``).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import h5py
import numpy as np

from signseg.cli.args import size
from signseg.infer.presets import PRESETS
from signseg.infer.runtimes import RUNTIMES
from signseg.infer.segmenter import Segmenter
from signseg.postprocess.parts import split_parts
from signseg.train.augment import paste_clip, shelves
from signseg.train.evaluate import (Score, by_setting, known_pixels, sides_of_teacher, spread_clips, stored_fps,
                                   written_parts)

REPO = Path(__file__).resolve().parents[1]


def on_shelves(vid: str, frames: np.ndarray, truth: np.ndarray, person: np.ndarray) -> np.ndarray:
    """The clip's frames with its signer pasted onto one drawn bookshelf (seeded by ``vid``)."""
    room = shelves(frames.shape[1:3], np.random.default_rng(list(vid.encode())))
    return paste_clip(frames, truth, person, room)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", choices=("val", "test", "train"), default="val")
    p.add_argument("--max-clips", type=int, default=None, help="at most N clips, spread over the split")
    p.add_argument("--labels", type=Path, nargs="+",
                   default=[REPO / "labels" / f"{n}.h5" for n in ("signs2", "signs3", "tid", "startasl")])
    p.add_argument("--mirror", default=None, action=argparse.BooleanOptionalAction,
                   help="the test-time flip (default: as the model's card)")
    p.add_argument("--threshold", type=float, default=None, help="the mask's threshold (default: the card's)")
    p.add_argument("--refine-hands", default=None, action=argparse.BooleanOptionalAction,
                   help="the hand refiner (default: as the model's card)")
    p.add_argument("--arm-sides", default=None, action=argparse.BooleanOptionalAction,
                   help="the arm network naming the hands (default: as the model's card)")
    p.add_argument("--still-hands", default=True, action=argparse.BooleanOptionalAction,
                   help="drop still hand blobs as --parts does (default; --no-still-hands: as before the "
                        "thirty-eighth session)")
    p.add_argument("--input-size", type=size, default=None, help="HxW (default: the card's)")
    p.add_argument("--groups", type=Path, default=REPO / "pipelines" / "signers.tsv")
    p.add_argument("--model", default="snet-lite", help="a shipped model's name or a .weights.h5")
    p.add_argument("--runtime", default="auto", choices=RUNTIMES,
                   help="the first network's runtime (default auto: its int8 graph on a CPU)")
    p.add_argument("--room", default="own", choices=("own", "shelves"),
                   help="own: the clips as filmed; shelves: each signer pasted onto a drawn bookshelf "
                        "(clips with a person mask only)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    table = list(csv.DictReader(open(args.groups), delimiter="\t"))
    setting = {r["video"]: r["setting"] for r in table if r["split"] == args.split}
    person = lambda r: r.get("person") or r["signer"]  # noqa: E731  (a table before the column: the signer)
    trained = {person(r) for r in table if r["split"] == "train"}
    seen = {r["video"]: "people also in training" if person(r) in trained else "people never trained on"
            for r in table if r["split"] == args.split}
    setting = spread_clips(setting, args.max_clips)
    load = Segmenter.from_pretrained if args.model in PRESETS else Segmenter.from_file
    seg = load(args.model, mirror=args.mirror, threshold=args.threshold, input_size=args.input_size,
               refine_hands=args.refine_hands, arm_sides=args.arm_sides, runtime=args.runtime)
    if not seg.parts:
        raise SystemExit(f"{args.model}: no part channels to compare with the tracker")
    scores: dict[str, dict[str, Score]] = {"network": {}, "tracker": {}, "teacher": {}}
    if seg.arm_sides is not None:
        scores["t.arms"] = {}
    for path in args.labels:
        with h5py.File(path, "r") as f:
            for vid in sorted(set(f["videos"]) & set(setting)):
                g = f[f"videos/{vid}"]
                frames, truth = g["frames"][()], g["labels"][()]
                if args.room == "shelves":
                    if "person" not in g:
                        continue
                    frames = on_shelves(vid, frames, truth, g["person"][()])
                known = known_pixels(g, truth, np.arange(len(truth)))
                masks, written = written_parts(seg, frames, stored_fps(g) if args.still_hands else None)
                for name, parts in (("network", written), ("tracker", split_parts(masks)[0])):
                    scores[name][vid] = s = Score()
                    s.add(masks, truth, parts, known, sides=True)
                scores["teacher"][vid] = s = Score()
                s.add(truth, truth, sides_of_teacher(truth), known, sides=True)
                if seg.arm_sides is not None:  # the teacher's hands named by the arm network
                    scores["t.arms"][vid] = s = Score()
                    s.add(truth, truth, sides_of_teacher(truth, seg.arm_sides.arms(frames)), known, sides=True)
    out = {name: by_setting(v, setting) for name, v in scores.items()}
    if args.split != "train":
        for name, v in scores.items():
            out[name].update(by_setting(v, seen))
    fmt = lambda v: "   -  " if v is None else f"{v:6.3f}"  # noqa: E731
    print(f"{'split':8s} {'setting':22s} {'clips':>5s} {'hands':>6s} {'h.rec':>6s} {'face':>6s} {'left':>6s} "
          f"{'right':>6s} {'swap':>6s}  worst hands clip")
    for name, rows in out.items():
        for key, r in sorted(rows.items(), key=lambda kv: (kv[0] == "all clips", kv[0].startswith("people"), kv[0])):
            print(f"{name:8s} {key[:22]:22s} {r['clips']:5d} {fmt(r.get('hand_iou'))} {fmt(r.get('hand_recall'))} "
                  f"{fmt(r.get('face_iou'))} {fmt(r.get('left_iou'))} {fmt(r.get('right_iou'))} "
                  f"{fmt(r.get('swapped'))}  {r.get('worst_hand_clip', '-')}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Score models against teacher labels of held-out clips, hands and face apart, per clip and per setting.

    python pipelines/evaluate_models.py LABELS.h5 [LABELS.h5 ...] --groups pipelines/signers.tsv \
        [--split val] [--models snet-lite snet runs/x/model.weights.h5] [--max-blobs N] \
        [--input-size HxW] [--thresholds 0.3 0.4 ...] [--json docs/model_eval.json] [--images docs/images]

``--groups`` (from ``pipelines/make_signer_groups.py``) picks the ``test`` clips and their
settings (``--split val``: the validation signers' clips instead, where choices are made;
for a table without ``val`` rows, ``signseg train``'s hash of the signer at ``--val-fraction``);
``--videos`` names clips instead. Prints per-clip and per-setting tables (mean
per-clip IoU and the worst clip; with ``--thresholds``, each model at each threshold, named
``MODEL@T``, from one network pass per clip; with ``--input-size``, every model at that size
instead of its card's, named ``MODEL@HxW``); writes the scores as JSON and, per model, an overlay grid of
real frames (model masks on top, teacher masks below) for the clips with the worst hands.
Hands and face are scored apart (``signseg.train.evaluate``): a model's own face/hand
channels where it has them, else the part tracker's split of its mask; the tables rank clips
and settings by hands. ``--human-masks`` adds pixel precision and recall against people's
masks (``shared/data/human-masks/hgr1``, ``.../fasseg``). Numbers come from
this run.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import h5py
import numpy as np


FLIP_SUFFIXES = {"+mirror": True, "-mirror": False}


def _split_flip(spec: str) -> tuple[str, str, bool | None]:
    """``spec`` without a trailing ``+mirror`` / ``-mirror``, that suffix (or ""), and the
    test-time flip it asks for (None: as the model card says)."""
    for suffix, mirror in FLIP_SUFFIXES.items():
        if spec.endswith(suffix):
            return spec[: -len(suffix)], suffix, mirror
    return spec, "", None


def _labels(names: list[str]) -> dict[str, str]:
    """Each model's row label: a preset's name; a candidate file's name, with its folder where
    that names a preset too or where two candidates share a file name (``a/m``, ``b/m``)."""
    from collections import Counter
    from signseg.infer.presets import PRESETS
    def label(name: str, folder: bool) -> str:
        base, flip, _ = _split_flip(name)
        if not base.endswith(".h5"):
            return base + flip
        stem = Path(base).name.replace(".weights.h5", "").replace(".h5", "")
        return (f"{Path(base).parent.name}/{stem}" if folder or stem in PRESETS else stem) + flip
    plain = {n: label(n, False) for n in names}
    uses = Counter(plain.values())
    return {n: label(n, True) if uses[plain[n]] > 1 else plain[n] for n in names}


def _segmenter(spec: str, max_blobs: int | None = None, input_size: tuple[int, int] | None = None):
    """A preset name or a .weights.h5, with an optional flip suffix (:func:`_split_flip`)."""
    from signseg.infer.presets import PRESETS
    from signseg.infer.segmenter import Segmenter
    model, _, mirror = _split_flip(spec)
    kw = {"mirror": mirror, "max_blobs": max_blobs, "input_size": input_size}
    return Segmenter.from_pretrained(model, **kw) if model in PRESETS else Segmenter.from_file(model, **kw)


def _draw(seg, labels: Path, vid: str, out: Path, per_row: int) -> None:
    from signseg.overlay import grid, overlay, write_png
    from signseg.train.evaluate import predicted_parts
    with h5py.File(labels, "r") as f:
        g = f[f"videos/{vid}"]
        idx = np.linspace(0, len(g["frames"]) - 1, per_row).round().astype(int)
        frames, truth = g["frames"][:][idx], g["labels"][:][idx]
    pred = predicted_parts(seg, frames, seg.predict(frames))  # face and hands in their colours
    tiles = [overlay(fr, m) for fr, m in zip(frames, pred)] + [overlay(fr, t) for fr, t in zip(frames, truth)]
    write_png(out, grid(tiles, per_row))
    print(f"wrote {out}", file=sys.stderr)


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from signseg.cli.args import size as size_arg
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("labels", type=Path, nargs="*", help="teacher labels files holding the clips")
    p.add_argument("--groups", type=Path, default=None, help="signers.tsv: test clips and their settings")
    p.add_argument("--videos", nargs="+", default=None, help="clips to score (default: the test clips of --groups)")
    p.add_argument("--split", choices=("test", "val"), default="test",
                   help="with --groups: score the held-out test signers' clips (default) or the validation "
                        "signers' (the ones signseg train --groups validates on, for choices made before the test)")
    p.add_argument("--val-fraction", type=float, default=0.12,
                   help="for a table without val rows: signseg train's hashed share (the shipped runs: 0.12)")
    p.add_argument("--models", nargs="+", default=None,
                   help="preset names or .weights.h5 files, each optionally followed by +mirror or -mirror "
                        "(default: every installed preset)")
    p.add_argument("--max-blobs", type=int, default=None,
                   help="keep each frame's N largest blobs, 0 all, for every model (default: each card's)")
    p.add_argument("--input-size", type=size_arg, default=None,
                   help="HxW: run every model at this input size instead of its card's (rows MODEL@HxW)")
    p.add_argument("--thresholds", type=float, nargs="+", default=None,
                   help="score each model at these thresholds (rows MODEL@T) instead of its card's")
    p.add_argument("--human-masks", type=Path, nargs="*", default=[],
                   help="human-drawn mask sets to score too (shared/data/human-masks/hgr1, .../fasseg): pixel "
                        "precision and recall of the binary mask against people's masks")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--images", type=Path, default=None, help="folder for overlays of each model's worst clips")
    p.add_argument("--worst", type=int, default=2, help="overlays of this many worst clips per model")
    p.add_argument("--frames-per-row", type=int, default=4)
    args = p.parse_args()

    from signseg.train.evaluate import by_setting, evaluate_thresholds
    from signseg.infer.presets import list_presets

    setting_of, videos = {}, args.videos
    if args.groups:
        with open(args.groups, encoding="utf-8") as f:
            table = list(csv.DictReader(f, delimiter="\t"))
        setting_of = {r["video"]: r["setting"] for r in table}
        videos = videos or [r["video"] for r in table if r["split"] == args.split]
        if not videos and args.split == "val":  # a table without val rows: signseg train's hash of the signer
            from signseg.train.frames import split_by_group
            rest = [r["video"] for r in table if r["split"] != "test"]
            is_val = split_by_group(rest, args.val_fraction, signer_of={r["video"]: r["signer"] for r in table})
            videos = [v for v, val in zip(rest, is_val) if val]
    if not videos and not args.human_masks:
        p.error("name --videos or give --groups with test clips (or score --human-masks alone)")
    videos = videos or []
    where = {}  # clip -> the labels file that holds it
    for path in args.labels:
        with h5py.File(path, "r") as f:
            where.update({v: path for v in videos if v not in where and f"videos/{v}" in f})
    missing = [v for v in videos if v not in where]
    if missing:
        print(f"note: in no labels file, skipped: {', '.join(missing)}", file=sys.stderr)

    names = args.models or [n for n, e in list_presets().items() if e["available"]]
    results, labels = {}, _labels(names)
    for name in names:
        seg = _segmenter(name, args.max_blobs, args.input_size)
        thresholds = args.thresholds or [seg.threshold]
        scores = {t: {} for t in thresholds}
        for path in args.labels:
            part = evaluate_thresholds(seg, path, thresholds, [v for v in videos if where.get(v) == path])
            for t in thresholds:
                scores[t].update({k: v for k, v in part[t].items() if k != "all"})
        label = labels[name]
        human = {}
        for folder in args.human_masks:
            from signseg.train.evaluate import evaluate_frames, human_mask_set
            set_name, images, truths = human_mask_set(folder)
            human[set_name] = evaluate_frames(seg, images, truths).as_dict()
        if args.input_size:
            label += "@{}x{}".format(*args.input_size)
        for t in thresholds:
            key = f"{label}@{t:g}" if args.thresholds else label
            results[key] = {"clips": {k: v.as_dict() for k, v in scores[t].items()},
                            "settings": by_setting(scores[t], setting_of), "human_masks": human}
        if args.images:
            args.images.mkdir(parents=True, exist_ok=True)
            # the worst hands first (clips with teacher hands), as the tables rank them
            by_hands = lambda v: (scores[thresholds[0]][v].hand_iou is None or not scores[thresholds[0]][v].hands[2],  # noqa: E731
                                  scores[thresholds[0]][v].hand_iou or 0.0, scores[thresholds[0]][v].iou)
            ranked = sorted(scores[thresholds[0]], key=by_hands)
            for vid in ranked[:args.worst]:
                _draw(seg, where[vid], vid, args.images / f"{vid}_{label.replace('/', '_')}_vs_teacher.png",
                      args.frames_per_row)

    fmt = lambda v: "   -  " if v is None else f"{v:6.3f}"  # noqa: E731
    print(f"{'model':14s} {'clip':34s} {'frames':>6s} {'hands':>6s} {'h.rec':>6s} {'face':>6s} {'IoU':>6s} "
          f"{'prec':>6s} {'left':>6s} {'right':>6s}  setting   (hands/face: IoU of the parts; left/right: coverage)")
    for name, r in results.items():
        for vid, s in sorted(r["clips"].items(), key=lambda kv: (kv[1]["hand_iou"] is None, kv[1]["hand_iou"] or 0)):
            c = s["coverage"]
            print(f"{name:14s} {vid[:34]:34s} {s['frames']:6d} {fmt(s['hand_iou'])} {fmt(s['hand_recall'])} "
                  f"{fmt(s['face_iou'])} {s['iou']:6.3f} {s['precision']:6.3f} {fmt(c['left_hand'])} "
                  f"{fmt(c['right_hand'])}  {setting_of.get(vid, '')}")
    print(f"\n{'model':14s} {'setting':22s} {'clips':>5s} {'hands':>6s} {'h.rec':>6s} {'worst':>6s} {'face':>6s} "
          f"{'IoU':>6s} {'worst':>6s}  worst hands clip / worst IoU clip")
    for name, r in results.items():
        for key, s in sorted(r["settings"].items(), key=lambda kv: (kv[0] == "all clips", kv[0])):
            print(f"{name:14s} {key[:22]:22s} {s['clips']:5d} {fmt(s.get('hand_iou'))} {fmt(s.get('hand_recall'))} "
                  f"{fmt(s.get('worst_hand_iou'))} {fmt(s.get('face_iou'))} {s['mean_iou']:6.3f} {s['worst_iou']:6.3f}"
                  f"  {s.get('worst_hand_clip', '-')} / {s['worst_clip']}")
    if any("left_iou" in s for r in results.values() for s in r["settings"].values()):
        print(f"\n{'model':14s} {'setting':22s} {'clips':>5s} {'left':>6s} {'right':>6s} {'swap':>6s} {'worst':>6s}"
              "  worst clip by its weaker hand (left/right: IoU of each hand; swap: hand pixels given the other)")
        for name, r in results.items():
            for key, s in sorted(r["settings"].items(), key=lambda kv: (kv[0] == "all clips", kv[0])):
                if "left_iou" in s:
                    print(f"{name:14s} {key[:22]:22s} {s['clips']:5d} {fmt(s['left_iou'])} {fmt(s['right_iou'])} "
                          f"{fmt(s['swapped'])} {fmt(s['worst_side_iou'])}  {s['worst_side_clip']}")
    if any(r["human_masks"] for r in results.values()):
        print(f"\n{'model':14s} {'human masks':12s} {'images':>6s} {'prec':>6s} {'recall':>6s} {'IoU':>6s}")
        for name, r in results.items():
            for set_name, s in r["human_masks"].items():
                print(f"{name:14s} {set_name:12s} {s['frames']:6d} {s['precision']:6.3f} {s['recall']:6.3f} {s['iou']:6.3f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

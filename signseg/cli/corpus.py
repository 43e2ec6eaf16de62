"""``signseg corpus``: every video of a corpus folder into one mask file."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from signseg.cli.args import add_run_args, model_spec, positive_int, report


def add_parser(sub, parents) -> argparse.ArgumentParser:
    c = sub.add_parser("corpus", parents=parents,
                       help="segment every video of a corpus folder (AUTSL layout or any tree)")
    c.add_argument("root", type=Path, help="corpus folder (e.g. AUTSL's train/)")
    c.add_argument("--labels", type=Path, default=None, help="CSV of video_id,label (AUTSL train_labels.csv)")
    c.add_argument("--adapt", type=positive_int, default=None, metavar="N",
                   help="first adapt the model on N teacher-labelled frames of this corpus, from about N/8 of "
                        "its videos spread over its signers (signseg adapt; kept in OUT.adapt/ and reused), "
                        "then segment with it")
    c.add_argument("--adapt-minutes", type=float, default=15.0, help="fine-tuning budget of --adapt (default 15)")
    c.add_argument("--class-map", type=Path, default=None,
                   help="CSV of class_id,...,name (AUTSL SignList_ClassId_TR_EN.csv): adds label_name")
    c.add_argument("--pattern", default=None,
                   help="glob of videos under ROOT, e.g. '**/*.mp4' (default: all videos; AUTSL *_color only)")
    c.add_argument("--n-jobs", type=positive_int, default=1, help="worker processes (default 1: in-process)")
    c.add_argument("--backend", default="loky", choices=("loky", "threading", "dask", "ray"),
                   help="joblib backend for the workers (default loky)")
    c.add_argument("--scheduler", default=None, help="dask scheduler or ray address of an existing cluster")
    c.add_argument("--infer", default="auto", choices=("auto", "workers", "driver"),
                   help="where the model runs: in each worker, or in this process on batches spanning "
                        "videos fed by --n-jobs decode threads (the GPU path); auto: driver when a GPU is seen")
    add_run_args(c)
    return c


def run(args) -> int:
    from signseg.run.corpus import scan
    from signseg.run.pipeline import open_output, process
    corpus = scan(args.root, pattern=args.pattern, labels=args.labels, class_map=args.class_map)
    print(f"signseg: {args.root}: {corpus.describe()}", file=sys.stderr)
    if args.output.exists() and not (args.resume or args.overwrite):
        open_output(args.output)  # refuses, before any model or worker starts
    adapted = _adapt_first(args, corpus.jobs) if args.adapt else None
    summary = process(corpus.jobs, args.output, model_spec(args), n_jobs=args.n_jobs, backend=args.backend,
                      scheduler=args.scheduler, stride=args.stride, resume=args.resume, overwrite=args.overwrite,
                      progress=not args.quiet, infer=args.infer, parts=args.parts, crops=args.crops,
                      still_hands=args.still_hands)
    if adapted:
        import h5py
        with h5py.File(args.output, "a") as f:  # the whole file's masks came from the adapted model
            f.attrs.update(adapted)
    return report(summary, args.output)


def _adapt_first(args, jobs) -> dict:
    """``corpus --adapt N``: adapt a model on N frames of this corpus (``OUT.adapt/``, reused when
    it is already there), then point ``args`` at the model to segment with: the adapted one,
    unless it scored lower on the held-out hands (``adapt.json``'s ``use``,
    :func:`signseg.train.adapt.model_to_use`); returns the file attributes."""
    from signseg.infer.presets import PRESETS
    from signseg.train.adapt import adapt, deciding_figure
    init = os.fspath(args.weights) if args.weights else (args.model or "snet-lite")
    folder = args.output.with_name(args.output.stem + ".adapt")
    weights, adapt_json = folder / "model.weights.h5", folder / "adapt.json"
    if weights.is_file() and adapt_json.is_file() and not (folder / "backup").exists():
        print(f"signseg: reusing the model adapted before: {weights}", file=sys.stderr)
    else:
        adapt(jobs, folder, frames=args.adapt, minutes=args.adapt_minutes, init=init, progress=not args.quiet)
    info = json.loads(adapt_json.read_text())
    use = info.get("use", "adapted")  # adapt.json before the choice: the adapted model
    before, after = info.get("heldout_before", {}), info.get("heldout_after", {})
    if use == "init":
        print(f"signseg: the adapted model scored lower on the held-out {deciding_figure(before, after)[1]}; "
              f"segmenting with {init}", file=sys.stderr)
        args.weights, args.model = (None, init) if init in PRESETS else (Path(init), None)
    else:
        args.weights, args.model = weights, None
    out = {"adapted_from": info["init"], "adapted_on_frames": info["frames"],
           "adapted_heldout_iou": [info["iou_before"], info["iou_after"]], "adapted_model": os.fspath(weights),
           "adapted_used": use == "adapted"}
    for key, name in (("face_iou", "adapted_heldout_face_iou"), ("hand_iou", "adapted_heldout_hand_iou")):
        if key in before and key in after:  # the face and the hands apart (adapt.json before them had neither)
            out[name] = [before[key], after[key]]
    return out

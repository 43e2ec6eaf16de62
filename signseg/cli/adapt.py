"""``signseg adapt``: adapt a model to a corpus, or to your own labelled frames."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signseg.cli.args import positive_int


def add_parser(sub, parents) -> argparse.ArgumentParser:
    ad = sub.add_parser("adapt", parents=parents,
                        help="adapt a model to a corpus: teacher-label a sample of its frames, fine-tune, measure")
    ad.add_argument("root", type=Path, nargs="?", default=None,
                    help="corpus folder (any tree of videos), labelled by the teacher")
    ad.add_argument("--labels", type=Path, action="append", default=[], metavar="PATH",
                    help="your own labelled frames instead of the teacher: an images/ + masks/ folder, the paper's "
                         "images.npy (beside labels.npy) or a labels .h5; repeatable. The last 15%% are held out")
    ad.add_argument("-o", "--output", required=True, type=Path, help="model folder (labels, checkpoints, weights)")
    ad.add_argument("--frames", type=positive_int, default=400, help="frames to label, spread over the videos")
    ad.add_argument("--videos", type=positive_int, default=None,
                    help="training videos the teacher labels, taken in turn from each signer (default: FRAMES/8; "
                         "the teacher never runs on the whole of a large corpus)")
    ad.add_argument("--minutes", type=float, default=15.0, help="fine-tuning time budget (default 15)")
    ad.add_argument("--init", default="snet-lite", help="model to start from: a shipped name or a .weights.h5")
    ad.add_argument("--pattern", default=None, help="glob of the videos to use (default: every video)")
    ad.add_argument("--holdout", type=int, default=None,
                    help="whole videos held out and scored before and after (default: 1 in 10, 1 to 3)")
    ad.add_argument("--teacher-python", default=None, help="the teacher's python (default: found or made)")
    ad.add_argument("-q", "--quiet", action="store_true")
    return ad


def run(args) -> int:
    from signseg.train.adapt import adapt, adapt_labels
    if (args.root is None) == (not args.labels):
        raise ValueError("adapt: give a corpus ROOT (the teacher labels it) or --labels PATH (your own labelled "
                         "frames), one of the two")
    if args.labels:
        result = adapt_labels(args.labels, args.output, minutes=args.minutes, init=args.init, progress=not args.quiet)
        what = f"{result.labelled_frames} hand-labelled frames"
    else:
        from signseg.run.corpus import scan
        corpus = scan(args.root, pattern=args.pattern)
        print(f"signseg: {args.root}: {corpus.describe()}", file=sys.stderr)
        result = adapt(corpus.jobs, args.output, frames=args.frames, minutes=args.minutes, init=args.init,
                       holdout=args.holdout, videos=args.videos, teacher_python=args.teacher_python,
                       progress=not args.quiet)
        what = f"{result.labelled_frames} labelled frames of {len(result.train_videos)} videos"
    print(f"signseg: wrote {result.weights} ({what}; held-out IoU {result.iou_before:.3f} -> "
          f"{result.iou_after:.3f}{result.changes([('hand_iou', 'hands')])}{result.arms_line()}); "
          f"use it with --weights {result.weights}",
          file=sys.stderr)
    return 0

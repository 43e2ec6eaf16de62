"""``signseg segment``: videos into an HDF5 mask file."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signseg.cli.args import add_run_args, model_spec, report


def add_parser(sub, parents) -> argparse.ArgumentParser:
    s = sub.add_parser("segment", parents=parents, help="segment videos into an HDF5 mask file")
    s.add_argument("videos", nargs="+", type=Path, help="video files")
    add_run_args(s)
    return s


def run(args) -> int:
    from signseg.run.corpus import jobs_for_files
    from signseg.run.pipeline import process
    jobs = jobs_for_files(args.videos)  # fail on bad arguments before loading a model
    segmenter = model_spec(args).load()
    print(f"signseg: {segmenter}", file=sys.stderr)
    summary = process(jobs, args.output, segmenter, stride=args.stride, resume=args.resume,
                      overwrite=args.overwrite, progress=not args.quiet, parts=args.parts, crops=args.crops,
                      still_hands=args.still_hands)
    return report(summary, args.output)

"""``signseg pack``: teacher labels packed small enough to carry to another machine (a lent GPU)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signseg.cli.args import positive_int


def add_parser(sub, parents) -> argparse.ArgumentParser:
    p = sub.add_parser("pack", parents=parents,
                       help="pack teacher labels files into a small training pack (H.264 frames, ~3 KB a frame)")
    p.add_argument("sources", nargs="+", type=Path, help="teacher labels .h5 files (or any training source)")
    p.add_argument("-o", "--output", required=True, type=Path)
    p.add_argument("--holdout", nargs="*", default=[], help="video ids left out of the pack")
    p.add_argument("--every", type=positive_int, default=1, help="keep every Nth labelled frame of each clip")
    p.add_argument("--crf", type=int, default=20, help="H.264 quality (lower: larger and closer)")
    return p


def run(args) -> int:
    from signseg.train.pack import write_pack
    from signseg.train.sources import load_sources
    data = load_sources(args.sources)
    held, seen = set(args.holdout), {}
    keep = []
    for g in data.groups:
        seen[g] = seen.get(g, -1) + 1
        keep.append(g not in held and seen[g] % args.every == 0)
    data = data.subset(keep)
    write_pack(data, args.output, crf=args.crf)
    size = args.output.stat().st_size
    print(f"signseg: wrote {args.output}: {len(data)} frames of {len(set(data.groups))} clips, "
          f"{size / 1e6:.1f} MB ({size / max(1, len(data)) / 1e3:.1f} KB a frame)", file=sys.stderr)
    return 0

"""``signseg mix``: a fine-tune mixed in weight space with the model it started from."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signseg.cli.args import share


def add_parser(sub, parents) -> argparse.ArgumentParser:
    p = sub.add_parser("mix", parents=parents,
                       help="mix a fine-tune's weights with its start's (keeps more of what the start did well)")
    p.add_argument("tuned", type=Path, help="the fine-tune's .weights.h5 (its .json card beside it)")
    p.add_argument("start", help="the model it started from: a shipped model's name or a .weights.h5")
    p.add_argument("--share", type=share, required=True, help="the fine-tune's share of each weight, 0 to 1")
    p.add_argument("-o", "--output", required=True, type=Path, help="model folder")
    p.add_argument("--name", default=None, help="file name of the weights and card (default: the fine-tune's)")
    return p


def run(args) -> int:
    from signseg.train.mix import mix
    card = mix(args.tuned, args.start, args.share, args.output, name=args.name)
    print(f"signseg: wrote {args.output / card.weights_file}: {args.share:g} of {args.tuned}, "
          f"{1 - args.share:g} of {args.start}; remake its int8 graph with pipelines/make_int8.py", file=sys.stderr)
    return 0

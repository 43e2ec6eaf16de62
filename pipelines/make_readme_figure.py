"""Draw docs/images/soup_overlay.png: the shipped model's masks on the bundled clip.

    python pipelines/make_readme_figure.py [--model snet-lite] [--out docs/images/soup_overlay.png]

Goes through the same path a user does: `signseg segment` into HDF5, then reads it back.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", type=Path, default=REPO / "examples/data/SOUP.mp4")
    p.add_argument("--model", default="snet-lite")
    p.add_argument("--out", type=Path, default=REPO / "docs/images/soup_overlay.png")
    p.add_argument("--frames", type=int, default=4)
    args = p.parse_args()

    from signseg.cli import main as cli
    from signseg.overlay import grid, overlay, write_png
    from signseg.store.mask_file import MaskFile
    from signseg.decode.video import read_video

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "masks.h5"
        if cli(["segment", str(args.clip), "-o", str(out), "--model", args.model, "-q"]) != 0:
            return 1
        with MaskFile(out) as f:
            masks = f.masks(args.clip.stem)[:]
    frames = read_video(args.clip)
    idx = np.linspace(0, len(frames) - 1, args.frames + 2).round().astype(int)[1:-1]
    picture = grid([overlay(frames[i], masks[i], alpha=0.55) for i in idx], columns=args.frames)
    write_png(args.out, picture)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

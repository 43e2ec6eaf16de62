"""``signseg overlay``: draw a mask file's masks on its video."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signseg.cli.args import positive_int


def add_parser(sub, parents) -> argparse.ArgumentParser:
    o = sub.add_parser("overlay", parents=parents,
                       help="draw a mask file's masks and part boxes on its video (mp4 and/or png grid)")
    o.add_argument("video", type=Path)
    o.add_argument("masks", type=Path, help="HDF5 mask file written by segment or corpus")
    o.add_argument("-o", "--output", type=Path, default=None, help="mp4 to write, every frame")
    o.add_argument("--png", type=Path, default=None, help="also (or only) a grid of evenly spaced frames")
    o.add_argument("--count", type=positive_int, default=8, help="frames in the --png grid (default 8)")
    o.add_argument("--columns", type=positive_int, default=4, help="columns of the --png grid (default 4)")
    o.add_argument("--video-id", default=None, help="the video's id in the file (default: from its name)")
    return o


def run(args) -> int:
    from signseg.overlay import overlay_grid, write_overlay_video, write_png
    if args.png is not None:
        write_png(args.png, overlay_grid(args.video, args.masks, count=args.count, columns=args.columns,
                                         video_id=args.video_id))
        print(f"signseg: wrote {args.png}", file=sys.stderr)
    if args.output is not None:
        n = write_overlay_video(args.video, args.masks, args.output, video_id=args.video_id)
        print(f"signseg: wrote {n} frames -> {args.output}", file=sys.stderr)
    return 0

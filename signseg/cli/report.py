"""``signseg report``: one HTML page (and/or JSON) showing which videos of a mask file went wrong."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signseg.cli.args import positive_int


def add_parser(sub, parents) -> argparse.ArgumentParser:
    r = sub.add_parser("report", parents=parents,
                       help="a corpus report: which videos' masks went wrong (one HTML page, opens from disk)")
    r.add_argument("masks", type=Path, help="mask file of a run (signseg segment / corpus)")
    r.add_argument("-o", "--output", type=Path, default=None, help="HTML page to write (default MASKS.report.html)")
    r.add_argument("--json", type=Path, default=None, help="also write every video's figures and flags as JSON")
    r.add_argument("--worst", type=int, default=12, help="flagged videos drawn as overlay thumbnails (default 12)")
    r.add_argument("--max-rows", type=positive_int, default=3000,
                   help="rows in the page's table: every flagged video, then unflagged ones up to this")
    for name, default, what in (("empty", 0.9, "empty: share of frames with nothing marked, at least"),
                                ("face", 0.5, "no_face: share of frames with a face, under"),
                                ("hands", 0.3, "no_hands: share of frames with a hand, under"),
                                ("area", 0.3, "background: mean share of the frame marked, over"),
                                ("hand-box", 6.0, "background: the larger hand's box over the face's (median), over"),
                                ("flicker", 0.3, "flicker: share of frame pairs whose area jumps by half, over")):
        r.add_argument(f"--{name}-limit", type=float, default=default, help=f"{what} (default {default})")
    return r


def run(args) -> int:
    from signseg.report import Limits
    from signseg.report.build import write_report
    if not args.masks.is_file():
        raise FileNotFoundError(f"{args.masks}: no such mask file")
    out = args.output or args.masks.with_suffix(".report.html")
    limits = Limits(empty=args.empty_limit, face=args.face_limit, hands=args.hands_limit, area=args.area_limit,
                    hand_box=args.hand_box_limit, flicker=args.flicker_limit)
    report = write_report(args.masks, out, args.json, worst_n=max(0, args.worst), limits=limits,
                          max_rows=args.max_rows)
    flagged = report.flagged()
    print(f"signseg: {len(report.videos)} video(s), {len(flagged)} flagged -> {out}", file=sys.stderr)
    for v in flagged[:10]:
        print(f"signseg: flagged {v.video_id}: " + "; ".join(f"{k} ({why})" for k, why in v.flags.items()),
              file=sys.stderr)
    for line in report.suggestions:
        print(f"signseg: suggestion: {line}", file=sys.stderr)
    return 0

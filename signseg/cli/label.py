"""``signseg label``: teacher labels (MediaPipe Holistic landmarks -> part masks)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signseg.cli.args import positive_int


def add_parser(sub, parents) -> argparse.ArgumentParser:
    lab = sub.add_parser("label", parents=parents,
                         help="teacher labels: MediaPipe Holistic landmarks -> part masks (HDF5)")
    lab.add_argument("videos", nargs="+", type=Path)
    lab.add_argument("-o", "--output", required=True, type=Path, help="labels HDF5 file (created or added to)")
    lab.add_argument("--teacher-python", default=None,
                     help="python of an environment with mediapipe==0.10.21 (default: $SIGNSEG_TEACHER_PYTHON, "
                          "else the one `signseg teacher setup` makes, made here on first use)")
    lab.add_argument("--cached-only", action="store_true",
                     help="use cached landmarks only: never run (or install) the teacher")
    lab.add_argument("--landmarks", type=Path, default=None, help="landmark cache folder (default OUTPUT.landmarks)")
    lab.add_argument("--max-side", type=positive_int, default=320, help="longest side of stored frames")
    lab.add_argument("--every", type=positive_int, default=1, help="keep every N-th labelled frame")
    lab.add_argument("--hands", choices=("skin", "hull"), default="skin",
                     help="how hands are drawn: skin-limited (the training labels, default) or each hand's "
                          "landmark hull widened by about a finger (docs/training.md)")
    lab.add_argument("-q", "--quiet", action="store_true")
    return lab


def run(args) -> int:
    from signseg.teacher.env import ensure_teacher
    from signseg.teacher.labelset import default_landmarks_dir, label_videos, missing_landmarks
    missing = missing_landmarks(args.videos, args.landmarks or default_landmarks_dir(args.output))
    # the teacher runs only for videos without cached landmarks; found, or made on first use
    teacher = None if args.cached_only or not missing else ensure_teacher(args.teacher_python, quiet=args.quiet)
    failures = label_videos(args.videos, args.output, teacher_python=teacher,
                            landmarks_dir=args.landmarks, max_side=args.max_side, every=args.every,
                            progress=not args.quiet, hands=args.hands)
    print(f"signseg: labelled {len(args.videos) - len(failures)} video(s) -> {args.output}"
          + (f", {len(failures)} FAILED" if failures else ""), file=sys.stderr)
    return 1 if failures else 0

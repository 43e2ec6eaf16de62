"""``signseg teacher``: the MediaPipe teacher's own environment."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub, parents) -> argparse.ArgumentParser:
    te = sub.add_parser("teacher", parents=parents, help="the MediaPipe teacher's own environment")
    te_sub = te.add_subparsers(dest="teacher_command", required=True)
    ts = te_sub.add_parser("setup", help="make (or check) the teacher venv under the cache; prints its python")
    ts.add_argument("--dir", type=Path, default=None, help="where (default $SIGNSEG_CACHE/teacher-venv)")
    ts.add_argument("--python", default=None, help="the Python 3.9-3.12 to make it with (default: this one)")
    return te


def run(args) -> int:
    from signseg.teacher.env import setup_teacher
    python = setup_teacher(args.dir, python=args.python)
    print(f"signseg: the MediaPipe teacher is ready: {python}", file=sys.stderr)
    print(python)
    return 0

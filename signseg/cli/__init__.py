"""The ``signseg`` command line (also ``python -m signseg``): one module per verb, each with
``add_parser`` (its options) and ``run`` (what it does); options several verbs share are in
:mod:`~signseg.cli.args`.

Exit status: 0 all went well, 1 some videos failed (each named on stderr, the rest were
written), 2 bad arguments or an input/output file that could not be used at all,
130 interrupted.
"""
from __future__ import annotations

import argparse
import os
import sys

from signseg._version import __version__
from signseg.cli import (adapt, arms, corpus, label, mix, models, overlay, pack, refiner, report, segment, teacher,
                         train)

#: The verbs, in the order ``signseg --help`` lists them.
VERBS = (segment, corpus, report, label, adapt, teacher, pack, train, mix, refiner, arms, overlay, models)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="signseg", description="Hand and face masks for sign-language video.")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show TensorFlow's start-up messages (hidden by default)")
    # every verb takes -v too, after its name; SUPPRESS keeps the top-level value when absent
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="show TensorFlow's start-up messages (hidden by default)")
    p.add_argument("--version", action="version", version=f"signseg {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        verb.add_parser(sub, [verbose]).set_defaults(func=verb.run)
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "overlay" and args.output is None and args.png is None:
        parser.error("overlay: give -o OUT.mp4, --png OUT.png, or both")
    from signseg.errors import SignsegError
    from signseg.quiet import filtered_stderr
    try:
        if args.verbose:
            return args.func(args)
        with filtered_stderr():
            return args.func(args)
    except SignsegError as exc:
        print(f"signseg: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:  # bad arguments; a full disk or unwritable output
        print(f"signseg: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # an optional backend that is not installed
        print(f"signseg: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("signseg: interrupted; complete videos are kept, rerun with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

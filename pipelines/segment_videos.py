"""Segment videos into an HDF5 mask file: the same as `signseg segment` (see --help)."""
import sys

from signseg.cli import main

if __name__ == "__main__":
    sys.exit(main(["segment", *sys.argv[1:]]))

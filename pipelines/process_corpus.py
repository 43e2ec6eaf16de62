#!/usr/bin/env python
"""Segment a whole corpus into one HDF5 mask file: a thin wrapper over ``signseg corpus``.

AUTSL example (train/ holds signerN_sampleM_color.mp4 and _depth.mp4)::

    python pipelines/process_corpus.py AUTSL/train -o autsl_train_masks.h5 \\
        --labels AUTSL/train_labels.csv --class-map AUTSL/SignList_ClassId_TR_EN.csv --n-jobs 2

A killed run continues with the same command plus ``--resume``. On a dask cluster add
``--backend dask --scheduler tcp://HOST:8786`` (the workers need signseg installed and the
corpus and the output's folder on a shared file system). All options: ``signseg corpus -h``.
"""
import sys

from signseg.cli import main

if __name__ == "__main__":
    sys.exit(main(["corpus", *sys.argv[1:]]))

"""Training sources by their kind: teacher labels files, training packs, folders of pairs, npy pairs.

Each loader lives with its data (:mod:`signseg.train.frames`, :mod:`signseg.train.pack`); this
module picks one per source and pools what they read.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from signseg.train.frames import LabelledFrames, load_labels_file, load_npy_pair, load_pairs_folder
from signseg.train.pack import is_pack, load_pack


def load_sources(sources: Sequence[str | os.PathLike]) -> LabelledFrames:
    """Load each source by its kind: ``.h5`` labels file or training pack, folder, or ``images.npy``."""
    data = LabelledFrames()
    for src in sources:
        p = Path(src)
        if p.is_dir():
            data.extend(load_pairs_folder(p))
        elif p.suffix == ".npy":
            data.extend(load_npy_pair(p, p.with_name(p.name.replace("images", "labels"))))
        elif p.suffix in (".h5", ".hdf5"):
            data.extend(load_pack(p) if is_pack(p) else load_labels_file(p))
        else:
            raise ValueError(f"{p}: unknown training source (expected a labels .h5, a folder or images.npy)")
    if not len(data):
        raise ValueError(f"no labelled frames in {', '.join(map(str, sources))}")
    return data

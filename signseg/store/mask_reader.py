"""Read mask files back for recognizers: ``MaskReader`` lists and filters videos by the
``/index`` table and hands out lazy per-video views (nothing is read until sliced).

Framework adapters build on it: :func:`signseg.store.datasets.to_tf_dataset` and
:func:`signseg.store.datasets.to_torch_dataset`.
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import h5py
import numpy as np

from signseg.labels import PART_NAMES
from signseg.store.mask_file import COMPLETE, MaskFile


@dataclass(frozen=True)
class VideoMasks:
    """One complete video of a mask file: lazy h5py datasets, sliced to read.

    ``masks`` (T, H, W) uint8; ``boxes`` (T, 3, 4) float32 or None (files made without
    ``--parts``); ``crops`` ``{"face"|"left_hand"|"right_hand": (T, S, S, 3) uint8}``, empty
    without ``--crops``; ``signals`` (T,) per-frame signals (docs/format.md: area, confidence,
    blobs and, with parts, each part's presence and confidence) or None (files written before
    signals were).
    """

    video_id: str
    group: h5py.Group

    @property
    def masks(self) -> h5py.Dataset:
        return self.group["masks"]

    @property
    def boxes(self) -> h5py.Dataset | None:
        return self.group.get("boxes")

    @property
    def signals(self) -> h5py.Dataset | None:
        return self.group.get("signals")

    def presence(self) -> np.ndarray:
        """(T, 3) float32: each part's confidence in each frame (face, left hand, right hand),
        0 where the part was not found; a recognizer can skip frames missing a hand by it."""
        s = self.signals
        if s is None or f"{PART_NAMES[0]}_found" not in (s.dtype.names or ()):
            raise ValueError(f"{self.video_id}: no part signals stored (segment with --parts; "
                             "files written before signals were have none)")
        rows = s[:]
        return np.stack([np.where(rows[f"{p}_found"] > 0, np.nan_to_num(rows[f"{p}_confidence"]), 0.0)
                         for p in PART_NAMES], axis=1).astype(np.float32)

    @property
    def crops(self) -> dict[str, h5py.Dataset]:
        crops = self.group.get("crops")
        return {} if crops is None else {k: crops[k] for k in PART_NAMES if k in crops}

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self.group.attrs)

    @property
    def label(self) -> int | None:
        return None if "label" not in self.group.attrs else int(self.group.attrs["label"])

    @property
    def label_name(self) -> str | None:
        return self.group.attrs.get("label_name")

    @property
    def signer(self) -> int | None:
        return None if "signer" not in self.group.attrs else int(self.group.attrs["signer"])

    @property
    def fps(self) -> float:
        return float(self.group.attrs["fps"])

    def __len__(self) -> int:
        return int(self.masks.shape[0])


def _in_split(video_id: str, signer: int, split: str, val_fraction: float, seed: int) -> bool:
    """Deterministic split by signer (by video where the signer is unknown): a signer is
    never on both sides."""
    key = f"signer:{signer}" if signer >= 0 else f"video:{video_id}"
    u = (zlib.crc32(f"{seed}:{key}".encode()) & 0xFFFFFFFF) / 2 ** 32
    return (u < val_fraction) == (split == "val")


class MaskReader:
    """Read-only access to the complete videos of a mask file written by ``segment`` or ``corpus``.

    Filters, chosen on ``/index`` without opening a group per video:

    - ``label`` / ``signer``: an int or a collection of ints;
    - ``videos``: a collection of ids;
    - ``split``: ``"train"`` or ``"val"``, a deterministic split by signer (by video where
      the signer is unknown) holding out ``val_fraction`` of them; ``split_seed`` picks another.

    Files whose ``/videos/<id>`` entries are HDF5 external links to other mask files (e.g.
    shards) read the same way.
    """

    def __init__(self, path: str | os.PathLike, *, label=None, signer=None, videos: Iterable[str] | None = None,
                 split: str | None = None, val_fraction: float = 0.2, split_seed: int = 0):
        if split not in (None, "train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        self._file = MaskFile(path, "r")
        index = self._file.index()
        if len(index) == 0:  # a file from before /index, or one made of links: list the groups
            ids = self._file.video_ids()
            index = np.zeros(len(ids), index.dtype)
            index["video_id"], index["status"] = ids, COMPLETE
            index["label"] = [self._file.attrs(v).get("label", -1) for v in ids]
            index["signer"] = [self._file.attrs(v).get("signer", -1) for v in ids]
        keep = index["status"] == COMPLETE
        for field, wanted in (("label", label), ("signer", signer)):
            if wanted is not None:
                keep &= np.isin(index[field], np.atleast_1d(wanted))
        if videos is not None:
            keep &= np.isin(index["video_id"].astype(str), list(videos))
        if split is not None:
            keep &= np.array([_in_split(str(v), int(s), split, val_fraction, split_seed)
                              for v, s in zip(index["video_id"], index["signer"])], bool)
        self.index = index[keep]
        self._ids = sorted(str(v) for v in self.index["video_id"])

    @property
    def path(self):
        return self._file.path

    def keys(self) -> list[str]:
        return list(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, video_id: str) -> bool:
        return video_id in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __getitem__(self, video_id: str) -> VideoMasks:
        if video_id not in self._ids:
            raise KeyError(f"{self._file.path}: no complete video {video_id!r} (among those selected)")
        self._file.masks(video_id)  # KeyError unless complete
        return VideoMasks(video_id, self._file.h5[f"videos/{video_id}"])

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "MaskReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

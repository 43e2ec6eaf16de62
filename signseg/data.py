"""Read mask files back for recognizers: ``MaskReader`` lists and filters videos by the
``/index`` table and hands out lazy per-video views (nothing is read until sliced)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator

import h5py
import numpy as np

from signseg.store import COMPLETE, MaskFile


@dataclass(frozen=True)
class VideoMasks:
    """One complete video of a mask file. ``masks`` is the lazy (T, H, W) h5py dataset."""

    video_id: str
    masks: h5py.Dataset
    attrs: dict[str, Any]

    @property
    def label(self) -> int | None:
        return None if "label" not in self.attrs else int(self.attrs["label"])

    @property
    def label_name(self) -> str | None:
        return self.attrs.get("label_name")

    @property
    def signer(self) -> int | None:
        return None if "signer" not in self.attrs else int(self.attrs["signer"])

    @property
    def fps(self) -> float:
        return float(self.attrs["fps"])

    def __len__(self) -> int:
        return int(self.masks.shape[0])


class MaskReader:
    """Read-only access to the complete videos of a mask file written by ``segment`` or ``corpus``.

    ``label`` / ``signer`` (an int or a collection of ints) keep only matching videos; the
    choice is made on ``/index``, without opening a group per video.
    """

    def __init__(self, path: str | os.PathLike, *, label=None, signer=None):
        self._file = MaskFile(path, "r")
        index = self._file.index()
        if len(index) == 0:  # a file from before /index: list the groups instead
            ids = self._file.video_ids()
            index = np.zeros(len(ids), index.dtype)
            index["video_id"], index["status"] = ids, COMPLETE
            index["label"] = [self._file.attrs(v).get("label", -1) for v in ids]
            index["signer"] = [self._file.attrs(v).get("signer", -1) for v in ids]
        keep = index["status"] == COMPLETE
        for field, wanted in (("label", label), ("signer", signer)):
            if wanted is not None:
                keep &= np.isin(index[field], np.atleast_1d(wanted))
        self.index = index[keep]
        self._ids = sorted(str(v) for v in self.index["video_id"])

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
        return VideoMasks(video_id, self._file.masks(video_id), self._file.attrs(video_id))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "MaskReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Append one video's masks (and parts, boxes, crops) to a mask file, chunk by chunk."""
from __future__ import annotations

import contextlib
import zlib
from concurrent.futures import Executor
from typing import Any, ContextManager, Protocol

import h5py
import numpy as np

from signseg.decode.prefetch import InOrder
from signseg.store.chunking import CHUNK_BYTES, COMPRESSION, ROOM_MARGIN, chunk_frames

try:  # h5py's global lock: write_direct_chunk takes it itself only from h5py 3.15 (h5py pull 2764);
    from h5py._objects import phil as _H5PY_LOCK  # before, two threads' files could corrupt each other
except ImportError:  # pragma: no cover - a future h5py without it locks inside
    _H5PY_LOCK = contextlib.nullcontext()


def _deflate(block: np.ndarray) -> bytes:
    """One chunk as HDF5's gzip filter stores it: a zlib stream (zlib releases the GIL)."""
    return zlib.compress(block.tobytes(), COMPRESSION["compression_opts"])


class VideoStore(Protocol):
    """What a :class:`VideoWriter` writes into (a :class:`~signseg.store.mask_file.MaskFile`):
    a video's group begun, room checked, writes made under the file's lock, the video finished."""

    def _begin(self, video_id: str, overwrite: bool) -> h5py.Group: ...

    def ensure_room(self, nbytes: int) -> None: ...

    def _writing(self) -> ContextManager: ...

    def _finish(self, group: h5py.Group, attrs: dict[str, Any]) -> None: ...


class VideoWriter:
    """Appends one video's mask batches to a mask file (:class:`VideoStore`); see
    :meth:`signseg.store.mask_file.MaskFile.write_video`.

    With ``deflate`` (an executor of threads), whole chunks of masks are compressed on its
    threads and written as they are (``write_direct_chunk``; the other per-frame datasets
    through h5py): h5py runs one call at a time, so compressing inside it would make the
    writes of every video wait in line; the file is the same as h5py's own gzip makes it.
    """

    #: Compressed chunks that may wait to be written (memory bound).
    AHEAD = 8

    def __init__(self, store: VideoStore, video_id: str, overwrite: bool = False, deflate: Executor | None = None):
        self.store = store
        self.video_id = video_id
        self.group = store._begin(video_id, overwrite)
        self.ds: h5py.Dataset | None = None
        self.extras: dict[str, h5py.Dataset] = {}
        self.n = 0
        self.deflate = deflate
        self._tail: np.ndarray | None = None  # masks not yet a whole chunk (direct writes)
        self._chunks = InOrder(self.AHEAD)  # first frame of each chunk, with its compressed bytes to come

    def append(self, batch: np.ndarray | dict[str, np.ndarray], extras: dict[str, np.ndarray] | None = None) -> None:
        """Add (n, H, W) uint8 masks and, optionally, per-frame arrays of the same n frames
        (``{"boxes": (n, 3, 4) float32, "crops/face": (n, S, S, 3) uint8, ...}``). ``batch`` may
        also be one dict holding ``masks`` and the extras, as a post-processing step makes it."""
        if isinstance(batch, dict):
            batch, extras = batch["masks"], {k: v for k, v in batch.items() if k != "masks"}
        batch = np.asarray(batch)
        if batch.dtype != np.uint8 or batch.ndim != 3:
            raise ValueError(f"mask batches must be (n, H, W) uint8, got {batch.dtype} {batch.shape}")
        if self.ds is not None and batch.shape[1:] != self.ds.shape[1:]:
            raise ValueError(f"mask size changed mid-video: {batch.shape[1:]} after {self.ds.shape[1:]}")
        extras = {k: np.asarray(v) for k, v in (extras or {}).items()}
        for name, arr in extras.items():
            if len(arr) != len(batch):
                raise ValueError(f"{name}: {len(arr)} rows for {len(batch)} masks")
        if self.ds is not None and set(extras) != set(self.extras):
            raise ValueError(f"batch has datasets {sorted(extras)}, the video has {sorted(self.extras)}")
        self.store.ensure_room(batch.nbytes + sum(a.nbytes for a in extras.values()) + ROOM_MARGIN)
        with self.store._writing():
            if self.ds is None:
                self.ds = self._create("masks", batch)
                for name, arr in extras.items():
                    self.extras[name] = self._create(name, arr)
            if self.deflate is not None:
                self._append_chunks(batch)
                rest = [(self.extras[k], v) for k, v in extras.items()]
            else:
                rest = [(self.ds, batch), *((self.extras[k], v) for k, v in extras.items())]
            for ds, arr in rest:  # per-frame extras (signals, boxes, crops): h5py's own writes
                ds.resize(self.n + len(arr), axis=0)
                ds[self.n:self.n + len(arr)] = arr
        self.n += len(batch)

    def _append_chunks(self, batch: np.ndarray) -> None:
        """Queue the whole chunks ``batch`` completes for compression; write finished ones."""
        per_chunk = self.ds.chunks[0]
        self.ds.resize(self.n + len(batch), axis=0)
        tail = batch if self._tail is None else np.concatenate([self._tail, batch])
        first = self.n - (0 if self._tail is None else len(self._tail))
        whole = len(tail) - len(tail) % per_chunk
        for start in range(0, whole, per_chunk):
            self._chunks.push(first + start, self.deflate.submit(_deflate, tail[start:start + per_chunk]))
        self._tail = tail[whole:] if whole < len(tail) else None
        self._write_chunks()

    def _write_chunks(self, everything: bool = False) -> None:
        """Write the compressed chunks that are ready, in order (``everything``: all)."""
        for offset, data in self._chunks.ready(everything):
            with _H5PY_LOCK:
                self.ds.id.write_direct_chunk((offset, 0, 0), data)

    def _create(self, name: str, first: np.ndarray) -> h5py.Dataset:
        """A growable, gzip-compressed per-frame dataset, chunked along frames (chunks <= 1 MiB)."""
        shape = first.shape[1:]
        frame_bytes = max(1, int(np.prod(shape)) * first.dtype.itemsize)
        frames = chunk_frames(1, frame_bytes) if first.dtype == np.uint8 else min(1024, max(1, CHUNK_BYTES // frame_bytes))
        return self.group.create_dataset(name, shape=(0, *shape), maxshape=(None, *shape), dtype=first.dtype,
                                         chunks=(frames, *shape), **COMPRESSION)

    def commit(self, attrs: dict[str, Any]) -> int:
        """Write the attrs and mark the video complete; returns its frames."""
        if self.ds is None or self.n == 0:
            raise ValueError("no masks to write (0 frames)")
        if self.deflate is not None:
            with self.store._writing():
                if self._tail is not None:  # the last chunk, padded (HDF5 ignores rows past the end)
                    pad = np.zeros((self.ds.chunks[0] - len(self._tail), *self._tail.shape[1:]), np.uint8)
                    self._chunks.push(self.n - len(self._tail),
                                      self.deflate.submit(_deflate, np.concatenate([self._tail, pad])))
                    self._tail = None
                self._write_chunks(everything=True)
        self.store._finish(self.group, attrs)
        return self.n

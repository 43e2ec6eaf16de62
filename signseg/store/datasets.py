"""Feed mask files to recognizers: fixed-length clips of masks, crops or boxes, with labels.

:class:`ClipDataset` is the numpy core (``len``, ``ds[i] -> (x, label)``);
:func:`to_tf_dataset` and :func:`to_torch_dataset` wrap it for tf.data and PyTorch.
A video of T frames becomes ``frames`` frames by uniform sampling (T >= frames) or by zero
padding at the end (T < frames).
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import cv2
import numpy as np

from signseg.labels import PART_NAMES
from signseg.store.mask_reader import MaskReader

#: What a clip can be made of: the (part) masks, one part's RGB crops, the part boxes, or each
#: part's per-frame presence (its confidence, 0 where not found).
SOURCES = ("masks", "boxes", "presence", *(f"{p}_crops" for p in PART_NAMES))


def sample_indices(n: int, frames: int) -> np.ndarray:
    """``frames`` frame numbers spread evenly over ``n`` frames; -1 marks padding (n < frames)."""
    if n <= 0:
        raise ValueError("a video with no frames cannot be sampled")
    if n >= frames:
        return np.linspace(0, n - 1, frames).round().astype(np.int64)
    return np.concatenate([np.arange(n), np.full(frames - n, -1)])


def _part_of(source: str) -> str:
    """``"left_hand_crops"`` -> ``"left_hand"``."""
    return source[:-len("_crops")]


def _take(ds, frames: np.ndarray) -> np.ndarray:
    """Frames of a dataset, one read each: 10-20x faster than h5py's fancy indexing
    (``ds[[i, j, ...]]``) on chunked, compressed data (bench/readers.py)."""
    return np.stack([ds[int(i)] for i in frames])


class ClipDataset:
    """Fixed-length clips per video of a mask file, with their labels.

    ``source`` is one of :data:`SOURCES`, or a sequence of them (then a clip is a dict by
    source name):

    - ``"masks"`` (frames, H, W) uint8, resized to ``size`` (H, W) by nearest neighbour when
      given (needed when videos differ in size);
    - ``"face_crops"``, ``"left_hand_crops"``, ``"right_hand_crops"`` (frames, S, S, 3) uint8,
      from ``/videos/<id>/crops/<part>``;
    - ``"boxes"`` (frames, 3, 4) float32, scaled to 0..1 by the frame size, 0 where a part is
      absent;
    - ``"presence"`` (frames, 3) float32: face, left and right hand's confidence in each frame,
      0 where the part was not found (and in padding): frames missing a hand can be masked out.

    Filters (``label``, ``signer``, ``videos``, ``split``, ...) are :class:`MaskReader`'s.
    The file is opened lazily in each process, so the object can go to DataLoader workers.
    """

    def __init__(self, path: str | os.PathLike, *, source: str | Sequence[str] = "masks", frames: int = 16,
                 size: tuple[int, int] | None = None, **filters: Any):
        self.sources = (source,) if isinstance(source, str) else tuple(source)
        for s in self.sources:
            if s not in SOURCES:
                raise ValueError(f"source must be among {', '.join(SOURCES)}, got {s!r}")
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        self.path, self.frames, self.size = os.fspath(path), frames, size
        with MaskReader(path, **filters) as reader:
            self.video_ids = reader.keys()
            if not self.video_ids:
                raise ValueError(f"{path}: no complete videos match {filters or 'the file'}")
            rows = {str(r["video_id"]): int(r["label"]) for r in reader.index}
            self.labels = np.array([rows[v] for v in self.video_ids], np.int64)
            first = reader[self.video_ids[0]]
            self.shapes = {s: (frames, *self._frame_shape(first, s)) for s in self.sources}
        self._reader: MaskReader | None = None
        self._pid: int | None = None

    def _frame_shape(self, item, source: str) -> tuple[int, ...]:
        if source == "masks":
            return tuple(self.size) if self.size is not None else item.masks.shape[1:]
        if source == "boxes":
            if item.boxes is None:
                raise ValueError(f"{self.path}: no boxes stored (segment with --parts)")
            return (3, 4)
        if source == "presence":
            item.presence()  # raises, naming the video, where there are no part signals
            return (len(PART_NAMES),)
        part = _part_of(source)
        if part not in item.crops:
            raise ValueError(f"{self.path}: no {source} stored (segment with --crops SIZE)")
        return item.crops[part].shape[1:]

    @staticmethod
    def dtype_of(source: str) -> np.dtype:
        return np.dtype(np.float32 if source in ("boxes", "presence") else np.uint8)

    def _open(self) -> MaskReader:
        if self._reader is None or self._pid != os.getpid():  # h5py handles must not cross a fork
            self._reader = MaskReader(self.path, videos=self.video_ids)
            self._pid = os.getpid()
        return self._reader

    def __len__(self) -> int:
        return len(self.video_ids)

    def __getitem__(self, i: int) -> tuple[np.ndarray | dict[str, np.ndarray], int]:
        """Clip ``i`` and its label (-1 where unknown)."""
        item = self._open()[self.video_ids[i]]
        picks = sample_indices(len(item), self.frames)
        wanted, where = np.unique(picks[picks >= 0], return_inverse=True)
        clip = {s: self._read(item, s, wanted, where) for s in self.sources}
        return (clip if len(self.sources) > 1 else clip[self.sources[0]]), int(self.labels[i])

    def _read(self, item, source: str, wanted: np.ndarray, where: np.ndarray) -> np.ndarray:
        if source == "masks":
            data = _take(item.masks, wanted)[where]
            if self.size is not None and data.shape[1:] != tuple(self.size):
                data = np.stack([cv2.resize(m, (self.size[1], self.size[0]), interpolation=cv2.INTER_NEAREST)
                                 for m in data])
        elif source == "boxes":
            h, w = item.masks.shape[1:]
            data = _take(item.boxes, wanted)[where] / np.array([w, h, w, h], np.float32)
            data = np.nan_to_num(data, nan=0.0)
        elif source == "presence":
            data = item.presence()[wanted][where]
        else:
            data = _take(item.crops[_part_of(source)], wanted)[where]
        out = np.zeros(self.shapes[source], self.dtype_of(source))
        out[:len(data)] = data
        return out

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_reader"] = state["_pid"] = None
        return state


def to_tf_dataset(path: str | os.PathLike, *, source: str | Sequence[str] = "masks", frames: int = 16,
                  size: tuple[int, int] | None = None, batch_size: int = 8, shuffle: bool = True,
                  seed: int | None = None, repeat: bool = False, **filters: Any):
    """A ``tf.data.Dataset`` of (clips, labels) batches, clips as in :class:`ClipDataset`
    (a dict by source name when ``source`` is a sequence), labels int64. Videos are shuffled
    each epoch (``shuffle``), read in parallel and prefetched."""
    import tensorflow as tf
    clips = ClipDataset(path, source=source, frames=frames, size=size, **filters)
    names = clips.sources

    def load(i):
        x, y = clips[int(i)]
        x = x if isinstance(x, dict) else {names[0]: x}
        return (*(x[n] for n in names), np.int64(y))

    def read(i):
        out = tf.numpy_function(load, [i], [*(tf.as_dtype(clips.dtype_of(n)) for n in names), tf.int64],
                                stateful=False)
        for t, n in zip(out, names):
            t.set_shape(clips.shapes[n])
        out[-1].set_shape(())
        x = dict(zip(names, out[:-1])) if len(names) > 1 else out[0]
        return x, out[-1]

    ds = tf.data.Dataset.range(len(clips))
    if shuffle:
        ds = ds.shuffle(len(clips), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.map(read, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def to_torch_dataset(path: str | os.PathLike, **kw: Any):
    """A ``torch.utils.data.Dataset`` of (clip, label) pairs (numpy; DataLoader collates them
    into tensors); arguments as :class:`ClipDataset`. Needs PyTorch (``pip install signseg[torch]``)."""
    cls = globals().get("TorchClipDataset") or __getattr__("TorchClipDataset")
    return cls(path, **kw)


def __getattr__(name: str):
    # TorchClipDataset is built on first use, so importing signseg never imports torch; it is
    # a module attribute so DataLoader workers can unpickle it
    if name == "TorchClipDataset":
        try:
            from torch.utils.data import Dataset
        except ImportError as exc:
            raise ImportError("the PyTorch dataset needs PyTorch: pip install 'signseg[torch]'") from exc
        cls = type("TorchClipDataset", (ClipDataset, Dataset), {
            "__module__": __name__, "__doc__": "A :class:`ClipDataset` that is a ``torch.utils.data.Dataset``."})
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

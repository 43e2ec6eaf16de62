"""The HDF5 mask file: one group per video, versioned, safe to resume (docs/format.md).

Layout::

    /                      attrs: format_version, signseg_version, created_by = "signseg"
    /videos/<video_id>/masks   uint8 (T, H, W), chunked + gzip, values in signseg.labels
    /videos/<video_id>/boxes   float32 (T, 3, 4) face / left / right boxes (with --parts)
    /videos/<video_id>/crops/{face,left_hand,right_hand}  uint8 (T, S, S, 3) (with --crops S)
    /videos/<video_id>         attrs: fps, n_frames, source, model, weights_sha256, threshold,
                               mirror, max_blobs, signseg_version, height, width, stride,
                               complete (written last)
    /failures/<video_id>       attrs: error, source
    /index                     one row per video: video_id, status, n_frames, label, signer

Only a group with ``complete == True`` holds a whole video; anything else is the trace of an
interrupted run and is rewritten by the next one.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Iterable

import h5py
import numpy as np

try:
    import resource  # POSIX only: the file size limit (RLIMIT_FSIZE)
except ImportError:  # pragma: no cover - Windows
    resource = None

from signseg._version import __version__
from signseg.errors import StoreError
from signseg.store.chunking import ROOM_MARGIN
from signseg.store.video_writer import VideoWriter

FORMAT_VERSION = 1

#: ``/index`` status values.
PENDING, COMPLETE, FAILED = 0, 1, 2
INDEX_DTYPE = np.dtype([("video_id", h5py.string_dtype()), ("status", "u1"), ("n_frames", "i8"),
                        ("label", "i4"), ("signer", "i4")])


def check_video_id(video_id: str) -> str:
    """A video id must be a usable HDF5 group name."""
    if not video_id or "/" in video_id or video_id in (".", "..") or not video_id.isprintable():
        raise ValueError(f"invalid video id {video_id!r}: must be non-empty, printable, without '/'")
    return video_id


class MaskFile:
    """Read or write a signseg HDF5 mask file.

    ``mode``: ``"r"`` read, ``"a"`` create or append, ``"w"`` create anew (truncates).
    Opening checks that the file is HDF5, is signseg's, and is not from a newer format.
    """

    def __init__(self, path: str | os.PathLike, mode: str = "r"):
        if mode not in ("r", "a", "w"):
            raise ValueError(f"mode must be 'r', 'a' or 'w', got {mode!r}")
        self.path = Path(path)
        exists = self.path.exists()
        if mode == "r" and not exists:
            raise StoreError(self.path, "mask file does not exist")
        if exists and mode != "w":
            self._check_existing()
        if mode != "r" and not self.path.parent.exists():
            raise StoreError(self.path, f"output folder {self.path.parent} does not exist")
        try:
            self.h5 = h5py.File(self.path, mode)
        except BlockingIOError as exc:
            raise StoreError(self.path, "file is open for writing by another process (HDF5 lock)") from exc
        except OSError as exc:
            raise StoreError(self.path, f"cannot open for {'reading' if mode == 'r' else 'writing'}: {exc}") from exc
        self._rows: dict[str, int] | None = None  # video_id -> /index row, loaded on first use
        if mode != "r":
            if "format_version" not in self.h5.attrs:
                self.h5.attrs["format_version"] = FORMAT_VERSION
                self.h5.attrs["signseg_version"] = __version__
                self.h5.attrs["created_by"] = "signseg"
                self.h5.require_group("videos")
            self.reconcile_index()
            self.h5.flush()

    def _check_existing(self) -> None:
        if self.path.stat().st_size == 0 or not h5py.is_hdf5(self.path):
            raise StoreError(self.path, "not an HDF5 file")
        try:
            with h5py.File(self.path, "r") as f:
                version = f.attrs.get("format_version")
        except BlockingIOError as exc:
            raise StoreError(self.path, "file is open for writing by another process (HDF5 lock)") from exc
        except OSError as exc:
            raise StoreError(self.path, f"HDF5 file cannot be read: {exc}") from exc
        if version is None:
            raise StoreError(self.path, "HDF5 file was not written by signseg (no format_version attribute)")
        if int(version) > FORMAT_VERSION:
            raise StoreError(self.path, f"written in format_version {int(version)}, newer than this "
                                        f"signseg ({__version__}) reads ({FORMAT_VERSION}): upgrade signseg")

    # ----------------------------------------------------------------- reading
    @property
    def format_version(self) -> int:
        return int(self.h5.attrs["format_version"])

    def video_ids(self, complete_only: bool = True) -> list[str]:
        """Ids of the videos in the file (by default only the complete ones), sorted."""
        videos = self.h5.get("videos", {})
        return sorted(k for k in videos if not complete_only or self.is_complete(k))

    def is_complete(self, video_id: str) -> bool:
        g = self.h5.get(f"videos/{video_id}")
        return g is not None and bool(g.attrs.get("complete", False))

    def masks(self, video_id: str) -> h5py.Dataset:
        """The (T, H, W) uint8 dataset of a complete video (lazy; slice it to read)."""
        if not self.is_complete(video_id):
            state = "incomplete" if f"videos/{video_id}" in self.h5 else "not in the file"
            raise KeyError(f"{self.path}: video {video_id!r} is {state}")
        return self.h5[f"videos/{video_id}/masks"]

    def attrs(self, video_id: str) -> dict[str, Any]:
        return dict(self.h5[f"videos/{video_id}"].attrs)

    def index(self) -> np.ndarray:
        """The ``/index`` table as a structured array (video_id, status, n_frames, label, signer).

        One row per video the file knows of, complete, failed or pending; label and signer
        are -1 where unknown. Reading it does not touch the per-video groups.
        """
        if "index" not in self.h5:
            return np.zeros(0, INDEX_DTYPE)
        rows = self.h5["index"][()]
        out = np.zeros(len(rows), INDEX_DTYPE)
        for name in INDEX_DTYPE.names:
            out[name] = rows[name]
        out["video_id"] = [v.decode() if isinstance(v, bytes) else v for v in rows["video_id"]]
        return out

    def failures(self) -> dict[str, str]:
        """``{video_id: error message}`` for videos recorded as failed."""
        return {k: str(g.attrs.get("error", "")) for k, g in self.h5.get("failures", {}).items()}

    # ----------------------------------------------------------------- index
    def _index_rows(self) -> dict[str, int]:
        if self._rows is None:
            if "index" not in self.h5:
                self.h5.create_dataset("index", shape=(0,), maxshape=(None,), dtype=INDEX_DTYPE, chunks=(1024,))
            ids = self.h5["index"].fields("video_id")[()]
            self._rows = {(v.decode() if isinstance(v, bytes) else v): i for i, v in enumerate(ids)}
        return self._rows

    def _set_index(self, video_id: str, status: int, n_frames: int = 0, label: Any = None,
                   signer: Any = None) -> None:
        rows = self._index_rows()
        ds = self.h5["index"]
        if video_id not in rows:
            rows[video_id] = len(ds)
            ds.resize(len(ds) + 1, axis=0)
        ds[rows[video_id]] = (video_id, status, n_frames, -1 if label is None else int(label),
                              -1 if signer is None else int(signer))

    def _truth(self, video_id: str) -> tuple:
        """(status, n_frames, label, signer) of a video as its groups say."""
        g = self.h5.get(f"videos/{video_id}")
        if g is not None and bool(g.attrs.get("complete", False)):
            return COMPLETE, int(g.attrs.get("n_frames", 0)), g.attrs.get("label"), g.attrs.get("signer")
        f = self.h5.get(f"failures/{video_id}")
        if f is not None:
            return FAILED, 0, f.attrs.get("label"), f.attrs.get("signer")
        return PENDING, 0, None, None

    def reconcile_index(self) -> int:
        """Make ``/index`` agree with the groups (after a killed run); return rows fixed.

        Groups are the truth: ``complete`` is set before the index row is, so a kill between
        the two leaves a row behind, never ahead. Rows of complete videos are trusted.
        """
        rows = self._index_rows()
        table = self.h5["index"][()]
        videos = set(self.h5.get("videos", {}))
        names = videos | set(self.h5.get("failures", {})) | set(rows)
        fixed = 0
        for vid in sorted(names):
            row = table[rows[vid]] if vid in rows else None
            if row is not None and row["status"] == COMPLETE and vid in videos:
                continue
            truth = self._truth(vid)
            if row is None or (row["status"], row["n_frames"]) != truth[:2]:
                self._set_index(vid, *truth)
                fixed += 1
        return fixed

    # ----------------------------------------------------------------- writing
    @contextlib.contextmanager
    def _writing(self):
        """Turn an HDF5 write error (disk full, file size limit, I/O error) into a StoreError:
        a problem with the output stops the run, unlike a bad input video."""
        try:
            yield
        except (OSError, RuntimeError) as exc:  # h5py reports failed flushes as RuntimeError
            raise StoreError(self.path, f"cannot write ({exc}); is the disk full? Complete videos are kept: "
                                        f"free space and rerun with --resume") from exc

    def _begin(self, video_id: str, overwrite: bool) -> h5py.Group:
        """A fresh, incomplete ``/videos/<video_id>`` group (an old incomplete one is dropped)."""
        check_video_id(video_id)
        name = f"videos/{video_id}"
        if self.is_complete(video_id) and not overwrite:
            raise StoreError(self.path, f"video {video_id!r} is already complete in this file")
        with self._writing():
            if name in self.h5:
                self._set_index(video_id, PENDING)
                del self.h5[name]
            if f"failures/{video_id}" in self.h5:
                del self.h5[f"failures/{video_id}"]
            group = self.h5.create_group(name)
            group.attrs["complete"] = False
        return group

    def _finish(self, group: h5py.Group, attrs: dict[str, Any]) -> None:
        """Write the attrs, flush, then mark complete and index it: the commit point."""
        ds = group["masks"]
        with self._writing():
            for key, value in {**attrs, "n_frames": ds.shape[0], "height": ds.shape[1], "width": ds.shape[2],
                               "signseg_version": __version__}.items():
                if value is not None:
                    group.attrs[key] = value
            self.h5.flush()
            group.attrs["complete"] = True
            self.h5.flush()
            self._set_index(group.name.rsplit("/", 1)[1], COMPLETE, ds.shape[0], attrs.get("label"),
                            attrs.get("signer"))
            self.h5.flush()

    @contextlib.contextmanager
    def _rollback(self, video_id: str):
        """On a failure, drop the video's partial group and re-raise. A failure of the file
        itself (StoreError) is left alone: touching the file again can only make it worse."""
        try:
            yield
        except StoreError:
            raise
        except BaseException:
            self._discard(video_id)
            raise

    def _discard(self, video_id: str) -> None:
        """Drop a partial group after a failure; best effort (the disk may be full)."""
        try:
            if f"videos/{video_id}" in self.h5:
                del self.h5[f"videos/{video_id}"]
            self.h5.flush()
        except (OSError, RuntimeError):
            pass  # left incomplete: readers ignore it and --resume rewrites it

    def write_video(self, video_id: str, masks: Iterable[np.ndarray | dict[str, np.ndarray]],
                    attrs: dict[str, Any], overwrite: bool = False) -> int:
        """Stream (n, H, W) uint8 mask batches into ``/videos/<video_id>``; return frames written.

        A batch may also be a dict of datasets to append (``masks`` plus e.g. ``boxes``,
        ``crops/face``), as :class:`signseg.postprocess.steps.Postprocess` makes them.

        ``complete = True`` is set last, after a flush, so an interrupted write is never
        mistaken for a whole video. A failure removes the partial group and re-raises.
        Attr values of None are left out (e.g. an unknown ``label``).
        """
        writer = self.video_writer(video_id, overwrite)
        with self._rollback(video_id):
            for batch in masks:
                writer.append(batch)
            return writer.commit(attrs)

    def video_writer(self, video_id: str, overwrite: bool = False, deflate: Executor | None = None
                     ) -> VideoWriter:
        """A push-style writer for one video: ``append`` batches, then ``commit``. With
        ``deflate`` (a thread pool), mask chunks are compressed there, in parallel, and written
        whole (see :class:`VideoWriter`)."""
        return VideoWriter(self, video_id, overwrite, deflate)

    def ensure_room(self, nbytes: int) -> None:
        """Raise StoreError unless ``nbytes`` more can be written to this file.

        Checked before each video is added: an HDF5 file that hits a full disk mid-flush can
        be left unreadable, so the run stops while the file is still whole.
        """
        room = shutil.disk_usage(self.path.parent).free
        if resource is not None:
            limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
            if limit != resource.RLIM_INFINITY:
                room = min(room, limit - self.path.stat().st_size)
        if room < nbytes:
            raise StoreError(self.path, f"cannot write: no room for the next video ({nbytes} bytes needed, {room} "
                                        f"left); is the disk full? Complete videos are kept: free space and "
                                        f"rerun with --resume")

    def adopt(self, shard: str | os.PathLike, video_id: str, extra_attrs: dict[str, Any] | None = None,
              overwrite: bool = False) -> int:
        """Copy a complete video from another mask file (a worker's shard) into this one.

        The compressed chunks are copied as they are; the same commit protocol as
        :meth:`write_video` applies. Returns the frames adopted.
        """
        with MaskFile(shard, "r") as src:
            masks = src.masks(video_id)  # KeyError unless complete there
            attrs = {k: v for k, v in src.attrs(video_id).items() if k != "complete"}
            self.ensure_room(2 * Path(shard).stat().st_size + ROOM_MARGIN)
            group = self._begin(video_id, overwrite)
            with self._rollback(video_id):
                with self._writing():
                    for name, member in src.h5[f"videos/{video_id}"].items():  # masks, boxes, crops/
                        self.h5.copy(member, group, name=name)
                self._finish(group, {**attrs, **(extra_attrs or {})})
            return int(masks.shape[0])

    def record_failure(self, video_id: str, error: str, source: str | os.PathLike = "",
                       attrs: dict[str, Any] | None = None) -> None:
        """Note under ``/failures/<video_id>`` that a video could not be processed, and why."""
        check_video_id(video_id)
        with self._writing():
            g = self.h5.require_group("failures").require_group(video_id)
            g.attrs["error"] = error
            g.attrs["source"] = os.fspath(source)
            for key, value in (attrs or {}).items():
                if value is not None:
                    g.attrs[key] = value
            self._set_index(video_id, FAILED, 0, g.attrs.get("label"), g.attrs.get("signer"))
            self.h5.flush()

    def record_run(self, seconds: float, frames: int, videos: int, failed: int) -> None:
        """Add one run's wall time and counts to the file's run log (root attrs ``wall_seconds``,
        ``runs`` and ``run_log``, a JSON list; a resumed run adds to them): reports show them."""
        with self._writing():
            log = json.loads(self.h5.attrs.get("run_log", "[]"))
            log.append({"finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": round(float(seconds), 2),
                        "frames": int(frames), "videos": int(videos), "failed": int(failed)})
            self.h5.attrs["run_log"] = json.dumps(log[-1000:])
            self.h5.attrs["runs"] = len(log)
            self.h5.attrs["wall_seconds"] = round(float(self.h5.attrs.get("wall_seconds", 0.0)) + float(seconds), 2)
            self.h5.flush()

    def run_log(self) -> list[dict[str, Any]]:
        """The runs that wrote this file, oldest first (:meth:`record_run`); [] for older files."""
        return json.loads(self.h5.attrs.get("run_log", "[]"))

    # ----------------------------------------------------------------- lifetime
    def close(self) -> None:
        if self.h5.id.valid:
            self.h5.close()

    def __enter__(self) -> "MaskFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

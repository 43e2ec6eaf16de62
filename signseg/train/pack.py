"""Training packs: labelled frames small enough to carry to another machine (a lent GPU).

A teacher labels file keeps raw frames (about 200 KB each); a pack keeps each clip's labelled
frames as one H.264 video and their labels and person masks as compressed arrays, about 3 KB a
frame in all, and reads back as :class:`~signseg.train.frames.LabelledFrames` with OpenCV
alone (no PyAV needed where it is read). Frames come back through a lossy codec: a little
compression noise, the kind a training view adds anyway.

    signseg pack LABELS.h5 ... -o pack.h5 [--holdout ID ...] [--every N]
"""
from __future__ import annotations

import io
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import cv2
import h5py
import numpy as np

from signseg.train.frames import LabelledFrames

FORMAT = "signseg-train-pack-1"


def _encode(frames: Sequence[np.ndarray], crf: int) -> bytes:
    """One clip's frames (same size, RGB) as an H.264 mp4, padded to even sides."""
    import av  # the writer needs PyAV; the reader only OpenCV
    h, w = frames[0].shape[:2]
    eh, ew = h + h % 2, w + w % 2
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = ew, eh, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        for f in frames:
            f = np.pad(f, ((0, eh - h), (0, ew - w), (0, 0)), mode="edge")
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def _decode(data: bytes, n: int, shape: tuple[int, int], name: str) -> list[np.ndarray]:
    """The ``n`` frames of one packed clip, RGB, cropped back to ``shape``."""
    h, w = shape
    with tempfile.NamedTemporaryFile(suffix=".mp4") as tmp:
        tmp.write(data)
        tmp.flush()
        cap = cv2.VideoCapture(tmp.name)
        frames = []
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(bgr[:h, :w], cv2.COLOR_BGR2RGB))
        cap.release()
    if len(frames) != n:
        raise ValueError(f"{name}: the packed clip decodes to {len(frames)} frames, expected {n}")
    return frames


def write_pack(data: LabelledFrames, path: str | os.PathLike, crf: int = 20) -> Path:
    """Write ``data`` as a training pack: one group per clip (``groups``), frames in order."""
    path = Path(path)
    by_clip: dict[str, list[int]] = {}
    for i, g in enumerate(data.groups):
        by_clip.setdefault(g, []).append(i)
    tmp = path.with_name(path.name + ".partial")
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT
        for clip, idx in by_clip.items():
            shapes = {data.images[i].shape for i in idx}
            if len(shapes) != 1:
                raise ValueError(f"{clip}: frames of different sizes {sorted(shapes)} cannot share one packed clip")
            g = f.create_group(clip.replace("/", "|"))
            g.attrs["group"], g.attrs["frames"] = clip, len(idx)
            g.attrs["shape"] = data.images[idx[0]].shape[:2]
            g["video"] = np.frombuffer(_encode([data.images[i] for i in idx], crf), np.uint8)
            g.create_dataset("labels", data=np.stack([data.masks[i] for i in idx]), compression="gzip",
                             compression_opts=9, chunks=True)
            if all(data.persons[i] is not None for i in idx):
                # the person mask is coarse and soft only at its rim: half the resolution and 16
                # levels keep it, and compress well
                h, w = data.images[idx[0]].shape[:2]
                half = ((w + 1) // 2, (h + 1) // 2)
                person = np.stack([cv2.resize(data.persons[i], half, interpolation=cv2.INTER_AREA) for i in idx])
                person = (person // 16 * 17).astype(np.uint8)
                g.create_dataset("person", data=person, compression="gzip", compression_opts=9, chunks=True)
    os.replace(tmp, path)
    return path


def is_pack(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an HDF5 training pack (rather than a teacher labels file)."""
    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == FORMAT
    except OSError:
        return False


def load_pack(path: str | os.PathLike, threads: int | None = None) -> LabelledFrames:
    """The labelled frames of a pack; clips are decoded on ``threads`` threads (default: all cores)."""
    with h5py.File(path, "r") as f:
        clips = [(g.attrs["group"], int(g.attrs["frames"]), tuple(g.attrs["shape"]), g["video"][:].tobytes(),
                  g["labels"][:], g["person"][:] if "person" in g else None) for g in f.values()]
    with ThreadPoolExecutor(threads or os.cpu_count()) as pool:
        decoded = list(pool.map(lambda c: _decode(c[3], c[1], c[2], f"{path}:{c[0]}"), clips))
    out = LabelledFrames()
    for (clip, n, (h, w), _, labels, person), frames in zip(clips, decoded):
        for i in range(n):
            out.add(frames[i], labels[i], clip,
                    None if person is None else cv2.resize(person[i], (w, h), interpolation=cv2.INTER_LINEAR))
    return out

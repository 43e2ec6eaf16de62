"""Teacher labels: MediaPipe Holistic landmarks -> frames + part masks in one HDF5 file.

Layout of a labels file (``format = "signseg-labels"``)::

    /videos/<video_id>/frames   uint8 (T, h, w, 3) RGB, longest side <= max_side
    /videos/<video_id>/labels   uint8 (T, h, w): 0 bg, 1 face, 2 left hand, 3 right hand
    /videos/<video_id>/flags    uint8 (T, 5): face found, left found, right found,
                                left missed, right missed (pose sees a wrist, hand model not)
    /videos/<video_id>/ignore   uint8 (T, h, w): 1 where the teacher may have missed a hand
                                (the pose places a hand it did not find, or a hand lost for a
                                few frames between detections): training skips these pixels
                                (:func:`signseg.teacher.masks.ignore_mask`)
    /videos/<video_id>/person   uint8 (T, h, w): the teacher's person segmentation, 0-255
                                (where its landmarks file has one): training cuts the
                                signer out with it to paste onto other backgrounds
    attrs: source, fps, frame_index (source frame numbers), hands (how hands were drawn:
           "skin" or "hull", :mod:`signseg.teacher.masks`), ignore_frames (frames with
           ignored pixels), complete

The landmarks come from :mod:`signseg.teacher.holistic`, run in the teacher environment by
:func:`run_teacher`; everything here runs in signseg's own environment.
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Iterator, Sequence

import h5py
import numpy as np

from signseg.decode.image import resize
from signseg.decode.video import VideoReader
from signseg.errors import SignsegError
from signseg.teacher.masks import (POSE_HAND, fill_short_gaps, fit_skin_model, hand_missed, ignore_mask,
                                   part_mask)

LABELS_FORMAT = "signseg-labels"
FLAG_NAMES = ("face_found", "left_found", "right_found", "left_missed", "right_missed")
#: MediaPipe pose indices of the signer's left and right wrist.
POSE_LEFT_WRIST, POSE_RIGHT_WRIST = POSE_HAND["left"][0], POSE_HAND["right"][0]


def usable_frames(flags: np.ndarray) -> np.ndarray:
    """Frames whose teacher mask can be trusted: face found and no visible hand missed."""
    flags = np.asarray(flags).astype(bool)
    return flags[:, 0] & ~flags[:, 3] & ~flags[:, 4]


def default_landmarks_dir(labels_file: str | os.PathLike) -> Path:
    """Where a labels file's landmarks are cached unless told otherwise: ``<labels file>.landmarks/``."""
    return Path(f"{os.fspath(labels_file)}.landmarks")


def landmarks_file(landmarks_dir: str | os.PathLike, video: str | os.PathLike) -> Path:
    """The cached landmarks of ``video`` (named after its file, as the teacher writes them)."""
    return Path(landmarks_dir) / f"{Path(video).stem}.npz"


def missing_landmarks(videos: Sequence[str | os.PathLike], landmarks_dir: str | os.PathLike) -> list:
    """The ``videos`` that have no cached landmarks yet: the ones the teacher must run on."""
    return [v for v in videos if not landmarks_file(landmarks_dir, v).is_file()]


def run_teacher(videos: Sequence[str | os.PathLike], landmarks_dir: str | os.PathLike, teacher_python: str,
                stride: int = 1, skip_existing: bool = True, progress: bool = True) -> None:
    """Run MediaPipe Holistic over ``videos`` with the teacher environment's python
    (with ``skip_existing``, only over those without cached landmarks, and not at all when
    every video has them), with a progress bar of videos done."""
    from tqdm.auto import tqdm

    if skip_existing:
        videos = missing_landmarks(videos, landmarks_dir)
        if not videos:
            return
    pkg_root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(pkg_root), os.environ.get("PYTHONPATH", "")]))
    cmd = [teacher_python, "-m", "signseg.teacher.holistic", "--out", os.fspath(landmarks_dir),
           "--stride", str(stride), *(["--skip-existing"] if skip_existing else []), *map(os.fspath, videos)]
    try:
        # the teacher prints a line per video on stdout (its errors go to stderr as they come)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    except FileNotFoundError as exc:
        raise SignsegError(teacher_python, "teacher python not found: `signseg teacher setup` makes the "
                                           "teacher environment (docs/training.md)") from exc
    with proc, tqdm(total=len(videos), unit="video", desc="teacher", disable=not progress) as bar:
        for line in proc.stdout:
            if line.startswith("signseg-teacher:"):
                bar.update(1)
    if proc.returncode:
        raise SignsegError(teacher_python, f"teacher run failed (exit {proc.returncode}); see its errors above")


def _scaled(points: np.ndarray, sx: float, sy: float) -> np.ndarray:
    out = points.copy()
    out[..., 0] *= sx
    out[..., 1] *= sy
    return out


#: Frames labelled at once: what :func:`build_labels` holds in memory, whatever a video's length.
CHUNK = 64
#: Frames spread over a video that its skin model is fitted on.
SKIN_SAMPLES = 16


def npz_rows(path: str | os.PathLike, key: str, rows: Sequence[int]) -> Iterator[np.ndarray]:
    """Rows ``rows`` (increasing) of the array ``key`` in an ``.npz`` file, read one at a time
    from the archive: a long video's person masks are never all in memory, nor read twice."""
    with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(f)
        if fortran and len(shape) > 1:
            raise SignsegError(path, f"{key} is stored in Fortran order; rows cannot be read one at a time")
        row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        at = 0
        for r in rows:
            if not at <= r < shape[0]:
                raise ValueError(f"{path}: row {r} of {key} asked out of order or past its {shape[0]} rows")
            f.seek((r - at) * row_bytes, os.SEEK_CUR)
            yield np.frombuffer(f.read(row_bytes), dtype).reshape(shape[1:])
            at = r + 1


def build_labels(video: str | os.PathLike, landmarks_file: str | os.PathLike, labels_file: h5py.File,
                 max_side: int = 320, every: int = 1, video_id: str | None = None, hands: str = "skin") -> int:
    """Add one video's frames and teacher masks to an open labels file; return frames added.

    ``every`` keeps every n-th frame that has landmarks (neighbouring frames are near copies);
    ``hands`` is how hands are drawn (:func:`signseg.teacher.masks.part_mask`). The video is
    decoded twice -- once for the frames its skin model is fitted on, once to label it
    :data:`CHUNK` frames at a time -- so memory does not grow with its length.
    """
    lm = np.load(landmarks_file)
    video_id = video_id or Path(video).stem
    frame_index = lm["frame_index"]
    keep = set(int(i) for i in frame_index[::every])
    row_of = {int(i): r for r, i in enumerate(frame_index)}
    reader = VideoReader(video)
    h0, w0 = reader.info.height, reader.info.width
    scale = min(1.0, max_side / max(h0, w0))
    h, w = max(8, int(round(h0 * scale))), max(8, int(round(w0 * scale)))
    sx, sy = w / w0, h / h0
    face = _scaled(lm["face"], sx, sy)
    left, right = _scaled(lm["left_hand"], sx, sy), _scaled(lm["right_hand"], sx, sy)
    pose = _scaled(lm["pose"], sx, sy)

    # first pass: which kept frames decode, and the frames spread over them for the skin model
    planned = sorted(keep)
    planned_samples = set(planned[:: max(1, len(planned) // SKIN_SAMPLES)])
    idx, samples = [], {}
    for i, rgb in enumerate(reader.frames(stop=planned[-1] + 1 if planned else 0)):
        if i in keep:
            idx.append(i)
            if i in planned_samples:
                samples[i] = resize(rgb, (h, w))
    if not idx:
        raise SignsegError(video, "no frame decoded that the teacher labelled")
    rows = [row_of[i] for i in idx]
    skin = fit_skin_model([samples[i] for i in sorted(samples)], [face[row_of[i]] for i in sorted(samples)])
    # hands the tracker lost for a few frames: interpolated over the whole landmark sequence
    # (every frame when the teacher ran with stride 1), used only to mark pixels to ignore
    left_filled, right_filled = (fill_short_gaps(hand, frame_index) for hand in (left, right))
    flags = np.array([[np.isfinite(face[r]).all(), np.isfinite(left[r]).all(), np.isfinite(right[r]).all(),
                       hand_missed(left[r], pose[r], POSE_LEFT_WRIST, (h, w)),
                       hand_missed(right[r], pose[r], POSE_RIGHT_WRIST, (h, w))] for r in rows], np.uint8)

    name = f"videos/{video_id}"
    if name in labels_file:
        del labels_file[name]
    g = labels_file.create_group(name)
    n = len(idx)

    def dataset(key: str, shape: tuple[int, ...]) -> h5py.Dataset:
        return g.create_dataset(key, (n, *shape), np.uint8, chunks=(1, *shape), compression="gzip",
                                compression_opts=1)

    out = {"frames": dataset("frames", (h, w, 3)), "labels": dataset("labels", (h, w)),
           "ignore": dataset("ignore", (h, w))}
    persons = None
    if "person" in lm.files:  # landmarks made before the teacher saved segmentation have none
        out["person"] = dataset("person", (h, w))
        persons = npz_rows(landmarks_file, "person", rows)
    g.create_dataset("flags", data=flags)
    ignore_frames, done = 0, 0

    def write(frames: list[np.ndarray]) -> None:
        nonlocal ignore_frames, done
        part = slice(done, done + len(frames))
        chunk_rows = rows[part]
        out["frames"][part] = np.stack(frames)
        out["labels"][part] = np.stack([part_mask(f, face[r], left[r], right[r], skin, hands)
                                        for f, r in zip(frames, chunk_rows)])
        ignore = np.stack([ignore_mask((h, w), pose[r], left[r], right[r], left_filled[r], right_filled[r])
                           for r in chunk_rows]).astype(np.uint8)
        out["ignore"][part] = ignore
        ignore_frames += int(ignore.any(axis=(1, 2)).sum())
        if persons is not None:
            out["person"][part] = np.stack([resize(next(persons), (h, w)) for _ in chunk_rows])
        done += len(frames)

    # second pass: label and write CHUNK frames at a time
    wanted, pending = set(idx), []
    for i, rgb in enumerate(reader.frames(stop=idx[-1] + 1)):
        if i in wanted:
            pending.append(resize(rgb, (h, w)))
            if len(pending) == CHUNK:
                write(pending)
                pending = []
    if pending:
        write(pending)
    if done != n:
        raise SignsegError(video, f"decoded {done} of its {n} labelled frames the second time it was read")
    g.attrs.update(source=os.fspath(video), fps=reader.info.fps, frame_index=np.asarray(idx, np.int32),
                   skin_model=skin is not None, flag_names=list(FLAG_NAMES), hands=hands,
                   ignore_frames=ignore_frames)
    labels_file.flush()
    g.attrs["complete"] = True
    labels_file.flush()
    return n


def open_labels(path: str | os.PathLike, mode: str = "a") -> h5py.File:
    """Open (or create) a labels file, checking that an existing one is a labels file."""
    f = h5py.File(path, mode)
    if mode != "r" and not len(f) and not len(f.attrs):  # a new, empty file becomes a labels file
        f.attrs["format"] = LABELS_FORMAT
    if f.attrs.get("format") != LABELS_FORMAT:
        f.close()
        raise SignsegError(path, "not a signseg labels file")
    return f


def label_videos(videos: Sequence[str | os.PathLike], out: str | os.PathLike, *, teacher_python: str | None,
                 landmarks_dir: str | os.PathLike | None = None, max_side: int = 320, every: int = 1,
                 progress: bool = True, hands: str = "skin") -> dict[str, str]:
    """Teacher-label ``videos`` into the labels file ``out``; return ``{video_id: error}`` failures.

    Landmarks are cached in ``landmarks_dir`` (default: ``<out>.landmarks/``) and reused, so
    an interrupted run resumes; ``teacher_python=None`` uses cached landmarks only. ``hands``
    (``"skin"`` or ``"hull"``) is how hands are drawn; a labels file holds one style only.
    """
    from tqdm.auto import tqdm

    landmarks_dir = Path(landmarks_dir or default_landmarks_dir(out))
    if teacher_python:
        run_teacher(videos, landmarks_dir, teacher_python, progress=progress)
    failures: dict[str, str] = {}
    with open_labels(out) as f:
        style = f.attrs.get("hands", "skin" if len(f.get("videos", ())) else None)
        if style is not None and style != hands:
            raise SignsegError(out, f"holds hands drawn as {style!r}, not {hands!r}: label into another file")
        f.attrs["hands"] = hands
        for video in tqdm(videos, unit="video", disable=not progress):
            vid = Path(video).stem
            if f.get(f"videos/{vid}") is not None and f[f"videos/{vid}"].attrs.get("complete"):
                continue
            lm_file = landmarks_file(landmarks_dir, video)
            try:
                if not lm_file.is_file():
                    why = ("the teacher failed on it" if teacher_python else
                           "no teacher was run (--cached-only): run without it to label this video")
                    raise SignsegError(video, f"no teacher landmarks ({lm_file} missing: {why})")
                build_labels(video, lm_file, f, max_side=max_side, every=every, video_id=vid, hands=hands)
            except (SignsegError, ValueError, OSError) as exc:
                failures[vid] = str(exc)
                print(f"signseg: error: {exc}", file=sys.stderr)
    return failures

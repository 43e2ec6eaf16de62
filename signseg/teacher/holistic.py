"""Run MediaPipe Holistic over videos and save its landmarks, one ``.npz`` per video.

This module runs in the *teacher* environment (``mediapipe==0.10.21``, numpy<2), which
cannot share a process with TensorFlow. It imports nothing from signseg but the standard
library, numpy and OpenCV, and is started as a subprocess by :func:`signseg.teacher.labelset.run_teacher`::

    /path/to/teacher-venv/bin/python -m signseg.teacher.holistic --out DIR [--stride N] VIDEO...

Each ``DIR/<stem>.npz`` holds pixel coordinates (NaN where the teacher saw nothing):
``frame_index`` (T,), ``face`` (T, 468, 2), ``left_hand`` (T, 21, 2), ``right_hand``
(T, 21, 2), ``pose`` (T, 33, 3: x, y, visibility), plus ``width``, ``height``, ``fps``, and
``person`` (T, h, w) uint8, Holistic's person segmentation (0-255, longest side at most
``PERSON_SIDE``): what training cuts the signer out with to paste onto other backgrounds.
``left_hand`` is the signer's own left hand (MediaPipe Holistic's convention, checked
against the pose's LEFT_WRIST).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

#: Longest side of the stored person masks (the labels keep frames at most 320 px wide).
PERSON_SIDE = 320


def _points(landmarks, n: int, width: int, height: int, with_visibility: bool = False) -> np.ndarray:
    cols = 3 if with_visibility else 2
    out = np.full((n, cols), np.nan, dtype=np.float32)
    if landmarks is None:
        return out
    for i, lm in enumerate(landmarks.landmark[:n]):
        out[i, 0] = lm.x * width
        out[i, 1] = lm.y * height
        if with_visibility:
            out[i, 2] = lm.visibility
    return out


def _person(mask, width: int, height: int) -> np.ndarray:
    """Holistic's person probability as uint8 at most ``PERSON_SIDE`` px on its longest side."""
    scale = min(1.0, PERSON_SIDE / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if mask is None:
        return np.zeros(size[::-1], np.uint8)
    small = cv2.resize(np.asarray(mask, np.float32), size, interpolation=cv2.INTER_AREA)
    return np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8)


class Spool:
    """The rows of one array, appended to a scratch file as they come, so that a long video's
    landmarks and person masks are never all in memory; :func:`write_npz` streams them into the ``.npz``."""

    def __init__(self, path: Path, dtype) -> None:
        self.path, self.dtype, self.rows, self.row_shape = Path(path), np.dtype(dtype), 0, None
        self._file = open(self.path, "wb")

    def append(self, row: np.ndarray) -> None:
        row = np.asarray(row, self.dtype)
        if self.row_shape is None:
            self.row_shape = row.shape
        elif row.shape != self.row_shape:
            raise ValueError(f"{self.path}: row of shape {row.shape} after rows of {self.row_shape}")
        self._file.write(row.tobytes())
        self.rows += 1

    def close(self) -> None:
        self._file.close()

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def write_npz(target: Path, arrays: dict, spools: dict[str, Spool], block: int = 1 << 22) -> None:
    """Write a compressed ``.npz`` of ``arrays`` plus one array per spool (its rows stacked),
    read from the spool's file a block at a time. ``np.load`` reads it as any
    ``np.savez_compressed`` file."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)
        for key, spool in spools.items():
            spool.close()
            with archive.open(f"{key}.npy", "w", force_zip64=True) as f, open(spool.path, "rb") as src:
                np.lib.format.write_array_header_2_0(
                    f, {"descr": np.lib.format.dtype_to_descr(spool.dtype), "fortran_order": False,
                        "shape": (spool.rows, *(spool.row_shape or ()))})
                while True:
                    chunk = src.read(block)
                    if not chunk:
                        break
                    f.write(chunk)


def extract(video: Path, out_dir: Path, stride: int = 1, model_complexity: int = 1) -> Path:
    """Write ``out_dir/<stem>.npz`` with Holistic landmarks and person masks for every
    ``stride``-th frame. Each frame's landmarks and mask go to scratch files as they come
    (:class:`Spool`: memory does not grow with the video's length) and into the ``.npz`` at the end."""
    import mediapipe as mp  # only in the teacher environment

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise RuntimeError(f"{video}: cannot open video")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    width = height = 0
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{video.stem}.npz"
    tmp = out_dir / f".{video.stem}.tmp.npz"
    spools: dict[str, Spool] = {}
    try:
        for key, dtype in (("frame_index", np.int32), ("face", np.float32), ("left_hand", np.float32),
                           ("right_hand", np.float32), ("pose", np.float32), ("person", np.uint8)):
            spools[key] = Spool(out_dir / f".{video.stem}.{key}.tmp", dtype)
        # Tracking mode (static_image_mode=False) needs consecutive frames, so every frame is
        # decoded and processed; ``stride`` only thins what is saved.
        with mp.solutions.holistic.Holistic(static_image_mode=False, model_complexity=model_complexity,
                                            refine_face_landmarks=False, enable_segmentation=True) as holistic:
            i = 0
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                height, width = bgr.shape[:2]
                res = holistic.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                if i % stride == 0:
                    spools["frame_index"].append(np.int32(i))
                    spools["face"].append(_points(res.face_landmarks, 468, width, height))
                    spools["left_hand"].append(_points(res.left_hand_landmarks, 21, width, height))
                    spools["right_hand"].append(_points(res.right_hand_landmarks, 21, width, height))
                    spools["pose"].append(_points(res.pose_landmarks, 33, width, height, with_visibility=True))
                    spools["person"].append(_person(res.segmentation_mask, width, height))
                i += 1
        if not spools["frame_index"].rows:
            raise RuntimeError(f"{video}: no frames could be decoded")
        write_npz(tmp, {"width": width, "height": height, "fps": fps, "source": str(video)}, spools)
        os.replace(tmp, target)  # a killed run never leaves a half-written landmarks file
    finally:
        cap.release()
        for spool in spools.values():
            spool.discard()
        tmp.unlink(missing_ok=True)
    return target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("videos", nargs="+", type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--model-complexity", type=int, default=1, choices=(0, 1, 2))
    p.add_argument("--skip-existing", action="store_true")
    args = p.parse_args(argv)
    failed = 0
    for video in args.videos:
        target = args.out / f"{video.stem}.npz"
        if args.skip_existing and target.exists():
            continue
        t0 = time.time()
        try:
            extract(video, args.out, args.stride, args.model_complexity)
        except Exception as exc:  # one bad clip must not stop the others
            failed += 1
            print(f"signseg-teacher: error: {video}: {exc}", file=sys.stderr, flush=True)
            continue
        print(f"signseg-teacher: {video.name} done in {time.time() - t0:.1f}s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Labelled frames to train on, from any mix of sources, and their split by video and signer.

Sources: teacher labels files (:mod:`signseg.teacher.labelset`), folders of
``images/NAME.png`` + ``masks/NAME.png`` pairs, or the paper's ``images.npy`` + ``labels.npy``.
Validation is split by *video* (never frames of one clip on both sides), by signer where a
groups file names them.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import h5py
import numpy as np

from signseg import labels as L
from signseg.teacher.labelset import usable_frames


# --------------------------------------------------------------------------- data
@dataclass
class LabelledFrames:
    """Frames (RGB uint8, each its own size), label masks (uint8, signseg.labels values), the
    teacher's person masks (uint8 0-255, or None where the source has none) and the group
    (video) each frame came from."""

    images: list[np.ndarray] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    persons: list[np.ndarray | None] = field(default_factory=list)

    def add(self, image: np.ndarray, mask: np.ndarray, group: str, person: np.ndarray | None = None) -> None:
        self.images.append(image)
        self.masks.append(mask)
        self.groups.append(group)
        self.persons.append(person)

    def __len__(self) -> int:
        return len(self.images)

    def extend(self, other: "LabelledFrames") -> None:
        self.images += other.images
        self.masks += other.masks
        self.groups += other.groups
        self.persons += other.persons

    def subset(self, keep: Sequence[bool]) -> "LabelledFrames":
        idx = [i for i, k in enumerate(keep) if k]
        return LabelledFrames([self.images[i] for i in idx], [self.masks[i] for i in idx],
                              [self.groups[i] for i in idx], [self.persons[i] for i in idx])


def with_ignore(masks: np.ndarray, ignore: np.ndarray) -> np.ndarray:
    """Label masks with :data:`signseg.labels.IGNORE` where ``ignore`` is set and the teacher
    drew background or face (a hand it found keeps its label)."""
    return np.where((ignore > 0) & (masks <= L.FACE), np.uint8(L.IGNORE), masks).astype(np.uint8)


def load_labels_file(path: str | os.PathLike, skip_missed: bool = True) -> LabelledFrames:
    """Frames and masks of every complete video in a teacher labels file.

    Where the file has ``ignore`` regions (a hand the pose places but the teacher did not
    find), their pixels are labelled :data:`signseg.labels.IGNORE` and the frames are kept: the
    loss skips those pixels instead of learning them as background. In older files without
    them, ``skip_missed`` drops frames where the pose saw a wrist but the hand model found no
    hand: their masks call a visible hand background.
    """
    out = LabelledFrames()
    with h5py.File(path, "r") as f:
        for vid, g in f.get("videos", {}).items():
            if not g.attrs.get("complete"):
                continue
            flags = g["flags"][:]
            has_ignore = "ignore" in g
            # no face found means the teacher lost the signer: never usable
            keep = usable_frames(flags) if skip_missed and not has_ignore else flags[:, 0].astype(bool)
            if not keep.any():
                continue
            frames, masks = g["frames"][:], g["labels"][:]
            if has_ignore:
                masks = with_ignore(masks, g["ignore"][:])
            persons = g["person"][:] if "person" in g else None
            for i in np.flatnonzero(keep):
                out.add(frames[i], masks[i], vid, None if persons is None else persons[i])
    return out


def load_pairs_folder(path: str | os.PathLike) -> LabelledFrames:
    """``images/NAME.*`` with ``masks/NAME.png`` (nonzero = hand/face); each pair its own group."""
    root = Path(path)
    out = LabelledFrames()
    for img_file in sorted((root / "images").iterdir()):
        mask_file = root / "masks" / f"{img_file.stem}.png"
        if not mask_file.is_file():
            raise FileNotFoundError(f"{mask_file}: mask missing for {img_file}")
        bgr = cv2.imread(str(img_file), cv2.IMREAD_COLOR)
        mask = cv2.imread(str(mask_file), cv2.IMREAD_GRAYSCALE)
        if bgr is None or mask is None:
            raise ValueError(f"{img_file if bgr is None else mask_file}: cannot be read as an image")
        out.add(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.where(mask > 0, L.UNASSIGNED, 0).astype(np.uint8),
                f"{root.name}/{img_file.stem}")
    return out


def load_npy_pair(images: str | os.PathLike, masks: str | os.PathLike) -> LabelledFrames:
    """The paper's arrays: images (N, H, W, 3) uint8 or [0, 1] floats, labels (N, H, W[, 1])."""
    x, y = np.load(images), np.load(masks)
    if len(x) != len(y):
        raise ValueError(f"{images} has {len(x)} images but {masks} has {len(y)} masks")
    if x.dtype != np.uint8:
        x = np.clip(x * (255.0 if x.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    y = y.reshape(y.shape[:3])
    out = LabelledFrames()
    for i in range(len(x)):
        out.add(x[i], np.where(y[i] > 0.5 if y.dtype.kind == "f" else y[i] > 0, L.UNASSIGNED, 0).astype(np.uint8),
                f"{Path(images).stem}/{i}")
    return out


def split_by_group(groups: Sequence[str], val_fraction: float, holdout: Sequence[str] = (),
                   signer_of: dict[str, str] | None = None, val: Sequence[str] | None = None) -> np.ndarray:
    """Boolean 'is validation' per frame: whole groups (videos) go to one side.

    With ``val`` (video ids, e.g. the ``val`` rows of a groups table: :func:`read_splits`),
    exactly those videos validate. Otherwise a video is in validation when a stable hash of
    its signer (``signer_of[video]``, else the video's own name) falls under
    ``val_fraction`` -- so one signer's clips never sit on both sides. Videos named in
    ``holdout`` (kept out of training entirely) are marked too.
    """
    def h(g: str) -> float:
        return int(hashlib.sha1(g.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    held, signer_of = set(holdout), signer_of or {}
    if val is not None:
        named = set(val)
        return np.array([g in held or g in named for g in groups])
    return np.array([g in held or h(signer_of.get(g, g)) < val_fraction for g in groups])


def _table(path: str | os.PathLike) -> tuple[list[str] | None, list[tuple[int, str, list[str]]]]:
    """A groups table's header (its first line, where that starts with ``video``) and its other
    non-blank lines as (line number, line, tab-separated fields)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t") if lines and lines[0].startswith("video") else None
    rows = [(n, line, line.split("\t")) for n, line in enumerate(lines, start=1)
            if line.strip() and not (n == 1 and header is not None)]
    return header, rows


def read_groups(path: str | os.PathLike) -> dict[str, str]:
    """``video<TAB>signer`` lines (a header line starting with ``video`` is skipped) as a dict."""
    out = {}
    for n, line, parts in _table(path)[1]:
        if len(parts) < 2:
            raise ValueError(f"{path}:{n}: expected 'video<TAB>signer', got {line!r}")
        out[parts[0]] = parts[1]
    return out


def read_splits(path: str | os.PathLike) -> dict[str, str]:
    """``video -> split`` from a groups table whose header names a ``split`` column
    (``pipelines/signers.tsv``: ``train``, ``val`` or ``test``); empty when it has none."""
    header, rows = _table(path)
    if header is None or "split" not in header:
        return {}
    col = header.index("split")
    out = {}
    for n, line, parts in rows:
        if len(parts) <= col:
            raise ValueError(f"{path}:{n}: no 'split' column in {line!r}")
        out[parts[0]] = parts[col].strip()
    return out

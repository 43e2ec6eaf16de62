"""Find a corpus's videos and their labels: AUTSL naming, any folder tree, labels CSVs.

AUTSL layout: ``train/signer0_sample1_color.mp4`` (+ ``_depth.mp4``, skipped), labels in
``train_labels.csv`` as ``signer0_sample1,41``, class names in ``SignList_ClassId_TR_EN.csv``.
A colour clip's id is its stem without ``_color``; any other video's id is its path relative
to the corpus root, without extension, folders joined by ``__`` (``a/b/c.mp4`` -> ``a__b__c``).
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from signseg.errors import LabelsError
from signseg.run.jobs import VideoJob

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
COLOR_SUFFIX, DEPTH_SUFFIX = "_color", "_depth"
FOLDER_SEPARATOR = "__"
_SIGNER = re.compile(r"signer(\d+)", re.IGNORECASE)


def _strip_color(name: str) -> str:
    return name[: -len(COLOR_SUFFIX)] if name.endswith(COLOR_SUFFIX) else name


def video_id_for(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """The id of a video: AUTSL ``signerN_sampleM_color`` -> ``signerN_sampleM``; else its
    path relative to ``root`` without extension (just the stem when ``root`` is None)."""
    path = Path(path)
    if path.stem.endswith(COLOR_SUFFIX):
        return _strip_color(path.stem)
    rel = path.relative_to(root) if root is not None else Path(path.name)
    return FOLDER_SEPARATOR.join(rel.with_suffix("").parts)


def signer_of(video_id: str) -> int | None:
    """The signer number in an AUTSL-style id (``signer12_sample3`` -> 12), else None."""
    m = _SIGNER.search(video_id)
    return int(m.group(1)) if m else None


def find_videos(root: str | os.PathLike, pattern: str | None = None) -> list[Path]:
    """Video files under ``root``, sorted.

    With ``pattern`` (a glob relative to root, ``**`` allowed): the files it matches. Without:
    every file with a video extension; where AUTSL ``*_color`` clips are present only those
    (their ``_depth`` twins are not RGB video). Hidden files are skipped.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: corpus folder does not exist")
    candidates = root.glob(pattern) if pattern else root.rglob("*")
    files = [p for p in candidates if p.is_file() and not any(part.startswith(".") for part in
                                                              p.relative_to(root).parts)]
    if not pattern:
        files = [p for p in files if p.suffix.lower() in VIDEO_EXTENSIONS]
        if any(p.stem.endswith(COLOR_SUFFIX) for p in files):
            files = [p for p in files if p.stem.endswith(COLOR_SUFFIX)]
    return sorted(files)


def _rows(path: Path) -> Iterable[tuple[int, list[str]]]:
    """(line number, stripped fields) of a CSV's non-blank rows; BOM and CRLF are fine."""
    if not path.is_file():
        raise LabelsError(path, "file does not exist")
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            for n, row in enumerate(csv.reader(f), start=1):
                row = [c.strip() for c in row]
                if any(row):
                    yield n, row
    except UnicodeDecodeError as exc:
        raise LabelsError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _is_int(s: str) -> bool:
    try:
        int(s)
        return True
    except ValueError:
        return False


def read_labels(path: str | os.PathLike) -> dict[str, int]:
    """``{video_id: label}`` from a ``video_id,label`` CSV (AUTSL ``train_labels.csv``).

    A header row is skipped; ids ending in ``_color`` are shortened like video ids. A row
    without two fields, a label that is not an integer, or one id with two different labels
    is an error naming the file and line.
    """
    path = Path(path)
    labels: dict[str, int] = {}
    seen_at: dict[str, int] = {}
    for i, (n, row) in enumerate(_rows(path)):
        if len(row) < 2 or not row[0]:
            raise LabelsError(path, f"line {n}: expected 'video_id,label', got {','.join(row)!r}")
        vid, value = row[0], row[1]
        if not _is_int(value):
            if i == 0:  # a header row
                continue
            raise LabelsError(path, f"line {n}: label {value!r} of {vid!r} is not an integer")
        vid = _strip_color(vid)
        if vid in labels and labels[vid] != int(value):
            raise LabelsError(path, f"line {n}: {vid!r} has label {value} here but {labels[vid]} "
                                    f"on line {seen_at[vid]}")
        labels[vid] = int(value)
        seen_at.setdefault(vid, n)
    if not labels:
        raise LabelsError(path, "no 'video_id,label' rows")
    return labels


def read_class_map(path: str | os.PathLike) -> dict[int, str]:
    """``{class_id: name}`` from a class list such as AUTSL's ``SignList_ClassId_TR_EN.csv``.

    The first column is the class id; the name is the ``EN`` column where the header has one,
    else the last column.
    """
    path = Path(path)
    names: dict[int, str] = {}
    column = -1
    for n, row in _rows(path):
        if not _is_int(row[0]):
            if not names:  # header
                upper = [c.upper() for c in row]
                column = upper.index("EN") if "EN" in upper else -1
                continue
            raise LabelsError(path, f"line {n}: class id {row[0]!r} is not an integer")
        if len(row) < 2:
            raise LabelsError(path, f"line {n}: expected 'class_id,name', got {','.join(row)!r}")
        names[int(row[0])] = row[column]
    if not names:
        raise LabelsError(path, "no 'class_id,name' rows")
    return names


@dataclass
class Corpus:
    """The videos of a corpus as jobs, plus what did not match between videos and labels."""

    jobs: list[VideoJob]
    unlabelled: list[str]        # video ids the labels CSV has no row for
    unknown_labels: list[str]    # ids in the labels CSV with no video

    def describe(self) -> str:
        s = f"{len(self.jobs)} video(s)"
        if self.unlabelled:
            s += f", {len(self.unlabelled)} without a label (e.g. {self.unlabelled[0]})"
        if self.unknown_labels:
            s += f", {len(self.unknown_labels)} labelled id(s) with no video (e.g. {self.unknown_labels[0]})"
        return s


def check_unique(ids: list[str], paths: list[Path]) -> None:
    """Raise ValueError naming the files when two videos would get the same id."""
    first: dict[str, Path] = {}
    for vid, path in zip(ids, paths):
        if vid in first:
            raise ValueError(f"{path}: would get the same id {vid!r} as {first[vid]}")
        first[vid] = path


def scan(root: str | os.PathLike, pattern: str | None = None, labels: str | os.PathLike | None = None,
         class_map: str | os.PathLike | None = None) -> Corpus:
    """The jobs for every video under ``root`` with labels, class names and signers attached."""
    paths = find_videos(root, pattern)
    if not paths:
        raise FileNotFoundError(f"{root}: no videos found" + (f" matching {pattern!r}" if pattern else ""))
    ids = [video_id_for(p, root) for p in paths]
    check_unique(ids, paths)
    label_of = read_labels(labels) if labels is not None else {}
    names = read_class_map(class_map) if class_map is not None else {}
    jobs = []
    for vid, path in zip(ids, paths):
        label = label_of.get(vid)
        jobs.append(VideoJob(vid, path, label, names.get(label) if label is not None else None, signer_of(vid)))
    unlabelled = [j.video_id for j in jobs if j.label is None] if labels is not None else []
    unknown = sorted(set(label_of) - set(ids))
    return Corpus(jobs, unlabelled, unknown)


def jobs_for_files(paths: Iterable[str | os.PathLike]) -> list[VideoJob]:
    """Jobs for videos given one by one (``signseg segment``): ids are file stems."""
    paths = [Path(p) for p in paths]
    ids = [video_id_for(p) for p in paths]
    check_unique(ids, paths)
    return [VideoJob(vid, p, signer=signer_of(vid)) for vid, p in zip(ids, paths)]

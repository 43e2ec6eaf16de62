"""Score a Segmenter against teacher labels: hand+face IoU and per-part coverage.

A binary model (SNet) does not tell parts apart, so per part we report *coverage*: the share
of the teacher's face / left-hand / right-hand pixels that the model marks as foreground.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import h5py
import numpy as np

from signseg import labels as L
from signseg.infer.preprocess import threshold as apply_threshold
from signseg.infer.segmenter import Segmenter
from signseg.teacher.labelset import usable_frames

#: Each part's pixel value by its name.
PART_VALUES = {L.NAMES[p]: p for p in L.PARTS}


@dataclass
class Score:
    """Pixel counts summed over frames, turned into IoU / Dice / coverage on demand."""

    frames: int = 0
    inter: int = 0
    union: int = 0
    pred: int = 0
    true: int = 0
    part_true: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PART_VALUES, 0))
    part_hit: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PART_VALUES, 0))

    def add(self, pred: np.ndarray, truth: np.ndarray) -> None:
        p, t = pred > 0, truth > 0
        self.frames += len(pred)
        self.inter += int((p & t).sum())
        self.union += int((p | t).sum())
        self.pred += int(p.sum())
        self.true += int(t.sum())
        for name, value in PART_VALUES.items():
            part = truth == value
            self.part_true[name] += int(part.sum())
            self.part_hit[name] += int((part & p).sum())

    @property
    def iou(self) -> float:
        return self.inter / self.union if self.union else 1.0

    @property
    def precision(self) -> float:
        """Share of the predicted pixels that the teacher marks hand or face."""
        return self.inter / self.pred if self.pred else 1.0

    @property
    def dice(self) -> float:
        return 2 * self.inter / (self.pred + self.true) if self.pred + self.true else 1.0

    def coverage(self) -> dict[str, float | None]:
        return {k: (self.part_hit[k] / n if n else None) for k, n in self.part_true.items()}

    def as_dict(self) -> dict:
        return {"frames": self.frames, "iou": round(self.iou, 4), "dice": round(self.dice, 4),
                "precision": round(self.precision, 4),
                "coverage": {k: None if v is None else round(v, 4) for k, v in self.coverage().items()}}


def evaluate(segmenter: Segmenter, labels_file: str | os.PathLike, video_ids: Sequence[str] | None = None,
             clean_only: bool = False) -> dict[str, Score]:
    """Scores per video (and ``"all"``) over the frames stored in a teacher labels file.

    ``clean_only`` skips frames where the teacher missed a hand the pose saw (their labels
    call a visible hand background, which would count the model's correct hand as wrong).
    """
    t = segmenter.threshold
    return evaluate_thresholds(segmenter, labels_file, [t], video_ids, clean_only)[t]


def evaluate_thresholds(segmenter: Segmenter, labels_file: str | os.PathLike, thresholds: Sequence[float],
                        video_ids: Sequence[str] | None = None, clean_only: bool = False
                        ) -> dict[float, dict[str, Score]]:
    """:func:`evaluate` at each of ``thresholds`` (the segmenter's blob cut applied after
    each), the network run once per clip: a threshold is chosen on validation clips this way."""
    out = {float(t): {"all": Score()} for t in thresholds}
    with h5py.File(labels_file, "r") as f:
        ids = list(video_ids) if video_ids is not None else sorted(f["videos"])
        for vid in ids:
            if f"videos/{vid}" not in f:
                raise KeyError(f"{labels_file}: no video {vid!r} in the labels file")
            g = f[f"videos/{vid}"]
            keep = usable_frames(g["flags"][:]) if clean_only else np.ones(len(g["flags"]), bool)
            idx = np.flatnonzero(keep)
            if not idx.size:
                continue
            frames, truth = g["frames"][:][idx], g["labels"][:][idx]
            proba = segmenter.predict_proba(frames)
            for t, scores in out.items():
                pred = apply_threshold(proba, t, segmenter.max_blobs)
                scores[vid] = Score()
                scores[vid].add(pred, truth)
                scores["all"].add(pred, truth)
    return out


def evaluate_frames(segmenter: Segmenter, images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                    batch: int = 32) -> Score:
    """One score pooled over labelled frames of any sizes (hand-labelled sets mix them)."""
    score = Score()
    by_shape: dict[tuple, list[int]] = {}
    for i, image in enumerate(images):
        by_shape.setdefault(image.shape, []).append(i)
    for idx in by_shape.values():
        for start in range(0, len(idx), batch):
            part = idx[start:start + batch]
            score.add(segmenter.predict(np.stack([images[i] for i in part])), np.stack([masks[i] for i in part]))
    return score


def by_setting(scores: dict[str, Score], setting_of: dict[str, str]) -> dict[str, dict]:
    """Per setting, and over ``"all clips"``: clip count, mean per-clip IoU and the worst clip.

    Clips weigh the same whatever their length: one good long clip must not hide a bad one.
    """
    groups: dict[str, list[tuple[str, float]]] = {}
    for vid, score in scores.items():
        if vid == "all":
            continue
        for key in (setting_of.get(vid, "unknown"), "all clips"):
            groups.setdefault(key, []).append((vid, score.iou))
    out = {}
    for key, clips in groups.items():
        worst = min(clips, key=lambda c: c[1])
        out[key] = {"clips": len(clips), "mean_iou": round(float(np.mean([c[1] for c in clips])), 4),
                    "worst_iou": round(worst[1], 4), "worst_clip": worst[0]}
    return out


@dataclass
class PartScore:
    """Per-part IoU of part masks (values 1 face, 2 left, 3 right) against teacher part labels,
    pixel counts summed over frames. Frames where the teacher missed a part it should have
    seen are left out by the caller (see :func:`signseg.teacher.labelset.usable_frames`)."""

    frames: int = 0
    inter: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PART_VALUES, 0))
    union: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PART_VALUES, 0))

    def add(self, pred: np.ndarray, truth: np.ndarray) -> None:
        self.frames += len(pred)
        for name, value in PART_VALUES.items():
            p, t = pred == value, truth == value
            self.inter[name] += int((p & t).sum())
            self.union[name] += int((p | t).sum())

    def iou(self) -> dict[str, float | None]:
        return {k: (self.inter[k] / u if u else None) for k, u in self.union.items()}

    def as_dict(self) -> dict:
        return {"frames": self.frames, **{k: None if v is None else round(v, 4) for k, v in self.iou().items()}}

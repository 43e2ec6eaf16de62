"""Score a Segmenter against teacher labels: hand-or-face IoU, and face and hands apart.

Faces are large and found; hands are small and what a recognizer needs, so a whole-mask IoU
hides a model that misses them. Each :class:`Score` also keeps the face's IoU and the hands'
IoU, precision and recall, and each of the signer's hands' IoU and the share of hand pixels
given the other hand (*swapped*), from the parts as ``--parts`` writes them: the model's own
part channels where it has them (:mod:`signseg.postprocess.network_parts`: a ``face_hand``
model's face and hands, named left or right by their side of the face) and otherwise the part tracker
over its one mask (:func:`signseg.postprocess.parts.split_parts`). *Coverage* is the share of the teacher's face / left-hand / right-hand
pixels marked at all. Pixels the labels file marks ``ignore`` (a hand the teacher may have
missed) count for nothing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import h5py
import numpy as np

from signseg import labels as L
from signseg.infer.motion import Motion
from signseg.infer.preprocess import threshold as apply_threshold
from signseg.infer.segmenter import Segmenter
from signseg.postprocess.network_parts import HandSides, network_parts
from signseg.postprocess.parts import split_parts
from signseg.postprocess.still_hands import StillHands
from signseg.teacher.labelset import usable_frames
from signseg.train.frames import with_ignore

PART_VALUES = L.PART_VALUES


@dataclass
class Score:
    """Pixel counts summed over frames, turned into IoU / Dice / coverage on demand; with
    part predictions (1 face, 2 or 3 hand), the face's IoU and the hands' IoU, precision and
    recall too."""

    frames: int = 0
    inter: int = 0
    union: int = 0
    pred: int = 0
    true: int = 0
    part_true: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PART_VALUES, 0))
    part_hit: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PART_VALUES, 0))
    # face / hands: intersection, prediction, truth pixels (-1: no part predictions given)
    face: list[int] = field(default_factory=lambda: [-1, 0, 0])
    hands: list[int] = field(default_factory=lambda: [-1, 0, 0])
    left: list[int] = field(default_factory=lambda: [-1, 0, 0])
    right: list[int] = field(default_factory=lambda: [-1, 0, 0])
    # teacher hand pixels predicted as the other hand, and as either hand
    swaps: list[int] = field(default_factory=lambda: [-1, 0])

    def add(self, pred: np.ndarray, truth: np.ndarray, parts: np.ndarray | None = None,
            known: np.ndarray | None = None, sides: bool = False) -> None:
        """``pred`` masks (> 0 hand or face) against ``truth`` labels; ``parts`` (1 face, 2/3
        hand) scores face and hands apart, and with ``sides`` (the parts tell left from right)
        each hand apart; pixels where ``known`` is False are left out."""
        k = np.ones(truth.shape, bool) if known is None else known
        p, t = (pred > 0) & k, (truth > 0) & k
        self.frames += len(pred)
        self.inter += int((p & t).sum())
        self.union += int((p | t).sum())
        self.pred += int(p.sum())
        self.true += int(t.sum())
        for name, value in PART_VALUES.items():
            part = (truth == value) & k
            self.part_true[name] += int(part.sum())
            self.part_hit[name] += int((part & p).sum())
        if parts is None:
            return
        pairs = [(self.face, parts == L.FACE, truth == L.FACE), (self.hands, L.is_hand(parts), L.is_hand(truth))]
        if sides:
            pairs += [(acc, parts == v, truth == v) for acc, v in ((self.left, L.LEFT_HAND), (self.right, L.RIGHT_HAND))]
        for acc, pv, tv in pairs:
            pv, tv = pv & k, tv & k
            acc[0] = max(acc[0], 0) + int((pv & tv).sum())
            acc[1] += int(pv.sum())
            acc[2] += int(tv.sum())
        if sides:
            other = {L.LEFT_HAND: L.RIGHT_HAND, L.RIGHT_HAND: L.LEFT_HAND}
            as_hand = L.is_hand(truth) & k & L.is_hand(parts)
            self.swaps[0] = max(self.swaps[0], 0) + int(sum(((truth == a) & (parts == b) & k).sum()
                                                             for a, b in other.items()))
            self.swaps[1] += int(as_hand.sum())

    @property
    def iou(self) -> float:
        return self.inter / self.union if self.union else 1.0

    @property
    def precision(self) -> float:
        """Share of the predicted pixels that the teacher marks hand or face."""
        return self.inter / self.pred if self.pred else 1.0

    @property
    def recall(self) -> float:
        """Share of the truth's pixels the model marks."""
        return self.inter / self.true if self.true else 1.0

    @property
    def dice(self) -> float:
        return 2 * self.inter / (self.pred + self.true) if self.pred + self.true else 1.0

    @staticmethod
    def _iou(acc: list[int]) -> float | None:
        inter, pred, true = acc
        if inter < 0:
            return None
        return inter / (pred + true - inter) if pred + true - inter else 1.0

    @property
    def face_iou(self) -> float | None:
        return self._iou(self.face)

    @property
    def hand_iou(self) -> float | None:
        """IoU of the pixels predicted hand (either) against the teacher's hands."""
        return self._iou(self.hands)

    @property
    def hand_recall(self) -> float | None:
        """Share of the teacher's hand pixels predicted hand."""
        inter, _, true = self.hands
        return None if inter < 0 else (inter / true if true else 1.0)

    @property
    def hand_precision(self) -> float | None:
        inter, pred, _ = self.hands
        return None if inter < 0 else (inter / pred if pred else 1.0)

    @property
    def left_iou(self) -> float | None:
        """IoU of the pixels predicted the signer's left hand against the teacher's left hand."""
        return self._iou(self.left)

    @property
    def right_iou(self) -> float | None:
        return self._iou(self.right)

    @property
    def swapped(self) -> float | None:
        """Share of the teacher's hand pixels predicted a hand that are given the other hand."""
        other, as_hand = self.swaps
        return None if other < 0 else (other / as_hand if as_hand else 0.0)

    def coverage(self) -> dict[str, float | None]:
        return {k: (self.part_hit[k] / n if n else None) for k, n in self.part_true.items()}

    def as_dict(self) -> dict:
        r = lambda v: None if v is None else round(v, 4)  # noqa: E731
        return {"frames": self.frames, "iou": r(self.iou), "dice": r(self.dice), "precision": r(self.precision),
                "recall": r(self.recall),
                "face_iou": r(self.face_iou), "hand_iou": r(self.hand_iou), "hand_recall": r(self.hand_recall),
                "hand_precision": r(self.hand_precision), "left_iou": r(self.left_iou),
                "right_iou": r(self.right_iou), "swapped": r(self.swapped),
                "coverage": {k: r(v) for k, v in self.coverage().items()}}


def predicted_parts(segmenter: Segmenter, frames: np.ndarray, masks: np.ndarray,
                    proba_parts: np.ndarray | None = None, fps: float | None = None) -> np.ndarray:
    """Part labels (1 face, 2 left hand, 3 right hand, 0 background) of a clip's masks, frames
    in order, as ``--parts`` writes them: from the model's part channels where it has them
    (``proba_parts``, else computed; :func:`signseg.postprocess.network_parts.network_parts`: a
    ``face_hand`` model's face, its hands named by their side of the face or by the
    Segmenter's arm network), else the part tracker's split. ``fps``: the frames' rate, where
    they are a clip's (:func:`stored_fps`): still hands are then dropped as ``--parts`` drops
    them (:mod:`signseg.postprocess.still_hands`), and a refiner that reads motion gets it
    (:mod:`signseg.infer.motion`); None leaves both (single images)."""
    if not segmenter.parts:
        return split_parts(masks)[0]
    pp = segmenter.predict_parts_proba(frames) if proba_parts is None else proba_parts
    refiner = segmenter.hand_refiner
    motion = Motion(fps)(frames) if refiner is not None and refiner.motion and fps is not None else None
    hands = None if refiner is None else refiner.hands(frames, pp, segmenter.parts, motion=motion)
    arms = None if segmenter.arm_sides is None else segmenter.arm_sides.arms(frames)
    parts = network_parts(masks, pp, segmenter.parts, hands=hands, arms=arms)[0]
    if fps is not None:
        StillHands(fps)(frames, parts)
    return parts


def sides_of_teacher(truth: np.ndarray, arms: np.ndarray | None = None) -> np.ndarray:
    """The teacher's own face and hands (n, H, W), frames in order, with every hand renamed by
    its side of the teacher's face as ``--parts`` names a ``face_hand`` model's hands
    (:class:`~signseg.postprocess.network_parts.HandSides`), or by ``arms`` (n, h, w, 2), the arm
    network's, where given: scored against ``truth``, what that naming rule alone swaps, with
    perfect masks (its ceiling)."""
    out = np.array(truth, np.uint8, copy=True)
    sides = HandSides()
    for i, frame in enumerate(out):
        hands = L.is_hand(frame)
        face_x = np.nonzero(frame == L.FACE)[1]
        x = sides.line(float(face_x.mean()) if face_x.size else None, frame.shape[1])
        frame[hands] = L.UNASSIGNED
        sides.name(frame, hands, x, arms=None if arms is None else arms[i])
    return out


def written_parts(segmenter: Segmenter, frames: np.ndarray, fps: float | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A clip's masks and parts (frames in order) from one network pass, as ``signseg segment
    --parts`` writes them: the segmenter's threshold and blob cut, then :func:`predicted_parts`
    (``fps`` as it takes it)."""
    if not segmenter.parts:
        masks = segmenter.predict(frames)
        return masks, predicted_parts(segmenter, frames, masks)
    channels = segmenter.predict_channels(frames)  # the mask's channel and the parts' at once
    masks = apply_threshold(channels[..., 0], segmenter.threshold, segmenter.max_blobs)
    parts = predicted_parts(segmenter, frames, masks, channels[..., 1:], fps)
    if segmenter.hand_refiner is not None:  # the refiner's hands are in the file's mask too
        masks = np.where(parts > 0, L.UNASSIGNED, L.BACKGROUND).astype(np.uint8)
    return masks, parts


def stored_fps(group: h5py.Group) -> float | None:
    """The rate of a labels file clip's stored frames: the video's ``fps`` over the step between
    its stored frames (``frame_index``); None where the file does not say."""
    fps, index = group.attrs.get("fps"), group.attrs.get("frame_index")
    if fps is None or not np.isfinite(fps) or fps <= 0:
        return None
    step = float(np.median(np.diff(index))) if index is not None and len(index) > 1 else 1.0
    return float(fps) / max(step, 1.0)


def known_pixels(group: h5py.Group, labels: np.ndarray, idx: np.ndarray) -> np.ndarray | None:
    """Where a labels file's clip can be scored: every pixel that training does not read as
    IGNORE (:func:`signseg.train.frames.with_ignore`), or None where the file has no ``ignore``."""
    if "ignore" not in group:
        return None
    return with_ignore(labels, group["ignore"][:][idx]) != L.IGNORE


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
            known = known_pixels(g, truth, idx)
            fps = stored_fps(g)
            if segmenter.parts:  # one pass gives the mask's channel and the parts'
                channels = segmenter.predict_channels(frames)
                proba, pp = channels[..., 0], channels[..., 1:]
            else:
                proba, pp = segmenter.predict_proba(frames), None
            for t, scores in out.items():
                pred = apply_threshold(proba, t, segmenter.max_blobs)
                parts = predicted_parts(segmenter, frames, pred, pp, fps)
                scores[vid] = Score()
                scores[vid].add(pred, truth, parts, known, sides=True)
                scores["all"].add(pred, truth, parts, known, sides=True)
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


def spread_clips(setting_of: dict[str, str], n: int | None) -> dict[str, str]:
    """At most ``n`` of the clips of ``setting_of`` (clip -> setting), spread evenly over their
    sorted names: a smaller split that still holds every part of the list (None or 0: all)."""
    if not n or len(setting_of) <= n:
        return setting_of
    names = sorted(setting_of)
    keep = {names[i] for i in np.linspace(0, len(names) - 1, n).round().astype(int)}
    return {v: s for v, s in setting_of.items() if v in keep}


def by_setting(scores: dict[str, Score], setting_of: dict[str, str]) -> dict[str, dict]:
    """Per setting, and over ``"all clips"``: clip count, mean per-clip IoU and the worst clip;
    where the scores have parts, the same for hands (mean hand IoU, mean hand recall, the worst
    hand clip) and the face's mean IoU; where they tell the hands apart, each hand's mean IoU,
    the worst clip by the lower of the two, and the mean share of hand pixels swapped.

    Clips weigh the same whatever their length: one good long clip must not hide a bad one.
    A clip with no teacher hand pixels has no hand IoU to count (its 1.0 would flatter).
    """
    groups: dict[str, list[tuple[str, Score]]] = {}
    for vid, score in scores.items():
        if vid == "all":
            continue
        for key in (setting_of.get(vid, "unknown"), "all clips"):
            groups.setdefault(key, []).append((vid, score))
    out = {}
    for key, clips in groups.items():
        worst = min(clips, key=lambda c: c[1].iou)
        row = {"clips": len(clips), "mean_iou": round(float(np.mean([c[1].iou for c in clips])), 4),
               "worst_iou": round(worst[1].iou, 4), "worst_clip": worst[0]}
        faces = [c[1].face_iou for c in clips if c[1].face_iou is not None and c[1].face[2]]
        hands = [(v, s) for v, s in clips if s.hand_iou is not None and s.hands[2]]
        if faces:
            row["face_iou"] = round(float(np.mean(faces)), 4)
        if hands:
            worst_hand = min(hands, key=lambda c: c[1].hand_iou)
            row.update(hand_iou=round(float(np.mean([s.hand_iou for _, s in hands])), 4),
                       hand_recall=round(float(np.mean([s.hand_recall for _, s in hands])), 4),
                       worst_hand_iou=round(worst_hand[1].hand_iou, 4), worst_hand_clip=worst_hand[0])
        lefts = [s.left_iou for _, s in clips if s.left_iou is not None and s.left[2]]
        rights = [s.right_iou for _, s in clips if s.right_iou is not None and s.right[2]]
        if lefts or rights:
            side = lambda s: min(v for v, n in ((s.left_iou, s.left[2]), (s.right_iou, s.right[2])) if n)  # noqa: E731
            sided = [(v, s) for v, s in clips if s.left_iou is not None and (s.left[2] or s.right[2])]
            worst_side = min(sided, key=lambda c: side(c[1]))
            row.update(left_iou=round(float(np.mean(lefts)), 4) if lefts else None,
                       right_iou=round(float(np.mean(rights)), 4) if rights else None,
                       swapped=round(float(np.mean([s.swapped for _, s in sided])), 4),
                       worst_side_iou=round(side(worst_side[1]), 4), worst_side_clip=worst_side[0])
        out[key] = row
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


# --------------------------------------------------------------------------- human-drawn masks
#: FASSEG's class colours (RGB) that are the face: skin (face and neck), nose, mouth, eyes.
FASSEG_FACE = ((255, 255, 0), (0, 255, 255), (0, 255, 0), (0, 0, 255))
#: Every FASSEG class colour; each pixel is snapped to the nearest (edges carry blends).
FASSEG_CLASSES = FASSEG_FACE + ((127, 0, 0), (255, 0, 0))
#: The human-mask sets scored by :func:`human_mask_set`: what each truth covers.
HUMAN_SETS = {"hgr1": "skin (hands, forearms, any other skin)", "fasseg": "face (skin, neck, nose, mouth, eyes)"}


def fasseg_classes(rgb: np.ndarray) -> np.ndarray:
    """Each pixel of a FASSEG mask (H, W, 3 RGB) as the index of its nearest class colour in
    :data:`FASSEG_CLASSES` (the masks' edges carry blended colours)."""
    palette = np.array(FASSEG_CLASSES, np.int32)
    return ((rgb.astype(np.int32)[..., None, :] - palette) ** 2).sum(-1).argmin(-1)


def human_mask_set(folder: str | os.PathLike) -> tuple[str, list[np.ndarray], list[np.ndarray]]:
    """A human-drawn mask set (``shared/data/human-masks/hgr1`` or ``.../fasseg``) as (name,
    RGB images, binary truth masks): HGR1's 255 is skin; FASSEG's colour classes are snapped
    to the nearest class and the face classes (:data:`FASSEG_FACE`) are the truth. For
    measuring only: a figure from images trained on is no evidence."""
    import cv2
    from pathlib import Path
    root = Path(folder)
    name = root.name
    if name not in HUMAN_SETS:
        raise ValueError(f"{root}: not a known human-mask set ({', '.join(HUMAN_SETS)})")
    images, truths = [], []
    for img_file in sorted((root / "images").iterdir()):
        mask_file = root / "masks" / f"{img_file.stem}.png"
        bgr = cv2.imread(str(img_file), cv2.IMREAD_COLOR)
        if bgr is None or not mask_file.is_file():
            raise ValueError(f"{img_file}: image unreadable or its mask {mask_file} missing")
        if name == "hgr1":
            truth = cv2.imread(str(mask_file), cv2.IMREAD_GRAYSCALE) > 127
        else:
            truth = fasseg_classes(cv2.cvtColor(cv2.imread(str(mask_file), cv2.IMREAD_COLOR),
                                                cv2.COLOR_BGR2RGB)) < len(FASSEG_FACE)
        images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        truths.append(truth.astype(np.uint8))
    return name, images, truths

"""Square crops round the network's hand blobs and their results put back: the geometry of the
hand refiner (:mod:`signseg.infer.hand_refiner`), numpy and OpenCV only.

A blob of the network's hand probability above :data:`PROPOSE` is boxed with a margin (a hand
the network half found is whole in its box); a frame also borrows its neighbours' boxes where
they overlap none of its own (a hand the network lost for a frame is still looked at,
:func:`with_neighbours`); each box is cut from the frame at
:data:`CROP` x :data:`CROP` pixels with the network's hand and face probabilities as two more
channels, and the refiner's answer is warped back into the frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from signseg.infer.blobs import window_components

#: The side of a crop, in pixels.
CROP = 64
#: A hand probability above this makes a blob worth a crop (low: a refiner can drop a box, not
#: find a hand outside every box).
PROPOSE = 0.15
#: Blobs smaller than this many pixels are not boxed.
MIN_AREA = 12
#: A box's side: the blob's longer side times GROW plus twice PAD, at least MIN_SIDE pixels.
GROW, PAD, MIN_SIDE = 1.6, 6, 16
#: Blobs whose box would have a side above this share of the frame's shorter side are not
#: cropped (a hand at the lens, a large patch); there the first network's hands stand. (A box
#: of that side round such a blob's centre scored better on validation, 0.502 -> 0.517, but
#: lost held-out close-ups and split clasped hands worse: docs/model_card.md.)
MAX_SHARE = 1.0
#: At most this many boxes a frame from splitting blobs too large to crop (``hand_boxes``'
#: ``split_at``), those holding the most hand probability first: hair can break into many
#: islands, and each box is a refiner crop (docs/performance.md).
MAX_SPLIT_BOXES = 4
#: A neighbouring frame's box is borrowed where its IoU with each of the frame's own is below this.
OVERLAP = 0.3


@dataclass(frozen=True)
class Box:
    """A square of ``side`` pixels centred on (``cx``, ``cy``) in frame coordinates; it may
    reach outside the frame (read as black)."""

    cx: float
    cy: float
    side: float

    def affine(self, size: int = CROP) -> np.ndarray:
        """The 2x3 map from frame pixels to the box's ``size`` x ``size`` crop."""
        s = size / self.side
        return np.array([[s, 0, size / 2 - s * self.cx], [0, s, size / 2 - s * self.cy]], np.float32)

    def window(self, shape: tuple[int, int], size: int = CROP) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1): the rows and columns of a frame of ``shape`` (H, W) that a
        ``size``-pixel crop of the box touches when warped back, its blended edge included
        (empty where it lies outside)."""
        half = self.side / 2 + self.side / size + 1
        y0, x0 = max(0, int(np.floor(self.cy - half))), max(0, int(np.floor(self.cx - half)))
        y1 = min(shape[0], int(np.ceil(self.cy + half)) + 1)
        x1 = min(shape[1], int(np.ceil(self.cx + half)) + 1)
        return y0, max(y0, y1), x0, max(x0, x1)

    def iou(self, other: "Box") -> float:
        """Intersection over union of the two squares."""
        a, b = self.side / 2, other.side / 2
        w = min(self.cx + a, other.cx + b) - max(self.cx - a, other.cx - b)
        h = min(self.cy + a, other.cy + b) - max(self.cy - a, other.cy - b)
        inter = max(0.0, w) * max(0.0, h)
        return inter / (self.side ** 2 + other.side ** 2 - inter)


def hand_boxes(hand_p: np.ndarray, propose: float = PROPOSE, max_share: float | None = None,
               min_peak: float = 0.0, split_at: Sequence[float] = ()) -> tuple[list[Box], np.ndarray | None]:
    """A box round each blob (8-connected) of ``hand_p`` (H, W) above ``propose`` whose highest
    probability reaches ``min_peak``, and the (H, W) bool of the blobs whose box would be over
    ``max_share`` (default :data:`MAX_SHARE`) of the frame's shorter side (None where there is
    none): those are not cropped. ``split_at``: such a blob's parts above each of these
    probabilities in turn are boxed where they fit (a hand joined to hair, a neck or a forearm
    by a faint bridge), and leave the blob where their box covers it; the rest keeps the first
    network's call."""
    largest = (MAX_SHARE if max_share is None else max_share) * min(hand_p.shape)
    boxes, _, big = _boxed(hand_p, hand_p > propose, largest, min_peak)
    budget = MAX_SPLIT_BOXES
    for t in split_at:
        if big is None or t <= propose or budget == 0:
            continue
        more, mass, _ = _boxed(hand_p, big & (hand_p > t), largest, min_peak)
        more = [more[i] for i in np.argsort(mass)[::-1][:budget]]  # the most hand first
        for box in more:
            y0, y1, x0, x1 = box.window(hand_p.shape)
            big[y0:y1, x0:x1] = False
        boxes += more
        budget -= len(more)
        if not big.any():
            big = None
    return boxes, big


def _boxed(hand_p: np.ndarray, mask: np.ndarray, largest: float,
           min_peak: float) -> tuple[list[Box], list[float], np.ndarray | None]:
    """:func:`hand_boxes` for the blobs of ``mask``: their boxes, each blob's summed hand
    probability, and the blobs too large to crop."""
    found = window_components(mask)
    if found is None:
        return [], [], None
    window, _, comp, stats = found
    sub, oy, ox = hand_p[window], window[0].start, window[1].start
    boxes, mass, too_big = [], [], []
    for j, (x, y, w, h, area) in enumerate(stats[1:], start=1):
        if area < MIN_AREA:
            continue
        p = sub[y:y + h, x:x + w][comp[y:y + h, x:x + w] == j]
        if min_peak > 0 and p.max() < min_peak:
            continue
        side = max(MIN_SIDE, GROW * max(w, h) + 2 * PAD)
        if side <= largest:
            boxes.append(Box(ox + x + w / 2, oy + y + h / 2, side))
            mass.append(float(p.sum()))
        else:
            too_big.append(j)
    if not too_big:
        return boxes, mass, None
    big = np.zeros(hand_p.shape, bool)
    big[window] = np.isin(comp, too_big)
    return boxes, mass, big


def with_neighbours(own: Sequence[list[Box]], k: int, before: Sequence[list[Box]] = (),
                    overlap: float = OVERLAP) -> list[list[Box]]:
    """Each frame's boxes (``own``, frames in order) and then those of the ``k`` frames either
    side whose IoU with every box it has so far is below ``overlap``; ``before``: the boxes of
    the frames just before the first (a video's previous batch), nearest last."""
    seq = [*before, *own]
    out = []
    for i in range(len(before), len(seq)):
        boxes = list(seq[i])
        for d in range(1, k + 1):
            for j in (i - d, i + d):
                if 0 <= j < len(seq):
                    boxes += [b for b in seq[j] if all(b.iou(a) < overlap for a in boxes)]
        out.append(boxes)
    return out


def crop(image: np.ndarray, box: Box, size: int = CROP, nearest: bool = False) -> np.ndarray:
    """``image`` (H, W[, C]) cut to ``box`` at ``size`` x ``size`` (bilinear, or nearest for labels)."""
    return cv2.warpAffine(image, box.affine(size), (size, size),
                          flags=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def paste_max(out: np.ndarray, crop_p: np.ndarray, box: Box) -> None:
    """A crop's (size, size) probabilities warped back into the frame ``out`` (H, W) float32,
    in place, each pixel keeping the higher of the two; only the box's window is touched."""
    y0, y1, x0, x1 = box.window(out.shape, crop_p.shape[0])
    if y1 <= y0 or x1 <= x0:
        return
    a = box.affine(crop_p.shape[0])
    a[:, 2] += a[:, 0] * x0 + a[:, 1] * y0  # the window's origin is the frame's (x0, y0)
    back = cv2.warpAffine(np.asarray(crop_p, np.float32), a, (x1 - x0, y1 - y0),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=-1)
    np.maximum(out[y0:y1, x0:x1], back, out=out[y0:y1, x0:x1])


def probability_planes(hand_p: np.ndarray, face_p: np.ndarray, boxes: Sequence[Box] | None = None,
                       motion: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 2) uint8: the network's hand and face probabilities (H, W) times 255, made once a
    frame for :func:`refiner_input`; (H, W, 3) with ``motion`` (H, W) uint8 after them
    (:mod:`signseg.infer.motion`). With ``boxes``, only the pixels their crops read are made
    (each box's :meth:`Box.window`), the rest left 0: crops cut from them are the same."""
    out = np.zeros((*hand_p.shape, 2 if motion is None else 3), np.uint8)
    for y0, y1, x0, x1 in [(0, hand_p.shape[0], 0, hand_p.shape[1])] if boxes is None else \
            [box.window(hand_p.shape) for box in boxes]:
        both = np.stack([hand_p[y0:y1, x0:x1], face_p[y0:y1, x0:x1]], axis=-1)
        both *= 255
        both += 0.5
        np.clip(both, 0, 255, out=both)
        out[y0:y1, x0:x1, :2] = both
        if motion is not None:
            out[y0:y1, x0:x1, 2] = motion[y0:y1, x0:x1]
    return out


def refiner_input(frame: np.ndarray, planes: np.ndarray, box: Box, size: int = CROP) -> np.ndarray:
    """(size, size, 3 + k) uint8: the frame's RGB, then the ``k`` planes of
    :func:`probability_planes` (at the frame's size), cut to ``box``."""
    return np.concatenate([crop(frame, box, size), crop(planes, box, size)], axis=-1)

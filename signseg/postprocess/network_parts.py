"""Face, left hand and right hand from the network's part channels.

A model with face and hand channels (``face_hand``) says, for each marked pixel, how likely it
is face or hand; one with the signer's sides (``parts``) says face, left or right itself.

For ``face_hand`` models (the shipped ``snet-lite``):

* **the face** is the marked region the network is surest is face (its largest component where
  the hand share ``hand / (face + hand)`` is under one half), grown over the connected marked
  pixels whose hand share is under :data:`FACE_GROW`. The head calls parts of close-up faces
  "hand" with a share between the two; a real hand has a share above it (docs/parts.md);
* **the hands** are the rest of the mask, less blobs under :data:`MIN_HAND_OF_FACE` of the
  face (specks of a face called hand);
* **left or right** is the side of the signer's face a hand lies on (:class:`HandSides`): the
  signer's left hand is on the image's right. A hand blob mostly on one side is that side's
  hand; a blob across the line (two hands touching) is cut along it.

Measured against the part tracker's naming (``pipelines/compare_part_splits.py``), the side of
the face gives each hand better and swaps fewer pixels, so the tracker is not used here.
"""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from signseg import labels as L
from signseg.infer.blobs import components

#: A marked pixel joins the face grown from the network's surest face where its hand share
#: is under this (chosen on the validation signers: 0.6-0.7 the same, 0.8 and 0.9 worse).
FACE_GROW = 0.7
#: The smallest hand blob, as a share of the face's pixels.
MIN_HAND_OF_FACE = 0.1
#: A hand blob with at least this share of its pixels on one side of the face is that side's
#: hand; one less one-sided is two hands, cut along the face's line.
ONE_SIDE = 0.75
_ACROSS = 255  # a hand blob across the line (in HandSides.name)
#: Frames larger than this many pixels are split at a size with about this many (their aspect
#: kept) and the parts brought back by nearest pixel: the network sees 224x224, so a larger
#: split adds no detail, only time (at 1280x720 it took 24 ms a frame, 2.5x the capped one).
#: The rules were measured on frames of at most 320 pixels a side, so those are split as they are.
WORK_PIXELS = 320 * 320


class HandSides:
    """The line between the signer's sides, per video: the median of the face's centre over
    the last ``window`` frames with a face (a head turn or a hand on the face moves it
    little), the frame's middle before any face is seen. Frames in order."""

    def __init__(self, window: int = 15):
        self._centres: deque[float] = deque(maxlen=window)
        self.last: float | None = None  # the latest frame's line

    def line(self, face_x: float | None, width: int) -> float:
        """The line (x in pixels) for this frame, whose face's centre ``face_x`` (None: no
        face) is seen first."""
        if face_x is not None:
            self._centres.append(face_x)
        self.last = float(np.median(self._centres)) if self._centres else width / 2
        return self.last

    def name(self, parts: np.ndarray, hands: np.ndarray, x: float, min_area: float = 0.0) -> None:
        """Write :data:`~signseg.labels.LEFT_HAND` / ``RIGHT_HAND`` into ``parts`` (H, W) for
        each blob of ``hands`` (H, W) bool of at least ``min_area`` pixels, by its side of the
        line ``x``; smaller blobs are left as they are. In place."""
        n, comp, stats, _ = components(hands.astype(np.uint8))
        if n <= 1:
            return
        side = np.zeros(n, np.uint8)  # per blob: its hand, ACROSS the line, or 0 (too small)
        x0 = stats[:, cv2.CC_STAT_LEFT]
        x1 = x0 + stats[:, cv2.CC_STAT_WIDTH]
        for j in range(1, n):
            if stats[j, cv2.CC_STAT_AREA] < min_area:
                continue
            if x0[j] >= x:  # wholly on the image's right: the signer's left
                side[j] = L.LEFT_HAND
            elif x1[j] <= x:
                side[j] = L.RIGHT_HAND
            else:  # count the blob's pixels on each side within its own box
                y0, h = stats[j, cv2.CC_STAT_TOP], stats[j, cv2.CC_STAT_HEIGHT]
                window = comp[y0:y0 + h, x0[j]:x1[j]] == j
                left = int(window[:, max(0, int(np.ceil(x)) - x0[j]):].sum()) / stats[j, cv2.CC_STAT_AREA]
                side[j] = L.LEFT_HAND if left >= ONE_SIDE else L.RIGHT_HAND if left <= 1 - ONE_SIDE else _ACROSS
        named = side[comp]
        one = (named == L.LEFT_HAND) | (named == L.RIGHT_HAND)
        parts[one] = named[one]
        across = named == _ACROSS
        if across.any():  # two hands touching: cut along the line
            cols = np.broadcast_to(np.arange(parts.shape[1]) >= x, parts.shape)
            parts[across] = np.where(cols[across], L.LEFT_HAND, L.RIGHT_HAND)


def grown_face(marked: np.ndarray, hand_share: np.ndarray) -> tuple[np.ndarray, int, float | None]:
    """The face of one frame, (H, W) bool, its pixel count and its centre's x (None where there
    is no face): the largest component of ``marked`` pixels with ``hand_share`` under 0.5, with
    the connected marked pixels whose share is under :data:`FACE_GROW`."""
    core = (marked & (hand_share < 0.5)).astype(np.uint8)
    n, comp, stats, _ = components(core)
    if n <= 1:
        return np.zeros(marked.shape, bool), 0, None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    top = stats[biggest, cv2.CC_STAT_TOP]
    seed = (top, int(np.argmax(comp[top] == biggest)))  # a pixel of it: its top row's first
    _, grown, gstats, centres = components((marked & (hand_share < FACE_GROW)).astype(np.uint8))
    k = grown[seed]
    return grown == k, int(gstats[k, cv2.CC_STAT_AREA]), float(centres[k, 0])


def _boxes(parts: np.ndarray) -> np.ndarray:
    """(3, 4) boxes of face, left and right hand; NaN where absent."""
    out = np.full((len(L.PARTS), 4), np.nan, np.float32)
    for k, part in enumerate(L.PARTS):
        x, y, w, h = cv2.boundingRect((parts == part).view(np.uint8))
        if w:
            out[k] = (x, y, x + w, y + h)
    return out


def _face_and_hands(parts: np.ndarray, marked: np.ndarray, share: np.ndarray, sides: HandSides) -> None:
    """One frame of a face/hand model: the face and the named hands written into ``parts``
    (H, W), which holds UNASSIGNED where ``marked``; ``share`` the hand share at any size.
    A frame over :data:`WORK_PIXELS` is split smaller and its parts brought back."""
    H, W = marked.shape
    scale = min(1.0, float(np.sqrt(WORK_PIXELS / (H * W))))
    h, w = max(1, round(H * scale)), max(1, round(W * scale))
    small = marked if (h, w) == (H, W) else cv2.resize(marked.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    work = parts if small is marked else np.where(small, L.UNASSIGNED, L.BACKGROUND).astype(np.uint8)
    if share.shape != (h, w):
        share = cv2.resize(share, (w, h), interpolation=cv2.INTER_LINEAR)
    face, area, face_x = grown_face(small, share)
    work[face] = L.FACE
    # the hands: the rest of the mask, less blobs under a tenth of the face
    sides.name(work, small & ~face, sides.line(face_x if face_x is None else face_x / scale, W) * scale,
               MIN_HAND_OF_FACE * area)
    if work is parts:
        return
    back = cv2.resize(work, (W, H), interpolation=cv2.INTER_NEAREST)
    # marked pixels the smaller mask had as background (its edges) take a neighbour's part
    named = np.where(work == L.UNASSIGNED, L.BACKGROUND, work).astype(np.uint8)
    near = cv2.resize(cv2.dilate(named, np.ones((3, 3), np.uint8)), (W, H), interpolation=cv2.INTER_NEAREST)
    back = np.where(back > 0, back, np.where(near > 0, near, L.UNASSIGNED))
    parts[marked] = back[marked]


def refined_hands(parts: np.ndarray, hands: np.ndarray, sides: HandSides) -> None:
    """One frame's hands replaced by the hand refiner's ``hands`` (H, W) int8
    (:meth:`signseg.infer.hand_refiner.HandRefiner.hands`: 1 hand, 0 not, -1 not looked at):
    the face stays, marked pixels the refiner looked at keep its answer, those it did not keep
    theirs, and the hand pixels off the face are named by their side of the frame's line
    (``sides.last``, set by this frame's face). In place."""
    face = parts == L.FACE
    new = ((hands > 0) | ((hands < 0) & (parts != L.BACKGROUND))) & ~face
    parts[~face] = L.BACKGROUND
    parts[new] = L.UNASSIGNED
    sides.name(parts, new, sides.last, MIN_HAND_OF_FACE * int(face.sum()))


def network_parts(masks: np.ndarray, proba: np.ndarray, names: tuple[str, ...],
                  sides: HandSides | None = None, hands: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Part masks (n, H, W) uint8 and boxes (n, 3, 4) of masks (n, H, W), from the network's
    part channels ``proba`` (n, h, w, k; any size, brought to the masks' by the host), ``names``
    the channels' parts (:data:`signseg.models.layers.OUTPUTS`).

    With ``left_hand`` and ``right_hand`` channels each marked pixel takes the part with the
    highest probability. With ``face`` and ``hand`` the face and hands are split as the
    module says, and ``sides`` (one per video, frames in order) names the hands. Marked pixels
    no part takes are :data:`~signseg.labels.UNASSIGNED`. ``hands`` (n, H, W) int8, the hand
    refiner's (:func:`refined_hands`), replaces a ``face_hand`` model's hands.
    """
    n, H, W = masks.shape
    parts = np.where(masks > 0, L.UNASSIGNED, L.BACKGROUND).astype(np.uint8)
    boxes = np.full((n, len(L.PARTS), 4), np.nan, np.float32)
    sided = "left_hand" in names
    values = np.array([L.PART_VALUES.get(name, L.UNASSIGNED) for name in names], np.uint8)
    sides = sides or HandSides()
    for i in range(n):
        p = np.asarray(proba[i], np.float32)
        marked = masks[i] > 0
        if sided:
            best = values[p.argmax(-1)]
            if best.shape != (H, W):
                best = cv2.resize(best, (W, H), interpolation=cv2.INTER_NEAREST)
            parts[i][marked] = best[marked]
        else:
            face_p, hand_p = p[..., names.index("face")], p[..., names.index("hand")]
            _face_and_hands(parts[i], marked, hand_p / np.maximum(face_p + hand_p, 1e-6), sides)
            if hands is not None:
                refined_hands(parts[i], hands[i], sides)
        boxes[i] = _boxes(parts[i])
    return parts, boxes

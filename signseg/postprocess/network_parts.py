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
  hand; a blob across the line (two hands touching) is cut along it. Where the arm network
  runs (:mod:`signseg.infer.arm_sides`), a hand pixel leans to the arm the network marks more
  there, the line counting a little (:data:`LINE_WEIGHT`), with the same rule for blobs.

Measured against the part tracker's naming (``pipelines/compare_part_splits.py``), the side of
the face gives each hand better and swaps fewer pixels, so the tracker is not used here.
"""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from signseg import labels as L
from signseg.infer.blobs import bounding_window, components, window_components
from signseg.infer.hand_refiner import SURE_HAND

#: A marked pixel joins the face grown from the network's surest face where its hand share
#: is under this (chosen on the validation signers: 0.6-0.7 the same, 0.8 and 0.9 worse).
FACE_GROW = 0.7
#: The smallest hand blob, as a share of the face's pixels.
MIN_HAND_OF_FACE = 0.1
#: A hand blob with at least this share of its pixels on one side of the face is that side's
#: hand; one less one-sided is two hands, cut along the face's line.
ONE_SIDE = 0.75
_ACROSS = 255  # a hand blob across the line (in HandSides.name)
#: Where the arm network names the hands, the line still counts this much against the
#: network's left-arm minus right-arm probability (:func:`leaning_left`): close-ups that show
#: no shoulder leave the arms unsure, and the line names them. Chosen on the validation
#: signers (0.1-0.2 alike, 0, 0.3 and 0.5 worse; docs/parts.md).
LINE_WEIGHT = 0.1
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

    def name(self, parts: np.ndarray, hands: np.ndarray, x: float, min_area: float = 0.0,
             arms: np.ndarray | None = None) -> None:
        """Write :data:`~signseg.labels.LEFT_HAND` / ``RIGHT_HAND`` into ``parts`` (H, W) for
        each blob of ``hands`` (H, W) bool of at least ``min_area`` pixels; smaller blobs are
        left as they are. In place. Each pixel leans to the signer's left or right
        (:func:`leaning_left`: by the line ``x``, and by the arm network's ``arms`` where given);
        a blob with :data:`ONE_SIDE` of its pixels leaning one way is that hand, one less
        one-sided (two hands touching) is cut pixel by pixel. Only the hands' bounding box is
        worked on (hands are a small part of a frame)."""
        found = window_components(hands)
        if found is None or found[1] <= 1:
            return
        window, n, comp, stats = found
        left = leaning_left(parts.shape, x, arms, window)
        share = np.bincount(comp[left], minlength=n) / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)
        side = np.where(share >= ONE_SIDE, L.LEFT_HAND, np.where(share <= 1 - ONE_SIDE, L.RIGHT_HAND, _ACROSS))
        side = np.where(stats[:, cv2.CC_STAT_AREA] < min_area, 0, side).astype(np.uint8)
        side[0] = 0
        named = side[comp]
        out = parts[window]
        one = L.is_hand(named)
        out[one] = named[one]
        across = named == _ACROSS
        if across.any():  # two hands touching: each pixel by its own leaning
            out[across] = np.where(left[across], L.LEFT_HAND, L.RIGHT_HAND)


def leaning_left(shape: tuple[int, int], x: float, arms: np.ndarray | None = None,
                 window: tuple[slice, slice] | None = None) -> np.ndarray:
    """(H, W) bool: the pixels that lean to the signer's left hand. By the line alone, those on
    the image's right of ``x``. With ``arms``, the arm network's (h, w, 2) probabilities of the
    signer's left and right arm (:mod:`signseg.infer.arm_sides`, any size), where their
    difference plus the line's :data:`LINE_WEIGHT` (+ right of the line, - left of it) is
    positive: the arms decide where they are sure, the line where they are not. ``window``
    (rows, columns): only that part of the frame."""
    rows, cols = window or (slice(0, shape[0]), slice(0, shape[1]))
    rows, cols = slice(*rows.indices(shape[0])[:2]), slice(*cols.indices(shape[1])[:2])
    right_of_line = np.arange(cols.start, cols.stop) >= x
    if arms is None:
        return np.broadcast_to(right_of_line, (rows.stop - rows.start, cols.stop - cols.start))
    d = np.asarray(arms[..., 0], np.float32) - np.asarray(arms[..., 1], np.float32)
    if d.shape != tuple(shape):
        d = cv2.resize(d, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return d[rows, cols] + np.where(right_of_line, LINE_WEIGHT, -LINE_WEIGHT).astype(np.float32) > 0


def grown_face(marked: np.ndarray, hand_share: np.ndarray) -> tuple[np.ndarray, int, float | None]:
    """The face of one frame, (H, W) bool, its pixel count and its centre's x (None where there
    is no face): the largest component of ``marked`` pixels with ``hand_share`` under 0.5, with
    the connected marked pixels whose share is under :data:`FACE_GROW`."""
    face = np.zeros(marked.shape, bool)
    window = bounding_window(marked)  # the face and what it grows over lie in the marked pixels' box
    if window is None:
        return face, 0, None
    marked, hand_share = marked[window], hand_share[window]
    n, comp, stats, _ = components((marked & (hand_share < 0.5)).view(np.uint8))
    if n <= 1:
        return face, 0, None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    top = stats[biggest, cv2.CC_STAT_TOP]
    seed = (top, int(np.argmax(comp[top] == biggest)))  # a pixel of it: its top row's first
    _, grown, gstats, centres = components((marked & (hand_share < FACE_GROW)).view(np.uint8))
    k = grown[seed]
    face[window] = grown == k
    return face, int(gstats[k, cv2.CC_STAT_AREA]), float(centres[k, 0]) + window[1].start


def part_boxes(parts: np.ndarray) -> np.ndarray:
    """(3, 4) boxes (x0, y0, x1, y1) of face, left and right hand in one frame's parts (H, W); NaN where absent."""
    out = np.full((len(L.PARTS), 4), np.nan, np.float32)
    for k, part in enumerate(L.PARTS):
        x, y, w, h = cv2.boundingRect((parts == part).view(np.uint8))
        if w:
            out[k] = (x, y, x + w, y + h)
    return out


def _face_and_hands(parts: np.ndarray, marked: np.ndarray, share: np.ndarray, sides: HandSides,
                    arms: np.ndarray | None = None, name_hands: bool = True) -> None:
    """One frame of a face/hand model: the face and the named hands written into ``parts``
    (H, W), which holds UNASSIGNED where ``marked``; ``share`` the hand share at any size;
    ``arms`` the arm network's (h, w, 2), which then names the hands with the line (:func:`leaning_left`).
    A frame over :data:`WORK_PIXELS` is split smaller and its parts brought back.
    ``name_hands`` False: the hands are left unnamed (the hand refiner's replace them,
    :func:`refined_hands`, which needs only the face and the line): each blob large enough to
    be named is marked LEFT_HAND, so that the face's edges come back as they would."""
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
    x = sides.line(face_x if face_x is None else face_x / scale, W) * scale
    if name_hands:
        sides.name(work, small & ~face, x, MIN_HAND_OF_FACE * area, arms)
    elif work is not parts:
        _mark_blobs(work, small & ~face, MIN_HAND_OF_FACE * area)
    if work is parts:
        return
    back = cv2.resize(work, (W, H), interpolation=cv2.INTER_NEAREST)
    # marked pixels the smaller mask had as background (its edges) take a neighbour's part
    named = np.where(work == L.UNASSIGNED, L.BACKGROUND, work).astype(np.uint8)
    near = cv2.resize(cv2.dilate(named, np.ones((3, 3), np.uint8)), (W, H), interpolation=cv2.INTER_NEAREST)
    back, near = back[marked], near[marked]
    parts[marked] = np.where(back > 0, back, np.where(near > 0, near, L.UNASSIGNED))


def _mark_blobs(parts: np.ndarray, hands: np.ndarray, min_area: float) -> None:
    """LEFT_HAND written into ``parts`` (H, W) on each blob of ``hands`` (H, W) bool of at least
    ``min_area`` pixels, as :meth:`HandSides.name` would mark it hand, without naming its side."""
    found = window_components(hands)
    if found is None:
        return
    window, _, comp, stats = found
    big = stats[:, cv2.CC_STAT_AREA] >= min_area
    big[0] = False
    if big[1:].any():
        parts[window][big[comp]] = L.LEFT_HAND


def refined_hands(parts: np.ndarray, hands: np.ndarray, sides: HandSides, arms: np.ndarray | None = None) -> None:
    """One frame's hands replaced by the hand refiner's ``hands`` (H, W) int8
    (:meth:`signseg.infer.hand_refiner.HandRefiner.hands`: 1 hand, 2 (``SURE_HAND``) hand with a
    probability over its ``over_face``, 0 not, -1 not looked at): the face stays but for the
    pixels the refiner is sure are hand (a hand in front of the face, which the face had grown
    over), marked pixels the refiner looked at keep its answer, those it did not keep
    theirs, and the hand pixels off the face are named by their side of the frame's line
    (``sides.last``, set by this frame's face), or by the arms where ``arms`` (h, w, 2) are
    given (:func:`leaning_left`). In place."""
    face = (parts == L.FACE) & (hands != SURE_HAND)
    new = ((hands > 0) | ((hands < 0) & (parts != L.BACKGROUND))) & ~face
    parts[~face] = L.BACKGROUND
    parts[new] = L.UNASSIGNED
    sides.name(parts, new, sides.last, MIN_HAND_OF_FACE * int(face.sum()), arms)


def network_parts(masks: np.ndarray, proba: np.ndarray, names: tuple[str, ...],
                  sides: HandSides | None = None, hands: np.ndarray | None = None,
                  arms: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Part masks (n, H, W) uint8 and boxes (n, 3, 4) of masks (n, H, W), from the network's
    part channels ``proba`` (n, h, w, k; any size, brought to the masks' by the host), ``names``
    the channels' parts (:data:`signseg.models.layers.OUTPUTS`).

    With ``left_hand`` and ``right_hand`` channels each marked pixel takes the part with the
    highest probability. With ``face`` and ``hand`` the face and hands are split as the
    module says, and ``sides`` (one per video, frames in order) names the hands. Marked pixels
    no part takes are :data:`~signseg.labels.UNASSIGNED`. ``hands`` (n, H, W) int8, the hand
    refiner's (:func:`refined_hands`), replaces a ``face_hand`` model's hands; ``arms``
    (n, h, w, 2), the arm network's (:mod:`signseg.infer.arm_sides`), names them instead of the
    face's line.
    """
    n, H, W = masks.shape
    parts = np.multiply(masks > 0, L.UNASSIGNED, dtype=np.uint8)  # BACKGROUND is 0
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
            arm = None if arms is None else arms[i]
            _face_and_hands(parts[i], marked, hand_p / np.maximum(face_p + hand_p, 1e-6), sides, arm,
                            name_hands=hands is None)
            if hands is not None:
                refined_hands(parts[i], hands[i], sides, arm)
        boxes[i] = part_boxes(parts[i])
    return parts, boxes

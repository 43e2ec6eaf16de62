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
from signseg.postprocess.parts import box_of

#: A marked pixel joins the face grown from the network's surest face where its hand share
#: is under this (chosen on the validation signers: 0.6-0.7 the same, 0.8 and 0.9 worse).
FACE_GROW = 0.7
#: The smallest hand blob, as a share of the face's pixels.
MIN_HAND_OF_FACE = 0.1
#: A hand blob with at least this share of its pixels on one side of the face is that side's
#: hand; one less one-sided is two hands, cut along the face's line.
ONE_SIDE = 0.75


class HandSides:
    """The line between the signer's sides, per video: the median of the face's centre over
    the last ``window`` frames with a face (a head turn or a hand on the face moves it
    little), the frame's middle before any face is seen. Frames in order."""

    def __init__(self, window: int = 15):
        self._centres: deque[float] = deque(maxlen=window)

    def line(self, face: np.ndarray) -> float:
        """The line (x in pixels) for this frame, whose ``face`` (H, W) bool is seen first."""
        xs = np.nonzero(face)[1]
        if len(xs):
            self._centres.append(float(xs.mean()))
        return float(np.median(self._centres)) if self._centres else face.shape[1] / 2

    def name(self, parts: np.ndarray, hands: np.ndarray, x: float) -> None:
        """Write :data:`~signseg.labels.LEFT_HAND` / ``RIGHT_HAND`` into ``parts`` (H, W) for
        each blob of ``hands`` (H, W) bool, by its side of the line ``x``. In place."""
        n, comp = cv2.connectedComponents(hands.astype(np.uint8), connectivity=8)
        for j in range(1, n):
            ys, xs = np.nonzero(comp == j)
            left = xs >= x  # the image's right: the signer's left
            share = left.mean()
            if share >= ONE_SIDE:
                parts[ys, xs] = L.LEFT_HAND
            elif share <= 1 - ONE_SIDE:
                parts[ys, xs] = L.RIGHT_HAND
            else:
                parts[ys, xs] = np.where(left, L.LEFT_HAND, L.RIGHT_HAND)


def grown_face(marked: np.ndarray, hand_share: np.ndarray) -> np.ndarray:
    """The face (H, W) bool of one frame: the largest component of ``marked`` pixels with
    ``hand_share`` under 0.5, with the connected marked pixels whose share is under
    :data:`FACE_GROW`."""
    core = (marked & (hand_share < 0.5)).astype(np.uint8)
    n, comp, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=8)
    if n <= 1:
        return np.zeros(marked.shape, bool)
    seed = np.unravel_index(np.argmax(comp == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))), comp.shape)
    _, grown = cv2.connectedComponents((marked & (hand_share < FACE_GROW)).astype(np.uint8), connectivity=8)
    return grown == grown[seed]


def _hands(marked: np.ndarray, face: np.ndarray) -> np.ndarray:
    """The mask less the face, less blobs under :data:`MIN_HAND_OF_FACE` of the face."""
    rest = (marked & ~face).astype(np.uint8)
    n, comp, stats, _ = cv2.connectedComponentsWithStats(rest, connectivity=8)
    keep = np.concatenate([[False], stats[1:, cv2.CC_STAT_AREA] >= MIN_HAND_OF_FACE * np.count_nonzero(face)])
    return keep[comp]


def network_parts(masks: np.ndarray, proba: np.ndarray, names: tuple[str, ...],
                  sides: HandSides | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Part masks (n, H, W) uint8 and boxes (n, 3, 4) of masks (n, H, W), from the network's
    part channels ``proba`` (n, h, w, k; any size, brought to the masks' by the host), ``names``
    the channels' parts (:data:`signseg.models.layers.OUTPUTS`).

    With ``left_hand`` and ``right_hand`` channels each marked pixel takes the part with the
    highest probability. With ``face`` and ``hand`` the face and hands are split as the
    module says, and ``sides`` (one per video, frames in order) names the hands. Marked pixels
    no part takes are :data:`~signseg.labels.UNASSIGNED`.
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
            share = hand_p / np.maximum(face_p + hand_p, 1e-6)
            if share.shape != (H, W):
                share = cv2.resize(share, (W, H), interpolation=cv2.INTER_LINEAR)
            face = grown_face(marked, share)
            parts[i][face] = L.FACE
            sides.name(parts[i], _hands(marked, face), sides.line(face))
        for k, part in enumerate(L.PARTS):
            box = box_of(parts[i] == part)
            if box is not None:
                boxes[i, k] = box
    return parts, boxes

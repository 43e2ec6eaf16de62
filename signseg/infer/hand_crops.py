"""Square crops round the network's hand blobs and their results put back: the geometry of the
hand refiner (:mod:`signseg.infer.hand_refiner`), numpy and OpenCV only.

A blob of the network's hand probability above :data:`PROPOSE` is boxed with a margin (a hand
the network half found is whole in its box), the box is cut from the frame at
:data:`CROP` x :data:`CROP` pixels with the network's hand and face probabilities as two more
channels, and the refiner's answer is warped back into the frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

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
#: cropped (a hand at the lens, a large patch); there the first network's hands stand.
MAX_SHARE = 1.0


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


def hand_boxes(hand_p: np.ndarray, propose: float = PROPOSE,
               max_share: float | None = None) -> tuple[list[Box], np.ndarray | None]:
    """A box round each blob (8-connected) of ``hand_p`` (H, W) above ``propose``, and the
    (H, W) bool of the blobs whose box would be over ``max_share`` (default :data:`MAX_SHARE`)
    of the frame's shorter side (None where there is none): those are not cropped."""
    n, comp, stats, _ = cv2.connectedComponentsWithStats((hand_p > propose).view(np.uint8), connectivity=8)
    largest = (MAX_SHARE if max_share is None else max_share) * min(hand_p.shape)
    boxes, too_big = [], []
    for j, (x, y, w, h, area) in enumerate(stats[1:], start=1):
        side = max(MIN_SIDE, GROW * max(w, h) + 2 * PAD)
        if area < MIN_AREA:
            continue
        if side <= largest:
            boxes.append(Box(x + w / 2, y + h / 2, side))
        else:
            too_big.append(j)
    return boxes, (np.isin(comp, too_big) if too_big else None)


def crop(image: np.ndarray, box: Box, size: int = CROP, nearest: bool = False) -> np.ndarray:
    """``image`` (H, W[, C]) cut to ``box`` at ``size`` x ``size`` (bilinear, or nearest for labels)."""
    return cv2.warpAffine(image, box.affine(size), (size, size),
                          flags=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def paste(crop_p: np.ndarray, box: Box, shape: tuple[int, int]) -> np.ndarray:
    """A crop's (size, size) probabilities back in a frame of ``shape`` (H, W); -1 outside the box."""
    return cv2.warpAffine(np.asarray(crop_p, np.float32), box.affine(crop_p.shape[0]), (shape[1], shape[0]),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=-1)


def refiner_input(frame: np.ndarray, hand_p: np.ndarray, face_p: np.ndarray, box: Box,
                  size: int = CROP) -> np.ndarray:
    """(size, size, 5) uint8: the frame's RGB, then the network's hand and face probabilities
    (times 255), cut to ``box``. ``hand_p`` and ``face_p`` are at the frame's size."""
    probs = np.clip(np.stack([hand_p, face_p], axis=-1) * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.concatenate([crop(frame, box, size), crop(probs, box, size)], axis=-1)

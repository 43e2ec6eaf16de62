"""Per-frame signals of a video's masks, written beside them (``/videos/<id>/signals``).

A corpus of thousands of videos cannot be watched; these few numbers a frame are what a
report (``signseg report``) or a recognizer's data loader reads instead: how much of the frame
is marked, how sure the network was of it, how many blobs it holds and, where parts are on,
which parts were found and how sure the network was of each. They are made where the masks
are made, from numbers already at hand, so they cost next to nothing (docs/performance.md).
"""
from __future__ import annotations

import numpy as np

from signseg.labels import PART_NAMES, PARTS

#: Every frame's fields: share of the frame marked, the network's mean probability over what
#: it marked (NaN where nothing is), the mask's 8-connected blobs.
BASE_FIELDS = (("area", "f4"), ("confidence", "f4"), ("blobs", "u1"))
#: With parts, for each part: found in the frame (0/1) and its mean probability (NaN if absent).
PART_FIELDS = tuple(f for name in PART_NAMES for f in ((f"{name}_found", "u1"), (f"{name}_confidence", "f4")))


def signals_dtype(parts: bool = False) -> np.dtype:
    """The compound dtype of the ``signals`` dataset, with the part fields or without."""
    return np.dtype(list(BASE_FIELDS + (PART_FIELDS if parts else ())))


def mean_marked(p: np.ndarray, marked: np.ndarray) -> float:
    """Mean probability (0..1; uint8 probabilities are x255) over the ``marked`` pixels; NaN
    where none are."""
    n = int(np.count_nonzero(marked))
    if not n:
        return float("nan")
    total = float(p[marked].sum(dtype=np.float64))
    return total / n / (255.0 if p.dtype == np.uint8 else 1.0)


def with_parts(base: np.ndarray, parts: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """``base`` signals (n,) with the part fields filled in from part masks ``parts`` (n, H, W;
    signseg.labels values) and the probabilities each part's confidence is read from:
    ``proba`` (n, h, w) hand-or-face at the network's input size (any size: the part masks are
    brought to it, nearest pixel), or (n, h, w, k) a probability per part, in
    :data:`signseg.labels.PARTS` order."""
    import cv2
    out = np.zeros(len(base), signals_dtype(parts=True))
    for name, _ in BASE_FIELDS:
        out[name] = base[name]
    h, w = proba.shape[1:3]
    for i in range(len(base)):
        small = parts[i] if parts.shape[1:3] == (h, w) else cv2.resize(parts[i], (w, h),
                                                                       interpolation=cv2.INTER_NEAREST)
        for k, (value, name) in enumerate(zip(PARTS, PART_NAMES)):
            found = small == value
            p = proba[i] if proba.ndim == 3 else proba[i, ..., k]
            conf = mean_marked(p, found)
            present = bool((parts[i] == value).any()) if np.isnan(conf) else True
            out[f"{name}_found"][i] = present
            out[f"{name}_confidence"][i] = conf if present else np.nan
    return out

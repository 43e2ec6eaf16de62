"""Resizing helpers shared by the video reader, the Segmenter and training.

Sizes are ``(height, width)`` everywhere in signseg, numpy order (OpenCV takes (w, h)).
"""
from __future__ import annotations

import cv2
import numpy as np


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize one (H, W[, C]) image to ``size`` = (height, width).

    Shrinking uses area averaging (no aliasing), enlarging bilinear interpolation; the
    same rule runs in training and inference so the model sees alike inputs.
    """
    h, w = size
    if image.shape[0] == h and image.shape[1] == w:
        return image
    shrink = h * w < image.shape[0] * image.shape[1]
    out = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if image.ndim == 3 and out.ndim == 2:  # cv2 drops a trailing channel axis of size 1
        out = out[..., None]
    return out

"""Resizing helpers shared by the video reader, the Segmenter and training.

Sizes are ``(height, width)`` everywhere in signseg, numpy order (OpenCV takes (w, h)).
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import cv2
import numpy as np

_opencv_lock = threading.Lock()
_opencv_users = 0
_opencv_threads_before = 0


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


@contextmanager
def opencv_single_threaded() -> Iterator[None]:
    """Run OpenCV on the calling threads only while the block runs (process-wide; nested and
    concurrent blocks are counted, the last one out restores the previous setting).

    Where signseg's lanes keep every core busy, OpenCV's own worker threads (woken by every
    resize and colour conversion) only compete with them: end to end 2-4% faster on 2 cores
    (docs/performance.md).
    """
    global _opencv_users, _opencv_threads_before
    with _opencv_lock:
        if _opencv_users == 0:
            _opencv_threads_before = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _opencv_users += 1
    try:
        yield
    finally:
        with _opencv_lock:
            _opencv_users -= 1
            if _opencv_users == 0:
                cv2.setNumThreads(_opencv_threads_before)

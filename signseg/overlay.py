"""Pictures of masks on frames: colour per part, for checking a run by eye (numpy in, numpy out)."""
from __future__ import annotations

import numpy as np

from signseg import labels as L

#: RGB colour of each label value.
COLOURS = np.zeros((256, 3), np.uint8)
COLOURS[L.FACE] = (40, 220, 60)
COLOURS[L.LEFT_HAND] = (255, 80, 40)
COLOURS[L.RIGHT_HAND] = (40, 120, 255)
COLOURS[L.UNASSIGNED] = (255, 220, 0)


def overlay(frame: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend the part colours of ``mask`` (H, W) into the RGB ``frame`` (H, W, 3)."""
    if frame.shape[:2] != mask.shape:
        raise ValueError(f"frame {frame.shape[:2]} and mask {mask.shape} differ in size")
    out = frame.astype(np.float32)
    fg = mask > 0
    out[fg] = (1 - alpha) * out[fg] + alpha * COLOURS[mask[fg]]
    return out.round().astype(np.uint8)


def grid(images: list[np.ndarray], columns: int, pad: int = 2) -> np.ndarray:
    """Tile equally sized RGB images into one picture, ``columns`` per row."""
    if not images:
        raise ValueError("no images to tile")
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    out = np.full((rows * (h + pad) - pad, columns * (w + pad) - pad, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = img
    return out

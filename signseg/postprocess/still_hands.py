"""Hands that do not move are dropped from the parts: a bookshelf or a table top that the
network calls a hand in a room it has never seen.

Signing hands move; the skin-coloured things of a room do not. Over the last :data:`SECONDS`
of a video, a pixel's grey range (its brightest minus its darkest value, a 5x5 mean, on a copy
at most :data:`WORK_SIDE` pixels a side) is small where nothing moved. A hand blob of the parts
(8-connected, either hand) whose mean range is under :data:`MIN_RANGE` grey levels becomes
background. Nothing is dropped before :data:`MIN_SECONDS` of the video are seen. Frames come in
order, a video's batches one after another (the grey history is carried between them), so only
frames already seen count: nothing waits for later frames.

Measured on the teacher's labels (docs/model_card.md, thirty-eighth session): on the held-out
clips, hand blobs whose mean grey range to the neighbouring stored frames is under 2 hold 15%
of the predicted hand pixels at 6% precision. The window, its least length and the range were
chosen on the validation signers.
"""
from __future__ import annotations

import cv2
import numpy as np

from signseg import labels as L
from signseg.infer.blobs import components

#: How far back a pixel's grey range looks, in seconds.
SECONDS = 1.0
#: Nothing is dropped until this much of the video has been seen, in seconds.
MIN_SECONDS = 0.5
#: A hand blob whose mean grey range (0-255) is under this is still.
MIN_RANGE = 10.0
#: The grey history is kept at most this many pixels a side (the rule was chosen on frames
#: stored at 320 pixels on the longer side).
WORK_SIDE = 320
#: Frames per second where a video's rate is unknown.
FALLBACK_FPS = 30.0


class StillHands:
    """One video's still-hand filter: call it on each batch of (frames, parts), frames in order;
    ``fps``: the rate of the frames it is given (a video's rate over its frame stride)."""

    def __init__(self, fps: float | None = None):
        fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else FALLBACK_FPS
        self.window = int(SECONDS * fps) + 1
        self.least = int(MIN_SECONDS * fps) + 1
        self._grey: np.ndarray | None = None  # (window, h, w) uint8, a ring
        self._seen = 0
        self._step = 1

    def _push(self, frame: np.ndarray) -> None:
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[::self._step, ::self._step]
        if self._grey is None or self._grey.shape[1:] != grey.shape:
            self._grey, self._seen = np.empty((self.window, *grey.shape), np.uint8), 0
        self._grey[self._seen % self.window] = grey
        self._seen += 1

    def __call__(self, frames: np.ndarray, parts: np.ndarray) -> list[int]:
        """Drop the still hand blobs of ``parts`` (n, H, W) uint8, in place, ``frames`` (n, H, W, 3)
        uint8 RGB the same frames; returns the indices of the frames it changed."""
        changed = []
        # the grey copy: every step-th pixel, at most WORK_SIDE a side
        self._step = max(1, -(-max(frames.shape[1:3]) // WORK_SIDE)) if len(frames) else 1
        for i, frame in enumerate(frames):
            self._push(frame)
            if self._seen >= self.least and self._drop(parts[i]):
                changed.append(i)
        return changed

    def _drop(self, parts: np.ndarray) -> bool:
        """Drop the still hand blobs of one frame's ``parts``, judged on the grey copy's grid."""
        step = self._step
        hands = L.is_hand(parts[::step, ::step])
        n, comp, stats, _ = components(hands.view(np.uint8))
        if n <= 1:
            return False
        history = self._grey[: min(self._seen, self.window)]
        h, w = history.shape[1:]
        still = np.zeros(n, bool)
        for j in range(1, n):
            x, y, bw, bh = (int(v) for v in stats[j, :4])
            # the blob's box, read 2 pixels wider each side for the 5x5 mean
            x0, y0, x1, y1 = max(0, x - 2), max(0, y - 2), min(w, x + bw + 2), min(h, y + bh + 2)
            box = history[:, y0:y1, x0:x1]
            spread = cv2.blur((box.max(0) - box.min(0)).astype(np.float32), (5, 5))
            spread = spread[y - y0:y - y0 + bh, x - x0:x - x0 + bw]
            still[j] = float(spread[comp[y:y + bh, x:x + bw] == j].mean()) < MIN_RANGE
        if not still.any():
            return False
        if step == 1:
            parts[still[comp]] = L.BACKGROUND
            return True
        # a full-size blob goes where most of its pixels on the grid lie in still blobs
        full_n, full = components(L.is_hand(parts).view(np.uint8))[:2]
        on_grid = full[::step, ::step]
        gone = np.bincount(on_grid[still[comp]], minlength=full_n) > 0.5 * np.bincount(on_grid.ravel(), minlength=full_n)
        gone[0] = False
        parts[gone[full]] = L.BACKGROUND
        return True

"""How much each pixel changed over the last tenth of a second: a plane the hand refiner
reads beside a crop's RGB (:mod:`signseg.infer.hand_refiner`, where its card says ``motion``).

Signing hands move, and the refiner, which sees one crop, cannot tell a moving hand from a
still patch of skin-coloured wall by colour alone. The plane is the absolute difference of a
frame's grey (a 5x5 mean) and the grey :data:`LAG_SECONDS` earlier, times :data:`GAIN`, as
uint8. Frames come in order and a video's batches one after another: the last greys are
carried between them, so only frames already seen count. Where there is no earlier frame (a
video's first frames, single images) the plane is 0; the refiner learnt with the plane
blanked at times, so it still sees hands there.
"""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np

#: How far back a frame is compared, in seconds (about 3 frames at 30 frames/s).
LAG_SECONDS = 0.1
#: The grey difference is multiplied by this before it is stored as uint8 (small changes count).
GAIN = 4.0
#: The side of the mean filter over the grey frames.
BLUR = 5


def lag_frames(fps: float | None) -> int:
    """Frames back to compare with at ``fps`` frames a second (the rate of the frames given, a
    video's rate over its stride): at least 1."""
    fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else 30.0
    return max(1, int(round(LAG_SECONDS * fps)))


def _grey(frame: np.ndarray) -> np.ndarray:
    return cv2.blur(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (BLUR, BLUR))


class Motion:
    """One video's motion planes: call it on each batch of frames (n, H, W, 3) uint8 RGB, in
    order; ``fps`` the rate of the frames it is given."""

    def __init__(self, fps: float | None = None):
        self.lag = lag_frames(fps)
        self._greys: deque[np.ndarray] = deque(maxlen=self.lag)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """(n, H, W) uint8: each frame's motion plane."""
        out = np.zeros(frames.shape[:3], np.uint8)
        for i, frame in enumerate(frames):
            grey = _grey(frame)
            if len(self._greys) == self.lag and self._greys[0].shape == grey.shape:
                diff = cv2.absdiff(grey, self._greys[0]).astype(np.float32)
                out[i] = np.clip(diff * GAIN, 0, 255).astype(np.uint8)
            elif self._greys and self._greys[0].shape != grey.shape:
                self._greys.clear()
            self._greys.append(grey)
        return out

"""Streaming video reading over OpenCV: RGB frames one at a time, memory flat in length.

Containers often claim a frame count that decoding does not reach (truncated or damaged
files), so :class:`VideoReader` reports what it actually decoded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from signseg.decode.image import resize
from signseg.errors import VideoError


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video. ``claimed_frames`` may be wrong."""

    path: str
    width: int
    height: int
    fps: float
    claimed_frames: int


class VideoReader:
    """Iterate over a video's frames as (H, W, 3) uint8 RGB arrays.

    ``stride`` keeps every n-th frame; ``size`` = (height, width) resizes each kept frame.
    Opening checks that at least one frame decodes, so a corrupt, empty or non-video file
    fails here with a :class:`VideoError` naming it. Each iteration decodes afresh.
    """

    def __init__(self, path: str | os.PathLike, stride: int = 1, size: tuple[int, int] | None = None):
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.path = Path(path)
        self.stride = stride
        self.size = size
        #: frames decoded / kept by the last complete or running iteration
        self.frames_decoded = 0
        self.frames_read = 0
        cap = self._open()
        try:
            ok, frame = cap.read()
            if not ok or frame is None:
                raise VideoError(self.path, "no frames could be decoded (empty, truncated or not a video)")
            self.info = VideoInfo(path=str(self.path), width=frame.shape[1], height=frame.shape[0],
                                  fps=float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
                                  claimed_frames=max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)))
        finally:
            cap.release()

    def _open(self) -> cv2.VideoCapture:
        if not self.path.exists():
            raise VideoError(self.path, "file does not exist")
        if self.path.is_dir():
            raise VideoError(self.path, "is a directory, not a video file")
        if self.path.stat().st_size == 0:
            raise VideoError(self.path, "file is empty (0 bytes)")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise VideoError(self.path, "cannot be opened as a video (unknown or corrupt container)")
        return cap

    @property
    def fps(self) -> float:
        """Frames per second of the *returned* frames (the container's fps / stride)."""
        return self.info.fps / self.stride

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the returned frames."""
        return self.size or (self.info.height, self.info.width)

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.frames()

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Kept frames number ``start`` (inclusive) to ``stop`` (exclusive, None = to the end).

        Numbers count *kept* frames (after ``stride``). Frames before ``start`` are decoded
        and dropped rather than seeked to, because container seeking is not frame-exact.
        """
        if start < 0 or (stop is not None and stop < start):
            raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
        cap = self._open()
        self.frames_decoded = self.frames_read = 0
        kept = 0  # kept-frame number of the next frame that passes the stride
        try:
            while stop is None or kept < stop:
                if self.frames_decoded % self.stride or kept < start:
                    if not cap.grab():  # skipped frames are demuxed/decoded but not converted
                        break
                    if self.frames_decoded % self.stride == 0:
                        kept += 1
                    self.frames_decoded += 1
                    continue
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    break
                self.frames_decoded += 1
                kept += 1
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                if self.size is not None:
                    rgb = resize(rgb, self.size)
                self.frames_read += 1
                yield rgb
        finally:
            cap.release()

    def batches(self, batch_size: int, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Yield (n, H, W, 3) uint8 stacks of at most ``batch_size`` frames (see :meth:`frames`)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        buf: list[np.ndarray] = []
        for frame in self.frames(start, stop):
            buf.append(frame)
            if len(buf) == batch_size:
                yield np.stack(buf)
                buf = []
        if buf:
            yield np.stack(buf)


def read_video(path: str | os.PathLike, stride: int = 1, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode a whole (short) video into one (T, H, W, 3) uint8 RGB array."""
    reader = VideoReader(path, stride=stride, size=size)
    frames = list(reader)
    if not frames:
        raise VideoError(path, "no frames could be decoded")
    return np.stack(frames)

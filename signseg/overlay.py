"""Pictures of masks on frames: colour per part, for checking a run by eye (numpy in, numpy out)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from signseg import labels as L
from signseg.decode.video import VideoReader
from signseg.errors import SignsegError
from signseg.labels import PARTS
from signseg.run.corpus import video_id_for
from signseg.store.mask_reader import MaskReader

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


def write_png(path: str | os.PathLike, picture: np.ndarray) -> None:
    """Write an RGB picture (H, W, 3) uint8 to ``path`` (its folder made); an OSError names the
    file where it cannot be written (an unknown image extension, no room)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: cannot write the picture (not a .png/.jpg name, or no room?)")


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


def draw_boxes(image: np.ndarray, boxes: np.ndarray, thickness: int = 2) -> np.ndarray:
    """Draw the part boxes (3, 4) — face, left hand, right hand; NaN rows skipped — on an RGB image."""
    out = np.ascontiguousarray(image).copy()
    for box, part in zip(boxes, PARTS):
        if np.isnan(box).any():
            continue
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), tuple(int(c) for c in COLOURS[part]), thickness)
    return out


def overlaid_frames(video: str | os.PathLike, masks_file: str | os.PathLike,
                    video_id: str | None = None) -> Iterator[np.ndarray]:
    """Every frame of ``video`` with its masks (and part boxes, when stored) drawn on it.

    A file written with ``--stride N`` has a mask for every N-th frame: the frames between
    show the mask of the last segmented frame. Streams: memory is flat in video length.
    """
    with MaskReader(masks_file) as reader:
        item = reader[_pick_video(reader, video, video_id)]
        stride = int(item.attrs.get("stride", 1))
        frames = VideoReader(video)
        if item.masks.shape[1:] != (frames.info.height, frames.info.width):
            raise SignsegError(masks_file, f"masks of {item.video_id!r} are {item.masks.shape[1:]}, "
                                           f"but {video} is {frames.info.height}x{frames.info.width}: another video?")
        for i, frame in enumerate(frames):
            k = i // stride
            if k >= len(item):
                raise SignsegError(masks_file, f"{item.video_id!r} has {len(item)} masks, {video} has more frames "
                                               f"(at least {i + 1}): another video?")
            out = overlay(frame, item.masks[k])
            if item.boxes is not None:
                out = draw_boxes(out, item.boxes[k])
            yield out


def _pick_video(reader, video: str | os.PathLike, video_id: str | None) -> str:
    """The id to show: as given, else the one the video's name gives, else the only one."""
    if video_id is None:
        guess = video_id_for(Path(video))
        video_id = guess if guess in reader else reader.keys()[0] if len(reader) == 1 else None
        if video_id is None:
            raise SignsegError(reader.path, f"no video {guess!r} in the file; name one with --video-id "
                                            f"(it has {len(reader)}: {', '.join(reader.keys()[:5])}...)")
    elif video_id not in reader:
        raise SignsegError(reader.path, f"no complete video {video_id!r} in the file")
    return video_id


def write_overlay_video(video: str | os.PathLike, masks_file: str | os.PathLike, out: str | os.PathLike,
                        video_id: str | None = None) -> int:
    """Write ``video`` with its masks drawn on as an mp4 at the video's frame rate; returns frames."""
    fps = VideoReader(video).fps or 25.0
    writer = None
    n = 0
    try:
        for frame in overlaid_frames(video, masks_file, video_id):
            if writer is None:
                writer = cv2.VideoWriter(os.fspath(out), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                         (frame.shape[1], frame.shape[0]))
                if not writer.isOpened():
                    raise SignsegError(out, "cannot write a video here (is the folder there, the name .mp4?)")
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            n += 1
    finally:
        if writer is not None:
            writer.release()
    return n


def overlay_grid(video: str | os.PathLike, masks_file: str | os.PathLike, count: int = 8, columns: int = 4,
                 video_id: str | None = None) -> np.ndarray:
    """``count`` evenly spaced overlaid frames of ``video`` tiled into one RGB picture (streams:
    only the picked frames are kept)."""
    with MaskReader(masks_file) as reader:
        item = reader[_pick_video(reader, video, video_id)]
        total = len(item) * int(item.attrs.get("stride", 1))
    picks = set(np.linspace(0, total - 1, min(count, total)).round().astype(int).tolist())
    kept = [f for i, f in enumerate(overlaid_frames(video, masks_file, video_id)) if i in picks]
    return grid(kept, columns=min(columns, len(kept)))

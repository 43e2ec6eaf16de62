"""Overlay thumbnails of a video for the report: a few frames with their masks drawn on, read
from the source video where it still is (the file records its path), as small JPEGs."""
from __future__ import annotations

import base64
import os

import cv2
import h5py
import numpy as np

from signseg.decode.video import VideoReader
from signseg.overlay import overlay


def strip(group: h5py.Group, count: int = 6, height: int = 96) -> tuple[list[bytes], str | None]:
    """``count`` evenly spaced frames of the video behind ``group`` with their masks, each a
    JPEG ``height`` pixels high; or ([], why not) when the source cannot be read. Decoding
    streams: only the picked frames are kept."""
    source = str(group.attrs.get("source", ""))
    if not source or not os.path.isfile(source):
        return [], f"source video not found{': ' + source if source else ''}"
    masks = group["masks"]
    stride = int(group.attrs.get("stride", 1))
    n = masks.shape[0]
    picks = np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(int))
    wanted = {int(k) * stride: int(k) for k in picks}
    out = []
    try:
        for i, frame in enumerate(VideoReader(source)):
            if i in wanted:
                mask = masks[wanted[i]]
                if frame.shape[:2] != mask.shape:
                    return [], f"{source} is {frame.shape[1]}x{frame.shape[0]}, its masks {mask.shape[1]}x{mask.shape[0]}"
                pic = overlay(frame, mask)
                w = max(1, round(pic.shape[1] * height / pic.shape[0]))
                pic = cv2.resize(pic, (w, height), interpolation=cv2.INTER_AREA)
                ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(pic, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
                if ok:
                    out.append(jpg.tobytes())
                if len(out) == len(wanted):
                    break
    except Exception as exc:  # a source that changed or broke since the run: the report goes on
        return [], f"{source}: {exc}"
    return out, None


def data_uri(jpeg: bytes) -> str:
    """A JPEG as an inline ``data:`` address (the page must open from disk, with no server)."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")

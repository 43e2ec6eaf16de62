"""Between inference and the file: a video's masks become parts, boxes and crops.

A :class:`Postprocess` says what to make (picklable, sent to workers); :meth:`Postprocess.start`
gives the per-video state that sees the video's batches in order (part tracking carries
over between batches).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from signseg.infer.signals import with_parts
from signseg.labels import PART_NAMES
from signseg.postprocess.parts import PartTracker, crop_parts


@dataclass(frozen=True)
class Postprocess:
    """``parts``: split masks into face / left hand / right hand and store per-frame boxes.
    ``crop_size``: also store square RGB crops of each part, ``crop_size`` pixels a side
    (implies ``parts``)."""

    parts: bool = False
    crop_size: int | None = None

    def __post_init__(self) -> None:
        if self.crop_size is not None:
            if int(self.crop_size) < 8:
                raise ValueError(f"crop size must be at least 8 pixels, got {self.crop_size}")
            object.__setattr__(self, "parts", True)

    def start(self) -> "VideoPostprocess":
        """Fresh state for one video."""
        return VideoPostprocess(self)

    def attrs(self) -> dict[str, Any]:
        """What a video's group records about it (docs/format.md)."""
        return {"parts": self.parts, "crop_size": self.crop_size}


class VideoPostprocess:
    """One video's post-processing; call it on (frames, masks) batches in frame order."""

    def __init__(self, spec: Postprocess):
        self.spec = spec
        self.tracker = PartTracker() if spec.parts else None

    def __call__(self, frames: np.ndarray, masks: np.ndarray, signals: np.ndarray | None = None,
                 proba: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The datasets to append for this batch: ``masks``, ``signals`` where given
        (:mod:`signseg.infer.signals`; with parts, each part's presence and confidence is added
        from ``proba``, the batch's probabilities at the network's input size) and, as asked,
        ``boxes`` and ``crops/<part>``."""
        if self.tracker is None:
            return {"masks": masks} if signals is None else {"masks": masks, "signals": signals}
        parts, boxes = self.tracker(masks)
        out = {"masks": parts, "boxes": boxes}
        if signals is not None:
            out["signals"] = with_parts(signals, parts, proba)
        if self.spec.crop_size:
            crops = crop_parts(frames, boxes, self.spec.crop_size)
            for k, name in enumerate(PART_NAMES):
                out[f"crops/{name}"] = crops[:, k]
        return out

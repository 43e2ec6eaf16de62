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
from signseg.infer.motion import Motion
from signseg.labels import PART_NAMES
from signseg.postprocess.network_parts import HandSides, network_parts, part_boxes
from signseg.postprocess.parts import PartTracker, crop_parts
from signseg.postprocess.still_hands import StillHands


@dataclass(frozen=True)
class Postprocess:
    """``parts``: split masks into face / left hand / right hand and store per-frame boxes.
    ``crop_size``: also store square RGB crops of each part, ``crop_size`` pixels a side
    (implies ``parts``). ``still_hands``: with a network's parts, drop hand blobs that have not
    moved over the last second (:mod:`signseg.postprocess.still_hands`)."""

    parts: bool = False
    crop_size: int | None = None
    still_hands: bool = True

    def __post_init__(self) -> None:
        if self.crop_size is not None:
            if int(self.crop_size) < 8:
                raise ValueError(f"crop size must be at least 8 pixels, got {self.crop_size}")
            object.__setattr__(self, "parts", True)

    def start(self, channels: tuple[str, ...] = (), refiner=None, arms=None,
              fps: float | None = None) -> "VideoPostprocess":
        """Fresh state for one video; ``channels``: the parts the network's channels after the
        mask give (``Segmenter.parts``), which then split the masks (see :meth:`attrs`);
        ``refiner``: the Segmenter's hand refiner, whose hands the parts then take; ``arms``: its
        arm network, which then names the hands; ``fps``: the rate of the frames it will see."""
        return VideoPostprocess(self, channels, refiner, arms, fps)

    def attrs(self, channels: tuple[str, ...] = (), refiner_sha256: str | None = None,
              arms_sha256: str | None = None) -> dict[str, Any]:
        """What a video's group records about it (docs/format.md): ``parts_from`` says who split
        the masks: the network (its sides too), the network's face with hands named by their
        side of the face or by the arm network, or the tracker alone; ``hand_refiner_sha256``
        the hand refiner the hands came from, ``arm_sides_sha256`` the arm network that named them."""
        out = {"parts": self.parts, "crop_size": self.crop_size}
        if not self.parts:
            return out
        if channels:
            out["still_hands_dropped"] = self.still_hands
        if "left_hand" in channels or not channels:
            out["parts_from"] = "network" if channels else "tracker"
            return out
        arms = arms_sha256 is not None
        out["parts_from"] = "network face, " + ("hands named by their arms" if arms else "hands by side of the face")
        if arms:
            out["arm_sides_sha256"] = arms_sha256
        if refiner_sha256:
            out["parts_from"] += ", hands refined on crops"
            out["hand_refiner_sha256"] = refiner_sha256
        return out


class VideoPostprocess:
    """One video's post-processing; call it on (frames, masks) batches in frame order."""

    def __init__(self, spec: Postprocess, channels: tuple[str, ...] = (), refiner=None, arms=None,
                 fps: float | None = None):
        self.spec, self.channels = spec, tuple(channels)
        self.refiner = refiner if self.channels else None
        self.arms = arms if self.channels and "left_hand" not in self.channels else None
        # per-video state carried between batches: the face's line for a face/hand model's
        # hands, the part tracker for a one-channel model's masks
        self.sides = HandSides() if spec.parts and self.channels else None
        self.tracker = PartTracker() if spec.parts and not self.channels else None
        self.recent_boxes: list = []  # the hand refiner's boxes of the last frames, for the next batch
        self.still = StillHands(fps) if spec.parts and self.channels and spec.still_hands else None
        self.motion = Motion(fps) if spec.parts and self.refiner is not None and self.refiner.motion else None

    def __call__(self, frames: np.ndarray, masks: np.ndarray, signals: np.ndarray | None = None,
                 proba: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The datasets to append for this batch: ``masks``, ``signals`` where given
        (:mod:`signseg.infer.signals`; with parts, each part's presence and confidence is added
        from ``proba``, the batch's probabilities at the network's input size: (n, h, w) the
        mask's, or (n, h, w, 1 + k) every channel, whose part channels then split the masks,
        :func:`~signseg.postprocess.network_parts.network_parts`) and, as asked, ``boxes`` and
        ``crops/<part>``."""
        if not self.spec.parts:
            return {"masks": masks} if signals is None else {"masks": masks, "signals": signals}
        if self.channels:
            if proba is None or proba.ndim != 4:
                raise ValueError(f"the network's parts {self.channels} need every channel's probabilities, "
                                 f"got {None if proba is None else proba.shape}")
            hands = None if self.refiner is None else self.refiner.hands(
                frames, proba[..., 1:], self.channels, self.recent_boxes,
                None if self.motion is None else self.motion(frames))
            arms = None if self.arms is None else self.arms.arms(frames)
            parts, boxes = network_parts(masks, proba[..., 1:], self.channels, self.sides, hands, arms)
            if self.still is not None:
                for i in self.still(frames, parts):
                    boxes[i] = part_boxes(parts[i])
            per_part = proba[..., [1 + self.channels.index(c if c in self.channels else "hand") for c in PART_NAMES]]
        else:
            parts, boxes = self.tracker(masks)
            per_part = None if proba is None else proba[..., 0] if proba.ndim == 4 else proba
        out = {"masks": parts, "boxes": boxes}
        if signals is not None:
            out["signals"] = with_parts(signals, parts, per_part)
        if self.spec.crop_size:
            crops = crop_parts(frames, boxes, self.spec.crop_size)
            for k, name in enumerate(PART_NAMES):
                out[f"crops/{name}"] = crops[:, k]
        return out

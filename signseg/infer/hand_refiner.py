"""A second look at the hands: the hand refiner (:mod:`signseg.models.hand_refiner`) run on a
crop round each blob of the first network's hand probability (:mod:`signseg.infer.hand_crops`).

The first network sees the whole frame at 224x224 and marks skin more than hands: forearms,
necks and skin-coloured objects, with hands half found (docs/model_card.md). The refiner sees
each candidate at about the frame's own resolution with the first network's guess beside it,
and answers which of its pixels are hand. A model card names it (``"hand_refiner"`` in
``snet-lite.json``); where it is asked for (``--refine-hands``, ``refine_hands=True``; the
card's ``default`` otherwise) the parts a run writes take their hands from it
(:func:`signseg.postprocess.network_parts.network_parts`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signseg.infer.hand_crops import (CROP, PROPOSE, Box, hand_boxes, paste_max, probability_planes, refiner_input,
                                      with_neighbours)
from signseg.infer.preprocess import to_source
from signseg.infer.second_network import built, card_files, runner

#: Crops are run in batches padded to a multiple of this (few compiled shapes).
BUCKET = 4
#: The hand probability above which a pixel is hand, where a card's entry names none (the
#: shipped card says 0.5, chosen on validation).
THRESHOLD = 0.4
#: The hand probability above which the refiner's hand also takes pixels the first network's
#: face had grown over (a hand in front of the face), where a card's entry names none. Chosen
#: on the validation signers (forty-third session; 0.85-0.97 alike, lower takes face pixels).
OVER_FACE = 0.9
#: The value :meth:`HandRefiner.hands` gives a pixel whose hand probability is over
#: :attr:`HandRefiner.over_face` (1 is hand, 0 not, -1 not looked at).
SURE_HAND = 2
#: The keys of a card's ``"hand_refiner"`` entry that say how it runs, not which weights: a
#: refiner trained anew into a card keeps them (``signseg refiner --attach``).
RUN_SETTINGS = ("default", "propose", "min_peak", "neighbours", "over_face", "split_at")


def hand_and_face(parts_proba: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The first network's hand and face probabilities, (n, h, w) float32 each, from its part
    channels ``parts_proba`` (n, h, w, k) named ``names`` (a ``face_hand`` model's: face, hand),
    float in [0, 1] or uint8 times 255 (the compiled fixed-shape graph's)."""
    if "hand" not in names or "face" not in names:
        raise ValueError(f"the hand refiner reads a face and a hand channel, the network gives {names}")
    p = np.asarray(parts_proba)
    p = p.astype(np.float32) / 255.0 if p.dtype == np.uint8 else p.astype(np.float32, copy=False)
    return p[..., names.index("hand")], p[..., names.index("face")]


@dataclass
class HandRefiner:
    """A refiner: its network (``weights``: a Keras model, crops in [0, 1] -> hand
    probability, or the path of its ``.weights.h5``, built with ``width`` and loaded on first
    use: the int8 runtime never needs it), the probability above which a pixel is hand, which
    blobs it looks at (``propose``, ``min_peak``: :func:`~signseg.infer.hand_crops.hand_boxes`)
    and where its weights came from. ``neighbours``: a frame also borrows the boxes of this many
    frames either side (:func:`~signseg.infer.hand_crops.with_neighbours`)."""

    weights: Any
    threshold: float = THRESHOLD
    propose: float = PROPOSE
    sha256: str | None = None
    #: where it runs (:mod:`signseg.infer.runtimes`; ``"auto"``: on a CPU its int8 graph on ONNX
    #: Runtime where the card ships one, else ONNX Runtime's float32 export) and on how many
    #: threads (None: all cores)
    runtime: str = "auto"
    threads: int | None = None
    min_peak: float = 0.0
    #: the int8 graph and its sha256 (checked before use), where the card names one
    int8: tuple[Path, str | None] | None = None
    #: filters at the top level, for building the network from a ``weights`` path
    width: int = 16
    neighbours: int = 0
    #: whether it reads a motion plane after the probabilities (:mod:`signseg.infer.motion`)
    motion: bool = False
    #: the probability above which its hand takes the face's pixels too (:data:`OVER_FACE`)
    over_face: float = OVER_FACE
    #: a blob too large to crop is boxed again above these probabilities, in turn
    #: (:func:`~signseg.infer.hand_crops.hand_boxes`; empty: the first network's call stands there)
    split_at: tuple[float, ...] = ()
    _model: Any = field(default=None, init=False, repr=False)
    _runner: Any = field(default=None, init=False, repr=False)

    @property
    def model(self) -> Any:
        """The Keras network, built and loaded from ``weights`` when first asked for."""
        if self._model is None:
            from signseg.models.hand_refiner import hand_refiner
            self._model = built(self.weights, lambda: hand_refiner(self.width, channels=self.channels),
                                "hand refiner")
        return self._model

    @property
    def channels(self) -> int:
        """The planes of its crops: RGB, hand, face, and motion where it reads it."""
        return 6 if self.motion else 5

    def run(self, x: np.ndarray) -> np.ndarray:
        """The network on (b, CROP, CROP, :attr:`channels`) uint8 crops (:meth:`crops`) -> (b, CROP, CROP) hand
        probabilities, on its runtime (made on first use: an ONNX export is cached under the
        weights' sha256); batches are padded to a multiple of :data:`BUCKET` crops."""
        if self._runner is None:
            self._runner = runner(self.runtime, self.threads, self.int8, lambda: self.model, (CROP, CROP),
                                  None if self.sha256 is None else f"hand-refiner {self.sha256}")
        padded = np.zeros((-(-len(x) // BUCKET) * BUCKET, *x.shape[1:]), np.float32)
        np.multiply(x, np.float32(1 / 255), out=padded[: len(x)])
        return np.asarray(self._runner(padded))[: len(x), ..., 0]

    @classmethod
    def from_card(cls, entry: dict[str, Any], folder: str | os.PathLike) -> "HandRefiner":
        """The refiner a model card's ``"hand_refiner"`` entry names (``file``, ``sha256``,
        ``width``, ``threshold``, ``propose``, ``min_peak``, ``neighbours``, ``motion``, ``over_face``, ``split_at``, ``int8``: its int8
        graph's ``file`` and ``sha256``, used only where made from these weights; ``default``:
        whether it runs unless asked), its files in ``folder``; the weights' sha256 is checked
        here (:func:`~signseg.infer.second_network.card_files`), the network is built when first
        needed and the int8 graph's sha256 is checked when it is first run."""
        path, sha, int8 = card_files(entry, folder, "hand refiner")
        return cls(path, float(entry.get("threshold", THRESHOLD)), float(entry.get("propose", PROPOSE)), sha,
                   min_peak=float(entry.get("min_peak", 0.0)), neighbours=int(entry.get("neighbours", 0)),
                   int8=int8, width=int(entry.get("width", 16)), motion=bool(entry.get("motion", False)),
                   over_face=float(entry.get("over_face", OVER_FACE)),
                   split_at=tuple(float(t) for t in entry.get("split_at", ())))

    def crops(self, frames: np.ndarray, hand_p: np.ndarray, face_p: np.ndarray, carry: list | None = None,
              motion: np.ndarray | None = None) -> tuple[np.ndarray, list[tuple[int, Box]], list[np.ndarray | None]]:
        """The refiner's inputs for ``frames`` (n, H, W, 3) uint8 and the first network's
        probabilities (n, h, w) at any size: (b, CROP, CROP, :attr:`channels`) uint8 crops, the
        (frame, box) each was cut from, and each frame's blobs too large to crop (or None).
        ``carry``: a list kept by the caller between one video's batches, in which the last
        frames' own boxes wait to be borrowed by the next batch's first (:attr:`neighbours`).
        ``motion``: the frames' motion planes (n, H, W) uint8 (:class:`~signseg.infer.motion.Motion`),
        read where the refiner reads motion; None there gives a plane of 0 (single images)."""
        H, W = frames.shape[1:3]
        hand_p, face_p = to_source(hand_p, H, W), to_source(face_p, H, W)
        found = [hand_boxes(p, self.propose, min_peak=self.min_peak, split_at=self.split_at) for p in hand_p]
        own = [boxes for boxes, _ in found]
        if self.neighbours:
            before = [] if carry is None else carry
            boxes = with_neighbours(own, self.neighbours, before[-self.neighbours:])
            if carry is not None:
                carry[:] = [*before, *own][-self.neighbours:]
        else:
            boxes = own
        where = [(i, box) for i, frame_boxes in enumerate(boxes) for box in frame_boxes]
        if self.motion and motion is None:
            motion = np.zeros((len(frames), H, W), np.uint8)
        planes = {i: probability_planes(hand_p[i], face_p[i], boxes[i], motion[i] if self.motion else None)
                  for i in {i for i, _ in where}}
        x = np.stack([refiner_input(frames[i], planes[i], box) for i, box in where]) if where else \
            np.zeros((0, CROP, CROP, self.channels), np.uint8)
        return x, where, [too_big for _, too_big in found]

    def hand_proba(self, frames: np.ndarray, hand_p: np.ndarray, face_p: np.ndarray,
                   carry: list | None = None, motion: np.ndarray | None = None) -> np.ndarray:
        """(n, H, W) float32: each pixel's hand probability where a crop covers it (the highest
        of overlapping crops), 0 where none does, -1 on blobs too large to crop
        (:func:`~signseg.infer.hand_crops.hand_boxes`), where the first network's call stands
        unless an overlapping box (another blob's, a neighbour's) calls the pixel hand.
        ``frames`` (n, H, W, 3) uint8; ``hand_p`` and ``face_p`` the first network's
        probabilities, (n, h, w) at any size; ``carry`` and ``motion`` as :meth:`crops` takes them."""
        n, H, W = frames.shape[:3]
        x, where, too_big = self.crops(frames, hand_p, face_p, carry, motion)
        out = np.zeros((n, H, W), np.float32)  # a pixel no crop covers is not hand ...
        if where:
            for (i, box), p in zip(where, self.run(x)):
                paste_max(out[i], p, box)
        for i, big in enumerate(too_big):  # ... unless its blob was too large to crop: a box there only adds
            if big is not None:
                out[i][big & (out[i] <= self.threshold)] = -1.0
        return out

    def hands(self, frames: np.ndarray, parts_proba: np.ndarray, names: tuple[str, ...],
              carry: list | None = None, motion: np.ndarray | None = None) -> np.ndarray:
        """(n, H, W) int8: 1 where the refiner says hand, :data:`SURE_HAND` where it says so
        with a probability over :attr:`over_face` (there it takes the face's pixels too), 0 where
        it says not, -1 where no crop looked (the first network's call stands there), from the
        first network's part channels (:func:`hand_and_face`); ``carry`` and ``motion`` as
        :meth:`crops` takes them, for a video's batches."""
        p = self.hand_proba(frames, *hand_and_face(parts_proba, names), carry, motion)
        out = (p > self.threshold).view(np.int8)
        out[p > max(self.over_face, self.threshold)] = SURE_HAND
        out[p < 0] = -1
        return out

"""Which hand is which, from the arms: the arm network (:mod:`signseg.models.arm_sides`) run
on whole frames.

The side of the face a hand lies on names it wrongly whenever it reaches across the body
(docs/parts.md: 13% of hand pixels held out, with perfect hands). The arm network marks the
signer's left and right arm, hands included, so a hand takes the side of the arm it ends.
A model card may name one (``"arm_sides"``, ``signseg arms --attach``). ``snet-lite``'s is off
unless asked: held out it swaps fewer hands, but it costs speed and white walls get worse
(docs/parts.md). ``signseg adapt`` refits it on a corpus's own people and turns it on in the
adapted card where the corpus's held-out clips swap fewer hand pixels with it. With ``--parts
--arm-sides`` (``arm_sides=True``) the hands are then named by it where it is sure, by the
face's line where it is not (:func:`signseg.postprocess.network_parts.leaning_left`); it costs
about an eighth of ``--parts``' speed on a CPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signseg.infer.preprocess import to_input
from signseg.infer.second_network import built, card_files, runner
from signseg.models.arm_sides import SIZE


@dataclass
class ArmSides:
    """The arm network: ``weights`` (a Keras model, frames in [0, 1] at SIZE x SIZE -> left and
    right arm probabilities, or the path of its ``.weights.h5``, built with ``width`` when first
    needed), where it runs, and where its weights came from."""

    weights: Any
    sha256: str | None = None
    #: where it runs (:mod:`signseg.infer.runtimes`; ``"auto"``: on a CPU its int8 graph where
    #: the card ships one) and on how many threads (None: all cores)
    runtime: str = "auto"
    threads: int | None = None
    int8: tuple[Path, str | None] | None = None
    width: int = 8
    _model: Any = field(default=None, init=False, repr=False)
    _runner: Any = field(default=None, init=False, repr=False)

    @property
    def model(self) -> Any:
        """The Keras network, built and loaded from ``weights`` when first asked for."""
        if self._model is None:
            from signseg.models.arm_sides import arm_sides
            self._model = built(self.weights, lambda: arm_sides(self.width), "arm network")
        return self._model

    def arms(self, frames: np.ndarray) -> np.ndarray:
        """(n, SIZE, SIZE, 2) float32: each pixel's probability of being the signer's left arm
        and right arm (hands included), for ``frames`` (n, H, W, 3) uint8 of any size, stretched
        to SIZE x SIZE as the first network's input is."""
        if self._runner is None:
            self._runner = runner(self.runtime, self.threads, self.int8, lambda: self.model, (SIZE, SIZE),
                                  None if self.sha256 is None else f"arm-sides {self.sha256}")
        if not len(frames):
            return np.zeros((0, SIZE, SIZE, 2), np.float32)
        x = to_input(frames, (SIZE, SIZE)).astype(np.float32) * np.float32(1 / 255)
        return np.asarray(self._runner(x), np.float32)

    @classmethod
    def from_card(cls, entry: dict[str, Any], folder: str | os.PathLike) -> "ArmSides":
        """The arm network a model card's ``"arm_sides"`` entry names (``file``, ``sha256``,
        ``width``, ``int8``; ``default``: whether it runs unless asked), its files in ``folder``
        (:func:`~signseg.infer.second_network.card_files`)."""
        path, sha, int8 = card_files(entry, folder, "arm network")
        return cls(path, sha, int8=int8, width=int(entry.get("width", 8)))

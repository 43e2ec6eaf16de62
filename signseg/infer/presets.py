"""Registry of named, shipped model weights (``Segmenter.from_pretrained(name)``).

Each preset is two files in the package's ``weights/`` folder: ``<name>.weights.h5`` and a
model card ``<name>.json`` with the architecture, its config, the input size, the mask
threshold, the training data, measured metrics and the weights' sha256. Training writes
both (:mod:`signseg.train.fit`). ``SIGNSEG_WEIGHTS_DIR`` points the registry at another folder.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signseg.errors import WeightsError

#: Every name the registry knows, with what it is for.
PRESETS: dict[str, str] = {
    "snet": "The paper's SNet U-Net (32-256 filters) at its native 400x400, trained on a GPU "
            "(still undertrained: below snet-lite on the worst setting).",
    "snet-lite": "SNet at half width behind a stride-2 stem, 224x224 input, face and hand channels after "
                 "its mask, with the test-time flip: the default on CPUs and GPUs.",
}
#: Chosen by ``from_pretrained()`` with no name: the model that scores best held out by the rule
#: models are picked by (the worst setting, then the mean; docs/model_card.md) -- a default must
#: be the better model, not the bigger one. ``snet-lite`` with its test-time flip beats ``snet``
#: on the worst setting (light clothing 0.526 against 0.507, fourteenth session) and on the worst
#: clip (0.460 against 0.392), so it is the default on a GPU too until ``snet`` is trained longer.
DEFAULT_GPU, DEFAULT_CPU = "snet-lite", "snet-lite"

CARD_SUFFIX, WEIGHTS_SUFFIX = ".json", ".weights.h5"


def weights_dir() -> Path:
    """The folder the presets live in (``SIGNSEG_WEIGHTS_DIR`` or the installed ``weights/``)."""
    env = os.environ.get("SIGNSEG_WEIGHTS_DIR")
    if env:
        return Path(env)
    from importlib.resources import files
    return Path(str(files("signseg.weights")))


@dataclass(frozen=True)
class ModelCard:
    """What a weights file is: how to build its model, how to use it, where it came from."""

    name: str
    architecture: str
    config: dict[str, Any]
    input_size: tuple[int, int]
    threshold: float
    sha256: str | None = None
    weights_file: str | None = None
    #: run on each frame and its mirror image and average (the threshold was chosen that way)
    mirror: bool = False
    #: keep each frame's this many largest blobs of hand/face (None: all), see infer.blobs
    max_blobs: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelCard":
        known = {"name", "architecture", "config", "input_size", "threshold", "sha256", "weights_file", "mirror",
                 "max_blobs"}
        return cls(name=d["name"], architecture=d["architecture"], config=dict(d.get("config", {})),
                   input_size=tuple(d["input_size"]), threshold=float(d.get("threshold", 0.5)),
                   sha256=d.get("sha256"), weights_file=d.get("weights_file"), mirror=bool(d.get("mirror", False)),
                   max_blobs=d.get("max_blobs") or None,
                   extra={k: v for k, v in d.items() if k not in known})

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "architecture": self.architecture, "config": self.config,
                "input_size": list(self.input_size), "threshold": self.threshold,
                "sha256": self.sha256, "weights_file": self.weights_file, "mirror": self.mirror,
                "max_blobs": self.max_blobs, **self.extra}

    def save(self, path: str | os.PathLike) -> None:
        """Write the card as JSON, whole or not at all (a killed run leaves the card it had)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ModelCard":
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WeightsError(path, f"unreadable model card ({exc})") from exc


def int8_graph(card: ModelCard, weights_file: str | os.PathLike,
               input_size: tuple[int, int]) -> tuple[Path, str | None] | None:
    """The int8 graph a card names beside its weights (``"int8": {"file", "sha256",
    "input_size", "weights_sha256"}``, :mod:`signseg.infer.quantize`) and its sha256, where it was made for
    ``input_size`` from these weights; else None (a graph of older weights is never run)."""
    entry = card.extra.get("int8")
    if not entry or tuple(entry.get("input_size", ())) != tuple(input_size):
        return None
    if card.sha256 and entry.get("weights_sha256") not in (None, card.sha256):
        return None
    return Path(weights_file).parent / entry["file"], entry.get("sha256")


def card_path_for(weights_path: str | os.PathLike) -> Path:
    """``x.weights.h5`` -> ``x.json`` (the card beside a weights file)."""
    p = Path(weights_path)
    stem = p.name[: -len(WEIGHTS_SUFFIX)] if p.name.endswith(WEIGHTS_SUFFIX) else p.stem
    return p.with_name(stem + CARD_SUFFIX)


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve(name: str) -> tuple[ModelCard, Path]:
    """The card and the verified weights file of preset ``name``."""
    if name not in PRESETS:
        raise WeightsError(None, f"unknown model {name!r}; shipped models: {', '.join(PRESETS)}")
    folder = weights_dir()
    card_file = folder / f"{name}{CARD_SUFFIX}"
    weights_file = folder / f"{name}{WEIGHTS_SUFFIX}"
    for f in (card_file, weights_file):
        if not f.is_file():
            raise WeightsError(f, f"model {name!r} is registered but this file is missing; "
                                  "train it with `signseg train` or reinstall signseg")
    card = ModelCard.load(card_file)
    if card.sha256 and sha256_of(weights_file) != card.sha256:
        raise WeightsError(weights_file, f"sha256 does not match the model card {card_file.name} "
                                         "(corrupt or replaced weights)")
    return card, weights_file


def list_presets() -> dict[str, dict[str, Any]]:
    """Every registered model: its description, and its card where its files are installed."""
    out: dict[str, dict[str, Any]] = {}
    for name, description in PRESETS.items():
        entry: dict[str, Any] = {"description": description, "available": False}
        card_file = weights_dir() / f"{name}{CARD_SUFFIX}"
        if card_file.is_file() and (weights_dir() / f"{name}{WEIGHTS_SUFFIX}").is_file():
            entry.update(available=True, card=ModelCard.load(card_file).to_dict())
        out[name] = entry
    return out

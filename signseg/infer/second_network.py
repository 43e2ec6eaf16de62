"""What every second network a model card names shares (the hand refiner, the arm network):
its files, checked against the card; its Keras network, built on first use; its runner.

A card entry names a ``file`` of weights beside the card, its ``sha256``, and an ``int8`` graph
(``file``, ``sha256``, ``weights_sha256``: the weights it was made from). ``runtime="auto"``
runs that graph on a CPU where it is made from these weights (:mod:`signseg.infer.runtimes`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import keras

from signseg.errors import WeightsError
from signseg.infer import runtimes


def card_files(entry: dict[str, Any], folder: str | os.PathLike, what: str
               ) -> tuple[Path, str, tuple[Path, str | None] | None]:
    """The weights file a card's entry for ``what`` (e.g. "hand refiner") names in ``folder``,
    its sha256 (checked against the entry's) and its int8 graph with the graph's sha256, or
    None where the card has none or one made from other weights (never run then)."""
    from signseg.infer.presets import sha256_of

    path = Path(folder) / entry["file"]
    if not path.is_file():
        raise WeightsError(path, f"the model card names this {what} but the file is missing")
    sha = sha256_of(path)
    if entry.get("sha256") and entry["sha256"] != sha:
        raise WeightsError(path, "sha256 does not match the model card (corrupt or replaced weights)")
    int8 = entry.get("int8")
    if int8 and int8.get("weights_sha256") not in (None, sha):
        int8 = None
    return path, sha, None if not int8 else (Path(folder) / int8["file"], int8.get("sha256"))


def built(weights: Any, build: Callable[[], keras.Model], what: str) -> keras.Model:
    """``weights`` itself where it is a Keras model, else ``build()`` with the weights of that
    ``.weights.h5`` path loaded (a clear error naming the file where they do not fit)."""
    if not isinstance(weights, (str, os.PathLike)):
        return weights
    model = build()
    try:
        model.load_weights(str(weights))
    except Exception as exc:
        raise WeightsError(Path(weights), f"cannot load the {what}: {exc}") from exc
    return model


def runner(runtime: str, threads: int | None, int8: tuple[Path, str | None] | None,
           model: Callable[[], keras.Model], input_size: tuple[int, int], key: str | None) -> runtimes.Runner:
    """A callable running the network on ``runtime`` (``"auto"``: resolved for this machine,
    the int8 graph on a CPU where there is one; ``model()`` is not called for that graph, which
    stands alone); ``key`` names a cached ONNX export."""
    name = runtimes.resolve(runtime, runtimes.has_gpu(), int8=int8 is not None)
    return runtimes.make_runner(None if name == "onnx-int8" else model(), name, input_size, threads,
                                int8=int8, key=key)


def save_with_entry(model: keras.Model, path: str | os.PathLike, what: str, **fields: Any) -> dict[str, Any]:
    """Write ``model``'s weights to ``path`` (``*.weights.h5``) and, beside it, the card entry
    that names them (``*.json``: ``file``, ``sha256``, then ``fields``), which is returned: what a
    model card's entry for this ``what`` holds (:func:`card_files` reads it)."""
    from signseg.infer.presets import sha256_of

    path = Path(path)
    check_weights_name(path, what)
    path.parent.mkdir(parents=True, exist_ok=True)
    if getattr(model, "optimizer", None) is not None:  # Keras 3 would also write a trained model's optimizer:
        model = keras.Model(model.inputs, model.outputs, name=model.name)  # the same layers, not compiled
    model.save_weights(str(path))
    entry = {"file": path.name, "sha256": sha256_of(path), **fields}
    path.with_name(path.name[: -len(".weights.h5")] + ".json").write_text(json.dumps(entry, indent=2) + "\n")
    return entry


def check_weights_name(path: str | os.PathLike, what: str) -> None:
    """A clear error where a second network's weights file does not end in ``.weights.h5``."""
    if not Path(path).name.endswith(".weights.h5"):
        raise ValueError(f"{path}: the {what}'s weights file must end in .weights.h5")

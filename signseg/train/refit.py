"""Refitting a second network that a model card names (the hand refiner, the arm network) after
``signseg adapt`` fine-tunes the first network: the same steps for each.

The new weights and int8 graph are written beside the old files under new names, and the card
names them last, written whole: a run killed before that leaves a card whose second network is
the one it carried.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

#: What a refit's ``fit`` returns: the new card entry, its int8 graph (None: none made) and how
#: that graph was calibrated.
Fitted = tuple[dict, Path | None, str]


def refit_entry(weights: str | os.PathLike, key: str, load: Callable[[], Any],
                fit: Callable[[dict, Path, Any], Fitted], log: Callable[[str], None] | None = None) -> dict | None:
    """Refit the second network that the card beside ``weights`` names under ``key``:
    ``load()`` gathers what it learns from (a ValueError: nothing to learn from, said to ``log``,
    and the network is left as it was), then ``fit(its entry, the card's folder, that data)``
    trains it and writes the new files. The new entry, with its int8 graph named, replaces the
    old in the card and is returned; None where the card names none or there was nothing to
    learn from."""
    from signseg.infer.presets import ModelCard, card_path_for, sha256_of

    card_file = card_path_for(weights)
    card = ModelCard.load(card_file)
    entry = card.extra.get(key)
    if not entry:
        return None
    try:
        data = load()
    except ValueError as exc:  # e.g. no hand, or no whole pose, in any frame
        if log:
            log(f"not refitted: {exc}")
        return None
    new, graph, calibration = fit(entry, Path(weights).parent, data)
    if graph is not None:
        new["int8"] = {"file": graph.name, "sha256": sha256_of(graph), "weights_sha256": new["sha256"],
                       "calibration": calibration}
    card.extra[key] = new
    card.save(card_file)
    return new


def card_entry(weights: str | os.PathLike, key: str) -> dict | None:
    """The entry ``key`` (a second network: ``"hand_refiner"``, ``"arm_sides"``) of the model
    card beside ``weights``; None where it names none."""
    from signseg.infer.presets import ModelCard, card_path_for

    return ModelCard.load(card_path_for(weights)).extra.get(key)


def write_entry(weights: str | os.PathLike, key: str, entry: dict) -> None:
    """Set the entry ``key`` of the model card beside ``weights`` and save the card: a refit
    that did not hold put back, an arm network turned on or off by default. Files the card
    stops naming stay beside it."""
    from signseg.infer.presets import ModelCard, card_path_for

    card_file = card_path_for(weights)
    card = ModelCard.load(card_file)
    card.extra[key] = entry
    card.save(card_file)

"""Weight-space mixing of a fine-tune with the model it started from: ``share`` of each
fine-tuned weight and the rest of the start's (Wortsman et al., "Robust fine-tuning of
zero-shot models", 2022). A fine-tune on one hard kind of footage (bookshelf rooms) costs
some of what the start did well; the mix often keeps most of both (docs/model_card.md).

Output: ``MODEL_DIR/<name>.weights.h5`` and its card, the fine-tune's card with the new
sha256 and a ``training.mixed`` entry; the fine-tune's second networks are copied beside it.
The fine-tune's int8 graph is not carried (made for other weights): remake it with
``pipelines/make_int8.py``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from signseg.infer.presets import ModelCard, sha256_of


def mix_weights(tuned: list[np.ndarray], start: list[np.ndarray], share: float) -> list[np.ndarray]:
    """``share * tuned + (1 - share) * start``, array by array, in each array's own dtype;
    integer arrays (counters, seeds) are the fine-tune's."""
    if len(tuned) != len(start):
        raise ValueError(f"the models hold {len(tuned)} and {len(start)} weight arrays: not the same network")
    out = []
    for i, (a, b) in enumerate(zip(tuned, start)):
        if a.shape != b.shape:
            raise ValueError(f"weight array {i}: shapes {a.shape} and {b.shape} differ: not the same network")
        if np.issubdtype(a.dtype, np.floating):
            out.append((share * a.astype(np.float64) + (1 - share) * b.astype(np.float64)).astype(a.dtype))
        else:
            out.append(a.copy())
    return out


def mix(tuned: str | os.PathLike, start: str | os.PathLike, share: float, model_dir: str | os.PathLike, *,
        name: str | None = None) -> ModelCard:
    """Write ``share`` of the fine-tune ``tuned`` (a ``.weights.h5`` with its card) and
    ``1 - share`` of ``start`` (a shipped model's name or a ``.weights.h5`` with its card)
    into ``model_dir``; both must be the same architecture and configuration. The card is
    ``tuned``'s: its threshold, flip and second networks."""
    from signseg.models import build
    from signseg.train.fit import carried_networks, init_card

    if not 0 <= share <= 1:
        raise ValueError(f"share must be from 0 to 1, not {share}")
    card_t, card_s = init_card(tuned), init_card(start)
    for what, a, b in (("architecture", card_t.architecture, card_s.architecture),
                       ("config", card_t.config, card_s.config)):
        if a != b:
            raise ValueError(f"{tuned} and {start}: the {what} differs ({a} against {b}); only the same network mixes")
    # both files' sha256 before anything is written (the output may replace the fine-tune's file)
    tuned_sha, start_sha = sha256_of(card_t.extra["_weights_path"]), sha256_of(card_s.extra["_weights_path"])
    model = build(card_t.architecture, **card_t.config)
    model.load_weights(card_s.extra["_weights_path"])
    start_weights = model.get_weights()
    model.load_weights(card_t.extra["_weights_path"])
    model.set_weights(mix_weights(model.get_weights(), start_weights, share))

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    name = name or card_t.name
    weights_file = model_dir / f"{name}.weights.h5"
    model.save_weights(str(weights_file))
    extra = {k: v for k, v in card_t.extra.items() if k not in ("int8", "_weights_path", "hand_refiner", "arm_sides")}
    extra["training"] = {**extra.get("training", {}), "mixed": {
        "share": share, "tuned_sha256": tuned_sha, "start": card_s.name, "start_sha256": start_sha}}
    if "metrics" in extra:  # measured on the fine-tune, not on the mix
        extra["metrics"] = {f"tuned_{k}" if k != "note" else k: v for k, v in extra["metrics"].items()}
    card = ModelCard(name=name, architecture=card_t.architecture, config=card_t.config,
                     input_size=card_t.input_size, threshold=card_t.threshold, sha256=sha256_of(weights_file),
                     weights_file=weights_file.name, mirror=card_t.mirror, max_blobs=card_t.max_blobs, extra=extra)
    card.extra.update(carried_networks(card_t, model_dir, card_t.config))
    card.save(model_dir / f"{name}.json")
    return card

"""Make a model's int8 graph (signseg.infer.quantize) and name it in the model's card.

    python pipelines/make_int8.py LABELS.h5 [LABELS.h5 ...] [--model snet-lite] \
        [--groups pipelines/signers.tsv] [--clips 60] [--per-clip 3] [--refiner]

Calibration frames come from the training signers' clips only (``--groups`` split ``train``;
never the validation or held-out signers the model is judged on): ``--clips`` clips spread
evenly over all of them, ``--per-clip`` frames spread evenly over each. The graph is written
beside the weights as ``NAME.int8.onnx`` and the card gains ``"int8": {"file", "sha256",
"input_size", "weights_sha256", "calibration"}``; ``runtime="auto"`` then runs it on a CPU. Re-run it whenever
the weights change (the card's sha256 of the weights is recorded with it).

``--refiner``: the int8 graph of the card's hand refiner instead (signseg.infer.hand_refiner),
calibrated on the crops it cuts from the same frames behind the first network; written as
``<refiner>.int8.onnx`` and named by the card's ``"hand_refiner"`` entry's own ``"int8"``.
``--arm-sides``: the int8 graph of the card's arm network (signseg.infer.arm_sides), calibrated
on the same frames at its own input size; named by the ``"arm_sides"`` entry's ``"int8"``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np

from signseg.infer import presets
from signseg.infer.preprocess import to_input
from signseg.infer.hand_refiner import hand_and_face
from signseg.infer.motion import Motion
from signseg.infer.quantize import quantize_int8, quantize_refiner
from signseg.infer.segmenter import Segmenter
from signseg.train.evaluate import stored_fps
from signseg.train.frames import read_splits

REPO = Path(__file__).resolve().parents[1]


def calibration_frames(labels: list[Path], splits: dict[str, str], clips: int, per_clip: int,
                       motion: bool = False) -> tuple[list[np.ndarray], int, list[np.ndarray]]:
    """``per_clip`` frames of each of ``clips`` training clips spread over ``labels``' files,
    the number of clips, and with ``motion`` each frame's motion plane (:mod:`signseg.infer.motion`,
    from the clip's stored frames before it; else none)."""
    where = []
    for path in labels:
        with h5py.File(path, "r") as f:
            where += [(path, v) for v in sorted(f["videos"]) if splits.get(v, "train") == "train"]
    if not where:
        sys.exit("no training clip in the labels files")
    pick = [where[i] for i in np.unique(np.linspace(0, len(where) - 1, min(clips, len(where))).round().astype(int))]
    frames, planes = [], []
    for path, video in pick:
        with h5py.File(path, "r") as f:
            g = f[f"videos/{video}"]
            stored = g["frames"]
            idx = np.unique(np.linspace(0, len(stored) - 1, per_clip).round().astype(int))
            frames += [np.asarray(stored[i]) for i in idx]
            if motion:
                moved = Motion(stored_fps(g))(stored[: idx[-1] + 1])
                planes += [moved[i] for i in idx]
    return frames, len(pick), planes


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("labels", type=Path, nargs="+", help="teacher labels files (pipelines/make_teacher_labels.sh)")
    p.add_argument("--model", default="snet-lite", help="a shipped model's name or a .weights.h5 with its card")
    p.add_argument("--groups", type=Path, default=REPO / "pipelines" / "signers.tsv")
    p.add_argument("--clips", type=int, default=60)
    p.add_argument("--per-clip", type=int, default=3)
    p.add_argument("--refiner", action="store_true", help="the card's hand refiner's int8 graph instead")
    p.add_argument("--arm-sides", action="store_true", help="the card's arm network's int8 graph instead")
    args = p.parse_args()

    weights = presets.resolve(args.model)[1] if args.model in presets.PRESETS else Path(args.model)
    card_file = presets.card_path_for(weights)
    card = presets.ModelCard.load(card_file)
    seg = Segmenter.from_file(weights, runtime="keras", refine_hands=args.refiner or None,
                              arm_sides=args.arm_sides or None)
    moving = args.refiner and seg.hand_refiner is not None and seg.hand_refiner.motion
    frames, clips, motion = calibration_frames(args.labels, read_splits(args.groups), args.clips, args.per_clip,
                                               motion=moving)
    source = (f"{len(frames)} frames of {clips} training-signer clips "
              f"({', '.join(p.name for p in args.labels)}; {args.groups.name} split train), "
              "onnxruntime quantize_static QDQ, per-channel int8 weights in 7 bits (reduce_range), uint8 activations (MinMax)")
    if args.refiner:
        return int8_refiner(seg, card, card_file, weights.parent, frames, source, motion)
    if args.arm_sides:
        return int8_arm_sides(seg, card, card_file, weights.parent, frames, source)
    # clips of several sizes: each frame resized to the input size, as inference resizes it
    batch = np.concatenate([to_input(f[None], card.input_size) for f in frames])
    out = weights.parent / f"{card.name}.int8.onnx"
    quantize_int8(seg.model, card.input_size, batch, out, seg.input_scale)
    card.extra["int8"] = {
        "file": out.name, "sha256": presets.sha256_of(out), "input_size": list(card.input_size),
        "weights_sha256": presets.sha256_of(weights),
        "calibration": source}
    card.save(card_file)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and its entry in {card_file}")
    return 0


def int8_refiner(seg: Segmenter, card: presets.ModelCard, card_file: Path, folder: Path,
                 frames: list[np.ndarray], source: str, motion: list[np.ndarray]) -> int:
    """The card's hand refiner quantized on the crops it cuts from ``frames`` (with their
    ``motion`` planes where it reads them, else an empty list), named in its entry."""
    def quantize(out: Path) -> str:
        refiner = seg.hand_refiner
        crops = [refiner.crops(f[None], *hand_and_face(seg.predict_parts_proba(f[None]), seg.parts),
                               motion=motion[k][None] if motion else None)[0] for k, f in enumerate(frames)]
        x = np.concatenate(crops)
        quantize_refiner(refiner.model, x, out)
        return f"{len(x)} crops of " + source

    return _second_int8(card, card_file, folder, "hand_refiner", "hand refiner", seg.hand_refiner, quantize)


def int8_arm_sides(seg: Segmenter, card: presets.ModelCard, card_file: Path, folder: Path,
                   frames: list[np.ndarray], source: str) -> int:
    """The card's arm network quantized on ``frames`` at its input size, named in its entry."""
    from signseg.models.arm_sides import SIZE

    def quantize(out: Path) -> str:
        batch = np.concatenate([to_input(f[None], (SIZE, SIZE)) for f in frames])
        quantize_int8(seg.arm_sides.model, (SIZE, SIZE), batch, out)
        return source

    return _second_int8(card, card_file, folder, "arm_sides", "arm network", seg.arm_sides, quantize)


def _second_int8(card: presets.ModelCard, card_file: Path, folder: Path, key: str, what: str, network,
                 quantize) -> int:
    """A second network's int8 graph: ``quantize(out)`` writes it beside its weights and says
    how it was calibrated; the card's ``key`` entry names it (``"int8"``)."""
    entry = card.extra.get(key)
    if not entry or network is None:
        sys.exit(f"{card_file}: the card names no {what}")
    out = folder / entry["file"].replace(".weights.h5", ".int8.onnx")
    calibration = quantize(out)
    entry["int8"] = {"file": out.name, "sha256": presets.sha256_of(out), "weights_sha256": entry["sha256"],
                     "calibration": calibration}
    card.save(card_file)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB; calibration: {calibration}) and its entry in {card_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

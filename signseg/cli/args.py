"""What several verbs share: argument types, the model and run options, the run's report."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def non_negative_int(s: str) -> int:
    v = int(s)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def positive_float(s: str) -> float:
    v = float(s)
    if not v > 0.0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {v}")
    return v


def threshold(s: str) -> float:
    v = float(s)
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {v}")
    return v


def share(s: str) -> float:
    """A share from 0 to 1, both included."""
    v = float(s)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {v}")
    return v


def size(s: str) -> tuple[int, int]:
    try:
        h, w = (int(x) for x in s.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 256x256, got {s!r}") from None
    if h % 8 or w % 8 or h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"height and width must be positive multiples of 8, got {s!r}")
    return h, w


def add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None, help="shipped model name (default: snet-lite); see `signseg models`")
    g.add_argument("--weights", type=Path, default=None,
                   help="a model file instead: .keras, .weights.h5 with its .json card, or a legacy Keras-2 .h5")
    g.add_argument("--batch-size", type=positive_int, default=8, help="frames per inference batch (default 8)")
    g.add_argument("--threshold", type=threshold, default=None, help="mask threshold (default: the model's)")
    g.add_argument("--input-size", type=size, default=None, help="HxW the model runs at (default: the model's)")
    g.add_argument("--runtime", default="auto", choices=("auto", "keras", "xla", "onnx", "onnx-int8"),
                   help="where the network runs (default auto: the fastest here, see docs/performance.md)")
    g.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16", "mixed_float16"),
                   help="the network's compute precision: mixed_bfloat16 for a GPU (runs on Keras)")
    g.add_argument("--mirror", default=None, action=argparse.BooleanOptionalAction,
                   help="also run the network on each frame's mirror image and average (test-time flip: "
                        "twice the network's work; default: the model card's, see `signseg models`)")
    g.add_argument("--max-blobs", type=non_negative_int, default=None, metavar="N",
                   help="keep each frame's N largest blobs of hand/face, 0 all of them "
                        "(default: the model card's, 3 for the shipped models: a face and two hands)")
    g.add_argument("--refine-hands", default=None, action=argparse.BooleanOptionalAction,
                   help="with --parts, take the hands from the hand refiner, a second network over a crop "
                        "round each hand (default: the model card's, see `signseg models`; on for snet-lite, "
                        "--no-refine-hands leaves it out)")
    g.add_argument("--arm-sides", default=None, action=argparse.BooleanOptionalAction,
                   help="with --parts, name the hands by the model card's arm network, which marks the signer's "
                        "left and right arm (snet-lite's is off unless asked: it costs an eighth of --parts' "
                        "speed; `signseg adapt` refits it and turns it on where the corpus's held-out clips swap "
                        "fewer hands; docs/parts.md); default: the card's, else by their side of the face")


def add_run_args(p: argparse.ArgumentParser) -> None:
    """Output, stride, resume/overwrite, quiet and model options of segment and corpus."""
    p.add_argument("-o", "--output", required=True, type=Path, help="HDF5 file to write")
    p.add_argument("--stride", type=positive_int, default=1, help="keep every N-th frame (default 1)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="add to an existing output, skipping complete videos")
    mode.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--parts", action="store_true",
                   help="split masks into face (1), left hand (2), right hand (3), the signer's sides; "
                        "store per-frame boxes")
    p.add_argument("--crops", type=positive_int, default=None, metavar="SIZE",
                   help="also store SIZExSIZE RGB crops of face and hands (implies --parts)")
    p.add_argument("--still-hands", default=True, action=argparse.BooleanOptionalAction,
                   help="with --parts, drop hand blobs that have not moved over the last second "
                        "(skin-coloured things in the room; on by default, --no-still-hands keeps them)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_model_args(p)


def second_network_paths(output: Path, attach: Path | None, what: str) -> None:
    """The checks of a verb that trains a second network (``refiner``, ``arms``): its weights
    file's name, and a card to ``--attach`` it to that sits in the same folder."""
    from signseg.infer.second_network import check_weights_name

    check_weights_name(output, what)
    if attach is not None and attach.resolve().parent != output.resolve().parent:
        raise ValueError(f"--attach {attach}: the card and {output} must be in one folder")


def attach(card: Path, key: str, entry_of) -> None:
    """Name a second network in the model card ``card`` (JSON) under ``key``: its entry is
    ``entry_of(the card's old entry or None)``."""
    import json

    data = json.loads(card.read_text())
    data[key] = entry_of(data.get(key))
    card.write_text(json.dumps(data, indent=2) + "\n")


def model_spec(args):
    from signseg.run.workers import ModelSpec
    if args.weights is not None and args.model:
        raise ValueError("give --model or --weights, not both")
    return ModelSpec(name=args.model, weights=None if args.weights is None else os.fspath(args.weights),
                     batch_size=args.batch_size, threshold=args.threshold, input_size=args.input_size,
                     runtime=args.runtime, precision=args.precision, mirror=args.mirror,
                     max_blobs=args.max_blobs, refine_hands=args.refine_hands,
                     arm_sides=args.arm_sides)


def report(summary, output) -> int:
    print(f"signseg: {summary.line()} -> {output}", file=sys.stderr)
    for msg in summary.failed.values():
        print(f"signseg: failed: {msg}", file=sys.stderr)
    return 1 if summary.failed else 0

"""``signseg refiner``: train the hand refiner (crops round the hands) on teacher labels."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signseg.cli.args import attach, positive_float, positive_int, second_network_paths, share


def add_parser(sub, parents) -> argparse.ArgumentParser:
    r = sub.add_parser("refiner", parents=parents,
                       help="train the hand refiner: a second network over crops round each hand (docs/training.md)")
    r.add_argument("labels", nargs="+", type=Path, help="teacher labels .h5 files (`signseg label`)")
    r.add_argument("-o", "--output", required=True, type=Path, help="the refiner's weights, NAME.weights.h5")
    r.add_argument("--model", default="snet-lite", help="the first network: a shipped name or a .weights.h5 "
                                                        "with face and hand channels")
    r.add_argument("--init", type=Path, default=None, help="fine-tune this refiner (.weights.h5) instead")
    r.add_argument("--motion", action="store_true",
                   help="a sixth plane, each frame's motion over 0.1 s (an --init without one gains it, "
                        "weighing nothing at first)")
    r.add_argument("--width", type=positive_int, default=16, help="filters at the top level (default 16)")
    r.add_argument("--epochs", type=positive_int, default=6)
    r.add_argument("--batch-size", type=positive_int, default=64)
    r.add_argument("--lr", type=float, default=2e-3)
    r.add_argument("--arm-weight", type=positive_float, default=1.0,
                   help="what a pixel of the signer's arms and clothes (the labels' person mask, not hand or "
                        "face) weighs in the loss against 1 for the background (default 1)")
    r.add_argument("--restage", type=share, default=0.0,
                   help="the share of clips whose signer is moved into another room (another clip's, or a "
                        "drawn wall) and often other clothes before the crops are cut (default 0)")
    r.add_argument("--threshold", type=float, default=None,
                   help="the hand probability written into its card (default 0.4; the shipped refiner's is 0.5)")
    r.add_argument("--attach", type=Path, default=None,
                   help="also name the refiner in this model card (.json beside its weights, in the same folder)")
    r.add_argument("-q", "--quiet", action="store_true")
    return r


def run(args) -> int:
    from signseg.errors import WeightsError
    from signseg.infer.hand_refiner import THRESHOLD
    from signseg.infer.presets import PRESETS
    from signseg.infer.segmenter import Segmenter
    from signseg.infer.second_network import built
    from signseg.models.hand_refiner import hand_refiner
    from signseg.train.hand_refiner import (crops_from_labels, save_hand_refiner, takes_place_of, train_hand_refiner,
                                           with_motion_plane)

    def initial(path: Path, width: int, motion: bool):
        """The refiner to start from: ``path``'s, given a motion plane where ``motion`` asks and it has none."""
        if motion:
            try:
                return built(path, lambda: hand_refiner(width, channels=6), "hand refiner")
            except WeightsError:
                pass
        model = built(path, lambda: hand_refiner(width), "hand refiner")
        return with_motion_plane(model) if motion else model

    second_network_paths(args.output, args.attach, "refiner")
    load = Segmenter.from_pretrained if args.model in PRESETS else Segmenter.from_file
    first = load(args.model, refine_hands=False)
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr))
    x, y = crops_from_labels(first, args.labels, log=None, motion=args.motion, restage=args.restage)
    if log:
        log(f"signseg: {len(x)} crops from {len(args.labels)} labels file(s)")
    init = None if args.init is None else initial(args.init, args.width, args.motion)
    model = train_hand_refiner(x, y, epochs=args.epochs, width=args.width, batch_size=args.batch_size,
                               lr=args.lr, init=init, arm_weight=args.arm_weight, log=log)
    threshold = THRESHOLD if args.threshold is None else args.threshold
    entry = save_hand_refiner(model, args.output, width=args.width, threshold=threshold, training={
        "labels": [str(p) for p in args.labels], "crops": int(len(x)), "first_network": first.name,
        "first_network_sha256": first.weights_sha256, "epochs": args.epochs, "batch_size": args.batch_size,
        "lr": args.lr, "init": None if args.init is None else str(args.init), "motion": args.motion,
        "arm_weight": args.arm_weight, "restage": args.restage})
    if args.attach is not None:
        attach(args.attach, "hand_refiner", lambda old: takes_place_of(entry, old))
    print(f"signseg: hand refiner ({len(x)} crops) -> {args.output}", file=sys.stderr)
    return 0

"""``signseg arms``: train the arm network that names the hands, on teacher labels and their landmarks."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signseg.cli.args import attach, positive_int, second_network_paths


def add_parser(sub, parents) -> argparse.ArgumentParser:
    r = sub.add_parser("arms", parents=parents,
                       help="train the arm network: it marks the signer's left and right arm, which names "
                            "the hands with --parts (docs/parts.md)")
    r.add_argument("labels", nargs="+", type=Path,
                   help="teacher labels .h5 files (`signseg label`), their landmarks beside them (LABELS.h5.landmarks)")
    r.add_argument("--landmarks", type=Path, default=None,
                   help="the landmark folder of every labels file (default: each file's LABELS.h5.landmarks)")
    r.add_argument("-o", "--output", required=True, type=Path, help="the network's weights, NAME.weights.h5")
    r.add_argument("--init", type=Path, default=None, help="fine-tune this arm network (.weights.h5) instead")
    r.add_argument("--width", type=positive_int, default=8, help="filters at the top level (default 8)")
    r.add_argument("--epochs", type=positive_int, default=40)
    r.add_argument("--steps", type=positive_int, default=200, help="batches an epoch (default 200)")
    r.add_argument("--batch-size", type=positive_int, default=32)
    r.add_argument("--lr", type=float, default=1e-3)
    r.add_argument("--attach", type=Path, default=None,
                   help="also name the network in this model card (.json beside its weights, in the same folder); "
                        "runs then name the hands by it with --arm-sides")
    r.add_argument("-q", "--quiet", action="store_true")
    return r


def run(args) -> int:
    from signseg.infer.second_network import built
    from signseg.models.arm_sides import arm_sides
    from signseg.train.arm_sides import arms_from_labels, save_arm_sides, train_arm_sides

    second_network_paths(args.output, args.attach, "arm network")
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr))
    x, y, groups = arms_from_labels(args.labels, landmarks=args.landmarks)
    if log:
        log(f"signseg: {len(x)} frames of {len(set(groups))} videos from {len(args.labels)} labels file(s)")
    init = None if args.init is None else built(args.init, lambda: arm_sides(args.width), "arm network")
    model = train_arm_sides(x, y, epochs=args.epochs, steps=args.steps, width=args.width,
                            batch_size=args.batch_size, lr=args.lr, init=init, log=log)
    entry = save_arm_sides(model, args.output, width=args.width, training={
        "labels": [str(p) for p in args.labels], "frames": int(len(x)), "videos": len(set(groups)),
        "epochs": args.epochs, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
        "init": None if args.init is None else str(args.init)})
    if args.attach is not None:  # on by default only where the card's old entry was
        attach(args.attach, "arm_sides", lambda old: {"default": bool((old or {}).get("default", False)), **entry})
    print(f"signseg: arm network ({len(x)} frames) -> {args.output}", file=sys.stderr)
    return 0

"""``signseg train``: train or fine-tune a model on labelled frames."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signseg.cli.args import positive_int, share, size


def add_parser(sub, parents) -> argparse.ArgumentParser:
    t = sub.add_parser("train", parents=parents, help="train or fine-tune a model on labelled frames")
    t.add_argument("sources", nargs="+", type=Path, help="labels .h5 files, image/mask folders, or images.npy")
    t.add_argument("-o", "--output", required=True, type=Path, help="model folder")
    t.add_argument("--name", default="model", help="file name of the weights and card")
    t.add_argument("--init", default=None, help="fine-tune from a shipped model name or a .weights.h5")
    t.add_argument("--architecture", default="snet", choices=("snet", "vgg_unet"))
    t.add_argument("--width", type=float, default=None,
                   help="snet width multiplier (default 1.0; with --init, a width above the init model's grows it: "
                        "the same outputs to start from, more filters to train)")
    t.add_argument("--stem", type=int, default=1, choices=(1, 2, 4),
                   help="snet: 2 or 4 runs the U-Net at 1/2 or 1/4 resolution behind a strided stem (CPU-friendly)")
    t.add_argument("--encoder-weights", default=None, help="vgg_unet: path to the ImageNet VGG16 notop .h5")
    t.add_argument("--input-size", type=size, default=None, help="HxW (default 224x224, or the --init model's)")
    t.add_argument("--epochs", type=positive_int, default=50)
    t.add_argument("--steps", type=positive_int, default=200, help="batches per epoch")
    t.add_argument("--batch-size", type=positive_int, default=8)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--dice", action="store_true", help="add a soft Dice term to the BCE loss")
    t.add_argument("--val-fraction", type=float, default=0.15,
                   help="share of videos held for validation (unless --groups names val rows)")
    t.add_argument("--holdout", nargs="*", default=[], help="video ids kept out of training and validation")
    t.add_argument("--groups", type=Path, default=None,
                   help="TSV of video<TAB>signer[<TAB>...]: validation takes whole signers, not single clips; "
                        "with a 'split' column (pipelines/signers.tsv) its val rows validate and its test "
                        "rows are held out")
    t.add_argument("--patience", type=positive_int, default=8)
    t.add_argument("--max-minutes", type=float, default=None, help="stop after this much wall-clock time")
    t.add_argument("--crop-size", type=size, default=None,
                   help="train on random HxW windows of the input-size view (cheaper for large inputs)")
    t.add_argument("--max-val-frames", type=positive_int, default=None, help="validate on at most N frames")
    t.add_argument("--views", default="auto", choices=("auto", "host", "graph"),
                   help="make training views on the host (OpenCV) or inside the compiled step from uint8 "
                        "arrays (graph: the way to feed a GPU); auto: graph where a GPU is seen or the --init model "
                        "learned from graph views (the shipped ones), else host")
    t.add_argument("--precision", default="auto", choices=("auto", "float32", "mixed_bfloat16"),
                   help="mixed_bfloat16: bfloat16 compute, float32 weights (the saved weights stay float32); "
                        "auto: mixed_bfloat16 on a TensorFlow CPU with AVX512-BF16 or AMX (about 2x the "
                        "images/s), else float32")
    t.add_argument("--mirror", default=None, action=argparse.BooleanOptionalAction,
                   help="the model card asks for the test-time flip (each frame and its mirror image, averaged) "
                        "and its threshold is chosen that way (default: as the --init model's card)")
    t.add_argument("--clothes-weight", type=float, default=1.0,
                   help="weight in the loss of the signer's pixels that are not hand or face (clothes, arms, hair; "
                        "the teacher's person mask, host views): above 1 fewer light shirts marked")
    t.add_argument("--outputs", default=None, choices=("mask", "face_hand", "parts"),
                   help="mask: one hand-or-face channel; face_hand: face and hand channels after it; parts: face, "
                        "the signer's left and right hand after it; parts have their own loss (default: the --init "
                        "model's, else mask)")
    t.add_argument("--face-weight", type=float, default=1.0,
                   help="weight of face pixels in the parts' loss (face_hand or parts)")
    t.add_argument("--hand-weight", type=float, default=1.0,
                   help="weight of hand pixels in the loss (the mask's and the parts'): "
                        "above 1 against hands being left out")
    t.add_argument("--dropout", type=float, default=None,
                   help="snet: scale of the paper's dropout rates (0.4, 0.5); 0 leaves dropout out "
                        "(default: as --init's card, else 1)")
    t.add_argument("--ema", type=float, default=None, metavar="MOMENTUM",
                   help="validate and keep a moving average of the weights (e.g. 0.998 per step)")
    t.add_argument("--flip-consistency", type=float, default=0.0, metavar="W",
                   help="graph views: add W times the squared difference between each view's output and "
                        "its mirror image's, mirrored back (one pass learns the test-time flip's average)")
    t.add_argument("--hand-dice", type=float, default=0.0, metavar="W",
                   help="add W times a soft Dice term of the hands alone (models with part channels): "
                        "the mask's Dice is mostly the face's")
    t.add_argument("--shelves", type=share, default=0.0, metavar="SHARE",
                   help="that share (0-1) of the rooms behind pasted signers are drawn bookshelves: fine, "
                        "colourful texture round a face made the network name it a hand")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("-q", "--quiet", action="store_true",
                   help="one line per epoch (the default when output is not a terminal)")
    return t


def run(args) -> int:
    from signseg.train.fit import train
    from signseg.train.frames import read_groups, read_splits
    splits = read_splits(args.groups) if args.groups else {}
    val = [v for v, split in splits.items() if split == "val"] or None  # named validation signers
    holdout = list(dict.fromkeys([*args.holdout, *(v for v, split in splits.items() if split == "test")]))
    snet_config = {**({"width": args.width} if args.width is not None else {}),
                   **({"stem": args.stem} if args.stem != 1 else {})}
    config = (snet_config if args.architecture == "snet"
              else {"encoder_weights": args.encoder_weights})
    card = train(args.sources, args.output, name=args.name, architecture=args.architecture, config=config,
                 input_size=args.input_size, init=args.init, epochs=args.epochs, steps_per_epoch=args.steps,
                 batch_size=args.batch_size, learning_rate=args.lr, dice=args.dice, val_fraction=args.val_fraction,
                 holdout=holdout, patience=args.patience, max_minutes=args.max_minutes, seed=args.seed,
                 crop_size=args.crop_size, max_val_frames=args.max_val_frames,
                 groups=read_groups(args.groups) if args.groups else None,
                 verbose=2 if args.quiet else "auto", views=args.views,
                 precision=args.precision, mirror=args.mirror, clothes_weight=args.clothes_weight,
                 val_videos=val, outputs=args.outputs, face_weight=args.face_weight, hand_weight=args.hand_weight,
                 dropout=args.dropout, ema=args.ema, flip_consistency=args.flip_consistency,
                 hand_dice=args.hand_dice, shelf_share=args.shelves)
    (metric, value), = card.extra["metrics"].items()
    print(f"signseg: wrote {args.output / card.weights_file} ({metric.replace('_', ' ')} {value}, "
          f"threshold {card.threshold})", file=sys.stderr)
    return 0

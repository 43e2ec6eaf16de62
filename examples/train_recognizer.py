"""From sign videos to a running recognizer, in one script.

    python examples/train_recognizer.py ROOT --labels train_labels.csv -o WORK   # an AUTSL-style corpus
    python examples/train_recognizer.py --demo 16 -o WORK                        # shared clips, toy labels

1. ``signseg`` segments every clip with parts and 32x32 crops into WORK/masks.h5
   (resumable: rerunning skips what is done);
2. :func:`signseg.store.datasets.to_tf_dataset` streams fixed-length clips of both hands' crops and
   the face/hand box trajectory, split by signer (by clip where the signer is unknown);
3. a small recognizer (a shared per-frame CNN on each hand's crop, plus the boxes, into a GRU)
   trains for a few epochs and reports validation accuracy.

``--demo N`` uses N clips of ../shared/data/signs labelled by their collection
(``tid-asl`` vs ``startasl``): a toy target, there to show the whole path running, not a
sign recognizer. With a real corpus (AUTSL's train/ and train_labels.csv) the same script
trains on the signs.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from signseg.run.corpus import scan  # noqa: E402
from signseg.run.jobs import VideoJob
from signseg.run.pipeline import process  # noqa: E402
from signseg.store.datasets import ClipDataset, to_tf_dataset  # noqa: E402
from signseg.run.workers import ModelSpec  # noqa: E402

SIGNS = Path(__file__).resolve().parents[2] / "shared" / "data" / "signs"
SOURCES = ("left_hand_crops", "right_hand_crops", "boxes")


def demo_jobs(n: int) -> list[VideoJob]:
    """``n`` shared clips, half from each collection, labelled 0 (tid-asl) / 1 (startasl)."""
    if not SIGNS.is_dir():
        sys.exit(f"no demo clips at {SIGNS}: give a corpus folder instead")
    groups = [sorted(SIGNS.glob("tid-asl_*.mp4")), sorted(SIGNS.glob("startasl_*.mp4"))]
    picks = [(p, label) for label, clips in enumerate(groups) for p in clips[:max(1, n // 2)]]
    return [VideoJob(p.stem, p, label=label, label_name=("tid-asl", "startasl")[label]) for p, label in picks]


def recognizer(n_classes: int, frames: int, crop: int) -> keras.Model:
    """Per-frame CNN shared by both hands, concatenated with the boxes, then a GRU."""
    frame_cnn = keras.Sequential([
        keras.layers.Input((crop, crop, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
        keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
    ], name="hand_cnn")
    left = keras.Input((frames, crop, crop, 3), name="left_hand_crops")
    right = keras.Input((frames, crop, crop, 3), name="right_hand_crops")
    boxes = keras.Input((frames, 3, 4), name="boxes")
    per_frame = keras.layers.Concatenate()([
        keras.layers.TimeDistributed(frame_cnn)(left),
        keras.layers.TimeDistributed(frame_cnn)(right),
        keras.layers.Reshape((frames, 12))(boxes),
    ])
    h = keras.layers.GRU(32)(per_frame)
    out = keras.layers.Dense(n_classes, activation="softmax")(h)
    return keras.Model({"left_hand_crops": left, "right_hand_crops": right, "boxes": boxes}, out)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", nargs="?", type=Path, help="corpus folder (AUTSL layout or any tree)")
    ap.add_argument("--labels", type=Path, help="CSV of video_id,label for ROOT")
    ap.add_argument("--demo", type=int, default=None, metavar="N", help="use N shared clips with toy labels")
    ap.add_argument("-o", "--work", type=Path, required=True, help="folder for masks.h5")
    ap.add_argument("--frames", type=int, default=16, help="frames sampled per clip")
    ap.add_argument("--crop", type=int, default=32, help="hand crop size")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--steps", type=int, default=None, help="batches per epoch (default: one pass)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--n-jobs", type=int, default=1, help="segmentation worker processes")
    args = ap.parse_args(argv)

    if args.demo:
        jobs = demo_jobs(args.demo)
    elif args.root:
        jobs = scan(args.root, labels=args.labels).jobs
    else:
        ap.error("give a corpus folder or --demo N")
    args.work.mkdir(parents=True, exist_ok=True)
    masks = args.work / "masks.h5"
    summary = process(jobs, masks, ModelSpec(), n_jobs=args.n_jobs, resume=masks.exists(), parts=True,
                      crops=args.crop, progress=False)
    print(f"segmented: {summary.line()}")

    # split by signer (by clip where unknown); labels must be known for training
    labels = sorted({j.label for j in jobs if j.label is not None})
    if not labels:
        sys.exit("no labelled clips: give --labels")
    kw = dict(source=SOURCES, frames=args.frames, label=labels)
    train_clips = ClipDataset(masks, split="train", **kw)
    n_classes = labels[-1] + 1  # AUTSL's class ids run from 0
    train = to_tf_dataset(masks, split="train", batch_size=args.batch_size, repeat=args.steps is not None, **kw)
    try:
        n_val = len(ClipDataset(masks, split="val", **kw))
        val = to_tf_dataset(masks, split="val", batch_size=args.batch_size, shuffle=False, **kw)
    except ValueError:  # too few signers / clips to hold any out
        n_val, val = 0, None
        print("no clips fall in the validation split: training without validation")
    model = recognizer(n_classes, args.frames, args.crop)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=args.epochs, steps_per_epoch=args.steps, verbose=2)
    result = {k: float(v[-1]) for k, v in history.history.items()}
    print(f"train clips {len(train_clips)}, val clips {n_val}, classes {n_classes}: "
          + ", ".join(f"{k} {v:.3f}" for k, v in result.items()))
    return result


if __name__ == "__main__":
    main()

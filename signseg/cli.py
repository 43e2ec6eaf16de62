"""The ``signseg`` command line (also ``python -m signseg``).

Exit status: 0 all went well, 1 some videos failed (each named on stderr, the rest were
written), 2 bad arguments or an input/output file that could not be used at all,
130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from signseg._version import __version__


def _positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _threshold(s: str) -> float:
    v = float(s)
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {v}")
    return v


def _size(s: str) -> tuple[int, int]:
    try:
        h, w = (int(x) for x in s.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 256x256, got {s!r}") from None
    if h % 8 or w % 8 or h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"height and width must be positive multiples of 8, got {s!r}")
    return h, w


def _add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None, help="shipped model name (default: snet-lite); see `signseg models`")
    g.add_argument("--weights", type=Path, default=None,
                   help="a model file instead: .keras, .weights.h5 with its .json card, or a legacy Keras-2 .h5")
    g.add_argument("--batch-size", type=_positive_int, default=8, help="frames per inference batch (default 8)")
    g.add_argument("--threshold", type=_threshold, default=None, help="mask threshold (default: the model's)")
    g.add_argument("--input-size", type=_size, default=None, help="HxW the model runs at (default: the model's)")
    g.add_argument("--runtime", default="auto", choices=("auto", "keras", "xla", "onnx"),
                   help="where the network runs (default auto: the fastest here, see docs/performance.md)")
    g.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16", "mixed_float16"),
                   help="the network's compute precision: mixed_bfloat16 for a GPU (runs on Keras)")


def _add_run_args(p: argparse.ArgumentParser) -> None:
    """Output, stride, resume/overwrite, quiet and model options of segment and corpus."""
    p.add_argument("-o", "--output", required=True, type=Path, help="HDF5 file to write")
    p.add_argument("--stride", type=_positive_int, default=1, help="keep every N-th frame (default 1)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="add to an existing output, skipping complete videos")
    mode.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--parts", action="store_true",
                   help="split masks into face (1), left hand (2), right hand (3), the signer's sides; "
                        "store per-frame boxes")
    p.add_argument("--crops", type=_positive_int, default=None, metavar="SIZE",
                   help="also store SIZExSIZE RGB crops of face and hands (implies --parts)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_model_args(p)


def _model_spec(args):
    from signseg.run.workers import ModelSpec
    if args.weights is not None and args.model:
        raise ValueError("give --model or --weights, not both")
    return ModelSpec(name=args.model, weights=None if args.weights is None else os.fspath(args.weights),
                     batch_size=args.batch_size, threshold=args.threshold, input_size=args.input_size,
                     runtime=args.runtime, precision=args.precision)


def _report(summary, output) -> int:
    print(f"signseg: {summary.line()} -> {output}", file=sys.stderr)
    for msg in summary.failed.values():
        print(f"signseg: failed: {msg}", file=sys.stderr)
    return 1 if summary.failed else 0


def cmd_segment(args) -> int:
    from signseg.run.corpus import jobs_for_files
    from signseg.run.pipeline import process
    jobs = jobs_for_files(args.videos)  # fail on bad arguments before loading a model
    segmenter = _model_spec(args).load()
    print(f"signseg: {segmenter}", file=sys.stderr)
    summary = process(jobs, args.output, segmenter, stride=args.stride, resume=args.resume,
                      overwrite=args.overwrite, progress=not args.quiet, parts=args.parts, crops=args.crops)
    return _report(summary, args.output)


def cmd_corpus(args) -> int:
    from signseg.run.corpus import scan
    from signseg.run.pipeline import open_output, process
    corpus = scan(args.root, pattern=args.pattern, labels=args.labels, class_map=args.class_map)
    print(f"signseg: {args.root}: {corpus.describe()}", file=sys.stderr)
    if args.output.exists() and not (args.resume or args.overwrite):
        open_output(args.output)  # refuses, before any model or worker starts
    adapted = _adapt_first(args, corpus.jobs) if args.adapt else None
    summary = process(corpus.jobs, args.output, _model_spec(args), n_jobs=args.n_jobs, backend=args.backend,
                      scheduler=args.scheduler, stride=args.stride, resume=args.resume, overwrite=args.overwrite,
                      progress=not args.quiet, infer=args.infer, parts=args.parts, crops=args.crops)
    if adapted:
        import h5py
        with h5py.File(args.output, "a") as f:  # the whole file's masks came from the adapted model
            f.attrs.update(adapted)
    return _report(summary, args.output)


def _adapt_first(args, jobs) -> dict:
    """``corpus --adapt N``: adapt a model on N frames of this corpus (``OUT.adapt/``, reused when
    it is already there), then point ``args`` at its weights; returns the file attributes."""
    import json
    from signseg.train.adapt import adapt
    init = os.fspath(args.weights) if args.weights else (args.model or "snet-lite")
    folder = args.output.with_name(args.output.stem + ".adapt")
    weights, report = folder / "model.weights.h5", folder / "adapt.json"
    if weights.is_file() and report.is_file() and not (folder / "backup").exists():
        print(f"signseg: reusing the model adapted before: {weights}", file=sys.stderr)
    else:
        adapt(jobs, folder, frames=args.adapt, minutes=args.adapt_minutes, init=init, progress=not args.quiet)
    args.weights, args.model = weights, None
    info = json.loads(report.read_text())
    return {"adapted_from": info["init"], "adapted_on_frames": info["frames"],
            "adapted_heldout_iou": [info["iou_before"], info["iou_after"]], "adapted_model": os.fspath(weights)}


def cmd_label(args) -> int:
    from signseg.teacher.env import ensure_teacher
    from signseg.teacher.labelset import default_landmarks_dir, label_videos, missing_landmarks
    missing = missing_landmarks(args.videos, args.landmarks or default_landmarks_dir(args.output))
    # the teacher runs only for videos without cached landmarks; found, or made on first use
    teacher = None if args.cached_only or not missing else ensure_teacher(args.teacher_python, quiet=args.quiet)
    failures = label_videos(args.videos, args.output, teacher_python=teacher,
                            landmarks_dir=args.landmarks, max_side=args.max_side, every=args.every,
                            progress=not args.quiet)
    print(f"signseg: labelled {len(args.videos) - len(failures)} video(s) -> {args.output}"
          + (f", {len(failures)} FAILED" if failures else ""), file=sys.stderr)
    return 1 if failures else 0


def cmd_adapt(args) -> int:
    from signseg.train.adapt import adapt, adapt_labels
    if (args.root is None) == (not args.labels):
        raise ValueError("adapt: give a corpus ROOT (the teacher labels it) or --labels PATH (your own labelled "
                         "frames), one of the two")
    if args.labels:
        result = adapt_labels(args.labels, args.output, minutes=args.minutes, init=args.init, progress=not args.quiet)
        what = f"{result.labelled_frames} hand-labelled frames"
    else:
        from signseg.run.corpus import scan
        corpus = scan(args.root, pattern=args.pattern)
        print(f"signseg: {args.root}: {corpus.describe()}", file=sys.stderr)
        result = adapt(corpus.jobs, args.output, frames=args.frames, minutes=args.minutes, init=args.init,
                       holdout=args.holdout, teacher_python=args.teacher_python, progress=not args.quiet)
        what = f"{result.labelled_frames} labelled frames of {len(result.train_videos)} videos"
    print(f"signseg: wrote {result.weights} ({what}; held-out IoU {result.iou_before:.3f} -> "
          f"{result.iou_after:.3f}); use it with --weights {result.weights}", file=sys.stderr)
    return 0


def cmd_teacher(args) -> int:
    from signseg.teacher.env import setup_teacher
    python = setup_teacher(args.dir, python=args.python)
    print(f"signseg: the MediaPipe teacher is ready: {python}", file=sys.stderr)
    print(python)
    return 0


def cmd_train(args) -> int:
    from signseg.train.fit import train
    from signseg.train.frames import read_groups
    config = ({"width": args.width, **({"stem": args.stem} if args.stem != 1 else {})} if args.architecture == "snet"
              else {"encoder_weights": args.encoder_weights})
    card = train(args.sources, args.output, name=args.name, architecture=args.architecture, config=config,
                 input_size=args.input_size, init=args.init, epochs=args.epochs, steps_per_epoch=args.steps,
                 batch_size=args.batch_size, learning_rate=args.lr, dice=args.dice, val_fraction=args.val_fraction,
                 holdout=args.holdout, patience=args.patience, max_minutes=args.max_minutes, seed=args.seed,
                 crop_size=args.crop_size, max_val_frames=args.max_val_frames,
                 groups=read_groups(args.groups) if args.groups else None,
                 verbose=2 if args.quiet else "auto")
    print(f"signseg: wrote {args.output / card.weights_file} (val IoU {card.extra['metrics']['val_iou']}, "
          f"threshold {card.threshold})", file=sys.stderr)
    return 0


def cmd_overlay(args) -> int:
    from signseg.overlay import overlay_grid, write_overlay_video
    if args.png is not None:
        import cv2
        picture = overlay_grid(args.video, args.masks, count=args.count, columns=args.columns, video_id=args.video_id)
        if not cv2.imwrite(str(args.png), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
            raise OSError(f"{args.png}: cannot write the picture (folder missing, or not .png?)")
        print(f"signseg: wrote {args.png}", file=sys.stderr)
    if args.output is not None:
        n = write_overlay_video(args.video, args.masks, args.output, video_id=args.video_id)
        print(f"signseg: wrote {n} frames -> {args.output}", file=sys.stderr)
    return 0


def cmd_models(args) -> int:
    from signseg.infer.presets import list_presets
    presets = list_presets()
    if args.json:
        print(json.dumps(presets, indent=2))
        return 0
    for name, entry in presets.items():
        state = "installed" if entry["available"] else "not installed"
        line = f"{name:10s} {state:14s} {entry['description']}"
        if entry["available"]:
            card = entry["card"]
            line += f" [{card['architecture']} {card['input_size'][0]}x{card['input_size'][1]}]"
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="signseg", description="Hand and face masks for sign-language video.")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show TensorFlow's start-up messages (hidden by default)")
    # every verb takes -v too, after its name; SUPPRESS keeps the top-level value when absent
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="show TensorFlow's start-up messages (hidden by default)")
    p.add_argument("--version", action="version", version=f"signseg {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("segment", parents=[verbose], help="segment videos into an HDF5 mask file")
    s.add_argument("videos", nargs="+", type=Path, help="video files")
    _add_run_args(s)
    s.set_defaults(func=cmd_segment)

    c = sub.add_parser("corpus", parents=[verbose],
                       help="segment every video of a corpus folder (AUTSL layout or any tree)")
    c.add_argument("root", type=Path, help="corpus folder (e.g. AUTSL's train/)")
    c.add_argument("--labels", type=Path, default=None, help="CSV of video_id,label (AUTSL train_labels.csv)")
    c.add_argument("--adapt", type=_positive_int, default=None, metavar="N",
                   help="first adapt the model on N teacher-labelled frames of this corpus (signseg adapt; "
                        "kept in OUT.adapt/ and reused), then segment with it")
    c.add_argument("--adapt-minutes", type=float, default=15.0, help="fine-tuning budget of --adapt (default 15)")
    c.add_argument("--class-map", type=Path, default=None,
                   help="CSV of class_id,...,name (AUTSL SignList_ClassId_TR_EN.csv): adds label_name")
    c.add_argument("--pattern", default=None,
                   help="glob of videos under ROOT, e.g. '**/*.mp4' (default: all videos; AUTSL *_color only)")
    c.add_argument("--n-jobs", type=_positive_int, default=1, help="worker processes (default 1: in-process)")
    c.add_argument("--backend", default="loky", choices=("loky", "threading", "dask", "ray"),
                   help="joblib backend for the workers (default loky)")
    c.add_argument("--scheduler", default=None, help="dask scheduler or ray address of an existing cluster")
    c.add_argument("--infer", default="auto", choices=("auto", "workers", "driver"),
                   help="where the model runs: in each worker, or in this process on batches spanning "
                        "videos fed by --n-jobs decode threads (the GPU path); auto: driver when a GPU is seen")
    _add_run_args(c)
    c.set_defaults(func=cmd_corpus)

    lab = sub.add_parser("label", parents=[verbose],
                         help="teacher labels: MediaPipe Holistic landmarks -> part masks (HDF5)")
    lab.add_argument("videos", nargs="+", type=Path)
    lab.add_argument("-o", "--output", required=True, type=Path, help="labels HDF5 file (created or added to)")
    lab.add_argument("--teacher-python", default=None,
                     help="python of an environment with mediapipe==0.10.21 (default: $SIGNSEG_TEACHER_PYTHON, "
                          "else the one `signseg teacher setup` makes, made here on first use)")
    lab.add_argument("--cached-only", action="store_true",
                     help="use cached landmarks only: never run (or install) the teacher")
    lab.add_argument("--landmarks", type=Path, default=None, help="landmark cache folder (default OUTPUT.landmarks)")
    lab.add_argument("--max-side", type=_positive_int, default=320, help="longest side of stored frames")
    lab.add_argument("--every", type=_positive_int, default=1, help="keep every N-th labelled frame")
    lab.add_argument("-q", "--quiet", action="store_true")
    lab.set_defaults(func=cmd_label)

    ad = sub.add_parser("adapt", parents=[verbose],
                        help="adapt a model to a corpus: teacher-label a sample of its frames, fine-tune, measure")
    ad.add_argument("root", type=Path, nargs="?", default=None,
                    help="corpus folder (any tree of videos), labelled by the teacher")
    ad.add_argument("--labels", type=Path, action="append", default=[], metavar="PATH",
                    help="your own labelled frames instead of the teacher: an images/ + masks/ folder, the paper's "
                         "images.npy (beside labels.npy) or a labels .h5; repeatable. The last 15%% are held out")
    ad.add_argument("-o", "--output", required=True, type=Path, help="model folder (labels, checkpoints, weights)")
    ad.add_argument("--frames", type=_positive_int, default=400, help="frames to label, spread over the videos")
    ad.add_argument("--minutes", type=float, default=15.0, help="fine-tuning time budget (default 15)")
    ad.add_argument("--init", default="snet-lite", help="model to start from: a shipped name or a .weights.h5")
    ad.add_argument("--pattern", default=None, help="glob of the videos to use (default: every video)")
    ad.add_argument("--holdout", type=int, default=None,
                    help="whole videos held out and scored before and after (default: 1 in 10, 1 to 3)")
    ad.add_argument("--teacher-python", default=None, help="the teacher's python (default: found or made)")
    ad.add_argument("-q", "--quiet", action="store_true")
    ad.set_defaults(func=cmd_adapt)

    te = sub.add_parser("teacher", parents=[verbose], help="the MediaPipe teacher's own environment")
    te_sub = te.add_subparsers(dest="teacher_command", required=True)
    ts = te_sub.add_parser("setup", help="make (or check) the teacher venv under the cache; prints its python")
    ts.add_argument("--dir", type=Path, default=None, help="where (default $SIGNSEG_CACHE/teacher-venv)")
    ts.add_argument("--python", default=None, help="the Python 3.9-3.12 to make it with (default: this one)")
    ts.set_defaults(func=cmd_teacher)

    t = sub.add_parser("train", parents=[verbose], help="train or fine-tune a model on labelled frames")
    t.add_argument("sources", nargs="+", type=Path, help="labels .h5 files, image/mask folders, or images.npy")
    t.add_argument("-o", "--output", required=True, type=Path, help="model folder")
    t.add_argument("--name", default="model", help="file name of the weights and card")
    t.add_argument("--init", default=None, help="fine-tune from a shipped model name or a .weights.h5")
    t.add_argument("--architecture", default="snet", choices=("snet", "vgg_unet"))
    t.add_argument("--width", type=float, default=1.0, help="snet width multiplier")
    t.add_argument("--stem", type=int, default=1, choices=(1, 2, 4),
                   help="snet: 2 or 4 runs the U-Net at 1/2 or 1/4 resolution behind a strided stem (CPU-friendly)")
    t.add_argument("--encoder-weights", default=None, help="vgg_unet: path to the ImageNet VGG16 notop .h5")
    t.add_argument("--input-size", type=_size, default=None, help="HxW (default 224x224, or the --init model's)")
    t.add_argument("--epochs", type=_positive_int, default=50)
    t.add_argument("--steps", type=_positive_int, default=200, help="batches per epoch")
    t.add_argument("--batch-size", type=_positive_int, default=8)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--dice", action="store_true", help="add a soft Dice term to the BCE loss")
    t.add_argument("--val-fraction", type=float, default=0.15, help="share of videos held for validation")
    t.add_argument("--holdout", nargs="*", default=[], help="video ids kept out of training and validation")
    t.add_argument("--groups", type=Path, default=None,
                   help="TSV of video<TAB>signer: validation takes whole signers, not single clips")
    t.add_argument("--patience", type=_positive_int, default=8)
    t.add_argument("--max-minutes", type=float, default=None, help="stop after this much wall-clock time")
    t.add_argument("--crop-size", type=_size, default=None,
                   help="train on random HxW windows of the input-size view (cheaper for large inputs)")
    t.add_argument("--max-val-frames", type=_positive_int, default=None, help="validate on at most N frames")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("-q", "--quiet", action="store_true",
                   help="one line per epoch (the default when output is not a terminal)")
    t.set_defaults(func=cmd_train)

    o = sub.add_parser("overlay", parents=[verbose],
                       help="draw a mask file's masks and part boxes on its video (mp4 and/or png grid)")
    o.add_argument("video", type=Path)
    o.add_argument("masks", type=Path, help="HDF5 mask file written by segment or corpus")
    o.add_argument("-o", "--output", type=Path, default=None, help="mp4 to write, every frame")
    o.add_argument("--png", type=Path, default=None, help="also (or only) a grid of evenly spaced frames")
    o.add_argument("--count", type=_positive_int, default=8, help="frames in the --png grid (default 8)")
    o.add_argument("--columns", type=_positive_int, default=4, help="columns of the --png grid (default 4)")
    o.add_argument("--video-id", default=None, help="the video's id in the file (default: from its name)")
    o.set_defaults(func=cmd_overlay)

    m = sub.add_parser("models", parents=[verbose], help="list the shipped models")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "overlay" and args.output is None and args.png is None:
        parser.error("overlay: give -o OUT.mp4, --png OUT.png, or both")
    from signseg.errors import SignsegError
    from signseg.quiet import filtered_stderr
    try:
        if args.verbose:
            return args.func(args)
        with filtered_stderr():
            return args.func(args)
    except SignsegError as exc:
        print(f"signseg: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:  # bad arguments; a full disk or unwritable output
        print(f"signseg: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # an optional backend that is not installed
        print(f"signseg: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("signseg: interrupted; complete videos are kept, rerun with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

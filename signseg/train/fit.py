"""Train or fine-tune a segmentation model on labelled frames (:mod:`signseg.train.frames`).

Output: ``MODEL_DIR/<name>.weights.h5`` and its model card ``MODEL_DIR/<name>.json``;
training resumes from ``MODEL_DIR/backup`` after an interruption.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from signseg import labels as L
from signseg.cpu import CPUINFO, cpu_flags
from signseg.train.augment import CLOTHES, Backgrounds, augment
from signseg.train.feed import ArrayBatches, FrameArrays, ViewTrainer
from signseg.infer.presets import ModelCard, sha256_of
from signseg.infer.segmenter import mirror_mean
from signseg.models import build
from signseg.models.layers import OUTPUTS, mirror_order
from signseg.models.metrics import SegmentationLoss, hand_iou, iou, mask_iou
from signseg.train.frames import LabelledFrames, split_by_group
from signseg.train.grow import grow_width
from signseg.train.sources import load_sources


class FrameBatches(keras.utils.PyDataset):
    """Batches of (x in [0, 1], y) drawn at random (training) or in order (validation); y is
    the view's label map (signseg.labels values, float32 (B, h, w, 1)), which
    :class:`~signseg.models.metrics.SegmentationLoss` reads each output's target from.

    ``clothes_weight`` other than 1 (training): batches are (x, y, per-pixel weights), the
    signer's pixels that are neither hand nor face (clothes, arms, hair; the teacher's person
    mask) weighing that much in the loss -- light shirts and sleeves are the commonest false
    marks (docs/model_card.md).
    """

    def __init__(self, data: LabelledFrames, size: tuple[int, int], batch_size: int, steps: int | None = None,
                 train: bool = True, seed: int = 0, crop: tuple[int, int] | None = None,
                 clothes_weight: float = 1.0, shelf_share: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.data, self.size, self.batch_size, self.train, self.crop = data, size, batch_size, train, crop
        self.clothes_weight = float(clothes_weight) if train else 1.0
        self.steps = steps or math.ceil(len(data) / batch_size)
        self.rng = np.random.default_rng(seed)
        # the training clips' own rooms, signer painted out, are one kind of background
        self.backgrounds = (Backgrounds.from_clips(data.images, data.persons, data.groups, shelf_share, seed)
                            if train else None)
        if not train:  # validation views are fixed: resize once
            self._fixed = [augment(i, m, size, self.rng, strength=0.0) for i, m in zip(data.images, data.masks)]

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int):
        if self.train:
            picks = self.rng.integers(0, len(self.data), self.batch_size)
            mark = self.clothes_weight != 1.0
            views = [augment(self.data.images[i], self.data.masks[i], self.size, self.rng, crop=self.crop,
                             person=self.data.persons[i], backgrounds=self.backgrounds, mark_clothes=mark)
                     for i in picks]
        else:
            views = self._fixed[index * self.batch_size:(index + 1) * self.batch_size]
        x = np.multiply(np.stack([v[0] for v in views]), np.float32(1 / 255))  # one pass to float32
        masks = np.stack([v[1] for v in views])
        y = masks.astype(np.float32)[..., None]
        if self.clothes_weight == 1.0:
            return x, y
        return x, y, np.where(masks == CLOTHES, np.float32(self.clothes_weight), np.float32(1.0))


# --------------------------------------------------------------------------- training
class _Clock(keras.callbacks.Callback):
    """Training minutes summed over resumes: each epoch end records the total in ``clock.json``."""

    def __init__(self, model_dir: Path, resuming: bool):
        super().__init__()
        self.file = model_dir / "clock.json"
        self.before = json.loads(self.file.read_text())["minutes"] if resuming and self.file.is_file() else 0.0
        self.t0 = time.time()

    @property
    def minutes(self) -> float:
        return self.before + (time.time() - self.t0) / 60

    def on_epoch_end(self, epoch, logs=None):
        self.file.write_text(json.dumps({"minutes": self.minutes}))


class EpochLog(keras.callbacks.Callback):
    """One plain line per epoch (for logs: the progress bar writes thousands of backspaces into
    a file): losses and metrics, the learning rate, training and validation seconds, and the
    training images per second (validation time not counted)."""

    def __init__(self, epochs: int, images_per_epoch: int, stream=None):
        super().__init__()
        self.epochs, self.images, self.stream = epochs, images_per_epoch, stream
        self.t0 = self.t_val = None

    def on_epoch_begin(self, epoch, logs=None):
        self.t0, self.t_val = time.time(), None

    def on_test_begin(self, logs=None):  # fit's validation pass starts: training time ends here
        if self.t0 is not None and self.t_val is None:
            self.t_val = time.time()

    def on_epoch_end(self, epoch, logs=None):
        now = time.time()
        train_s = (self.t_val or now) - self.t0
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        cols = "  ".join(f"{k} {float(v):.4f}" for k, v in (logs or {}).items() if k != "learning_rate")
        print(f"epoch {epoch + 1}/{self.epochs}  {cols}  lr {lr:.2e}  train {train_s:.0f} s  "
              f"val {now - (self.t_val or now):.0f} s  {self.images / max(train_s, 1e-9):.1f} img/s",
              file=self.stream or sys.stdout, flush=True)


class _TimeBudget(keras.callbacks.Callback):
    """Stop after ``minutes`` of wall-clock time (checked at epoch ends)."""

    def __init__(self, minutes: float):
        super().__init__()
        self.deadline = time.time() + minutes * 60

    def on_epoch_end(self, epoch, logs=None):
        if time.time() > self.deadline:
            self.model.stop_training = True


def best_threshold(model: keras.Model, val: FrameBatches, mirror: bool = False) -> tuple[float, float]:
    """The threshold in 0.1..0.9 with the best validation IoU, and that IoU; with ``mirror``,
    of the output averaged over each frame and its mirror image (``Segmenter(mirror=True)``).
    A model with face and hand channels is judged by its hands' IoU (pixels marked and more
    hand than face), the rest by hand-or-face; IGNORE pixels never count."""
    def predict(x: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_on_batch(x), dtype=np.float32)

    probs, labs = [], []
    for i in range(len(val)):
        x, y = val[i]
        probs.append(mirror_mean(predict, x) if mirror else predict(x))
        labs.append(y[..., 0].astype(np.uint8))
    p, lab = np.concatenate(probs), np.concatenate(labs)
    known = lab != L.IGNORE
    parts = p.shape[-1] >= 3
    if parts:
        truth = L.is_hand(lab)[known]
        handish = (p[..., 2:].sum(-1) > p[..., 1])[known]
    else:
        truth = ((lab > 0) & (lab <= L.UNASSIGNED))[known]
    p0 = p[..., 0][known]
    # wide enough that an optimum is found, not clipped (0.3..0.7 clipped the shipped snet's at 0.3)
    scores = {th: iou((p0 >= th) & handish if parts else p0 >= th, truth)
              for th in np.round(np.arange(0.1, 0.91, 0.05), 2)}
    th = max(scores, key=scores.get)
    return float(th), float(scores[th])


def train(sources: Sequence[str | os.PathLike], model_dir: str | os.PathLike, *, name: str = "model",
          architecture: str = "snet", config: dict | None = None, input_size: tuple[int, int] | None = None,
          init: str | os.PathLike | None = None, epochs: int = 50, steps_per_epoch: int = 200,
          batch_size: int = 8, learning_rate: float = 1e-3, dice: bool = False, val_fraction: float = 0.15,
          holdout: Sequence[str] = (), patience: int = 8, max_minutes: float | None = None,
          crop_size: tuple[int, int] | None = None, max_val_frames: int | None = None,
          groups: dict[str, str] | None = None, seed: int = 0, verbose: int | str = "auto",
          data: LabelledFrames | None = None, views: str = "auto", precision: str = "auto",
          mirror: bool | None = None, clothes_weight: float = 1.0,
          val_videos: Sequence[str] | None = None, outputs: str | None = None,
          face_weight: float = 1.0, hand_weight: float = 1.0, dropout: float | None = None,
          ema: float | None = None, flip_consistency: float = 0.0, hand_dice: float = 0.0,
          shelf_share: float = 0.0) -> ModelCard:
    """Train a model and write ``<name>.weights.h5`` + ``<name>.json`` into ``model_dir``.

    ``init``: a shipped model name or a ``.weights.h5`` to fine-tune from (its architecture
    and, unless given, its input size are kept; a ``config`` width above its own grows it into
    that wider ``snet`` with the same outputs to start from: :func:`signseg.train.grow.grow_width`). ``holdout`` names videos kept out of both
    training and validation, for a final evaluation on unseen signers. Interrupted runs
    resume from ``model_dir/backup`` when called again with the same arguments.
    ``crop_size`` trains on random windows of the ``input_size`` view (the model still runs
    on whole ``input_size`` frames); ``max_val_frames`` validates on an evenly spaced subset.
    ``groups`` maps video ids to signers: validation then takes whole signers.
    ``val_videos`` names the validation videos outright (``val_fraction`` unused).
    ``verbose="auto"`` shows Keras's progress bar on a terminal and one line per epoch
    (:class:`EpochLog`) anywhere else. ``data``: the frames of ``sources`` where the caller has
    loaded them already (they are not read again). ``views``: where training views are made --
    ``"host"`` (:mod:`signseg.train.augment`, OpenCV, one image at a time) or ``"graph"``
    (:mod:`signseg.train.views`: uint8 arrays in, the views made inside the compiled step; the
    way to feed a GPU; on a 2-core CPU the host views are faster -- docs/performance.md);
    ``"auto"`` (:func:`auto_views`): graph where the backend sees a GPU or where ``init``'s card
    says it learned from graph views (the shipped models), unless ``crop_size`` or
    ``clothes_weight`` asks for host views; else host.
    ``precision``: a Keras dtype policy for training, ``"float32"`` or ``"mixed_bfloat16"``
    (bfloat16 compute, float32 weights; the saved weights and inference stay float32);
    ``"auto"`` (:func:`auto_precision`): mixed_bfloat16 on the TensorFlow backend on a CPU
    with native bfloat16 (AVX512-BF16 or AMX: about twice the images/s there), float32
    elsewhere. The card records the one used.
    ``mirror``: the card asks for the test-time flip, and its threshold is chosen with it
    (``None``: as the ``init`` model's card, so a fine-tuned ``snet-lite`` keeps its flip; off
    from scratch). ``clothes_weight``: the weight in the loss of the signer's pixels that are
    neither hand nor face (:class:`FrameBatches`; host views, frames with a person mask). The
    card's ``max_blobs`` (masks cut to each frame's largest blobs) comes from the ``init``
    model's card too.
    ``outputs``: ``"mask"`` (one hand-or-face channel) or ``"face_hand"`` (face and hand
    channels after it, :func:`signseg.models.layers.output_head`); ``None`` keeps ``init``'s
    (a one-channel ``init`` given ``"face_hand"`` keeps its mask layer and learns the hand
    share from 0.5: :func:`widen_head`). ``hand_weight`` weighs hand pixels in the loss (the
    mask's, and the hand share's), ``face_weight`` face pixels in the hand share's
    (:class:`~signseg.models.metrics.SegmentationLoss`). Pixels labelled IGNORE (hands the
    teacher may have missed) never count. Checkpoints and the threshold are chosen by
    validation hand IoU where the model has a hand channel, by hand-or-face IoU otherwise.
    ``dropout``: ``snet``'s dropout scale (:func:`signseg.models.snet.snet`; ``None`` keeps
    ``init``'s, or the paper's rates from scratch); the weights carry over unchanged.
    ``ema``: keep an exponential moving average of the weights with this momentum per step
    (Polyak averaging: steadier than any one step's weights); validation, checkpoints and
    the written weights are then the average's.
    ``flip_consistency``: graph views only; that weight times the mean squared difference
    between the outputs on each view and on its mirror image mirrored back
    (:func:`signseg.train.feed.flip_disagreement`), so that one pass learns what the test-time
    flip's average gives (twice the arithmetic per step).
    ``hand_dice``: that weight times a soft Dice term of the hands alone (models with part
    channels; :class:`~signseg.models.metrics.SegmentationLoss`), aimed at hand IoU.
    ``shelf_share``: that share of the room plates behind pasted signers are drawn bookshelves
    (:func:`signseg.train.augment.shelves`): fine, colourful texture round a face made the
    network name it a hand (docs/model_card.md).
    """
    if views not in ("auto", "host", "graph"):
        raise ValueError(f"views must be 'auto', 'host' or 'graph', not {views!r}")
    if precision not in ("auto", "float32", "mixed_bfloat16"):
        raise ValueError(f"precision must be 'auto', 'float32' or 'mixed_bfloat16', not {precision!r}")
    if precision == "auto":
        precision = auto_precision()
    card0 = init_card(init) if init is not None else None
    if views == "auto":
        views = auto_views(card0, crop_size, clothes_weight)
    if views == "graph" and crop_size is not None:
        raise ValueError("crop_size is for host views; graph views train on the whole input-size view")
    if views == "graph" and clothes_weight != 1.0:
        raise ValueError("clothes_weight is for host views; graph views weigh every pixel alike")
    if flip_consistency < 0:
        raise ValueError(f"flip_consistency must be >= 0, not {flip_consistency}")
    if flip_consistency and views != "graph":
        raise ValueError("flip_consistency is for graph views (--views graph)")
    if hand_dice < 0:
        raise ValueError(f"hand_dice must be >= 0, not {hand_dice}")
    if ema is not None and not 0 < ema < 1:
        raise ValueError(f"ema must be a momentum in (0, 1), not {ema}")
    if clothes_weight <= 0:
        raise ValueError(f"clothes_weight must be > 0, not {clothes_weight}")
    if not 0 <= shelf_share <= 1:
        raise ValueError(f"shelf_share must be from 0 to 1, not {shelf_share}")
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    config = dict(config or {})
    data = load_sources(sources) if data is None else data
    is_val = split_by_group(data.groups, val_fraction, holdout, signer_of=groups, val=val_videos)
    train_data = data.subset(~is_val)
    val_data = data.subset(is_val & ~np.isin(data.groups, list(holdout)))
    if not len(train_data):
        raise ValueError("no labelled frame left to train on: every one is in validation or held out "
                         "(lower val_fraction, name fewer validation or held-out videos, or add data)")
    if not len(val_data):  # a tiny set (a few frames): validate on the training frames, say so
        val_data = train_data
    if max_val_frames and len(val_data) > max_val_frames:
        pick = np.zeros(len(val_data), bool)
        pick[np.linspace(0, len(val_data) - 1, max_val_frames).round().astype(int)] = True
        val_data = val_data.subset(pick)

    if outputs is not None and outputs not in OUTPUTS:
        raise ValueError(f"outputs must be one of {sorted(OUTPUTS)}, not {outputs!r}")
    if dropout is not None and (card0.architecture if card0 is not None else architecture) != "snet":
        raise ValueError("dropout is an snet option")
    if card0 is not None:
        width, grown_from = config.get("width"), None
        init_width, init_stem = card0.config.get("width", 1.0), card0.config.get("stem", 1)
        if config.get("stem", init_stem) != init_stem:
            raise ValueError(f"stem {config['stem']}: the init model {card0.name} has stem {init_stem}, "
                             "and a stem cannot be changed by fine-tuning")
        architecture, config = card0.architecture, dict(card0.config)
        before = config.get("outputs", "mask")
        model = _build_in(precision, architecture, config)
        model.load_weights(str(card0.extra["_weights_path"]))
        if width is not None and width != init_width:
            if architecture != "snet" or width < init_width:
                raise ValueError(f"width {width}: an init model grows to a wider snet only "
                                 f"(its {architecture} width is {init_width})")
            grown_from, config["width"] = init_width, width
            keras.utils.set_random_seed(seed)  # the new filters' first weights
            wider = _build_in(precision, architecture, config)
            grow_width(model, wider)
            model = wider
        if outputs is not None and outputs != before:
            config["outputs"] = outputs
            wider = _build_in(precision, architecture, config)
            widen_head(model, wider)
            model = wider
        if dropout is not None and dropout != config.get("dropout", 1.0):
            config["dropout"] = dropout
            rebuilt = _build_in(precision, architecture, config)
            rebuilt.set_weights(model.get_weights())  # dropout layers hold no weights
            model = rebuilt
        input_size = input_size or card0.input_size
    else:
        grown_from = None
        keras.utils.set_random_seed(seed)
        if outputs is not None:
            config["outputs"] = outputs
        if dropout is not None:
            config["dropout"] = dropout
        model = _build_in(precision, architecture, config)
    parts = OUTPUTS[config.get("outputs", "mask")] != ()
    if hand_dice and not parts:
        raise ValueError("hand_dice needs a model with part channels (outputs face_hand or parts)")
    if mirror is None:
        mirror = bool(card0 is not None and card0.mirror)
    input_size = tuple(input_size or (224, 224))
    loss = SegmentationLoss(dice=dice, face_weight=face_weight, hand_weight=hand_weight, hand_dice=hand_dice)
    monitor = "val_hand_iou" if parts else "val_mask_iou"
    if views == "graph":
        trainer = ViewTrainer(model, input_size, flip_consistency, mirror_order(OUTPUTS[config.get("outputs", "mask")]))
        trainer(np.zeros((1, *input_size, 3), np.float32))  # built before fit (BackupAndRestore asks)
        train_ds = ArrayBatches(FrameArrays.from_frames(train_data, input_size, seed, shelf_share), batch_size,
                                steps=steps_per_epoch, seed=seed)
    else:
        # views are made on the training thread: a feeder thread halved images/s on 2 cores, the
        # step and the thread fighting for them (bench/train.py, docs/performance.md)
        trainer = model
        train_ds = FrameBatches(train_data, input_size, batch_size, steps=steps_per_epoch, seed=seed, crop=crop_size,
                                clothes_weight=clothes_weight, shelf_share=shelf_share)
    optimizer = (keras.optimizers.Adam(learning_rate) if ema is None
                 else keras.optimizers.Adam(learning_rate, use_ema=True, ema_momentum=ema))
    trainer.compile(optimizer=optimizer, loss=loss,
                    metrics=[mask_iou, hand_iou] if parts else [mask_iou])
    val_ds = FrameBatches(val_data, input_size, batch_size, train=False, seed=seed)
    best_file = model_dir / f"{name}.best.weights.h5"
    clock = _Clock(model_dir, resuming=(model_dir / "backup").is_dir())
    callbacks = [
        keras.callbacks.BackupAndRestore(str(model_dir / "backup")),
        # the average's weights in place from each epoch's end (validation, the checkpoint) to the next's start
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if ema is not None else []),
        keras.callbacks.ModelCheckpoint(str(best_file), monitor=monitor, mode="max", save_best_only=True,
                                        save_weights_only=True),
        keras.callbacks.EarlyStopping(monitor=monitor, mode="max", patience=patience),
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode="max", factor=0.5, patience=max(2, patience // 3)),
        keras.callbacks.CSVLogger(str(model_dir / "history.csv"), append=True),
    ]
    if max_minutes:
        callbacks.append(_TimeBudget(max_minutes))
    callbacks.append(clock)
    if verbose == "auto":
        verbose = "auto" if sys.stdout.isatty() else 0
    if verbose in (0, 2):  # one plain line per epoch
        callbacks.append(EpochLog(epochs, steps_per_epoch * batch_size))
        verbose = 0
    history = trainer.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=verbose)
    if best_file.is_file():
        trainer.load_weights(str(best_file))
    threshold, val_iou = best_threshold(model, val_ds, mirror)

    weights_file = model_dir / f"{name}.weights.h5"
    # save from an uncompiled twin: a compiled model's file also holds the optimizer state
    # (twice the weights again), which inference never reads
    shipped = build(architecture, **config)
    shipped.set_weights(model.get_weights())
    shipped.save_weights(str(weights_file))
    # the weights file holds every weight: a VGG card must not send the loader to the ImageNet file
    card_config = {**config, "encoder_weights": None} if architecture == "vgg_unet" else config
    card = ModelCard(
        name=name, architecture=architecture, config=card_config, input_size=tuple(input_size), threshold=threshold,
        sha256=sha256_of(weights_file), weights_file=weights_file.name, mirror=mirror,
        max_blobs=None if card0 is None else card0.max_blobs,  # a fine-tuned model keeps its cleanup
        extra={"training": {
            "sources": [os.fspath(s) for s in sources], "init": None if card0 is None else card0.name,
            "grown_from_width": grown_from,
            "train_frames": len(train_data), "val_frames": len(val_data),
            "train_videos": len(set(train_data.groups)), "val_videos": len(set(val_data.groups)),
            "composited_frames": sum(p is not None for p in train_data.persons),
            "holdout_videos": sorted(holdout),
            "validation": "named videos" if val_videos is not None else f"signer hash < {val_fraction}",
            "epochs_run": history.epoch[-1] + 1 if history.epoch else 0,  # counts epochs before a resume
            "steps_per_epoch": steps_per_epoch, "batch_size": batch_size, "learning_rate": learning_rate,
            "crop_size": None if crop_size is None else list(crop_size), "views": views, "precision": precision,
            "loss": "bce+dice" if dice else "bce", "clothes_weight": clothes_weight,
            "face_weight": face_weight, "hand_weight": hand_weight, "chosen_by": monitor,
            "dropout": config.get("dropout", 1.0) if architecture == "snet" else None, "ema": ema,
            "flip_consistency": flip_consistency, "hand_dice": hand_dice, "shelf_share": shelf_share,
            "ignored_frames": int(sum(bool((m == L.IGNORE).any()) for m in train_data.masks)),
            "minutes": round(clock.minutes, 1),
            "backend": keras.backend.backend()},
            "metrics": {"val_hand_iou" if parts else "val_iou": round(val_iou, 4)}})
    card.extra.update(carried_networks(card0, model_dir, config))
    card.save(model_dir / f"{name}.json")
    (model_dir / "history.json").write_text(json.dumps({k: [float(v) for v in vs] for k, vs in history.history.items()}))
    return card


def carried_networks(card0: ModelCard | None, model_dir: Path, config: dict) -> dict[str, dict]:
    """The init model's second networks, by card key, their files (weights, int8 graph) copied
    beside the new weights: its hand refiner (:mod:`signseg.infer.hand_refiner`) for a
    fine-tuned face/hand model (the refiner reads the face and hand channels, which a fine-tune
    moves, not remakes) and its arm network (:mod:`signseg.infer.arm_sides`, which reads the
    frames alone). Empty where there is none to keep."""
    out = {}
    for key in ("hand_refiner", "arm_sides"):
        entry = None if card0 is None else card0.extra.get(key)
        if not entry or (key == "hand_refiner" and config.get("outputs") != "face_hand"):
            continue
        files = [entry["file"]] + ([entry["int8"]["file"]] if entry.get("int8") else [])  # its int8 graph too
        for name in files:
            source, target = Path(card0.extra["_weights_path"]).parent / name, Path(model_dir) / name
            if source.resolve() != target.resolve():
                shutil.copyfile(source, target)
        out[key] = dict(entry)
    return out


def auto_views(card0: ModelCard | None, crop_size: tuple[int, int] | None = None,
               clothes_weight: float = 1.0) -> str:
    """Where ``views="auto"`` makes the training views: inside the step (``"graph"``) on a GPU,
    or when fine-tuning a model that learned from graph views (its card says so: fine-tuned on
    the other recipe it first spends its steps on the difference, docs/model_card.md); on the
    host otherwise, and always where only host views can do what is asked (crops, a clothes
    weight)."""
    if crop_size is not None or clothes_weight != 1.0:
        return "host"
    from signseg.infer.runtimes import has_gpu
    learned_from = (card0.extra.get("training") or {}).get("views") if card0 is not None else None
    return "graph" if learned_from == "graph" or has_gpu() else "host"


def auto_precision() -> str:
    """The training precision ``precision="auto"`` picks: ``"mixed_bfloat16"`` where it pays --
    TensorFlow on a CPU whose cores compute in bfloat16 natively (oneDNN runs the convolutions
    on AVX512-BF16/AMX: 1.7-1.9x float32's images/s in bench/train.py, 2.0x in a real run on
    the 2-core CPU; docs/performance.md) -- and ``"float32"`` elsewhere: on a GPU (what the
    device script measured), on JAX's CPU (bfloat16 slower there) and on CPUs that would
    emulate bfloat16."""
    from signseg.infer.runtimes import has_gpu
    if keras.backend.backend() != "tensorflow" or has_gpu():
        return "float32"
    return "mixed_bfloat16" if cpu_has_bf16() else "float32"


def cpu_has_bf16(cpuinfo: str | os.PathLike = CPUINFO) -> bool:
    """True when the CPU's flags (Linux's ``/proc/cpuinfo``) list native bfloat16 arithmetic:
    ``avx512_bf16`` or ``amx_bf16``. False where the file cannot be read (other systems)."""
    return bool(cpu_flags(cpuinfo) & {"avx512_bf16", "amx_bf16"})


def widen_head(narrow: keras.Model, wide: keras.Model) -> None:
    """Copy a model's weights into the same network with a wider head
    (:func:`signseg.models.layers.output_head`): every layer it has, the ``mask`` layer
    included, so the wider model's channel 0 is the narrow model's mask. New layers keep their
    initial weights (parts sharing each pixel evenly: training tells them apart), except that a
    ``face_hand`` model's ``hand_share`` becomes the left and right hands' logits of ``parts``
    (face at 0, each hand at the share's logit less log 2), so its face/hand split carries over
    and only left from right is new."""
    old = {layer.name: layer for layer in narrow.layers}
    for layer in wide.layers:
        if layer.weights and layer.name in old:
            layer.set_weights(old[layer.name].get_weights())
    names = {layer.name for layer in wide.layers}
    if "hand_share" in old and "part_logits" in names and "hand_share" not in names:
        kernel, bias = old["hand_share"].get_weights()
        target = wide.get_layer("part_logits")
        k_new, b_new = (np.zeros(w.shape, np.float32) for w in target.get_weights())
        axis = next(i for i, (a, b) in enumerate(zip(kernel.shape, k_new.shape)) if a != b)
        for c in (1, 2):  # left, right
            np.put_along_axis(k_new, np.full([1 if i == axis else n for i, n in enumerate(k_new.shape)], c),
                              kernel, axis=axis)
            b_new[c] = bias[0] - np.log(2.0)
        target.set_weights([k_new, b_new])


def _build_in(precision: str, architecture: str, config: dict) -> keras.Model:
    """The network with its layers in ``precision`` (a Keras dtype policy); the global policy
    is restored at once, so nothing built later (the saved twin, inference) inherits it."""
    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        return build(architecture, **config)
    finally:
        keras.mixed_precision.set_global_policy(before)


def init_card(init: str | os.PathLike) -> ModelCard:
    """The model card to fine-tune from: a shipped model's name or a ``.weights.h5`` with its card."""
    from signseg.infer.presets import PRESETS, card_path_for, resolve
    if str(init) in PRESETS:
        card, weights = resolve(str(init))
    else:
        weights = Path(init)
        card_file = card_path_for(weights)
        if not weights.is_file() or not card_file.is_file():
            raise FileNotFoundError(f"{init}: not a shipped model name, nor a .weights.h5 with its .json card")
        card = ModelCard.load(card_file)
    card.extra["_weights_path"] = str(weights)
    return card

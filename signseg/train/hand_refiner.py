"""Train the hand refiner (:mod:`signseg.infer.hand_refiner`) on teacher labels.

Its crops are those it will see at work, round each blob of the first network's hand
probability (most hold no hand: it learns to drop them), plus crops round each of the
teacher's hands, moved and scaled at random, so it learns to finish a hand the first network
half found. Targets are the teacher's hand pixels; ignore regions (a hand the teacher may have
missed, :data:`signseg.labels.IGNORE`) weigh nothing, and the signer's arms, clothes and neck
(:data:`ARM`, from the labels' person mask) may weigh more than the background, since a
forearm of skin is where the refiner's false hands lie (docs/model_card.md).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

import h5py
import keras
import numpy as np
from keras import ops

from signseg import labels as L
from signseg.decode.image import resize
from signseg.infer.blobs import components
from signseg.infer.hand_crops import MIN_AREA, MIN_SIDE, Box, crop, hand_boxes, probability_planes, refiner_input
from signseg.infer.hand_refiner import THRESHOLD
from signseg.infer.motion import Motion
from signseg.infer.second_network import built, save_with_entry
from signseg.models.hand_refiner import hand_refiner
from signseg.train.augment import P_CLOTHES, Backgrounds, paste_clip, recolour_clothes
from signseg.train.evaluate import stored_fps
from signseg.train.frames import with_ignore

#: A teacher hand's box: its longer side times a factor drawn from this range, plus 12 pixels,
#: its centre moved by up to this share of the side.
TEACHER_GROW, TEACHER_SHIFT = (1.3, 2.2), 0.15
#: The share of training crops whose motion plane is blanked (:func:`augmented`).
NO_MOTION = 0.2
#: A crop pixel the labels' person mask puts on the signer but not on a hand or the face (arms,
#: clothes, neck): not hand, weighing ``arm_weight`` in :func:`refiner_loss`.
ARM = 2
#: The files a refitted refiner is written to, beside its model's weights (:func:`refit_hand_refiner`).
REFIT = "hand-refiner.refit"


def crops_from_labels(segmenter, files: Sequence[str | Path], seed: int = 0,
                      log: Callable[[str], None] | None = None,
                      videos: Sequence[str] | None = None, motion: bool = False,
                      restage: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Training crops of labels files: x (N, CROP, CROP, 5 or 6) uint8 (:func:`refiner_input`) and
    y (N, CROP, CROP) uint8 (1 hand, 0 not, :data:`ARM` not hand but on the signer, IGNORE
    unknown). ``segmenter``: the first network
    (a ``face_hand`` model), run once over each clip's stored frames; ``videos``: only these
    video ids (default: every one); ``motion``: a sixth plane, each stored frame's motion
    (:mod:`signseg.infer.motion`, at the rate of the clip's stored frames); ``restage``: the
    share of clips (with a person mask) whose signer is first moved into another room and
    often other clothes (:func:`restaged`), before the first network runs on them."""
    if "hand" not in segmenter.parts or "face" not in segmenter.parts:
        raise ValueError(f"{segmenter.name}: the hand refiner is trained behind a face/hand model, "
                         f"this one gives {segmenter.parts or 'one channel'}")
    rng = np.random.default_rng(seed)
    rooms = _rooms(files, videos) if restage > 0 else None
    xs, ys = [], []
    for path in files:
        with h5py.File(path, "r") as f:
            for vid in sorted(f["videos"]):
                if videos is not None and vid not in videos:
                    continue
                g = f[f"videos/{vid}"]
                frames, truth = g["frames"][()], g["labels"][()]
                if "ignore" in g:  # as training reads them: a hand the teacher found keeps its label
                    truth = with_ignore(truth, g["ignore"][()])
                target = L.is_hand(truth).astype(np.uint8)
                person = g["person"][()] if "person" in g else None
                if person is not None:
                    target[(person > 0) & (truth == L.BACKGROUND)] = ARM
                target[truth == L.IGNORE] = L.IGNORE
                if rooms is not None and person is not None and rng.random() < restage:
                    frames = restaged(frames, truth, person, rooms, rng)
                p = segmenter.predict_parts_proba(frames)
                hand_p, face_p = p[..., segmenter.parts.index("hand")], p[..., segmenter.parts.index("face")]
                moved = Motion(stored_fps(g))(frames) if motion else None
                for i in range(len(frames)):
                    boxes = hand_boxes(hand_p[i])[0] + _teacher_boxes(target[i] == 1, rng)
                    planes = probability_planes(hand_p[i], face_p[i], motion=None if moved is None else moved[i])
                    for box in boxes:
                        xs.append(refiner_input(frames[i], planes, box))
                        ys.append(crop(target[i], box, nearest=True))
                if log:
                    log(f"{path}: {vid}: {len(xs)} crops")
    if not xs:
        raise ValueError(f"no crops in {', '.join(map(str, files))}: no hands and no hand blobs")
    return np.stack(xs), np.stack(ys)


def _rooms(files: Sequence[str | Path], videos: Sequence[str] | None) -> Backgrounds:
    """Backgrounds for :func:`restaged`: each clip's room with its signer painted out (its first
    frame), and the procedural walls of :class:`~signseg.train.augment.Backgrounds`."""
    frames, persons, groups = [], [], []
    for path in files:
        with h5py.File(path, "r") as f:
            for vid in sorted(f["videos"]):
                g = f[f"videos/{vid}"]
                if (videos is None or vid in videos) and "person" in g and len(g["frames"]):
                    frame = g["frames"][0]
                    frames.append(frame)
                    persons.append(resize(g["person"][0], frame.shape[:2]))
                    groups.append(f"{path}:{vid}")
    return Backgrounds.from_clips(frames, persons, groups)


def restaged(frames: np.ndarray, truth: np.ndarray, person: np.ndarray, rooms: Backgrounds,
             rng: np.random.Generator) -> np.ndarray:
    """A clip's frames (n, H, W, 3) with its signer (``person`` (n, h, w) 0-255) pasted into one
    room drawn from ``rooms`` and, :data:`~signseg.train.augment.P_CLOTHES` of the time, in
    other clothes: the same room and clothes in every frame, so the motion plane still sees
    only the signer move. ``truth`` (n, H, W): the labels, whose hands and face are kept."""
    size = frames.shape[1:3]
    room = rooms.draw(size, rng)
    clothes = int(rng.integers(2 ** 31)) if rng.random() < P_CLOTHES else None
    out = paste_clip(frames, truth, person, room)
    if clothes is not None:  # one seed: the same colour and sleeves in every frame
        for i in range(len(out)):
            out[i] = recolour_clothes(out[i], truth[i], resize(person[i], size), np.random.default_rng(clothes))
    return out


def _teacher_boxes(hands: np.ndarray, rng: np.random.Generator) -> list[Box]:
    n, _, stats, _ = components(hands.view(np.uint8))
    out = []
    for x, y, w, h, area in stats[1:]:
        if area >= MIN_AREA:
            side = max(MIN_SIDE, rng.uniform(*TEACHER_GROW) * max(w, h) + 12)
            dx, dy = rng.uniform(-TEACHER_SHIFT, TEACHER_SHIFT, 2) * side
            out.append(Box(x + w / 2 + dx, y + h / 2 + dy, side))
    return out


def augmented(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A batch as the refiner trains on it: float32 in [0, 1], colours jittered (gain per
    channel, brightness, saturation), the first network's channels blanked for some crops
    (it must also see hands by itself), a motion plane blanked for :data:`NO_MOTION` of them
    (single images and a video's first frames have none), mirrored at random; y float32
    (IGNORE kept)."""
    x = x.astype(np.float32) / 255.0
    b = len(x)
    rgb, probs = x[..., :3], x[..., 3:]
    grey = rgb.mean(-1, keepdims=True)
    sat = rng.uniform(0.6, 1.3, (b, 1, 1, 1))
    rgb = np.clip((grey + sat * (rgb - grey)) * rng.uniform(0.75, 1.25, (b, 1, 1, 3))
                  + rng.uniform(-0.15, 0.15, (b, 1, 1, 1)), 0, 1)
    probs = probs * (rng.random((b, 1, 1, 1)) > 0.15)
    if probs.shape[-1] > 2:
        probs[..., 2] *= rng.random((b, 1, 1)) > NO_MOTION
    x, y = np.concatenate([rgb, probs], -1).astype(np.float32), y.astype(np.float32)
    flip = rng.random(b) < 0.5
    x[flip], y[flip] = x[flip, :, ::-1], y[flip, :, ::-1]
    return x, y[..., None]


def refiner_loss(y_true, y_pred, arm_weight: float = 1.0):
    """Binary cross-entropy plus soft Dice over the known pixels (IGNORE weighs nothing); in the
    cross-entropy an :data:`ARM` pixel weighs ``arm_weight``, any other known pixel 1."""
    known = ops.cast(y_true <= ARM, "float32")
    t = ops.cast(ops.equal(y_true, 1.0), "float32")
    weight = known * ops.where(ops.equal(y_true, float(ARM)), float(arm_weight), 1.0)
    p = ops.clip(y_pred, 1e-6, 1 - 1e-6)
    bce = -(t * ops.log(p) + (1 - t) * ops.log(1 - p))
    bce = ops.sum(bce * weight) / (ops.sum(weight) + 1.0)
    dice = 1 - (2 * ops.sum(p * t * known) + 1) / (ops.sum((p + t) * known) + 1)
    return bce + dice


def train_hand_refiner(x: np.ndarray, y: np.ndarray, *, epochs: int = 6, width: int = 16, batch_size: int = 64,
                       lr: float = 2e-3, seed: int = 0, init: keras.Model | None = None, arm_weight: float = 1.0,
                       log: Callable[[str], None] | None = print) -> keras.Model:
    """A refiner trained on crops ``x``, ``y`` (:func:`crops_from_labels`) with Adam at ``lr``
    decayed along a cosine; ``init`` (a refiner) to fine-tune instead of starting afresh;
    ``arm_weight``: what a pixel of the signer's arms and clothes weighs (:func:`refiner_loss`)."""
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    model = init if init is not None else hand_refiner(width)
    steps = epochs * max(1, len(x) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(lr, steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=lambda y_true, y_pred: refiner_loss(y_true, y_pred, arm_weight))
    for epoch in range(epochs):
        t0, order, losses = time.time(), rng.permutation(len(x)), []
        for start in range(0, len(x) - batch_size + 1 if len(x) >= batch_size else 1, batch_size):
            idx = np.sort(order[start:start + batch_size])
            losses.append(float(model.train_on_batch(*augmented(x[idx], y[idx], rng))))
        if log:
            log(f"epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f}, "
                f"{len(losses) * min(batch_size, len(x)) / (time.time() - t0):.0f} crops/s")
    return model


def with_motion_plane(model: keras.Model) -> keras.Model:
    """A refiner over crops with a motion plane (6 planes) that answers as ``model`` (5 planes)
    does: its weights, the new plane's weighing nothing until it is trained."""
    width = int(model.get_layer("down0_conv1").filters)
    out = hand_refiner(width, channels=6)
    for new, old in zip(out.layers, model.layers):
        w = old.get_weights()
        if new.name == "down0_conv1":
            k = w[0]
            w = [np.concatenate([k, np.zeros((*k.shape[:2], 1, k.shape[3]), k.dtype)], axis=2), *w[1:]]
        new.set_weights(w)
    return out


def save_hand_refiner(model: keras.Model, path: str | Path, *, width: int, threshold: float = THRESHOLD,
                      training: dict | None = None) -> dict:
    """Write ``path`` (``*.weights.h5``) and, beside it, its card entry (``*.json``, ``motion``
    true where it reads a motion plane); the entry (what a model card's ``"hand_refiner"``
    holds, :meth:`HandRefiner.from_card`) is returned."""
    motion = {"motion": True} if model.input_shape[-1] == 6 else {}
    return save_with_entry(model, path, "refiner", width=int(width), threshold=float(threshold), **motion,
                           training=training or {})


def takes_place_of(new: dict, old: dict | None) -> dict:
    """The card entry of a newly trained refiner ``new`` (:func:`save_hand_refiner`) where it
    replaces ``old``: how the card runs its refiner stays
    (:data:`~signseg.infer.hand_refiner.RUN_SETTINGS`), an int8 graph of the old weights goes."""
    from signseg.infer.hand_refiner import RUN_SETTINGS

    old = old or {}
    return {**{k: old[k] for k in RUN_SETTINGS if k in old}, **new}


def refit_hand_refiner(weights: str | Path, labels_file: str | Path, videos: Sequence[str], *, epochs: int = 8,
                       lr: float = 5e-4, calibration: int = 512, seed: int = 0,
                       log: Callable[[str], None] | None = None) -> dict | None:
    """Fine-tune the hand refiner that the model card beside ``weights`` names, on crops of
    ``videos`` in ``labels_file`` cut behind that model's own first network, and rewrite its
    weights, its int8 graph (calibrated on ``calibration`` of those crops) and the card's
    entry, which is returned. None where the card names no refiner or the videos hold no
    hand to learn from (the refiner is then left as it was).

    Adapting the first network to a corpus moves the probabilities the refiner reads; this
    teaches the refiner the corpus's hands behind them (docs/training.md: measured). The arm
    pixels weigh what they weighed when the card's refiner was trained (its ``training``'s
    ``arm_weight``, 1 where it does not say).
    """
    from signseg.infer.quantize import quantize_refiner
    from signseg.infer.segmenter import Segmenter
    from signseg.train.refit import Fitted, card_entry, refit_entry

    entry = card_entry(weights, "hand_refiner") or {}

    def load():  # no hand in any frame (a ValueError): the refiner it has stays
        return crops_from_labels(Segmenter.from_file(weights, refine_hands=False), [labels_file], seed=seed,
                                 videos=videos, motion=bool(entry.get("motion")))

    def fit(entry: dict, folder: Path, data) -> Fitted:
        x, y = data
        width = int(entry.get("width", 16))
        model = built(folder / entry["file"], lambda: hand_refiner(width, channels=x.shape[-1]), "hand refiner")
        t0 = time.time()
        arm_weight = float((entry.get("training") or {}).get("arm_weight", 1.0))
        model = train_hand_refiner(x, y, epochs=epochs, width=width, lr=lr, seed=seed, init=model,
                                   arm_weight=arm_weight, log=log)
        new = takes_place_of(save_hand_refiner(
            model, folder / f"{REFIT}.weights.h5", width=width, threshold=float(entry.get("threshold", THRESHOLD)),
            training={"init": entry.get("sha256"), "labels": str(labels_file), "videos": list(videos),
                      "crops": int(len(x)), "epochs": epochs, "lr": lr, "arm_weight": arm_weight,
                      "minutes": round((time.time() - t0) / 60, 2)}), entry)
        if not entry.get("int8"):
            return new, None, ""
        pick = np.random.default_rng(seed).permutation(len(x))[:calibration]
        return (new, quantize_refiner(model, x[np.sort(pick)], folder / f"{REFIT}.int8.onnx"),
                f"{len(pick)} of its training crops")

    return refit_entry(weights, "hand_refiner", load, fit, log)

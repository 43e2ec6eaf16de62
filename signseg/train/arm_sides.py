"""Train the arm network (:mod:`signseg.infer.arm_sides`) on teacher labels and their landmarks.

Targets are each of the signer's arms as the pose draws it (:func:`signseg.teacher.masks.arm_mask`:
shoulder, elbow, wrist, hand, 0.28 of a shoulder width thick) with the teacher's hand of that
side added. The landmarks are the ``.npz`` files ``signseg label`` keeps beside a labels file
(``LABELS.h5.landmarks/VIDEO.npz``, or the folder its ``--landmarks`` named). A mirrored view exchanges the two arms.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

import cv2
import h5py
import keras
import numpy as np

from signseg import labels as L
from signseg.decode.image import resize
from signseg.infer.second_network import built, save_with_entry
from signseg.models.arm_sides import SIZE, arm_sides
from signseg.teacher.labelset import default_landmarks_dir, landmarks_file
from signseg.teacher.masks import arm_mask


def arm_targets(pose: np.ndarray, labels: np.ndarray) -> np.ndarray | None:
    """(H, W, 2) uint8 0/1: the signer's left arm, then the right (:func:`arm_mask`, the teacher's
    hand of that side added), for one frame's ``pose`` (33, 3) in the pixels of its ``labels``
    (H, W); None where the pose is not whole."""
    arms = [arm_mask(pose, side, labels.shape, labels == value)
            for side, value in (("left", L.LEFT_HAND), ("right", L.RIGHT_HAND))]
    return None if any(a is None for a in arms) else np.stack(arms, axis=-1)


def arms_from_labels(files: Sequence[str | Path], size: int = SIZE, videos: Sequence[str] | None = None,
                     landmarks: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every labelled frame of ``files`` (of ``videos`` only, where given) whose pose is whole:
    frames (n, size, size, 3) uint8 stretched as the network sees them, targets (n, size, size, 2)
    uint8 0-255 (shrunk by area: soft edges) and each frame's video. The landmarks are read from
    ``landmarks`` (one folder for every file), else from where ``signseg label`` keeps each
    file's (``LABELS.h5.landmarks``); a clear error names a video without them."""
    images, targets, groups = [], [], []
    want = None if videos is None else set(videos)
    for path in files:
        folder = Path(landmarks) if landmarks is not None else default_landmarks_dir(path)
        with h5py.File(path, "r") as f:
            for vid, g in f.get("videos", {}).items():
                if not g.attrs.get("complete") or (want is not None and vid not in want):
                    continue
                npz = landmarks_file(folder, g.attrs.get("source") or vid)  # named after the video's file
                if not npz.is_file():
                    raise FileNotFoundError(f"{npz}: no landmarks for {vid} of {path} (the arms are drawn from the pose)")
                with np.load(npz) as lm:
                    row_of = {int(i): r for r, i in enumerate(lm["frame_index"])}
                    pose_all, w0, h0 = lm["pose"], float(lm["width"]), float(lm["height"])
                frames, labels = g["frames"][()], g["labels"][()]
                h, w = labels.shape[1:]
                for k, i in enumerate(g.attrs["frame_index"]):
                    r = row_of.get(int(i))
                    if r is None or not np.isfinite(pose_all[r]).all():
                        continue
                    pose = pose_all[r] * np.array([w / w0, h / h0, 1.0], np.float32)
                    t = arm_targets(pose, labels[k])
                    if t is None:
                        continue
                    images.append(resize(frames[k], (size, size)))
                    targets.append(resize(t * np.uint8(255), (size, size)))
                    groups.append(vid)
    if not images:
        raise ValueError(f"no frame with a whole pose in {', '.join(map(str, files))}")
    return np.stack(images), np.stack(targets), groups


def augmented(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A batch as the network trains on it: each view scaled, turned and moved (the frame's
    edge filled with a random colour), mirrored at random with the arms exchanged, its colours
    jittered, some grey; x float32 in [0, 1], y float32 0/1."""
    b, h, w = x.shape[:3]
    xs, ys = np.empty((b, h, w, 3), np.float32), np.empty((b, h, w, 2), np.float32)
    for i in range(b):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-12, 12), rng.uniform(0.75, 1.3))
        m[:, 2] += rng.uniform(-0.15, 0.15, 2) * (w, h)
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        img = cv2.warpAffine(x[i], m, (w, h), flags=cv2.INTER_LINEAR, borderValue=fill).astype(np.float32)
        arm = cv2.warpAffine(y[i], m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        if rng.random() < 0.5:
            img, arm = img[:, ::-1], arm[:, ::-1, ::-1]
        img = img * rng.uniform(0.6, 1.4) + rng.uniform(-40, 40) + rng.uniform(-20, 20, 3)
        if rng.random() < 0.15:
            img = np.repeat(img.mean(-1, keepdims=True), 3, -1)
        xs[i] = np.clip(img, 0, 255) / 255.0
        ys[i] = arm > 127
    return xs, ys


def train_arm_sides(x: np.ndarray, y: np.ndarray, *, epochs: int = 40, steps: int = 200, width: int = 8,
                    batch_size: int = 32, lr: float = 1e-3, seed: int = 0, init: keras.Model | None = None,
                    max_minutes: float | None = None, log: Callable[[str], None] | None = print) -> keras.Model:
    """The arm network trained on frames ``x`` and targets ``y`` (:func:`arms_from_labels`):
    ``epochs`` of ``steps`` random batches, binary cross-entropy, Adam at ``lr`` decayed along a
    cosine over the epochs; ``init`` (an arm network) to fine-tune instead of starting afresh.
    ``max_minutes``: a time budget; the first epoch's time sets how many epochs fit in it, and
    the cosine is drawn over those."""
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    model = init if init is not None else arm_sides(width)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="binary_crossentropy")
    start, epoch = time.time(), 0
    while epoch < epochs:
        model.optimizer.learning_rate = cosine_rate(lr, epoch, epochs)
        t0, losses = time.time(), []
        for _ in range(steps):
            idx = np.sort(rng.integers(0, len(x), batch_size))
            losses.append(float(model.train_on_batch(*augmented(x[idx], y[idx], rng))))
        epoch += 1
        if log:
            log(f"epoch {epoch}/{epochs}: loss {np.mean(losses):.4f}, "
                f"{steps * batch_size / (time.time() - t0):.0f} frames/s")
        if max_minutes is not None and epoch == 1:  # as many epochs as the budget holds
            asked, epochs = epochs, max(1, min(epochs, int(max_minutes * 60 // (time.time() - start))))
            if log and epochs < asked:
                log(f"{max_minutes:g} minutes hold {epochs} of the {asked} epochs")
    return model


def cosine_rate(lr: float, epoch: int, epochs: int, floor: float = 0.05) -> float:
    """The learning rate of ``epoch`` (from 0) of ``epochs``: ``lr`` falling along half a cosine
    to ``floor`` times ``lr`` at the last."""
    return float(lr * (floor + (1 - floor) * 0.5 * (1 + np.cos(np.pi * epoch / max(1, epochs)))))


def save_arm_sides(model: keras.Model, path: str | Path, *, width: int, training: dict | None = None) -> dict:
    """Write ``path`` (``*.weights.h5``) and, beside it, its card entry (``*.json``); the entry
    (what a model card's ``"arm_sides"`` holds, :meth:`ArmSides.from_card`) is returned. The
    weights alone are written, not a trained model's optimizer state (a third of the size)."""
    bare = arm_sides(int(width))
    bare.set_weights(model.get_weights())
    return save_with_entry(bare, path, "arm network", width=int(width), training=training or {})


#: The file stem of an arm network refitted into a card (:func:`refit_arm_sides`).
REFIT = "arm-sides.refit"


def refit_arm_sides(weights: str | Path, labels_file: str | Path, videos: Sequence[str], *, epochs: int = 24,
                    steps: int = 50, lr: float = 3e-4, max_minutes: float | None = None, calibration: int = 256,
                    seed: int = 0, log: Callable[[str], None] | None = None) -> dict | None:
    """Fine-tune the arm network that the model card beside ``weights`` names on ``videos`` of
    ``labels_file`` (their landmarks beside it), and rewrite its weights, its int8 graph
    (calibrated on ``calibration`` of those frames) and the card's entry, which is returned;
    whether it runs by default is left as the card had it. None where the card names no arm
    network or no frame of the videos has a whole pose (it is then left as it was).

    Fitted to a corpus's own people, an arm network names their hands better than one trained
    on other people (docs/parts.md): adapting refits it, and :func:`signseg.train.adapt.adapt`
    turns it on where the corpus's held-out clips say so.
    """
    from signseg.infer.quantize import quantize_int8
    from signseg.train.refit import Fitted, refit_entry

    def fit(entry: dict, folder: Path, data) -> Fitted:
        x, y, groups = data
        width = int(entry.get("width", 8))
        model = built(folder / entry["file"], lambda: arm_sides(width), "arm network")
        t0 = time.time()
        model = train_arm_sides(x, y, epochs=epochs, steps=steps, width=width, lr=lr, seed=seed, init=model,
                                max_minutes=max_minutes, log=log)
        new = {"default": bool(entry.get("default", False)), **save_arm_sides(
            model, folder / f"{REFIT}.weights.h5", width=width,
            training={"init": entry.get("sha256"), "labels": str(labels_file), "videos": sorted(set(groups)),
                      "frames": int(len(x)), "epochs_at_most": epochs, "steps": steps, "lr": lr,
                      "max_minutes": max_minutes, "minutes": round((time.time() - t0) / 60, 2)})}
        if not entry.get("int8"):
            return new, None, ""
        pick = np.sort(np.random.default_rng(seed).permutation(len(x))[:calibration])
        return (new, quantize_int8(model, (SIZE, SIZE), x[pick], folder / f"{REFIT}.int8.onnx"),
                f"{len(pick)} of its training frames")

    # no whole pose in any frame (a ValueError): the arm network it has stays
    return refit_entry(weights, "arm_sides", lambda: arms_from_labels([labels_file], videos=videos), fit, log)

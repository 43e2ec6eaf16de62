"""Segmentation metrics: Keras metric functions for training, numpy functions for evaluation.

``precision_m``, ``recall_m`` and ``f1_m`` keep the names of the paper's code, so models
saved with them (Keras-2 ``.h5``) load through :data:`CUSTOM_OBJECTS`.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from signseg import labels as L

_EPS = 1e-7


def _binary(y_true, y_pred):
    """Round both to {0, 1} as float32 (the paper's ``K.round(K.clip(...))``)."""
    t = ops.round(ops.clip(ops.cast(y_true, "float32"), 0.0, 1.0))
    p = ops.round(ops.clip(ops.cast(y_pred, "float32"), 0.0, 1.0))
    return t, p


def precision_m(y_true, y_pred):
    """Fraction of predicted foreground pixels that are foreground (batch-wide)."""
    t, p = _binary(y_true, y_pred)
    return ops.sum(t * p) / (ops.sum(p) + _EPS)


def recall_m(y_true, y_pred):
    """Fraction of foreground pixels that are predicted (batch-wide)."""
    t, p = _binary(y_true, y_pred)
    return ops.sum(t * p) / (ops.sum(t) + _EPS)


def f1_m(y_true, y_pred):
    """Harmonic mean of :func:`precision_m` and :func:`recall_m`."""
    prec, rec = precision_m(y_true, y_pred), recall_m(y_true, y_pred)
    return 2.0 * prec * rec / (prec + rec + _EPS)


def iou_m(y_true, y_pred):
    """Intersection over union of the rounded masks (batch-wide)."""
    t, p = _binary(y_true, y_pred)
    inter = ops.sum(t * p)
    return inter / (ops.sum(t) + ops.sum(p) - inter + _EPS)


def dice_m(y_true, y_pred):
    """Dice coefficient of the rounded masks (batch-wide); equals F1."""
    t, p = _binary(y_true, y_pred)
    return 2.0 * ops.sum(t * p) / (ops.sum(t) + ops.sum(p) + _EPS)


def dice_loss(y_true, y_pred):
    """Soft Dice loss on probabilities (differentiable, unlike :func:`dice_m`)."""
    t = ops.cast(y_true, "float32")
    p = ops.cast(y_pred, "float32")
    return 1.0 - (2.0 * ops.sum(t * p) + 1.0) / (ops.sum(t) + ops.sum(p) + 1.0)


def bce_dice_loss(y_true, y_pred):
    """Binary cross-entropy plus :func:`dice_loss`: the training loss of ``signseg train --dice``."""
    from keras import losses
    return losses.binary_crossentropy(y_true, y_pred) + dice_loss(y_true, y_pred)


# --------------------------------------------------------------------------- label maps
# Training batches carry the view's label map itself (signseg.labels values as float32,
# (B, h, w, 1)); the loss and the metrics below read from it what each output channel should be
# and which pixels count: IGNORE (a hand the teacher may have missed) nowhere, CLOTHES (the
# signer's other pixels, host views; 255, above every label) as background.


def _targets(y_true):
    """(known, hand-or-face, face, hand, parts known, left, right) float32 maps (B, h, w) of a
    label map: ``known`` is 0 on IGNORE pixels; ``parts known`` is also 0 where only
    hand-or-face is known (UNASSIGNED: a hand-drawn binary mask)."""
    lab = ops.cast(ops.round(ops.cast(y_true, "float32")), "int32")[..., 0]
    f32 = lambda b: ops.cast(b, "float32")  # noqa: E731
    known = f32(lab != L.IGNORE)
    fg = f32((lab > 0) & (lab <= L.UNASSIGNED))
    face = f32(lab == L.FACE)
    left, right = f32(lab == L.LEFT_HAND), f32(lab == L.RIGHT_HAND)
    return known, fg, face, left + right, known * f32(lab != L.UNASSIGNED), left, right


def _bce(t, p):
    p = ops.clip(ops.cast(p, "float32"), _EPS, 1 - _EPS)
    return -(t * ops.log(p) + (1 - t) * ops.log(1 - p))


def _soft_dice(t, p, w):
    p = ops.cast(p, "float32") * w
    t = t * w
    return 1.0 - (2.0 * ops.sum(t * p) + 1.0) / (ops.sum(t) + ops.sum(p) + 1.0)


@keras.saving.register_keras_serializable(package="signseg")
class SegmentationLoss(keras.losses.Loss):
    """Per-pixel loss of a model's outputs against the label map, IGNORE pixels skipped.

    - Channel 0 (hand or face): binary cross-entropy, hand pixels weighing ``hand_weight``
      (hands are a few percent of a frame: unweighted, leaving them out costs little);
      ``dice`` adds a soft Dice term.
    - A model's parts (the channels after 0: face and hand, or face, left and right hand):
      cross-entropy of each part's share of the marked pixel (``part / sum of parts``) against
      the teacher's part, on the pixels it labels face or hand, hands weighing ``hand_weight``
      and faces ``face_weight``. The shares do not depend on channel 0, so telling the parts
      apart never pulls the mask down.
    - ``hand_dice``: that weight times a soft Dice term of the hands alone (channel 0 times the
      hand share, against the teacher's hands), the measure hands are judged by; the mask's
      Dice is mostly the face's, which is large.
    """

    def __init__(self, dice: bool = False, face_weight: float = 1.0, hand_weight: float = 1.0,
                 hand_dice: float = 0.0, **kwargs):
        kwargs.setdefault("name", "segmentation_loss")
        super().__init__(**kwargs)
        self.dice, self.face_weight, self.hand_weight = bool(dice), float(face_weight), float(hand_weight)
        self.hand_dice = float(hand_dice)

    def call(self, y_true, y_pred):
        known, fg, face, hand, parts_known, left, right = _targets(y_true)
        p = ops.cast(y_pred, "float32")
        loss = _bce(fg, p[..., 0]) * known * (1.0 + (self.hand_weight - 1.0) * hand)
        if self.dice:
            loss = loss + _soft_dice(fg, p[..., 0], known)
        k = y_pred.shape[-1]
        if k is not None and k >= 3:
            truth = (face, hand) if k == 3 else (face, left, right)
            parts = p[..., 1:]
            total = ops.sum(parts, axis=-1) + _EPS
            cross = -sum(t * ops.log(ops.clip(parts[..., i] / total, _EPS, 1.0)) for i, t in enumerate(truth))
            weight = parts_known * (self.face_weight * face + self.hand_weight * hand)
            loss = loss + weight * cross
            if self.hand_dice:
                hand_p = p[..., 0] * (1.0 - parts[..., 0] / total)  # marked, and not face
                loss = loss + self.hand_dice * _soft_dice(hand, hand_p, parts_known)
        return loss

    def get_config(self):
        return {**super().get_config(), "dice": self.dice, "face_weight": self.face_weight,
                "hand_weight": self.hand_weight, "hand_dice": self.hand_dice}


def _iou_of(t, p, w):
    inter = ops.sum(t * p * w)
    return inter / (ops.sum(t * w) + ops.sum(p * w) - inter + _EPS)


def mask_iou(y_true, y_pred):
    """IoU of channel 0 rounded at 0.5 against hand-or-face, IGNORE pixels left out (batch-wide)."""
    known, fg, *_ = _targets(y_true)
    return _iou_of(fg, ops.cast(ops.cast(y_pred[..., 0], "float32") >= 0.5, "float32"), known)


def hand_iou(y_true, y_pred):
    """IoU of the predicted hands against the labelled hands (batch-wide, IGNORE left out): a
    parts model's pixels marked (channel 0 >= 0.5) and more hand (its hand channels together)
    than face (channel 1)."""
    known, _, _, hand, parts_known, *_ = _targets(y_true)
    p = ops.cast(y_pred, "float32")
    pred = ops.cast((p[..., 0] >= 0.5) & (ops.sum(p[..., 2:], axis=-1) > p[..., 1]), "float32")
    return _iou_of(hand, pred, parts_known)


#: Pass as ``custom_objects`` when loading models saved with these metrics.
CUSTOM_OBJECTS = {f.__name__: f for f in (precision_m, recall_m, f1_m, iou_m, dice_m, dice_loss, bce_dice_loss)}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two masks (any shape; nonzero = foreground). 1.0 when both are empty."""
    a, b = np.asarray(a) > 0, np.asarray(b) > 0
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient (F1) of two masks; 1.0 when both are empty."""
    a, b = np.asarray(a) > 0, np.asarray(b) > 0
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2.0 * np.logical_and(a, b).sum() / total)

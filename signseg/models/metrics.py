"""Segmentation metrics: Keras metric functions for training, numpy functions for evaluation.

``precision_m``, ``recall_m`` and ``f1_m`` keep the names of the paper's code, so models
saved with them (Keras-2 ``.h5``) load through :data:`CUSTOM_OBJECTS`.
"""
from __future__ import annotations

import numpy as np
from keras import ops

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

"""Frames to the network's input and its probabilities back to masks at the source size.

The host path runs OpenCV in numpy (:func:`to_input`, :func:`to_masks`); the device path
builds the same resizes into the compiled graph (:func:`device_resize_model`), so uint8
frames go to a GPU as decoded. Shrinking averages areas and enlarging is bilinear, the rule
training uses too (:func:`signseg.decode.image.resize`).
"""
from __future__ import annotations

import cv2
import keras
import numpy as np

from signseg import labels
from signseg.decode.image import resize
from signseg.infer.blobs import cut_to_largest, keep_largest
from signseg.infer.signals import mean_marked, signals_dtype


def _round8(n: int) -> int:
    return max(8, int(round(n / 8)) * 8)


def input_size_for(height: int, width: int, input_size: tuple[int, int] | None) -> tuple[int, int]:
    """The size frames of ``height`` x ``width`` go to the network at: ``input_size``, or
    where the model takes any size, their own rounded to multiples of 8."""
    return input_size or (_round8(height), _round8(width))


def to_input(frames: np.ndarray, input_size: tuple[int, int] | None) -> np.ndarray:
    """(n, H, W, 3) uint8 frames -> (n, h, w, 3) uint8 at the network's input size."""
    size = input_size_for(*frames.shape[1:3], input_size)
    if frames.shape[1:3] == size:
        return frames
    return np.stack([resize(f, size) for f in frames])


def to_source(proba: np.ndarray, height: int, width: int) -> np.ndarray:
    """(n, h, w) probabilities -> (n, height, width) of the same dtype, bilinear, frame by
    frame into one array (10x faster than resizing the batch as channels)."""
    if proba.shape[1:] == (height, width):
        return proba
    out = np.empty((len(proba), height, width), proba.dtype)
    for p, o in zip(proba, out):
        cv2.resize(p, (width, height), dst=o, interpolation=cv2.INTER_LINEAR)
    return out


def _threshold_into(p: np.ndarray, t: float, out: np.ndarray) -> None:
    """One frame's probabilities -> ``out`` (uint8): :data:`labels.UNASSIGNED` where ``p >= t``
    (uint8 probabilities are ``p * 255`` rounded), else 0."""
    if p.dtype == np.uint8:
        below = min(254, max(0, round(t * 255) - 1))  # p*255 rounds to >= t*255
        cv2.threshold(p, below, int(labels.UNASSIGNED), cv2.THRESH_BINARY, dst=out)
    else:
        np.greater_equal(p, t, out=out.view(np.bool_))
        out *= np.uint8(labels.UNASSIGNED)


def threshold(proba: np.ndarray, t: float, max_blobs: int | None = None) -> np.ndarray:
    """Probabilities (float, or uint8 times 255) -> uint8 masks: :data:`labels.UNASSIGNED`
    where hand or face (``p >= t``), else :data:`labels.BACKGROUND` (0); with ``max_blobs``,
    only each frame's largest blobs (:func:`signseg.infer.blobs.keep_largest`)."""
    masks = np.empty(proba.shape, np.uint8)
    for p, m in zip(proba.reshape(-1, *proba.shape[-2:]), masks.reshape(-1, *proba.shape[-2:])):
        _threshold_into(p, t, m)
        keep_largest(m, max_blobs)
    return masks


def to_masks(proba: np.ndarray, height: int, width: int, t: float, max_blobs: int | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """(n, h, w) probabilities at the input size -> (n, height, width) uint8 masks and their
    per-frame signals (:mod:`signseg.infer.signals`): each frame resized back (bilinear, float32
    or uint8 as given), thresholded while in cache and, with ``max_blobs``, cut to its largest
    blobs (as :func:`threshold`); the signals from the same pass (the confidence over the
    input-size pixels at or above ``t``)."""
    masks = np.empty((len(proba), height, width), np.uint8)
    signals = np.zeros(len(proba), signals_dtype())
    cut = 1.0 if proba.dtype != np.uint8 else 255.0
    for i, (p, m) in enumerate(zip(proba, masks)):
        signals["confidence"][i] = mean_marked(p, p >= t * cut)
        if p.shape != (height, width):
            p = cv2.resize(p, (width, height), interpolation=cv2.INTER_LINEAR)
        _threshold_into(p, t, m)
        signals["blobs"][i] = min(255, cut_to_largest(m, max_blobs))
        signals["area"][i] = np.count_nonzero(m) / m.size
    return masks, signals


RESIZES = ("auto", "host", "device")


def resolve_resize(resize: str, runtime: str, gpu: bool, input_size: tuple[int, int] | None) -> str:
    """Where a Segmenter resizes (see :class:`Segmenter`): device resizing runs inside the
    Keras graph, so it needs the Keras runtime and a fixed ``input_size``."""
    if resize not in RESIZES:
        raise ValueError(f"resize must be one of {', '.join(RESIZES)}, got {resize!r}")
    possible = runtime == "keras" and input_size is not None
    if resize == "auto":
        return "device" if gpu and possible else "host"
    if resize == "device" and not possible:
        raise ValueError(f"resize='device' needs runtime='keras' and a fixed input_size "
                         f"(got runtime={runtime!r}, input_size={input_size})")
    return resize


def _axis_weights(n_src: int, n_dst: int) -> tuple[np.ndarray, np.ndarray]:
    """Resampling one axis from ``n_src`` to ``n_dst`` samples as (n_dst, k) source indices
    and weights: OpenCV's area weights when shrinking, bilinear (half-pixel) when enlarging."""
    if n_dst < n_src:
        scale = n_src / n_dst
        k = int(np.ceil(scale)) + 1
        src = np.floor(np.arange(n_dst) * scale).astype(int)[:, None] + np.arange(k)  # (n_dst, k) pixels
        lo, hi = np.arange(n_dst)[:, None] * scale, (np.arange(n_dst)[:, None] + 1) * scale
        cover = np.clip(np.minimum(src + 1, hi) - np.maximum(src, lo), 0, None)  # overlap with [lo, hi)
        cover[src >= n_src] = 0
        return np.minimum(src, n_src - 1).astype("int32"), (cover / scale).astype("float32")
    pos = np.clip((np.arange(n_dst) + 0.5) * n_src / n_dst - 0.5, 0, n_src - 1)
    left = np.floor(pos).astype(int)
    frac = pos - left
    idx = np.stack([left, np.minimum(left + 1, n_src - 1)], axis=1)
    return idx.astype("int32"), np.stack([1 - frac, frac], axis=1).astype("float32")


def _resample(x, size: tuple[int, int]):
    """Resize a float (n, H, W, c) tensor to ``size`` in the graph with the host's weights:
    per axis, a gather of a few neighbours and a weighted sum, cheap on a GPU."""
    ops = keras.ops
    for axis, n_dst in ((1, size[0]), (2, size[1])):
        n_src = x.shape[axis]
        if n_src == n_dst:
            continue
        idx, w = _axis_weights(n_src, n_dst)
        taken = ops.take(x, ops.convert_to_tensor(idx.reshape(-1)), axis=axis)  # neighbours side by side
        shape = [-1, *x.shape[1:]]
        shape[axis:axis + 1] = [n_dst, idx.shape[1]]
        wshape = [1] * 5
        wshape[axis:axis + 2] = idx.shape
        x = ops.sum(ops.reshape(taken, shape) * ops.convert_to_tensor(w.reshape(wshape)), axis=axis + 1)
    return x


def device_resize_model(model: keras.Model, source: tuple[int, int], input_size: tuple[int, int],
                        scale: float, logits: bool) -> keras.Model:
    """``model`` wrapped for uint8 frames of size ``source``: scaled and resized to
    ``input_size``, the network, then probabilities resized back to ``source`` (bilinear,
    as on the host) -> (n, H, W) float32."""
    ops = keras.ops
    frames = keras.Input(shape=(*source, 3), dtype="uint8", name="frames")
    x = keras.layers.Lambda(lambda f: _resample(ops.cast(f, "float32") * scale, input_size),
                            dtype="float32", name="to_input")(frames)
    y = ops.cast(model(x), "float32")
    if logits:
        y = ops.sigmoid(y)
    y = keras.layers.Lambda(lambda p: ops.image.resize(p, source, interpolation="bilinear")[..., 0],
                            dtype="float32", name="to_source")(y)
    return keras.Model(frames, y, name=f"{model.name}_on_device")

"""SNet, the paper's U-Net (3 levels, 32-256 filters), with a width multiplier and a strided stem."""
from __future__ import annotations

import keras
from keras import layers

from signseg.models.layers import Upsample2x, conv_pair, output_head, scaled_filters


def snet(input_shape: tuple = (None, None, 3), width: float = 1.0, stem: int = 1,
         name: str = "snet", outputs: str = "mask", dropout: float = 1.0) -> keras.Model:
    """The paper's SNet U-Net: 3 levels of 32/64/128 filters and a 256-filter 5x5 centre.

    ``width`` scales every filter count (0.25 gives an 8/16/32/64 network for CPU use).
    ``stem`` of 2 or 4 wraps the U-Net in a learned stem x stem, stride-``stem`` input
    convolution and a matching transposed output convolution: the U-Net runs at 1/stem of
    the resolution, so it can be wider for the same arithmetic, with no thin (8-16 channel)
    layers, which a CPU runs well under its peak (docs/performance.md). The shipped
    ``snet-lite`` is width 0.5, stem 2. Native input is 400x400x3; the default
    ``input_shape`` leaves H and W free (multiples of 8 x stem).
    ``outputs``: ``"mask"`` (one hand-or-face channel), ``"face_hand"`` (hand-or-face, then
    face and hand probabilities from a learnt hand share of each marked pixel) or ``"parts"``
    (hand-or-face, then face, the signer's left and right hand, sharing each marked pixel,
    with the first decoder level's features as context; :func:`signseg.models.layers.output_head`).
    ``dropout`` scales the paper's SpatialDropout rates (0.4 at the third level, 0.5 at the
    centre); 0 leaves the layers out, for a small network that underfits rather than overfits.
    It changes training only: a network has the same weights and outputs at any rate.
    """
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    if not 0 <= dropout < 2:
        raise ValueError(f"dropout must be in [0, 2) (a scale of the rates 0.4 and 0.5), got {dropout}")
    if stem not in (1, 2, 4):
        raise ValueError(f"stem must be 1, 2 or 4, got {stem}")
    f = lambda n: scaled_filters(n, width)  # noqa: E731
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if stem > 1:
        x = layers.Conv2D(f(32), stem, strides=stem, activation="relu", name="stem")(x)
    e1 = conv_pair(x, f(32), 3, 0.0, "enc1")
    e2 = conv_pair(layers.MaxPooling2D(2, name="pool1")(e1), f(64), 3, 0.0, "enc2")
    e3 = conv_pair(layers.MaxPooling2D(2, name="pool2")(e2), f(128), 3, 0.4 * dropout, "enc3")
    c = conv_pair(layers.MaxPooling2D(2, name="pool3")(e3), f(256), 5, 0.5 * dropout, "centre")
    x, context = c, None
    for level, (skip, n, drop) in enumerate(((e3, 128, 0.4 * dropout), (e2, 64, 0.0), (e1, 32, 0.0)), start=1):
        x = Upsample2x(name=f"up{level}")(x)
        x = layers.Concatenate(name=f"cat{level}")([x, skip])
        x = conv_pair(x, f(n), 3, drop, f"dec{level}")
        context = x if level == 1 else context  # at 1/4 of the U-Net's resolution
    return keras.Model(inputs, output_head(x, outputs, stem, context, 4 * stem), name=name)

"""The arm network: which pixels are the signer's left arm and which the right, from the whole frame.

Input (SIZE, SIZE, 3) in [0, 1], the frame stretched as the first network's input is; output
(SIZE, SIZE, 2): the probability that a pixel is the signer's left arm (hand included), then
the right. A hand that reaches across the body lies on the other hand's side of the face, but
its arm still runs back to its own shoulder; this network sees that at a small size, where a
crop round the hand cannot (docs/parts.md).
"""
from __future__ import annotations

import keras
from keras import layers

from signseg.models.layers import Upsample2x, conv_pair

#: The side of the square input the network is trained and run at.
SIZE = 128
#: Filters at the stem, the three levels down, and the centre (times ``width``).
LEVELS = (1, 1, 2, 4, 6)
#: The output channels: the signer's own left arm, then the right.
CHANNELS = ("left_arm", "right_arm")
#: The order that reads a mirror image's outputs back (left and right exchanged).
MIRRORED = (1, 0)


def arm_sides(width: int = 8, name: str = "arm_sides") -> keras.Model:
    """The network with ``width`` filters at the top level (8: 0.16 M parameters): a stride-2
    stem, a 3-level U-Net with a 5x5 centre at 1/16 of the input, a stride-2 transposed head."""
    stem, l1, l2, l3, centre = (k * width for k in LEVELS)
    inp = keras.Input((None, None, 3), name="image")
    x = layers.Conv2D(stem, 3, strides=2, padding="same", activation="relu", name="stem")(inp)
    e1 = conv_pair(x, l1, 3, 0.0, "enc1")
    e2 = conv_pair(layers.MaxPooling2D(2, name="pool1")(e1), l2, 3, 0.0, "enc2")
    e3 = conv_pair(layers.MaxPooling2D(2, name="pool2")(e2), l3, 3, 0.0, "enc3")
    x = conv_pair(layers.MaxPooling2D(2, name="pool3")(e3), centre, 5, 0.0, "centre")
    for level, (skip, n) in enumerate(((e3, l3), (e2, l2), (e1, l1)), start=1):
        x = Upsample2x(name=f"up{level}")(x)
        x = layers.Concatenate(name=f"cat{level}")([x, skip])
        x = conv_pair(x, n, 3, 0.0, f"dec{level}")
    out = layers.Conv2DTranspose(len(CHANNELS), 2, strides=2, activation="sigmoid", name="arms")(x)
    return keras.Model(inp, out, name=name)

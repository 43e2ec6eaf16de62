"""The hand refiner: a small U-Net over a crop round one hand (:mod:`signseg.infer.hand_crops`).

Input (CROP, CROP, 5) in [0, 1]: RGB and the first network's hand and face probabilities;
output (CROP, CROP, 1): the probability that a pixel is hand. It sees a hand at about the
frame's own resolution, where the first network saw it at 224x224 with the whole scene, so it
can follow the hand's outline and cut it at the wrist (docs/model_card.md).
"""
from __future__ import annotations

import keras
from keras import layers

#: Filters at each level (times ``width``): three levels down and a centre.
LEVELS = (1, 2, 4)


def _block(x, filters: int, name: str):
    for k in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{k}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{k}")(x)
        x = layers.ReLU(name=f"{name}_relu{k}")(x)
    return x


def hand_refiner(width: int = 16, name: str = "hand_refiner", channels: int = 5) -> keras.Model:
    """The refiner with ``width`` filters at the top level (16: 0.48 M parameters) over crops
    of ``channels`` planes (the shipped one's 5)."""
    inp = keras.Input((None, None, channels), name="crop")
    skips, x = [], inp
    for level, k in enumerate(LEVELS):
        x = _block(x, k * width, f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(name=f"pool{level}")(x)
    x = _block(x, 2 * LEVELS[-1] * width, "centre")
    for level, k in reversed(list(enumerate(LEVELS))):
        x = layers.Conv2DTranspose(k * width, 2, strides=2, name=f"up{level}")(x)
        x = layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = _block(x, k * width, f"dec{level}")
    return keras.Model(inp, layers.Conv2D(1, 1, activation="sigmoid", name="hand")(x), name=name)

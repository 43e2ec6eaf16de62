"""The paper's VGG model: VGG16 blocks 1-3 as a frozen encoder plus a U-Net decoder."""
from __future__ import annotations

import os
from pathlib import Path

import keras
from keras import layers

from signseg.models.layers import Upsample2x, conv_pair

#: The file Keras's ``VGG16(weights="imagenet", include_top=False)`` would download.
VGG16_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
#: Per-channel ImageNet means (BGR, 0-255) used by VGG16's "caffe" preprocessing.
_VGG_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="signseg")
class VGGPreprocess(layers.Layer):
    """Map [0, 1] RGB to VGG16's "caffe" input (0-255 BGR minus the ImageNet mean)."""

    def call(self, x):
        x = keras.ops.flip(x, axis=-1) * 255.0
        return x - keras.ops.convert_to_tensor(_VGG_BGR_MEAN, dtype=x.dtype)


def find_vgg16_weights() -> Path | None:
    """The ImageNet VGG16 "notop" file in Keras's cache (``$KERAS_HOME`` or ~/.keras), if any."""
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    candidate = home / "models" / VGG16_NOTOP_FILE
    return candidate if candidate.is_file() else None


def vgg_unet(input_shape: tuple = (None, None, 3), encoder_weights: str | os.PathLike | None = "imagenet",
             name: str = "vgg_unet") -> keras.Model:
    """The paper's VGG model: VGG16 blocks 1-3 as a frozen encoder plus a U-Net decoder.

    ``encoder_weights``: a path to ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``,
    ``"imagenet"`` to take that file from Keras's cache (never downloaded), or ``None``
    for a random, *trainable* encoder. The output is a sigmoid (the original had a linear
    output under binary cross-entropy).
    """
    if isinstance(encoder_weights, str) and encoder_weights == "imagenet":
        found = find_vgg16_weights()
        if found is None:
            home = os.environ.get("KERAS_HOME", "~/.keras")
            raise FileNotFoundError(
                f"ImageNet VGG16 weights not found: put {VGG16_NOTOP_FILE} in {home}/models/ "
                "or pass encoder_weights=PATH (or None to train the encoder from scratch); "
                "signseg never downloads weights")
        encoder_weights = found
    if encoder_weights is not None and not Path(encoder_weights).is_file():
        raise FileNotFoundError(f"{encoder_weights}: VGG16 encoder weights file does not exist")

    inputs = keras.Input(shape=input_shape, name="image")
    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=input_shape)
    if encoder_weights is not None:
        vgg.load_weights(str(encoder_weights))
    encoder = keras.Model(vgg.input, [vgg.get_layer(n).output for n in
                                      ("block1_conv2", "block2_conv2", "block3_conv3", "block3_pool")],
                          name="vgg16_encoder")
    encoder.trainable = encoder_weights is None
    s1, s2, s3, bottom = encoder(VGGPreprocess(name="vgg_preprocess")(inputs))
    x = bottom
    for level, (skip, n, drop) in enumerate(((s3, 256, 0.2), (s2, 128, 0.2), (s1, 64, 0.0)), start=1):
        x = Upsample2x(name=f"up{level}")(x)
        x = layers.Concatenate(name=f"cat{level}")([x, skip])
        x = conv_pair(x, n, 3, drop, f"dec{level}")
    outputs = layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
    return keras.Model(inputs, outputs, name=name)

"""The two segmentation networks of the ISMSIT 2019 paper, in backend-agnostic Keras 3.

Both take RGB images scaled to [0, 1] and return one sigmoid channel (hand/face
probability). Both are fully convolutional: any height and width divisible by 8 works.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import keras
from keras import layers

#: The file Keras's ``VGG16(weights="imagenet", include_top=False)`` would download.
VGG16_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
#: Per-channel ImageNet means (BGR, 0-255) used by VGG16's "caffe" preprocessing.
_VGG_BGR_MEAN = (103.939, 116.779, 123.68)


def _filters(n: int, width: float) -> int:
    return max(1, int(round(n * width)))


def _conv(x, filters: int, kernel: int, name: str):
    return layers.Conv2D(filters, kernel, padding="same", activation="relu", name=name)(x)


def _conv_pair(x, filters: int, kernel: int, dropout: float, name: str):
    """Two convolutions, with SpatialDropout2D between them when ``dropout`` > 0."""
    x = _conv(x, filters, kernel, f"{name}_conv1")
    if dropout:
        x = layers.SpatialDropout2D(dropout, name=f"{name}_drop")(x)
    return _conv(x, filters, kernel, f"{name}_conv2")


@keras.saving.register_keras_serializable(package="signseg")
class Upsample2x(layers.Layer):
    """Nearest-neighbour 2x upsampling, the same values as ``UpSampling2D(2)``.

    Written as an image resize (where the size is known when traced) rather than
    ``UpSampling2D``'s two repeats so that exported graphs get one ``Resize`` node, which
    ONNX Runtime runs in its blocked (NCHWc) layout alongside the convolutions instead of as
    tiles, transposes and layout copies (docs/performance.md).
    """

    def call(self, x):
        h, w = x.shape[1], x.shape[2]
        if h is None or w is None:  # size known only when run (a graph traced for any size)
            return keras.ops.repeat(keras.ops.repeat(x, 2, axis=1), 2, axis=2)
        return keras.ops.image.resize(x, (2 * h, 2 * w), interpolation="nearest")

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return n, None if h is None else 2 * h, None if w is None else 2 * w, c


def snet(input_shape: tuple = (None, None, 3), width: float = 1.0, stem: int = 1,
         name: str = "snet") -> keras.Model:
    """The paper's SNet U-Net: 3 levels of 32/64/128 filters and a 256-filter 5x5 centre.

    ``width`` scales every filter count (0.25 gives an 8/16/32/64 network for CPU use).
    ``stem`` of 2 or 4 wraps the U-Net in a learned stem x stem, stride-``stem`` input
    convolution and a matching transposed output convolution: the U-Net runs at 1/stem of
    the resolution, so it can be wider for the same arithmetic, with no thin (8-16 channel)
    layers, which a CPU runs well under its peak (docs/performance.md). The shipped
    ``snet-lite`` is width 0.5, stem 2. Native input is 400x400x3; the default
    ``input_shape`` leaves H and W free (multiples of 8 x stem).
    """
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    if stem not in (1, 2, 4):
        raise ValueError(f"stem must be 1, 2 or 4, got {stem}")
    f = lambda n: _filters(n, width)  # noqa: E731
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if stem > 1:
        x = layers.Conv2D(f(32), stem, strides=stem, activation="relu", name="stem")(x)
    e1 = _conv_pair(x, f(32), 3, 0.0, "enc1")
    e2 = _conv_pair(layers.MaxPooling2D(2, name="pool1")(e1), f(64), 3, 0.0, "enc2")
    e3 = _conv_pair(layers.MaxPooling2D(2, name="pool2")(e2), f(128), 3, 0.4, "enc3")
    c = _conv_pair(layers.MaxPooling2D(2, name="pool3")(e3), f(256), 5, 0.5, "centre")
    x = c
    for level, (skip, n, drop) in enumerate(((e3, 128, 0.4), (e2, 64, 0.0), (e1, 32, 0.0)), start=1):
        x = Upsample2x(name=f"up{level}")(x)
        x = layers.Concatenate(name=f"cat{level}")([x, skip])
        x = _conv_pair(x, f(n), 3, drop, f"dec{level}")
    if stem > 1:
        outputs = layers.Conv2DTranspose(1, stem, strides=stem, activation="sigmoid", name="mask")(x)
    else:
        outputs = layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
    return keras.Model(inputs, outputs, name=name)


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
        x = _conv_pair(x, n, 3, drop, f"dec{level}")
    outputs = layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
    return keras.Model(inputs, outputs, name=name)


#: Architecture builders by the name stored in weight metadata.
ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {"snet": snet, "vgg_unet": vgg_unet}


def build(architecture: str, **kwargs) -> keras.Model:
    """Build a model by architecture name (``"snet"`` or ``"vgg_unet"``)."""
    try:
        builder = ARCHITECTURES[architecture]
    except KeyError:
        raise ValueError(f"unknown architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}") from None
    return builder(**kwargs)

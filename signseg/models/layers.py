"""Building blocks the networks share: convolution pairs and a 2x upsampling that exports well."""
from __future__ import annotations

import keras
from keras import layers


def scaled_filters(n: int, width: float) -> int:
    return max(1, int(round(n * width)))


def conv(x, filters: int, kernel: int, name: str):
    return layers.Conv2D(filters, kernel, padding="same", activation="relu", name=name)(x)


def conv_pair(x, filters: int, kernel: int, dropout: float, name: str):
    """Two convolutions, with SpatialDropout2D between them when ``dropout`` > 0."""
    x = conv(x, filters, kernel, f"{name}_conv1")
    if dropout:
        x = layers.SpatialDropout2D(dropout, name=f"{name}_drop")(x)
    return conv(x, filters, kernel, f"{name}_conv2")


@keras.saving.register_keras_serializable(package="signseg")
class Upsample2x(layers.Layer):
    """Nearest-neighbour 2x upsampling, the same values as ``UpSampling2D(2)``.

    Written as an image resize (where the size is known when traced) rather than
    ``UpSampling2D``'s two repeats so that exported graphs get one ``Resize`` node, which
    ONNX Runtime runs in its blocked (NCHWc) layout alongside the convolutions instead of as
    tiles, transposes and layout copies (docs/performance.md). Training uses the repeats:
    TensorFlow's XLA has no kernel for the resize's gradient, and Keras XLA-compiles ``fit``
    on a TensorFlow GPU by default.
    """

    def call(self, x, training=None):
        h, w = x.shape[1], x.shape[2]
        if training or h is None or w is None:  # also: size known only when run
            return keras.ops.repeat(keras.ops.repeat(x, 2, axis=1), 2, axis=2)
        return keras.ops.image.resize(x, (2 * h, 2 * w), interpolation="nearest")

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return n, None if h is None else 2 * h, None if w is None else 2 * w, c

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


#: What a network outputs, by the name its card stores: channel 0 is always hand-or-face (the
#: binary mask's probability), the channels after it, where there are any, each a part's
#: probability.
OUTPUTS = {"mask": (), "face_hand": ("face", "hand"), "parts": ("face", "left_hand", "right_hand")}


def mirror_order(parts: tuple[str, ...]) -> list[int] | None:
    """The output channels (hand-or-face, then ``parts``) of a pass on a mirror image in the
    order that reads them back: the signer's left and right hands exchanged (None: nothing to
    exchange)."""
    names = ["mask", *parts]
    if "left_hand" not in names:
        return None
    other = {"left_hand": "right_hand", "right_hand": "left_hand"}
    return [names.index(other.get(n, n)) for n in names]


@keras.saving.register_keras_serializable(package="signseg")
class FaceHandSplit(layers.Layer):
    """(hand-or-face probability m, hand share s of a marked pixel) -> (N, h, w, 3):
    ``m``, face ``m (1 - s)``, hand ``m s``. Channel 0 stays the one-channel model's mask, and
    face or hand is one decision (``s`` > 0.5), so a new head cannot disturb the mask."""

    def call(self, inputs):
        m, share = inputs
        return keras.ops.concatenate([m, m * (1.0 - share), m * share], axis=-1)

    def compute_output_shape(self, input_shapes):
        return (*input_shapes[0][:-1], 3)


@keras.saving.register_keras_serializable(package="signseg")
class PartsSplit(layers.Layer):
    """(hand-or-face probability m, part logits (N, h, w, k)) -> (N, h, w, 1 + k): ``m``, then
    ``m`` times the softmax of the logits (each part's share of a marked pixel), so channel 0
    is the one-channel model's mask and the parts sum to it."""

    def call(self, inputs):
        m, logits = inputs
        return keras.ops.concatenate([m, m * keras.ops.softmax(logits, axis=-1)], axis=-1)

    def compute_output_shape(self, input_shapes):
        return (*input_shapes[0][:-1], 1 + input_shapes[1][-1])


def output_head(x, outputs: str, stem: int, context=None, context_scale: int = 1):
    """The network's last layers for ``outputs`` (:data:`OUTPUTS`): one sigmoid channel named
    ``mask`` (as the shipped weights have it); for ``face_hand`` also a sigmoid ``hand_share``
    channel (zero-initialised: 0.5 everywhere until trained) behind :class:`FaceHandSplit`;
    for ``parts`` face / left hand / right hand logits (``part_logits``, zero-initialised) plus,
    where ``context`` (coarser decoder features, ``context_scale`` times smaller; a power of 2)
    is given, a zero-initialised ``part_context`` term from them, upsampled: which hand is which
    is decided by where it is against the body, more than a fine layer sees.
    ``stem`` > 1: transposed stride-``stem`` convolutions back to the input's resolution."""
    if outputs not in OUTPUTS:
        raise ValueError(f"outputs must be one of {sorted(OUTPUTS)}, got {outputs!r}")

    def head(name: str, channels: int = 1, activation: str | None = "sigmoid", **kw):
        if stem > 1:
            return layers.Conv2DTranspose(channels, stem, strides=stem, activation=activation, name=name, **kw)(x)
        return layers.Conv2D(channels, 1, activation=activation, name=name, **kw)(x)

    mask = head("mask")  # keeps the layer policy it always had
    if outputs == "mask":
        return mask
    if outputs == "face_hand":
        share = head("hand_share", kernel_initializer="zeros", dtype="float32")
        return FaceHandSplit(name="face_hand", dtype="float32")([mask, share])
    k = len(OUTPUTS[outputs])
    logits = head("part_logits", k, None, kernel_initializer="zeros", dtype="float32")
    if context is not None:
        c = layers.Conv2D(k, 1, kernel_initializer="zeros", dtype="float32", name="part_context")(context)
        for i in range(int(context_scale).bit_length() - 1):
            c = Upsample2x(name=f"part_context_up{i + 1}", dtype="float32")(c)
        logits = layers.Add(name="part_logits_sum", dtype="float32")([logits, c])
    return PartsSplit(name="parts", dtype="float32")([mask, logits])

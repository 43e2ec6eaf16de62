"""The network as one call per fixed-size batch: the infer stage of the flow.

Every call takes exactly ``batch_size`` uint8 frames already resized to the model's input
size. Under JAX (the GPU path) scale + network + sigmoid are compiled together, uint8
probabilities (times 255) come back, a quarter of float32's bytes, and one input shape means
one compile per input size whatever the corpus's frame sizes and video lengths; a call
returns before the device has finished, so several batches can be in flight while the host
writes, and :meth:`FixedShapeNetwork.fetch` waits for one. Elsewhere (ONNX Runtime or
TensorFlow on a CPU) the call queues the batch on the Segmenter's lanes and returns too; its
float32 probabilities give the masks of :meth:`Segmenter.predict`, bit for bit. That path
skips a padded batch's padding rows and takes any input size (models without a fixed one).
"""
from __future__ import annotations

import weakref
from typing import Sequence

import keras
import numpy as np

from signseg.infer.lanes import Lanes

_MADE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def uint8_model(model: keras.Model, input_size: tuple[int, int], scale: float, logits: bool,
                mirror: bool = False, channels: bool = False, swap: Sequence[int] | None = None) -> keras.Model:
    """``model`` wrapped for uint8 frames at ``input_size``: scaled in the graph, uint8
    probabilities (x255) out, so only bytes cross between host and device. ``mirror``: the
    output averaged with the flipped-back output on the mirror image, as the host path does
    (its channels in the order ``swap`` first: the signer's hands exchanged). ``channels``:
    every output channel (n, h, w, k), else the mask's (n, h, w)."""
    ops = keras.ops
    frames = keras.Input(shape=(*input_size, 3), dtype="uint8", name="frames")
    x = keras.layers.Lambda(lambda f: ops.cast(f, "float32") * scale, dtype="float32", name="scale")(frames)
    y = ops.cast(model(x), "float32")
    if mirror:
        flipped = keras.layers.Lambda(lambda f: ops.flip(f, axis=2), dtype="float32", name="mirror")(x)
        back = ops.flip(ops.cast(model(flipped), "float32"), axis=2)
        if swap is not None:
            back = ops.take(back, list(swap), axis=-1)
        y = 0.5 * (y + back)
    if logits:
        y = ops.sigmoid(y)
    y = keras.layers.Lambda(lambda p: ops.cast(ops.round((p if channels else p[..., 0]) * 255.0), "uint8"),
                            dtype="float32", name="to_uint8")(y)
    return keras.Model(frames, y, name=f"{model.name}_uint8")


class FixedShapeNetwork:
    """A Segmenter's network for fixed ``(batch_size, h, w, 3)`` uint8 batches.

    ``compiles`` counts the traces of the compiled function (JAX): it stays at 1 for a whole
    corpus. ``compiled``: the JAX path (else the Segmenter's runtime on its lanes).
    ``channels``: every output channel comes back, (batch, h, w, k) (a network with part
    channels, where a run splits masks into parts), else the mask's alone.
    """

    def __init__(self, segmenter, channels: bool = False):
        self.channels = bool(channels)
        self.batch_size = segmenter.batch_size
        self.input_size = segmenter.input_size
        self.shape = None if self.input_size is None else (self.batch_size, *self.input_size, 3)
        self.compiles = 0
        self.compiled = (keras.backend.backend() == "jax" and segmenter.runtime == "keras"
                         and self.input_size is not None)
        if self.compiled:
            self._call = self._jitted(uint8_model(segmenter.model, self.input_size, segmenter.input_scale,
                                                  segmenter.logits, segmenter.mirror, self.channels,
                                                  segmenter.mirror_order()))
        else:
            which = slice(None) if self.channels else 0

            def scaled_network(frames: np.ndarray, lane: bool) -> np.ndarray:  # on a lane's thread
                return segmenter.network(segmenter.to_input(frames), lane, which)  # input-size frames: scaled only

            def on_lanes(frames: np.ndarray, filled: int) -> list:  # the Segmenter's runtime, on its lanes
                if not self.compiles:
                    self.compiles = 1  # one shape: its runtime builds once
                return segmenter.lanes.submit(scaled_network, frames[:filled])
            self._call = on_lanes

    @classmethod
    def of(cls, segmenter, channels: bool = False) -> "FixedShapeNetwork":
        """The one made for ``segmenter`` (kept while it lives; one with every channel, one
        without): runs after the first reuse its compiled function, so a warm-up run takes the
        compile out of the timed ones."""
        made = _MADE.setdefault(segmenter, {})
        if bool(channels) not in made:
            made[bool(channels)] = cls(segmenter, channels)
        return made[bool(channels)]

    def _jitted(self, model: keras.Model):
        import jax

        trainable = [v.value for v in model.trainable_variables]
        fixed = [v.value for v in model.non_trainable_variables]

        def run(trainable, fixed, x):
            self.compiles += 1  # Python runs here only while JAX traces, i.e. compiles
            y, _ = model.stateless_call(trainable, fixed, x, training=False)
            return y

        compiled = jax.jit(run)
        return lambda x, filled: compiled(trainable, fixed, x)  # the padding rows too: one shape

    def __call__(self, frames: np.ndarray, filled: int | None = None):
        """Start the network on one batch whose first ``filled`` rows (default: all) are
        frames, the rest padding; returns a handle for :meth:`fetch`, whose rows past
        ``filled`` may be missing."""
        wanted = self.shape or (self.batch_size, *frames.shape[1:3], 3)
        if frames.shape != wanted or frames.dtype != np.uint8:
            raise ValueError(f"fixed-shape batches must be {wanted} uint8, got {frames.shape} {frames.dtype}")
        return self._call(frames, len(frames) if filled is None else filled)

    @staticmethod
    def fetch(handle) -> np.ndarray:
        """The (batch_size, h, w) probabilities of a call ((batch_size, h, w, k) with
        ``channels``; uint8 x255 from the compiled function, float32 from a runtime), waiting
        for the device."""
        return Lanes.gather(handle) if isinstance(handle, list) else np.asarray(handle)

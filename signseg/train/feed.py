"""What a training step is fed when its views are made in the step (``--views graph``).

:class:`FrameArrays` holds every labelled frame once, resized to the model's input and kept
as uint8 (3 + 1 + 1 bytes a pixel: the frame, its labels, the teacher's person mask), with one
room plate per clip; :class:`ArrayBatches` gathers random batches of them with the numbers of
their views (:func:`signseg.train.views.draw_params`); :class:`ViewTrainer` wraps the network
so that the step itself turns those into views (:func:`signseg.train.views.render_batch`) before
the forward pass. The host's work per image is a copy of a few hundred kilobytes.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import keras
import numpy as np

from signseg.decode.image import resize
from signseg.train.augment import Backgrounds, labelled
from signseg.train.frames import LabelledFrames
from signseg.train.views import STAGES, draw_params, render_batch

ANCHORS = 64  # hand/face pixels kept per frame: close-ups zoom in around one of them


@dataclass
class FrameArrays:
    """Labelled frames as uint8 arrays at one size: ``images`` (N, h, w, 3), ``labels`` and
    ``persons`` (N, h, w, 1), ``has_person`` (N,), ``anchors`` (N, ANCHORS, 2) x, y with
    ``n_anchors`` (N,) valid rows, and room ``plates`` (P, h, w, 3)."""

    images: np.ndarray
    labels: np.ndarray
    persons: np.ndarray
    has_person: np.ndarray
    anchors: np.ndarray
    n_anchors: np.ndarray
    plates: np.ndarray

    @classmethod
    def from_frames(cls, data: LabelledFrames, size: tuple[int, int], seed: int = 0,
                    shelf_share: float = 0.0) -> "FrameArrays":
        """Resize every frame once to ``size`` (the inference geometry: stretched, as
        :func:`signseg.train.augment.augment` does), plates from each clip's own room (and
        ``shelf_share`` of them drawn bookshelves: :meth:`Backgrounds.from_clips`)."""
        h, w = size
        n = len(data)
        images = np.empty((n, h, w, 3), np.uint8)
        labels = np.empty((n, h, w, 1), np.uint8)
        persons = np.zeros((n, h, w, 1), np.uint8)
        anchors = np.zeros((n, ANCHORS, 2), np.float32)
        n_anchors = np.zeros(n, np.int32)
        def one(i: int) -> None:  # OpenCV lets go of the GIL: frames resize on every core
            images[i] = resize(data.images[i], size)
            labels[i, ..., 0] = cv2.resize(data.masks[i], (w, h), interpolation=cv2.INTER_NEAREST)
            if data.persons[i] is not None:
                persons[i, ..., 0] = resize(data.persons[i], size)
            fg = np.argwhere(labelled(labels[i, ..., 0]))
            if len(fg):
                pick = fg[np.random.default_rng([seed, i]).integers(len(fg), size=min(ANCHORS, len(fg)))]
                anchors[i, :len(pick)] = pick[:, ::-1]
                n_anchors[i] = len(pick)

        with ThreadPoolExecutor(os.cpu_count()) as pool:
            list(pool.map(one, range(n)))
        rooms = Backgrounds.from_clips(data.images, data.persons, data.groups, shelf_share, seed)
        plates = [resize(p, size) for p in rooms.plates]
        has_person = np.array([p is not None for p in data.persons], bool)
        return cls(images, labels, persons, has_person, anchors, n_anchors,
                   np.stack(plates) if plates else np.zeros((1, h, w, 3), np.uint8))

    def __len__(self) -> int:
        return len(self.images)


class ArrayBatches(keras.utils.PyDataset):
    """Random training batches: ``(inputs, labels)`` where inputs holds the uint8 frames,
    person masks and plates of the batch and the numbers of its views; the views themselves
    are made in the step (:class:`ViewTrainer`)."""

    def __init__(self, arrays: FrameArrays, batch_size: int, steps: int, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.arrays, self.batch_size, self.steps = arrays, batch_size, steps
        self.rng = np.random.default_rng(seed)
        self.size = arrays.images.shape[1:3]

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int):
        a, rng = self.arrays, self.rng
        idx = np.sort(rng.integers(0, len(a), self.batch_size))
        p = draw_params(rng, self.batch_size, self.size, [a.anchors[i, :a.n_anchors[i]] for i in idx])
        # frames without a person mask keep their own background and clothes
        p["use"][~a.has_person[idx], :5] = 0
        plates = a.plates[rng.integers(0, len(a.plates), self.batch_size)]
        inputs = {"image": a.images[idx], "person": a.persons[idx], "plate": plates, **p}
        return inputs, a.labels[idx]


def compiled_render(size: tuple[int, int]):
    """:func:`signseg.train.views.render_batch` at ``size`` as the training step should call it,
    each of its stages (:data:`signseg.train.views.STAGES`) made once: a compiler that fused them
    all would recompute a stage under each tap of the next one's stencils (blur, smoothing,
    dilations). On TensorFlow each stage is an XLA-compiled function of its own (the network's
    step cannot be XLA-compiled on a CPU, but the views' few hundred per-pixel ops fuse into a
    few loops: about ten times faster on the 2-core CPU, docs/performance.md); on JAX, whose
    whole step is compiled, an optimization barrier ends each stage."""
    size = tuple(size)
    stages = STAGES
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        stages = tuple(tf.function(stage, jit_compile=True) for stage in STAGES)
    elif keras.backend.backend() == "jax":
        import jax

        def fenced(stage):
            return lambda *args: jax.lax.optimization_barrier(stage(*args))
        stages = tuple(fenced(stage) for stage in STAGES)

    def views(inputs, labels):
        return render_batch(inputs, labels, size, stages)

    return views


def flip_disagreement(network: keras.Model, x, out, mirror_order: list[int] | None = None):
    """Mean squared difference between the network's outputs ``out`` on ``x`` and its outputs
    on the mirror image of ``x`` mirrored back (channels in ``mirror_order`` first: the hands
    exchanged). Trained towards 0, one pass learns what the test-time flip's average gives."""
    back = keras.ops.flip(network(keras.ops.flip(x, axis=2), training=True), axis=2)
    if mirror_order is not None:
        back = keras.ops.take(back, mirror_order, axis=-1)
    return keras.ops.mean(keras.ops.square(keras.ops.cast(out, "float32") - keras.ops.cast(back, "float32")))


class ViewTrainer(keras.Model):
    """The network, trained on views made inside its compiled step: ``train_step`` renders
    the batch's views (:func:`compiled_render`) and hands them to Keras's own step;
    called on a plain image batch (validation, prediction) it is just the network.
    ``flip_consistency`` > 0 adds that weight times :func:`flip_disagreement` to the loss
    (a second pass on each view's mirror image)."""

    def __init__(self, network: keras.Model, size: tuple[int, int], flip_consistency: float = 0.0,
                 mirror_order: list[int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.network, self.size = network, tuple(size)
        self._render = compiled_render(self.size)
        self.flip_consistency, self.mirror_order = float(flip_consistency), mirror_order

    def call(self, inputs, training=False):
        if isinstance(inputs, dict):  # Keras builds the model on a training batch once
            inputs = render_batch(inputs, keras.ops.zeros_like(inputs["person"]), self.size)[0]
        out = self.network(inputs, training=training)
        if training and self.flip_consistency:
            self.add_loss(self.flip_consistency * flip_disagreement(self.network, inputs, out, self.mirror_order))
        return out

    def train_step(self, *args):
        *state, data = args  # JAX passes the state first, TensorFlow and torch do not
        inputs, labels = data[0], data[1]
        x, y = self._render(inputs, labels)
        return super().train_step(*state, (x, y))

"""``Segmenter``: a trained network and what it needs around it: loading, resizing frames in
and probabilities out (:mod:`~signseg.infer.preprocess`), and the network on its runtime
(:mod:`~signseg.infer.runtimes`; on a CPU, split over :class:`~signseg.infer.lanes.Lanes`).

Batching across videos, decode threads and writing belong to the run
(:mod:`signseg.run.flow`); a Segmenter answers one batch at a time.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import keras
import numpy as np

from signseg.decode.image import opencv_single_threaded
from signseg.decode.prefetch import prefetched
from signseg.decode.video import VideoReader
from signseg.errors import WeightsError
from signseg.infer import presets, runtimes
from signseg.infer.arm_sides import ArmSides
from signseg.infer.hand_refiner import HandRefiner
from signseg.infer.lanes import Lanes
from signseg.infer.preprocess import device_resize_model, resolve_resize, to_input, to_source
from signseg.infer.preprocess import threshold as apply_threshold
from signseg.infer.runtimes import has_gpu
from signseg.models import build
from signseg.models.layers import OUTPUTS, mirror_order
from signseg.models.metrics import CUSTOM_OBJECTS


def _bucket(n: int, batch_size: int) -> int:
    """Smallest power of two >= n, capped at batch_size: few distinct shapes to compile."""
    b = 1
    while b < n:
        b *= 2
    return min(b, batch_size)


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 RGB, got dtype {frames.dtype}")
    if frames.ndim == 3 and frames.shape[-1] == 3:
        raise ValueError(f"frames must be a batch (N, H, W, 3); got one frame {frames.shape}: use frames[None]")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (N, H, W, 3), got {frames.shape}")
    if frames.shape[0] and (frames.shape[1] < 1 or frames.shape[2] < 1):
        raise ValueError(f"frames have an empty spatial size: {frames.shape}")
    return frames


def mirror_mean(run, x: np.ndarray, swap: Sequence[int] | None = None) -> np.ndarray:
    """The test-time flip: the mean of ``run(x)`` and of ``run`` on x's mirror image flipped
    back (axis 2 is the width of both the (b, h, w, ...) input and the output), float32.
    ``swap``: the mirrored output's channels in this order first (a mirror image's left hand is
    the signer's right)."""
    direct = np.asarray(run(x), dtype=np.float32)
    mirrored = np.asarray(run(np.ascontiguousarray(x[:, :, ::-1])), dtype=np.float32)[:, :, ::-1]
    if swap is not None:
        mirrored = mirrored[..., list(swap)]
    return 0.5 * (direct + mirrored)


#: Frames per network call on a lane: a few frames' activations stay near the core's caches
#: (bench/lanes.py, 2 lanes on 2 cores: 1-4 frames a call alike, 8 a little slower).
LANE_BATCH = 2


class Segmenter:
    """Hand/face segmentation with a Keras model.

    ``model`` maps (N, h, w, 3) RGB in [0, 1] (times ``input_scale * 255``) to (N, h, w, 1)
    probabilities. ``input_size`` = (height, width) the frames are resized to; ``None`` uses
    each batch's own size rounded to a multiple of 8. ``threshold`` turns probabilities
    into masks. Set ``logits=True`` for models with a linear output (the paper's originals).
    ``runtime``: where the network runs, ``"auto"`` (the fastest here), ``"keras"``,
    ``"xla"``, ``"onnx"`` or ``"onnx-int8"`` (:mod:`signseg.infer.runtimes`); ``threads`` caps its CPU threads
    (and ONNX Runtime's lanes).
    ``precision`` is the Keras dtype policy the model was built with (``"mixed_bfloat16"``
    or ``"mixed_float16"`` for GPUs, see :meth:`from_pretrained`); such a model runs on Keras.
    ``resize``: where frames are resized to the input size and probabilities back, ``"host"``
    (OpenCV, in numpy) or ``"device"`` (inside the compiled Keras graph, so uint8 frames go to
    the GPU as they are decoded); ``"auto"`` is ``"device"`` on a GPU, ``"host"`` otherwise.
    ``mirror=True`` runs the network on each frame and on its mirror image and averages the two
    (test-time flip): twice the network's work for masks that do not depend on which way the
    signer faces (docs/model_card.md has what it is worth).
    ``max_blobs``: masks keep only each frame's largest blobs of hand/face (3: a face and two
    hands; :mod:`signseg.infer.blobs`), ``None`` or 0 all of them.
    ``int8``: the path and sha256 of an int8 graph of ``model`` at ``input_size``
    (:mod:`signseg.infer.quantize`; the shipped cards name theirs), which ``runtime="auto"``
    runs on a CPU.
    ``hand_refiner``: a second network over crops round the hands
    (:class:`~signseg.infer.hand_refiner.HandRefiner`) whose hands the parts take.
    ``arm_sides``: a network over the whole frame that marks the signer's left and right arm
    (:class:`~signseg.infer.arm_sides.ArmSides`), which then names the parts' hands.
    """

    def __init__(self, model: keras.Model, *, input_size: tuple[int, int] | None = (400, 400),
                 threshold: float = 0.5, batch_size: int = 8, name: str = "custom",
                 weights_sha256: str | None = None, input_scale: float = 1.0 / 255.0,
                 logits: bool = False, runtime: str = "auto", threads: int | None = None,
                 precision: str = "float32", resize: str = "auto", mirror: bool = False,
                 max_blobs: int | None = None, int8: tuple[Path, str | None] | None = None,
                 hand_refiner: HandRefiner | None = None, arm_sides: ArmSides | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        if input_size is not None and (len(input_size) != 2 or any(int(s) % 8 for s in input_size)):
            raise ValueError(f"input_size must be (height, width) divisible by 8, got {input_size}")
        self.model = model
        self.input_size = None if input_size is None else (int(input_size[0]), int(input_size[1]))
        self.threshold = float(threshold)
        self.batch_size = int(batch_size)
        self.name = name
        self.weights_sha256 = weights_sha256
        self.input_scale = float(input_scale)
        self.logits = logits
        self.precision = precision
        self.mirror = bool(mirror)
        if max_blobs is not None and int(max_blobs) < 0:
            raise ValueError(f"max_blobs must be >= 0 (0: keep all), got {max_blobs}")
        self.max_blobs = int(max_blobs) if max_blobs else None
        self.hand_refiner = hand_refiner
        self.arm_sides = arm_sides
        gpu = has_gpu()
        self.int8 = None if int8 is None else (Path(int8[0]), int8[1])
        self.runtime = runtimes.resolve(runtime, gpu, precision, int8=self.int8 is not None)
        self.resize = resolve_resize(resize, self.runtime, gpu, self.input_size)
        self.threads = threads
        self.lanes = Lanes(runtimes.lanes(self.runtime, threads, gpu))
        self._runners: dict[int | None, runtimes.Runner] = {}  # per thread count
        self._building = threading.Lock()
        self._device_runners: dict[tuple[int, int], runtimes.Runner] = {}  # per source (H, W)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_pretrained(cls, name: str | None = None, *, batch_size: int = 8,
                        input_size: tuple[int, int] | None = None, threshold: float | None = None,
                        runtime: str = "auto", threads: int | None = None,
                        precision: str = "float32", resize: str = "auto",
                        mirror: bool | None = None, max_blobs: int | None = None,
                        refine_hands: bool | None = None, arm_sides: bool | None = None) -> "Segmenter":
        """Load shipped weights by name (``signseg.infer.presets.PRESETS``).

        With no name: ``presets.DEFAULT_GPU`` where the backend has a GPU, ``presets.DEFAULT_CPU``
        otherwise (both ``snet-lite`` now, the better model by docs/model_card.md's rule).
        ``input_size`` / ``threshold`` / ``mirror`` / ``max_blobs`` (0: keep all) override the
        model card's values, and so does ``refine_hands`` (the card's hand refiner on or off,
        :mod:`signseg.infer.hand_refiner`; the shipped card's is on: ``--parts`` with it runs at
        3.2-3.4x Holistic on 2 CPU cores, docs/performance.md) and ``arm_sides`` (the card's arm
        network, :mod:`signseg.infer.arm_sides`, naming the hands by their arms). ``precision`` ``"mixed_bfloat16"`` / ``"mixed_float16"`` builds the
        network to compute in half precision (float32 weights), for GPUs.
        """
        if name is None:
            name = presets.DEFAULT_GPU if has_gpu() else presets.DEFAULT_CPU
        card, weights_file = presets.resolve(name)
        return cls._from_card(card, weights_file, batch_size=batch_size, input_size=input_size,
                              threshold=threshold, sha256=card.sha256, runtime=runtime, threads=threads,
                              precision=precision, resize=resize, mirror=mirror, max_blobs=max_blobs,
                              refine_hands=refine_hands, arm_sides=arm_sides)

    @classmethod
    def _from_card(cls, card: presets.ModelCard, weights_file: Path, *, batch_size: int,
                   input_size, threshold, sha256: str | None, runtime: str = "auto",
                   threads: int | None = None, precision: str = "float32", resize: str = "auto",
                   mirror: bool | None = None, max_blobs: int | None = None,
                   refine_hands: bool | None = None, arm_sides: bool | None = None) -> "Segmenter":
        refiner = _second_network(card, weights_file, "hand_refiner", "hand refiner", refine_hands, HandRefiner)
        arms = _second_network(card, weights_file, "arm_sides", "arm network", arm_sides, ArmSides)
        previous = keras.config.dtype_policy()
        try:
            keras.config.set_dtype_policy(precision)
        except ValueError as exc:
            raise ValueError(f"precision must be a Keras dtype policy such as 'float32' or "
                             f"'mixed_bfloat16', got {precision!r}") from exc
        try:
            model = build(card.architecture, **card.config)
        finally:
            keras.config.set_dtype_policy(previous)
        try:
            model.load_weights(str(weights_file))
        except Exception as exc:
            raise WeightsError(weights_file, f"cannot load into {card.architecture} {card.config}: {exc}") from exc
        return cls(model, input_size=input_size or card.input_size,
                   int8=presets.int8_graph(card, weights_file, input_size or card.input_size),
                   threshold=card.threshold if threshold is None else threshold,
                   batch_size=batch_size, name=card.name, weights_sha256=sha256 or presets.sha256_of(weights_file),
                   runtime=runtime, threads=threads, precision=precision, resize=resize,
                   mirror=card.mirror if mirror is None else mirror,
                   max_blobs=card.max_blobs if max_blobs is None else max_blobs, hand_refiner=refiner,
                   arm_sides=arms)

    @classmethod
    def from_file(cls, path: str | os.PathLike, architecture: str | None = None, *, batch_size: int = 8,
                  input_size: tuple[int, int] | None = None, threshold: float | None = None,
                  input_scale: float = 1.0 / 255.0, runtime: str = "auto", threads: int | None = None,
                  resize: str = "auto", precision: str = "float32", mirror: bool | None = None,
                  max_blobs: int | None = None, refine_hands: bool | None = None, arm_sides: bool | None = None,
                  **config) -> "Segmenter":
        """Load a model file.

        - ``*.keras``: a whole saved Keras 3 model.
        - ``*.weights.h5``: weights; the architecture comes from the model card beside it
          (``x.json``, as ``signseg train`` writes) or from ``architecture`` + ``config``.
        - other ``*.h5``: a legacy Keras-2 full model such as the paper's code saved (custom
          metrics ``precision_m``/``recall_m``/``f1_m`` are resolved; a linear output is
          treated as logits). Its inputs are assumed scaled by ``input_scale``.

        ``precision``, ``mirror``, ``max_blobs``, ``refine_hands`` and ``arm_sides`` (as in :meth:`from_pretrained`)
        apply to weights with a card (``mirror`` and ``max_blobs`` to any model file).
        """
        path = Path(path)
        if not path.is_file():
            raise WeightsError(path, "model file does not exist")
        sha = presets.sha256_of(path)
        if path.name.endswith(presets.WEIGHTS_SUFFIX):
            card_file = presets.card_path_for(path)
            if architecture is None and card_file.is_file():
                card = presets.ModelCard.load(card_file)
            elif architecture is not None:
                card = presets.ModelCard(name=path.name, architecture=architecture, config=config,
                                         input_size=input_size or (400, 400), threshold=threshold or 0.5)
            else:
                raise WeightsError(path, f"weights only: pass architecture= ('snet' or 'vgg_unet') "
                                         f"or put its model card at {card_file}")
            return cls._from_card(card, path, batch_size=batch_size, input_size=input_size,
                                  threshold=threshold, sha256=sha, runtime=runtime, threads=threads, resize=resize,
                                  precision=precision, mirror=mirror, max_blobs=max_blobs,
                                  refine_hands=refine_hands, arm_sides=arm_sides)
        if path.suffix not in (".keras", ".h5", ".hdf5"):
            raise WeightsError(path, "unknown model file type: expected .keras, .weights.h5 or a legacy .h5")
        try:
            model = keras.models.load_model(str(path), custom_objects=CUSTOM_OBJECTS, compile=False)
        except Exception as exc:
            raise WeightsError(path, f"cannot load model: {exc}") from exc
        out_layer = model.layers[-1]
        linear = getattr(getattr(out_layer, "activation", None), "__name__", "") == "linear"
        if input_size is None:
            h, w = model.input_shape[1:3]
            input_size = (h, w) if h and w else None
        return cls(model, input_size=input_size, threshold=0.5 if threshold is None else threshold,
                   batch_size=batch_size, name=path.name, weights_sha256=sha,
                   input_scale=input_scale, logits=linear, runtime=runtime, threads=threads, resize=resize,
                   mirror=bool(mirror), max_blobs=max_blobs)

    # ----------------------------------------------------------------- inference
    def _run(self, x: np.ndarray, threads: int | None = None) -> np.ndarray:
        """The network's raw (n, h, w, 1) output on this Segmenter's runtime, with at most
        ``threads`` CPU threads (None: the runtime's default)."""
        if threads not in self._runners:  # built on first use (an ONNX export takes seconds)
            with self._building:  # lanes start at once: one builds, the others wait for it
                if threads not in self._runners:
                    key = None if self.weights_sha256 is None else f"{self.weights_sha256}|{self.name}"
                    self._runners[threads] = runtimes.make_runner(self.model, self.runtime, self.input_size,
                                                                  threads, key, self.int8)
        return self._runners[threads](x)

    def to_input(self, frames: np.ndarray) -> np.ndarray:
        """(n, H, W, 3) uint8 -> (n, h, w, 3) float32 at the model's input size, scaled."""
        x = to_input(frames, self.input_size).astype(np.float32)
        x *= self.input_scale
        return x

    def infer(self, x: np.ndarray) -> np.ndarray:
        """(n, h, w, 3) float32 input (:meth:`to_input`) -> (n, h, w) float32 probabilities,
        on all lanes."""
        return self.lanes.map(self.network, x)

    def network(self, x: np.ndarray, lane: bool = False, channel: int | slice = 0) -> np.ndarray:
        """(n, h, w, 3) float32 -> (n, h, w) probabilities in padded fixed-shape batches; on a
        lane single-threaded, in calls of at most :data:`LANE_BATCH` frames. ``channel``: which
        of the network's outputs (0: hand or face; a slice gives (n, h, w, k))."""
        threads, batch = (1, min(self.batch_size, LANE_BATCH)) if lane else (self.threads, self.batch_size)
        swap = self.mirror_order() if channel == slice(None) else None
        return self._batched(x, lambda chunk: self._run(chunk, threads)[..., channel], sigmoid=self.logits,
                             batch=batch, swap=swap)

    def mirror_order(self) -> list[int] | None:
        """The output channels of a mirrored pass in the order that reads them back: the left
        and right hands' channels exchanged (None: nothing to exchange)."""
        return mirror_order(self.parts)

    @property
    def parts(self) -> tuple[str, ...]:
        """The parts the network has channels of after hand-or-face (``("face", "hand")`` for a
        ``face_hand`` model, :data:`signseg.models.layers.OUTPUTS`), or ``()``."""
        k = self.model.output_shape[-1]
        return next((names for names in OUTPUTS.values() if len(names) == k - 1), ()) if k and k > 1 else ()

    def predict_channels(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB -> (N, H, W, 1 + k) float32: every output of the network at
        source size from one pass (host resizes): hand-or-face, then each of :attr:`parts`."""
        frames = _check_frames(frames)
        return self.lanes.map(self._channels_part, frames)

    def _channels_part(self, frames: np.ndarray, lane: bool) -> np.ndarray:
        p = self.network(self.to_input(frames), lane, channel=slice(None))
        return np.stack([to_source(p[..., c], *frames.shape[1:3]) for c in range(p.shape[-1])], axis=-1)

    def predict_parts_proba(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB -> (N, H, W, k) float32 probabilities of each of
        :attr:`parts` at source size (host resizes; a model without part channels raises)."""
        if not self.parts:
            raise ValueError(f"{self.name}: the network has no part channels (one hand-or-face output)")
        return self.predict_channels(frames)[..., 1:]

    def _batched(self, x: np.ndarray, run: runtimes.Runner, sigmoid: bool = False,
                 batch: int | None = None, swap: Sequence[int] | None = None) -> np.ndarray:
        """``run`` ((b, ...) -> (b, h, w)) over ``x`` in batches of ``batch`` (default: the
        batch size) padded to few fixed shapes -> (n, h, w) float32; with ``mirror`` also over
        each chunk's mirror image, the two outputs (logits for a linear model) averaged."""
        batch = batch or self.batch_size
        out = None
        for start in range(0, len(x), batch):
            chunk = x[start:start + batch]
            n = len(chunk)
            padded_n = _bucket(n, batch)
            if padded_n != n:
                chunk = np.concatenate([chunk, np.zeros((padded_n - n, *chunk.shape[1:]), chunk.dtype)])
            y = (mirror_mean(run, chunk, swap) if self.mirror else np.asarray(run(chunk), dtype=np.float32))[:n]
            if sigmoid:
                y = 1.0 / (1.0 + np.exp(-y))
            if out is None:
                out = np.empty((len(x), *y.shape[1:]), dtype=np.float32)
            out[start:start + n] = y
        return np.empty(x.shape[:3], dtype=np.float32) if out is None else out

    def _device_runner(self, h: int, w: int) -> runtimes.Runner:
        """The network wrapped with its resizes, for uint8 frames of source size (h, w)."""
        if (h, w) not in self._device_runners:
            model = device_resize_model(self.model, (h, w), self.input_size, self.input_scale, self.logits)
            self._device_runners[(h, w)] = lambda x: np.asarray(model.predict_on_batch(x))
        return self._device_runners[(h, w)]

    def predict_proba(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB -> (N, H, W) float32 hand/face probabilities at source size."""
        frames = _check_frames(frames)
        n, h, w = frames.shape[:3]
        if n == 0:
            return np.zeros((0, h, w), np.float32)
        if self.resize == "device":
            return self._batched(frames, self._device_runner(h, w))
        return self.lanes.map(self._proba_part, frames)

    def _proba_part(self, frames: np.ndarray, lane: bool) -> np.ndarray:
        """The host path on some frames: resize in, the network, resize back."""
        return to_source(self.network(self.to_input(frames), lane), *frames.shape[1:3])

    def predict(self, frames: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB -> (N, H, W) uint8 masks: 0 background, 4 hand/face.

        Values follow :mod:`signseg.labels`; use ``mask > 0`` for a binary mask.
        """
        return apply_threshold(self.predict_proba(frames), self.threshold if threshold is None else threshold,
                               self.max_blobs)

    def stream(self, batches: Iterable[np.ndarray], threshold: float | None = None
               ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(frames, masks)`` for each (n, H, W, 3) uint8 batch of ``batches``, in order; the
        next batch is pulled and segmented in a background thread while the caller handles
        this one. (Corpus runs batch across videos instead: :func:`signseg.run.flow.segment_jobs`.)"""
        with opencv_single_threaded():  # the lanes are the parallelism: no OpenCV workers
            yield from prefetched((frames, self.predict(frames, threshold)) for frames in batches)

    def segment_video(self, path: str | os.PathLike, stride: int = 1) -> Iterator[np.ndarray]:
        """Stream a video's masks as (n, H, W) uint8 batches in frame order (memory flat)."""
        for _, masks in self.stream(VideoReader(path, stride=stride).batches(self.batch_size)):
            yield masks

    def __repr__(self) -> str:
        return (f"Segmenter(name={self.name!r}, input_size={self.input_size}, threshold={self.threshold}, "
                f"batch_size={self.batch_size}, mirror={self.mirror}, max_blobs={self.max_blobs}, "
                f"runtime={self.runtime!r}, backend={keras.backend.backend()!r}, gpu={has_gpu()})")


def _second_network(card: presets.ModelCard, weights_file: Path, key: str, what: str, asked: bool | None, cls):
    """The second network a card's ``key`` entry names (``cls.from_card``, files beside
    ``weights_file``) where ``asked`` (None: the entry's ``default``), else None; asking for one
    the card does not name is an error."""
    entry = card.extra.get(key)
    if asked and not entry:
        raise ValueError(f"{card.name}: its model card names no {what}")
    if asked is None:  # the card says whether it runs unless asked
        asked = bool(entry and entry.get("default", False))
    return cls.from_card(entry, weights_file.parent) if entry and asked else None

"""How a worker gets its model: a picklable :class:`ModelSpec`, loaded once per process."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    """How to load a Segmenter in a worker: a shipped model name or a model file path.

    ``threads`` caps the CPU threads of each worker's runtime (TensorFlow's pools, ONNX
    Runtime's) so n workers share the cores instead of each taking them all.
    """

    name: str | None = None
    weights: str | None = None
    batch_size: int = 8
    threshold: float | None = None
    input_size: tuple[int, int] | None = None
    threads: int | None = None
    runtime: str = "auto"
    precision: str = "float32"

    def load(self):
        """The Segmenter for this spec, loaded once per process."""
        with _LOCK:
            if self not in _LOADED:
                self._limit_threads()
                from signseg.infer.segmenter import Segmenter
                kw = dict(batch_size=self.batch_size, threshold=self.threshold, input_size=self.input_size,
                          runtime=self.runtime, threads=self.threads, precision=self.precision)
                _LOADED[self] = (Segmenter.from_file(self.weights, **kw) if self.weights
                                 else Segmenter.from_pretrained(self.name, **kw))
            return _LOADED[self]

    def _limit_threads(self) -> None:
        if not self.threads:
            return
        import keras
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf
            try:
                tf.config.threading.set_intra_op_parallelism_threads(self.threads)
                tf.config.threading.set_inter_op_parallelism_threads(self.threads)
            except RuntimeError:  # TensorFlow already ran in this process: keep its pools
                pass


_LOADED: dict[ModelSpec, Any] = {}
_LOCK = threading.Lock()

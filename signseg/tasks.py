"""What one worker does for one video: decode, infer, write a mask file (a shard).

Workers never touch the run's output file (HDF5 allows one writer): each writes its video to
a shard of its own and the driver adopts the shard. The model is loaded once per worker
process from a picklable :class:`ModelSpec` and kept.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2

from signseg.corpus import VideoJob
from signseg.errors import SignsegError, StoreError
from signseg.postprocess import Postprocess
from signseg.decode.prefetch import prefetched
from signseg.store import MaskFile
from signseg.decode.video import VideoReader

#: Exceptions that mean "this video cannot be processed": recorded, and the run goes on.
#: A :class:`StoreError` (the output cannot be written) is not one: it stops the run.
VIDEO_FAILURES = (SignsegError, ValueError, OSError, RuntimeError, cv2.error)


def is_video_failure(exc: BaseException) -> bool:
    """True when ``exc`` concerns the video, not the output file."""
    return isinstance(exc, VIDEO_FAILURES) and not isinstance(exc, StoreError)


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
                from signseg.segmenter import Segmenter
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


def failure_message(exc: BaseException, path: str | os.PathLike) -> str:
    """One line naming the file and the problem."""
    return str(exc) if isinstance(exc, SignsegError) else f"{os.fspath(path)}: {exc}"


def video_attrs(job: VideoJob, reader: VideoReader, segmenter, stride: int,
                post: Postprocess = Postprocess()) -> dict[str, Any]:
    """The attributes a video's group gets (docs/format.md)."""
    return {"fps": reader.fps, "source": os.fspath(job.path), "claimed_frames": reader.info.claimed_frames,
            "model": segmenter.name, "weights_sha256": segmenter.weights_sha256, "runtime": segmenter.runtime,
            "precision": segmenter.precision, "threshold": segmenter.threshold, "stride": stride, **post.attrs(),
            **job.attrs()}


def segment_into(store: MaskFile, segmenter, job: VideoJob, stride: int = 1,
                 on_frames: Callable[[int], None] | None = None, post: Postprocess = Postprocess()) -> int:
    """Segment ``job``'s video into ``store`` (streaming, memory flat); return its frames.

    decode -> batch -> infer -> post-process (parts, boxes, crops) -> write.
    """
    reader = VideoReader(job.path, stride=stride)
    attrs = video_attrs(job, reader, segmenter, stride, post)
    video_post = post.start()

    def batches():
        decoded = prefetched(reader.batches(segmenter.batch_size))  # decoding overlaps inference
        for frames, masks in segmenter.stream(decoded):
            out = video_post(frames, masks)
            if on_frames is not None:
                on_frames(len(frames))
            yield out
    return store.write_video(job.video_id, batches(), attrs)


@dataclass
class Outcome:
    """What a worker reports back: a shard holding the video, or the error."""

    job: VideoJob
    shard: str | None
    frames: int
    error: str | None = None


def segment_to_shard(model, job: VideoJob, shard: str, stride: int = 1,
                     on_frames: Callable[[int], None] | None = None, post: Postprocess = Postprocess()) -> Outcome:
    """Worker task: segment one video into the shard file ``shard``.

    ``model``: a :class:`ModelSpec` (loaded once per process) or a ready Segmenter.
    """
    segmenter = model.load() if isinstance(model, ModelSpec) else model
    try:
        with MaskFile(shard, "w") as store:
            frames = segment_into(store, segmenter, job, stride, on_frames, post)
        return Outcome(job, shard, frames)
    except VIDEO_FAILURES as exc:
        Path(shard).unlink(missing_ok=True)
        if not is_video_failure(exc):
            raise
        return Outcome(job, None, 0, failure_message(exc, job.path))

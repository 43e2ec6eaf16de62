"""The one flow every run takes: decode -> batch -> infer -> postprocess -> write.

:func:`segment_jobs` runs it over a list of videos, in three overlapping stages:

1. **decode** (``decoders`` threads, :func:`signseg.decode.chunks.decoded_chunks`): each
   video's frames in chunks, resized to the network's input as uint8 where they were decoded;
2. **batch and infer** (the calling thread, :func:`signseg.infer.batching.batched`): the
   chunks' frames packed into batches of exactly the batch size, across videos, each run on
   the Segmenter's :class:`~signseg.infer.fixed_shape.FixedShapeNetwork` (one compile per
   input size; two batches in flight);
3. **postprocess and write** (one writer thread): each chunk's probabilities resized back and
   thresholded (:func:`signseg.infer.preprocess.to_masks`) and whole mask chunks compressed on
   a small thread pool; parts, boxes and crops (:class:`~signseg.postprocess.steps.Postprocess`)
   and the HDF5 calls on the writer, in order, into one shard per video; ``take`` gets each
   video's :class:`Outcome` when its last chunk is through.

Every path is a setting of this flow: a run in this process or the GPU driver (``decoders``
= the decode threads), or each worker of a parallel run on its own videos
(:func:`segment_to_shard`). Memory is flat in corpus size and video length: every queue
between the stages is bounded.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from signseg.decode.chunks import Chunk, decoded_chunks
from signseg.decode.image import opencv_single_threaded
from signseg.decode.prefetch import InOrder, StoppableQueue
from signseg.decode.video import VideoReader
from signseg.errors import SignsegError, StoreError
from signseg.infer.batching import IN_FLIGHT, batched
from signseg.infer.fixed_shape import FixedShapeNetwork
from signseg.infer.preprocess import to_input, to_masks
from signseg.postprocess.steps import Postprocess
from signseg.run.jobs import VideoJob
from signseg.run.workers import ModelSpec
from signseg.store.mask_file import MaskFile

#: Exceptions that mean "this video cannot be processed": recorded, and the run goes on.
#: A :class:`StoreError` (the output cannot be written) is not one: it stops the run.
VIDEO_FAILURES = (SignsegError, ValueError, OSError, RuntimeError, cv2.error)
#: Threads that turn probabilities into masks and compress mask chunks for the writer, which
#: only makes the HDF5 calls (h5py runs one call at a time).
POST_THREADS = max(2, (os.cpu_count() or 2) // 4)
#: Chunks the writer lets the pool work on ahead of the one it writes.
POST_AHEAD = 4 * POST_THREADS


def is_video_failure(exc: BaseException) -> bool:
    """True when ``exc`` concerns the video, not the output file."""
    return isinstance(exc, VIDEO_FAILURES) and not isinstance(exc, StoreError)


def failure_message(exc: BaseException, path: str | os.PathLike) -> str:
    """One line naming the file and the problem."""
    return str(exc) if isinstance(exc, SignsegError) else f"{os.fspath(path)}: {exc}"


def part_channels(segmenter, post: Postprocess) -> tuple[str, ...]:
    """The parts the network's own channels give to a run's post-processing: the Segmenter's
    (``face_hand``, ``parts``) where the run splits masks into parts, else none."""
    return tuple(segmenter.parts) if post.parts else ()


def second_sha256(network, segmenter, post: Postprocess) -> str | None:
    """The sha256 of a second network of the Segmenter (its hand refiner, its arm network) that
    a run's parts use, None where none does."""
    return network.sha256 if network is not None and part_channels(segmenter, post) else None


def video_attrs(job: VideoJob, reader: VideoReader, segmenter, stride: int,
                post: Postprocess = Postprocess()) -> dict[str, Any]:
    """The attributes a video's group gets (docs/format.md)."""
    return {"fps": reader.fps, "source": os.fspath(job.path), "claimed_frames": reader.info.claimed_frames,
            "model": segmenter.name, "weights_sha256": segmenter.weights_sha256, "runtime": segmenter.runtime,
            "precision": segmenter.precision, "threshold": segmenter.threshold, "mirror": segmenter.mirror,
            "max_blobs": segmenter.max_blobs or 0,
            "stride": stride, **post.attrs(part_channels(segmenter, post), second_sha256(segmenter.hand_refiner, segmenter, post),
                         second_sha256(segmenter.arm_sides, segmenter, post)),
            **job.attrs()}


@dataclass
class Outcome:
    """What a run reports of one video: a shard holding it, or the error."""

    job: VideoJob
    shard: str | None
    frames: int
    error: str | None = None


class _Open:
    """A video being written: its shard, writer and post-processing state."""

    def __init__(self, job: VideoJob, shard: Path, attrs: dict, post: Postprocess, deflate: Executor,
                 channels: tuple[str, ...], refiner=None, arms=None):
        self.job, self.shard, self.attrs = job, shard, attrs
        self.post = post.start(channels, refiner, arms, fps=attrs["fps"] / max(1, attrs["stride"]))
        self.store = MaskFile(shard, "w")
        self.writer = self.store.video_writer(job.video_id, deflate=deflate)

    def append(self, frames: np.ndarray, masks: np.ndarray, signals: np.ndarray, proba: np.ndarray) -> None:
        self.writer.append(self.post(frames, masks, signals, proba))

    def close(self, keep: bool) -> None:
        self.store.close()
        if not keep:
            self.shard.unlink(missing_ok=True)


class _Writer:
    """The last stage, on a thread of its own: chunks in stream order -> masks -> shards."""

    def __init__(self, jobs: Sequence[VideoJob], segmenter, stride: int, shard_for: Callable[[int], Path],
                 take: Callable[[Outcome], None], on_frames: Callable[[int], None] | None, post: Postprocess,
                 pool: Executor):
        self.jobs, self.segmenter, self.stride, self.shard_for = jobs, segmenter, stride, shard_for
        self.take, self.on_frames, self.post, self.pool = take, on_frames, post, pool
        self.open: dict[int, _Open] = {}
        self.failed: set[int] = set()

    def run(self, items: Callable[[], Any], end: object) -> None:
        """Write what ``items()`` hands over until ``end``; masks are made on the pool, ahead."""
        ahead = InOrder(POST_AHEAD)
        try:
            while (item := items()) is not end:
                c, masks = item.chunk, None
                if c.frames is not None:
                    proba = item.probabilities()  # fetched here, in order: frees its batch's place
                    if c.index in self.failed:
                        continue
                    masks = self.pool.submit(_masks_and_signals, proba, *c.frames.shape[1:3],
                                             self.segmenter.threshold, self.segmenter.max_blobs)
                ahead.push(c, masks)
                for chunk, m in ahead.ready():
                    self.write(chunk, m)
            for chunk, m in ahead.ready(everything=True):
                self.write(chunk, m)
        finally:
            for video in self.open.values():
                video.close(keep=False)

    def fail(self, i: int, message: str) -> None:
        self.failed.add(i)
        if i in self.open:
            self.open.pop(i).close(keep=False)
        self.take(Outcome(self.jobs[i], None, 0, message))

    def write(self, c: Chunk, made: tuple | None) -> None:
        if c.index in self.failed:
            return
        job = self.jobs[c.index]
        try:
            if c.error is not None:
                self.fail(c.index, c.error)
            elif c.reader is not None:
                attrs = video_attrs(job, c.reader, self.segmenter, self.stride, self.post)
                self.open[c.index] = _Open(job, self.shard_for(c.index), attrs, self.post, self.pool,
                                           part_channels(self.segmenter, self.post),
                                           self.segmenter.hand_refiner, self.segmenter.arm_sides)
            elif c.frames is not None:
                self.open[c.index].append(c.frames, *made)
                if self.on_frames is not None:
                    self.on_frames(len(c.frames))
            elif c.last:
                video = self.open.pop(c.index)
                n = video.writer.commit(video.attrs)
                video.close(keep=True)
                self.take(Outcome(job, str(video.shard), n))
        except VIDEO_FAILURES as exc:
            if not is_video_failure(exc):
                raise
            self.fail(c.index, failure_message(exc, job.path))


def _masks_and_signals(proba: np.ndarray, height: int, width: int, t: float, max_blobs: int | None) -> tuple:
    """A chunk's masks, their signals and the probabilities they came from (parts read them;
    (n, h, w, 1 + k) with the network's part channels, the mask's first)."""
    return (*to_masks(proba[..., 0] if proba.ndim == 4 else proba, height, width, t, max_blobs), proba)


def segment_jobs(jobs: Sequence[VideoJob], segmenter, *, shard_for: Callable[[int], Path],
                 take: Callable[[Outcome], None], stride: int = 1, decoders: int = 1,
                 on_frames: Callable[[int], None] | None = None, post: Postprocess = Postprocess()) -> None:
    """Segment ``jobs``, video ``i`` into the shard ``shard_for(i)``; each finished (or failed)
    video goes to ``take`` as an :class:`Outcome`, in the order videos finish.

    ``decoders`` threads decode; ``on_frames(n)`` hears of frames as they are written. The
    network is ``segmenter``'s :meth:`FixedShapeNetwork.of`, compiled once for every run with
    that Segmenter. A :class:`StoreError` or a stop in the middle removes the shards of videos
    not finished and is raised here.
    """
    network = FixedShapeNetwork.of(segmenter, channels=bool(part_channels(segmenter, post)))
    chunk_frames = max(1, min(network.batch_size, 16))
    written = StoppableQueue(4 * network.batch_size // chunk_frames + 8)  # chunks waiting for the writer
    failure: list[BaseException] = []
    end = object()
    pool = ThreadPoolExecutor(POST_THREADS, thread_name_prefix="signseg-post")
    writer = _Writer(jobs, segmenter, stride, shard_for, take, on_frames, post, pool)

    def write_all() -> None:
        try:
            writer.run(written.get, end)
        except BaseException as exc:  # handed to the feeding thread, which stops the run
            failure.append(exc)
            written.stop()  # also frees the feeding thread if it waits for room on the network

    with opencv_single_threaded():  # the decode threads, lanes and pool are the parallelism
        thread = threading.Thread(target=write_all, name="signseg-writer", daemon=True)
        thread.start()
        stream = decoded_chunks([job.path for job in jobs], stride, chunk_frames, decoders,
                                to_input=lambda frames: to_input(frames, network.input_size),
                                failures=VIDEO_FAILURES, describe=failure_message)
        try:
            for item in batched(stream, network, IN_FLIGHT, stop=written.stopped):
                if not written.put(item) or failure:
                    break
        finally:
            stream.close()
            written.put(end)  # the writer finishes what it was given (or stops at once if it failed)
            thread.join()
            pool.shutdown()
    if failure:
        raise failure[0]


def segment_to_shard(model, job: VideoJob, shard: str, stride: int = 1,
                     on_frames: Callable[[int], None] | None = None, post: Postprocess = Postprocess()) -> Outcome:
    """A worker's task: ``job``'s video through the flow into the shard file ``shard``.

    ``model``: a :class:`~signseg.run.workers.ModelSpec` (loaded once per worker process) or a
    ready Segmenter.
    """
    segmenter = model.load() if isinstance(model, ModelSpec) else model
    outcomes: list[Outcome] = []
    segment_jobs([job], segmenter, shard_for=lambda i: Path(shard), take=outcomes.append, stride=stride,
                 on_frames=on_frames, post=post)
    return outcomes[0]

"""One inference process, batches spanning videos: the GPU path.

AUTSL clips are 2-3 s long: batching each video on its own leaves a GPU idle between calls
and pads every last batch. Here the flow runs in three stages that overlap:

1. **decode** (``threads`` threads): each video's frames in chunks, resized to the model's
   input size as uint8 where they were decoded, into a bounded queue;
2. **batch and infer** (the calling thread): the chunks' frames packed into batches of
   exactly ``batch_size`` (a chunk may straddle two; the last batch is padded), each handed
   to :class:`~signseg.fixed_shape.FixedShapeNetwork`: one shape, one compile; up to
   ``IN_FLIGHT`` batches run on the device while the next is packed;
3. **write**: each chunk's uint8 probabilities resized back to the source size and
   thresholded, and whole mask chunks compressed, on ``POST_THREADS`` threads; one writer
   thread post-processes and appends them, in order, to the video's shard, which the run
   adopts when the video's last chunk is through.

Memory is flat in corpus size and video length: every queue between the stages is bounded.
"""
from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from signseg import labels
from signseg.corpus import VideoJob
from signseg.fixed_shape import FixedShapeNetwork
from signseg.decode.image import resize
from signseg.postprocess import Postprocess
from signseg.decode.prefetch import InOrder, StoppableQueue
from signseg.store import MaskFile
from signseg.tasks import VIDEO_FAILURES, Outcome, failure_message, is_video_failure, video_attrs
from signseg.decode.video import VideoReader

#: Batches started on the device and not yet taken by the writer.
IN_FLIGHT = 2
#: Threads that turn probabilities into masks and compress mask chunks for the writer, which
#: only makes the HDF5 calls (h5py runs one call at a time).
POST_THREADS = max(2, (os.cpu_count() or 2) // 4)
#: Chunks the writer lets the pool work on ahead of the one it writes.
POST_AHEAD = 4 * POST_THREADS


@dataclass
class Chunk:
    """A piece of one video's stream: its opening (``reader``), frames (source size, and
    ``x`` at the model's input size), its end, or its error. ``pieces`` says where its
    frames sit in the batches that carry them."""

    index: int
    frames: np.ndarray | None = None
    x: np.ndarray | None = None
    reader: VideoReader | None = None
    last: bool = False
    error: str | None = None
    pieces: list = field(default_factory=list)
    unbatched: int = 0

    def __post_init__(self) -> None:
        self.unbatched = 0 if self.x is None else len(self.x)


def decoded_chunks(jobs: list[VideoJob], stride: int, chunk_frames: int, threads: int,
                   input_size: tuple[int, int] | None = None, depth: int | None = None) -> Iterator[Chunk]:
    """Chunks of all ``jobs``, decoded (and resized to ``input_size``) by ``threads`` threads;
    each video's chunks in order.

    At most ``depth`` chunks wait in the queue, so memory is flat in corpus size and video
    length. Closing the iterator stops the threads.
    """
    q = StoppableQueue(depth or 4 * threads)
    put = q.put
    next_job = iter(range(len(jobs)))
    lock = threading.Lock()
    done = object()

    def work() -> None:
        while not q.stopped.is_set():
            with lock:
                i = next(next_job, None)
            if i is None:
                break
            try:
                reader = VideoReader(jobs[i].path, stride=stride)
                if not put(Chunk(i, reader=reader)):
                    return
                for frames in reader.batches(chunk_frames):
                    x = None if input_size is None else np.stack([resize(f, input_size) for f in frames])
                    if not put(Chunk(i, frames=frames, x=x)):
                        return
                put(Chunk(i, last=True))
            except VIDEO_FAILURES as exc:
                put(Chunk(i, last=True, error=failure_message(exc, jobs[i].path)))
        put(done)

    pool = [threading.Thread(target=work, name=f"signseg-decode-{k}", daemon=True) for k in range(threads)]
    for t in pool:
        t.start()
    try:
        finished = 0
        while finished < threads:
            item = q.get()
            if item is done:
                finished += 1
            else:
                yield item
    finally:
        q.stop()
        for t in pool:
            t.join(timeout=5)


class _Batch:
    """One fixed-shape batch started on the device; its result fetched once, by the writer."""

    def __init__(self, handle, network: FixedShapeNetwork, release: Callable[[], None]):
        self._handle, self._network, self._release = handle, network, release
        self._result: np.ndarray | None = None
        self._lock = threading.Lock()

    def result(self) -> np.ndarray:
        with self._lock:
            if self._result is None:
                try:
                    self._result = self._network.fetch(self._handle)
                finally:
                    self._handle = None
                    self._release()  # room for one more batch on the device
            return self._result


class _Packer:
    """Packs chunks' input-size frames into batches of exactly ``network.batch_size``."""

    def __init__(self, network: FixedShapeNetwork, in_flight: int):
        self.network = network
        # one buffer more than batches in flight: the one being packed is never one the device reads
        self.buffers = [np.zeros(network.shape, np.uint8) for _ in range(in_flight + 1)]
        self.started = 0
        self.fill = 0
        self.waiting: list[tuple[Chunk, int, int]] = []  # (chunk, frames, first row) in this batch
        self.room = threading.Semaphore(in_flight)

    @property
    def buffer(self) -> np.ndarray:
        """The buffer being packed: its turn comes after its last batch was fetched."""
        return self.buffers[self.started % len(self.buffers)]

    def add(self, chunk: Chunk) -> None:
        done = 0
        while done < len(chunk.x):
            n = min(len(chunk.x) - done, len(self.buffer) - self.fill)
            self.buffer[self.fill:self.fill + n] = chunk.x[done:done + n]
            self.waiting.append((chunk, n, self.fill))
            self.fill += n
            done += n
            if self.fill == len(self.buffer):
                self.start()

    def start(self) -> None:
        """Send the batch (padding rows left as they are) and note each chunk's rows in it."""
        if not self.fill:
            return
        self.room.acquire()  # at most ``in_flight`` batches on the device
        batch = _Batch(self.network(self.buffer, self.fill), self.network, self.room.release)
        for chunk, n, row in self.waiting:
            chunk.pieces.append((batch, row, n))
            chunk.unbatched -= n
        self.started += 1
        self.fill, self.waiting = 0, []


def probabilities_to_masks(proba: np.ndarray, height: int, width: int, threshold: float) -> np.ndarray:
    """(n, h, w) uint8 probabilities (x255) -> (n, height, width) uint8 masks: resized back
    bilinearly as uint8 (as the host path resizes float probabilities), then thresholded
    (OpenCV for both: one pass each, without the GIL)."""
    below = min(254, max(0, round(threshold * 255) - 1))  # a mask where p*255 rounds to >= threshold*255
    masks = np.empty((len(proba), height, width), np.uint8)
    for p, m in zip(proba, masks):
        if p.shape != (height, width):
            p = cv2.resize(p, (width, height), interpolation=cv2.INTER_LINEAR)
        cv2.threshold(p, below, int(labels.UNASSIGNED), cv2.THRESH_BINARY, dst=m)
    return masks


class _Open:
    """A video being written: its shard and writer."""

    def __init__(self, job: VideoJob, shard: Path, attrs: dict, post: Postprocess, deflate: Executor):
        self.job, self.shard, self.attrs = job, shard, attrs
        self.post = post.start()
        self.store = MaskFile(shard, "w")
        self.writer = self.store.video_writer(job.video_id, deflate=deflate)

    def append(self, frames: np.ndarray, masks: np.ndarray) -> None:
        self.writer.append(self.post(frames, masks))

    def close(self, keep: bool) -> None:
        self.store.close()
        if not keep:
            self.shard.unlink(missing_ok=True)


def segment_across_videos(jobs: list[VideoJob], segmenter, stride: int, shards: Path, threads: int,
                          take: Callable[[Outcome], None], on_frames: Callable[[int], None] | None = None,
                          post: Postprocess = Postprocess()) -> None:
    """Segment ``jobs`` with batches spanning videos; each finished video goes to ``take``.

    The network is ``segmenter``'s own (:meth:`FixedShapeNetwork.of`), compiled once for all
    runs with that Segmenter.
    """
    network = FixedShapeNetwork.of(segmenter)
    chunk_frames = max(1, min(network.batch_size, 16))
    packer = _Packer(network, IN_FLIGHT)
    written = StoppableQueue(4 * network.batch_size // chunk_frames + 8)  # chunks waiting for the writer
    failure: list[BaseException] = []
    end = object()

    def write_all() -> None:
        open_: dict[int, _Open] = {}
        failed: set[int] = set()
        ahead = InOrder(POST_AHEAD)  # chunks in stream order, frames with the future of their masks

        def fail(i: int, message: str) -> None:
            failed.add(i)
            if i in open_:
                open_.pop(i).close(keep=False)
            take(Outcome(jobs[i], None, 0, message))

        def write(c: Chunk, masks: np.ndarray | None) -> None:
            if c.index in failed:
                return
            job = jobs[c.index]
            try:
                if c.error is not None:
                    fail(c.index, c.error)
                elif c.reader is not None:
                    open_[c.index] = _Open(job, shards / f"{c.index:07d}.h5",
                                           video_attrs(job, c.reader, segmenter, stride, post), post, pool)
                elif c.frames is not None:
                    open_[c.index].append(c.frames, masks)
                    if on_frames is not None:
                        on_frames(len(c.frames))
                elif c.last:
                    video = open_.pop(c.index)
                    n = video.writer.commit(video.attrs)
                    video.close(keep=True)
                    take(Outcome(job, str(video.shard), n))
            except VIDEO_FAILURES as exc:
                if not is_video_failure(exc):
                    raise
                fail(c.index, failure_message(exc, job.path))

        try:
            while (c := written.get()) is not end:
                masks = None
                if c.frames is not None:  # fetched here, in order: frees its batch's place on the device
                    proba = np.concatenate([batch.result()[row:row + n] for batch, row, n in c.pieces])
                    if c.index in failed:
                        continue
                    # resized back and thresholded on the pool, written here in order
                    masks = pool.submit(probabilities_to_masks, proba, *c.frames.shape[1:3], segmenter.threshold)
                ahead.push(c, masks)
                for item in ahead.ready():
                    write(*item)
            for item in ahead.ready(everything=True):
                write(*item)
        except BaseException as exc:  # handed to the feeding thread, which stops the run
            failure.append(exc)
            written.stop()
            packer.room.release(IN_FLIGHT + 1)  # the feeding thread may be waiting for room
        finally:
            for video in open_.values():
                video.close(keep=False)

    pool = ThreadPoolExecutor(POST_THREADS, thread_name_prefix="signseg-post")
    writer = threading.Thread(target=write_all, name="signseg-writer", daemon=True)
    writer.start()
    stream = decoded_chunks(jobs, stride, chunk_frames, threads, input_size=network.input_size)
    held: deque[Chunk] = deque()  # in stream order; a chunk leaves once all its frames are in started batches

    def release() -> bool:
        while held and (held[0].x is None or held[0].unbatched == 0):
            if not written.put(held.popleft()):
                return False
        return True

    try:
        for chunk in stream:
            held.append(chunk)
            if chunk.x is not None:
                packer.add(chunk)
            if not release() or failure:
                break
        else:
            packer.start()  # the last batch, padded
            release()
    finally:
        stream.close()
        written.put(end)  # the writer finishes what it was given (or stops at once if it failed)
        writer.join()
        pool.shutdown()
    if failure:
        raise failure[0]

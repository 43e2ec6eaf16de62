"""One inference process, batches spanning videos: the GPU path.

AUTSL clips are 2–3 s long: batching each video on its own leaves a GPU idle between calls
and pads every last batch. Here decode threads stream frame chunks of many videos into a
bounded queue; the driver gathers chunks into full batches whatever video they come from,
runs the model once per batch (``Segmenter.predict_many``) and hands each video's masks to
its own shard writer, which the run adopts when the video's last chunk is through.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from signseg.corpus import VideoJob
from signseg.postprocess import Postprocess
from signseg.prefetch import StoppableQueue
from signseg.store import MaskFile
from signseg.tasks import VIDEO_FAILURES, Outcome, failure_message, is_video_failure, video_attrs
from signseg.video import VideoReader


@dataclass
class Chunk:
    """A piece of one video's stream: its opening (``reader``), frames, its end, or its error."""

    index: int
    frames: np.ndarray | None = None
    reader: VideoReader | None = None
    last: bool = False
    error: str | None = None


def decoded_chunks(jobs: list[VideoJob], stride: int, chunk_frames: int, threads: int,
                   depth: int | None = None) -> Iterator[Chunk]:
    """Chunks of all ``jobs``, decoded by ``threads`` threads; each video's chunks in order.

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
                    if not put(Chunk(i, frames=frames)):
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


class _Open:
    """A video being written: its shard and writer."""

    def __init__(self, job: VideoJob, shard: Path, attrs: dict, post: Postprocess):
        self.job, self.shard, self.attrs = job, shard, attrs
        self.post = post.start()
        self.store = MaskFile(shard, "w")
        self.writer = self.store.video_writer(job.video_id)

    def append(self, frames: np.ndarray, masks: np.ndarray) -> None:
        self.writer.append(self.post(frames, masks))

    def close(self, keep: bool) -> None:
        self.store.close()
        if not keep:
            self.shard.unlink(missing_ok=True)


def segment_across_videos(jobs: list[VideoJob], segmenter, stride: int, shards: Path, threads: int,
                          take: Callable[[Outcome], None], on_frames: Callable[[int], None] | None = None,
                          post: Postprocess = Postprocess()) -> None:
    """Segment ``jobs`` with batches spanning videos; each finished video goes to ``take``."""
    chunk_frames = max(1, min(segmenter.batch_size, 16))
    open_: dict[int, _Open] = {}
    failed: set[int] = set()
    pending: list[Chunk] = []

    def fail(i: int, message: str) -> None:
        failed.add(i)
        if i in open_:
            open_.pop(i).close(keep=False)
        take(Outcome(jobs[i], None, 0, message))

    def flush() -> None:
        live = [c for c in pending if c.frames is not None and c.index not in failed]
        masks = dict(zip(map(id, live), segmenter.predict_many([c.frames for c in live])))
        for c in pending:
            if c.index in failed:
                continue
            job = jobs[c.index]
            try:
                if c.error is not None:
                    fail(c.index, c.error)
                elif c.reader is not None:
                    open_[c.index] = _Open(job, shards / f"{c.index:07d}.h5",
                                           video_attrs(job, c.reader, segmenter, stride, post), post)
                elif c.frames is not None:
                    open_[c.index].append(c.frames, masks[id(c)])
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
        pending.clear()

    stream = decoded_chunks(jobs, stride, chunk_frames, threads)
    try:
        n = 0
        for chunk in stream:
            pending.append(chunk)
            n += 0 if chunk.frames is None else len(chunk.frames)
            if n >= segmenter.batch_size:
                flush()
                n = 0
        flush()
    finally:
        stream.close()
        for video in open_.values():
            video.close(keep=False)

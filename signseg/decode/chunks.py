"""Decode many videos at once into a stream of frame chunks, each video's in order.

The first stage of the flow (:mod:`signseg.run.flow`): ``threads`` decode threads take the
videos one after another; each chunk carries up to ``chunk_frames`` decoded RGB frames and,
where a ``to_input`` function is given, the same frames resized for the network (done here,
in the decode threads: OpenCV releases the GIL). A video opens with a chunk holding its
reader, ends with a ``last`` chunk, or ends early with one holding the error.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

from signseg.decode.prefetch import StoppableQueue
from signseg.decode.video import VideoReader


@dataclass
class Chunk:
    """A piece of video ``index``'s stream: its opening (``reader``), frames (source size, and
    ``x`` for the network), its end (``last``), or its error."""

    index: int
    frames: np.ndarray | None = None
    x: np.ndarray | None = None
    reader: VideoReader | None = None
    last: bool = False
    error: str | None = None


def decoded_chunks(paths: Sequence[str | os.PathLike], stride: int, chunk_frames: int, threads: int,
                   to_input: Callable[[np.ndarray], np.ndarray] | None = None,
                   failures: tuple[type[BaseException], ...] = (Exception,),
                   describe: Callable[[BaseException, str | os.PathLike], str] = lambda e, p: f"{p}: {e}",
                   depth: int | None = None) -> Iterator[Chunk]:
    """Chunks of every video in ``paths``, decoded by ``threads`` threads; each video's in order.

    An exception of a type in ``failures`` ends that video with an error chunk (its message
    from ``describe``) and the others go on. At most ``depth`` chunks wait, so memory is flat
    in corpus size and video length. Closing the iterator stops the threads.
    """
    q = StoppableQueue(depth or 4 * threads)
    put = q.put
    next_video = iter(range(len(paths)))
    lock = threading.Lock()
    done = object()

    def work() -> None:
        while not q.stopped.is_set():
            with lock:
                i = next(next_video, None)
            if i is None:
                break
            try:
                reader = VideoReader(paths[i], stride=stride)
                if not put(Chunk(i, reader=reader)):
                    return
                for frames in reader.batches(chunk_frames):
                    if not put(Chunk(i, frames=frames, x=None if to_input is None else to_input(frames))):
                        return
                put(Chunk(i, last=True))
            except failures as exc:
                put(Chunk(i, last=True, error=describe(exc, paths[i])))
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

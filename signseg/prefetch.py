"""Run an iterator ahead in a background thread, so that decoding overlaps inference.

OpenCV's decoder and the inference runtimes release the GIL, so a decode thread keeps the
next batch ready while the model works on this one. The queue is bounded: memory stays flat.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_END = object()


class StoppableQueue:
    """A bounded queue between producer threads and one consumer; once the consumer stops,
    a producer blocked on a full queue gives up instead of waiting for ever."""

    def __init__(self, depth: int):
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self.stopped = threading.Event()

    def put(self, item) -> bool:
        """Queue ``item``; False when the consumer stopped first."""
        while not self.stopped.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(self):
        return self._q.get()

    def stop(self) -> None:
        self.stopped.set()


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield ``items`` in order, produced up to ``depth`` ahead by a thread; an exception in
    the producer is raised here, at the item where it happened. Closing the generator stops
    the thread."""
    q = StoppableQueue(depth)

    def produce() -> None:
        try:
            for item in items:
                if not q.put((item, None)):
                    return
            q.put((_END, None))
        except BaseException as exc:  # handed to the consumer
            q.put((_END, exc))

    thread = threading.Thread(target=produce, name="signseg-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = q.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        q.stop()
        thread.join(timeout=5)

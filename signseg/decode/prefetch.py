"""Run work ahead in background threads, so that decoding overlaps inference and a pool's
work overlaps its consumer.

OpenCV's decoder and the inference runtimes release the GIL, so a decode thread keeps the
next batch ready while the model works on this one. The queues are bounded: memory stays flat.
"""
from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import Future
from typing import Any, Iterable, Iterator, TypeVar

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


class InOrder:
    """Items with the pool futures that complete them, handed back in the order they came.

    :meth:`ready` yields the leading items whose future is done (an item without one is done),
    waiting for the oldest only while more than ``ahead`` are queued (memory bound), or for
    all with ``everything``.
    """

    def __init__(self, ahead: int):
        self.ahead = ahead
        self._queue: deque[tuple[Any, Future | None]] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, item: Any, future: Future | None = None) -> None:
        self._queue.append((item, future))

    def ready(self, everything: bool = False) -> Iterator[tuple[Any, Any]]:
        """``(item, its future's result or None)`` in order, as far as they are done."""
        q = self._queue
        while q and (everything or len(q) > self.ahead or q[0][1] is None or q[0][1].done()):
            item, future = q.popleft()
            yield item, None if future is None else future.result()

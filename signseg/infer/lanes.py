"""Lanes: a CPU runtime's frames split over one single-threaded worker per core.

Each lane runs the network on its own share of a batch (:func:`signseg.infer.runtimes.lanes`
says how many). :meth:`Lanes.map` answers one batch (the calling thread is a lane too);
:meth:`Lanes.submit` queues a batch's shares and returns at once, so with several batches
queued no lane waits for another to finish its share.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import numpy as np


class Lanes:
    """``n`` lanes; :meth:`map` runs ``fn(part, lane=True)`` on one part of ``x`` each."""

    def __init__(self, n: int):
        self.n = n
        self._pool: ThreadPoolExecutor | None = None  # the other lanes' threads, started on first use
        self._lock = threading.Lock()

    def parts(self, x: np.ndarray) -> list[np.ndarray]:
        """``x`` split into one part per lane, or whole where it has fewer frames than lanes."""
        return np.array_split(x, self.n) if self.n > 1 and len(x) >= self.n else [x]

    def map(self, fn: Callable[[np.ndarray, bool], np.ndarray], x: np.ndarray) -> np.ndarray:
        """``fn`` over ``x``'s parts at once, joined; with one part, ``fn(x, lane=False)``
        (the runtime's own threads)."""
        parts = self.parts(x)
        if len(parts) == 1:
            return fn(x, False)
        others = [self._threads().submit(fn, part, True) for part in parts[1:]]
        first = fn(parts[0], True)  # this thread is a lane too
        return np.concatenate([first, *(f.result() for f in others)])

    def submit(self, fn: Callable[[np.ndarray, bool], np.ndarray], x: np.ndarray) -> list[Future]:
        """Queue ``fn(part, lane=True)`` for each of ``x``'s parts on the lanes' threads;
        :meth:`gather` waits for them."""
        return [self._threads().submit(fn, part, self.n > 1) for part in self.parts(x)]

    @staticmethod
    def gather(parts: list[Future]) -> np.ndarray:
        """The joined results of :meth:`submit`, in order."""
        results = [f.result() for f in parts]
        return results[0] if len(results) == 1 else np.concatenate(results)

    def _threads(self) -> ThreadPoolExecutor:
        with self._lock:  # callers on several threads share one pool
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.n, thread_name_prefix="signseg-lane")
        return self._pool

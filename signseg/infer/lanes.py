"""Lanes: a CPU runtime's frames split over one single-threaded worker per core.

Each lane runs the network on its own share of a batch (:func:`signseg.infer.runtimes.lanes`
says how many); the calling thread is a lane too. One batch's lanes finish together.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
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

    def _threads(self) -> ThreadPoolExecutor:
        with self._lock:  # callers on several threads share one pool
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.n - 1, thread_name_prefix="signseg-lane")
        return self._pool

"""Batch and infer: frames from a stream of chunks packed into batches of exactly
``batch_size``, run on a :class:`~signseg.infer.fixed_shape.FixedShapeNetwork`.

A chunk may straddle two batches, and batches span videos (AUTSL clips are 2-3 s: batching
each video on its own would pad every last batch and leave a GPU idle between calls). Only
the very last batch is padded. A call returns at once (JAX dispatches it to the device; on a
CPU it is queued on the Segmenter's lanes), so up to ``in_flight`` batches run while the next
is packed; their results are fetched by whoever reads the chunks' probabilities, in order.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Callable, Iterable, Iterator

import numpy as np

from signseg.decode.chunks import Chunk
from signseg.infer.fixed_shape import FixedShapeNetwork

#: Batches started and not yet fetched.
IN_FLIGHT = 2


class _Batch:
    """One batch started on the network; its result fetched once."""

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
                    self._release()  # room for one more batch
            return self._result


class Batched:
    """A chunk whose frames are all in started batches: :meth:`probabilities` fetches them."""

    def __init__(self, chunk: Chunk):
        self.chunk = chunk
        self.pieces: list[tuple[_Batch, int, int]] = []  # (batch, first row, rows)
        self.unbatched = 0 if chunk.x is None else len(chunk.x)

    def probabilities(self) -> np.ndarray | None:
        """The chunk's (n, h, w) probabilities at the network's input size (uint8 x255 from an
        asynchronous network, float32 otherwise); None for a chunk without frames."""
        if self.chunk.x is None:
            return None
        parts = [batch.result()[row:row + n] for batch, row, n in self.pieces]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


class _Packer:
    """Packs chunks' input frames into batches of exactly ``network.batch_size``."""

    def __init__(self, network: FixedShapeNetwork, in_flight: int, stop: threading.Event | None):
        self.network = network
        self.in_flight = in_flight
        self.stop = stop
        self.buffers: list[np.ndarray] = []
        self.started = 0
        self.fill = 0
        self.waiting: list[tuple[Batched, int, int]] = []  # (item, rows, first row) in this batch
        self.room = threading.Semaphore(in_flight)

    @property
    def buffer(self) -> np.ndarray:
        """The buffer being packed: its turn comes after its last batch was fetched (one more
        buffer than batches in flight, so the network never reads the one being packed)."""
        return self.buffers[self.started % len(self.buffers)]

    def _shape_for(self, x: np.ndarray) -> None:
        """Buffers of ``x``'s frame size: a new size (a model without a fixed input size)
        starts the batch being packed first."""
        shape = (self.network.batch_size, *x.shape[1:])
        if self.buffers and self.buffers[0].shape == shape:
            return
        self.start()
        self.buffers = [np.zeros(shape, np.uint8) for _ in range(self.in_flight + 1)]

    def add(self, item: Batched) -> None:
        x = item.chunk.x
        self._shape_for(x)
        done = 0
        while done < len(x):
            n = min(len(x) - done, len(self.buffer) - self.fill)
            self.buffer[self.fill:self.fill + n] = x[done:done + n]
            self.waiting.append((item, n, self.fill))
            self.fill += n
            done += n
            if self.fill == len(self.buffer):
                self.start()

    def start(self) -> None:
        """Send the batch (padding rows left as they are) and note each chunk's rows in it."""
        if not self.fill:
            return
        while not self.room.acquire(timeout=0.1):  # at most ``in_flight`` batches not yet fetched
            if self.stop is not None and self.stop.is_set():
                break  # the reader gave up: nothing will be fetched any more
        batch = _Batch(self.network(self.buffer, self.fill), self.network, self.room.release)
        for item, n, row in self.waiting:
            item.pieces.append((batch, row, n))
            item.unbatched -= n
        self.started += 1
        self.fill, self.waiting = 0, []

def batched(chunks: Iterable[Chunk], network: FixedShapeNetwork, in_flight: int = IN_FLIGHT,
            stop: threading.Event | None = None) -> Iterator[Batched]:
    """Every chunk of ``chunks``, in order, once all its frames are in started batches.

    Chunks must hold at most ``network.batch_size`` frames and ``in_flight`` be at least 2:
    a chunk then spans at most two batches, and the chunks of the oldest batch in flight
    have always been handed on, so fetching it makes room. Read the chunks' probabilities in
    order, each before asking for the next chunk, or on another thread: packing waits for
    room otherwise. Once ``stop`` is set (the reader gave up), packing no longer waits.
    """
    if in_flight < 2:
        raise ValueError(f"in_flight must be at least 2, got {in_flight}")
    pack = _Packer(network, in_flight, stop)
    held: deque[Batched] = deque()
    for chunk in chunks:
        item = Batched(chunk)
        if chunk.x is not None:
            if len(chunk.x) > network.batch_size:
                raise ValueError(f"a chunk of {len(chunk.x)} frames exceeds the batch size {network.batch_size}")
            pack.add(item)
        held.append(item)
        while held and held[0].unbatched == 0:
            yield held.popleft()
    pack.start()  # the last batch, padded
    while held:
        yield held.popleft()

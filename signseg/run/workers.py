"""Workers: where a parallel run's tasks go (joblib's loky / threading backends on this
machine, or a dask or ray cluster through joblib's backends for them; no scheduler of our
own), and how each loads its model (:class:`ModelSpec`, picklable, loaded once per process).

``dask``: ``scheduler`` is a dask.distributed scheduler address (``tcp://host:8786``); without
one a LocalCluster of ``n_jobs`` single-threaded worker processes is started and stopped.
``ray``: ``scheduler`` is a ray address (``auto``, ``ray://host:10001``); without one a local
ray with ``n_jobs`` CPUs is started and stopped. Both are optional extras:
``pip install signseg[dask]`` / ``signseg[ray]``.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import joblib

BACKENDS = ("loky", "threading", "dask", "ray")
#: Backends whose workers are processes of their own (each loads its own model).
PROCESS_BACKENDS = ("loky", "dask", "ray")


def _missing(extra: str, package: str) -> ImportError:
    return ImportError(f"backend {extra!r} needs {package}: pip install 'signseg[{extra}]'")


@contextlib.contextmanager
def _dask(n_jobs: int, scheduler: str | None) -> Iterator[None]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise _missing("dask", "dask.distributed") from None
    with contextlib.ExitStack() as stack:
        if scheduler:
            stack.enter_context(Client(scheduler))  # joblib's dask backend uses the current client
        else:
            cluster = stack.enter_context(LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=True,
                                                       dashboard_address=None))
            stack.enter_context(Client(cluster))
        with joblib.parallel_config(backend="dask"):
            yield


@contextlib.contextmanager
def _ray(n_jobs: int, scheduler: str | None) -> Iterator[None]:
    try:
        import ray
        from ray.util.joblib import register_ray
    except ImportError:
        raise _missing("ray", "ray") from None
    register_ray()
    started = False
    if not ray.is_initialized():
        if scheduler:
            ray.init(address=scheduler, log_to_driver=False)
        else:
            ray.init(num_cpus=n_jobs, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        with joblib.parallel_config(backend="ray"):
            yield
    finally:
        if started:
            ray.shutdown()


def _waves(par: joblib.Parallel, calls: Iterable, size: int) -> Iterator[Any]:
    """Results of ``calls`` in waves of ``size`` tasks, for backends that cannot stream."""
    calls = iter(calls)
    while wave := list(itertools.islice(calls, size)):
        yield from par(wave)


@contextlib.contextmanager
def parallel(backend: str, n_jobs: int, scheduler: str | None = None) -> Iterator[Callable[[Iterable], Iterator]]:
    """A function mapping joblib ``delayed`` calls to their results, as they finish, on ``backend``.

    At most ``2 * n_jobs`` tasks are in flight, so memory stays flat in corpus size. joblib's
    ray backend cannot return a generator: there tasks run in waves of ``4 * n_jobs``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if scheduler and backend not in ("dask", "ray"):
        raise ValueError("--scheduler needs --backend dask or ray")
    stream = dict(n_jobs=n_jobs, return_as="generator_unordered", pre_dispatch="2*n_jobs")
    if backend == "dask":
        with _dask(n_jobs, scheduler):
            yield joblib.Parallel(**stream)
    elif backend == "ray":
        with _ray(n_jobs, scheduler):
            par = joblib.Parallel(n_jobs=n_jobs)
            yield lambda calls: _waves(par, calls, 4 * n_jobs)
    else:
        yield joblib.Parallel(backend=backend, **stream)


def threads_per_worker(backend: str, n_jobs: int, scheduler: str | None = None) -> int | None:
    """TensorFlow threads for each worker process: the local cores shared out, None to leave be."""
    if backend not in PROCESS_BACKENDS or scheduler:
        return None
    return max(1, (os.cpu_count() or 1) // n_jobs)


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
    mirror: bool | None = None
    max_blobs: int | None = None
    refine_hands: bool | None = None
    arm_sides: bool | None = None

    def load(self):
        """The Segmenter for this spec, loaded once per process."""
        with _LOCK:
            if self not in _LOADED:
                self._limit_threads()
                from signseg.infer.segmenter import Segmenter
                kw = dict(batch_size=self.batch_size, threshold=self.threshold, input_size=self.input_size,
                          runtime=self.runtime, threads=self.threads, precision=self.precision,
                          mirror=self.mirror, max_blobs=self.max_blobs, refine_hands=self.refine_hands,
                          arm_sides=self.arm_sides)
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

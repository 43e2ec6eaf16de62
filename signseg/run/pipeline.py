"""A run: videos -> one HDF5 mask file, in this process or on parallel workers, resumable.

Data flows one way: jobs -> the flow (:mod:`signseg.run.flow`: decode -> batch -> infer ->
postprocess -> a shard file per video, in this process or on each worker) -> this process
adopts each shard into the output, the only process that writes it.
New masks never go straight into the output: a full disk or a crash mid-video hits a shard,
and the output only receives whole videos, after a check that there is room for them. A
video that fails (unreadable, no frames, ...) is recorded under ``/failures`` and the others
go on; what is already written stays complete and readable, and ``resume`` skips it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from joblib import delayed
from tqdm.auto import tqdm

from signseg.errors import StoreError
from signseg.postprocess.steps import Postprocess
from signseg.run.corpus import jobs_for_files
from signseg.run.flow import Outcome, segment_jobs, segment_to_shard
from signseg.run.jobs import VideoJob
from signseg.run.workers import ModelSpec
from signseg.run.workers import parallel, threads_per_worker
from signseg.store.mask_file import MaskFile


@dataclass
class Summary:
    """What a run did: videos written, skipped and failed, frames and time."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    frames: int = 0
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        s = (f"{len(self.done)} video(s) segmented, {self.frames} frames in {self.seconds:.1f}s "
             f"({self.fps:.1f} frames/s)")
        if self.skipped:
            s += f", {len(self.skipped)} already complete (skipped)"
        if self.failed:
            s += f", {len(self.failed)} FAILED"
        return s


def open_output(out: str | os.PathLike, resume: bool = False, overwrite: bool = False) -> MaskFile:
    """Open the output mask file; an existing one needs ``resume`` or ``overwrite``."""
    out = Path(out)
    if resume and overwrite:
        raise ValueError("resume and overwrite exclude each other")
    if out.exists() and not (resume or overwrite):
        raise StoreError(out, "output exists: pass --resume to add to it (complete videos are "
                              "skipped) or --overwrite to replace it")
    return MaskFile(out, "w" if overwrite else "a")


def shard_dir_for(out: str | os.PathLike) -> Path:
    """Where workers write their shards: ``OUT.h5.shards/`` beside the output."""
    out = Path(out)
    return out.with_name(out.name + ".shards")


class _Run:
    """Bookkeeping of a run: adopts finished shards into the output, counts, shows progress."""

    def __init__(self, store: MaskFile, total: int, progress: bool):
        self.store = store
        self.summary = Summary()
        self.t0 = time.perf_counter()
        self.live_frames = 0
        self.bar = tqdm(total=total, unit="video", disable=not progress, dynamic_ncols=True)

    def live(self, n: int) -> None:
        """Frames segmented so far (shown while a video is still running)."""
        self.live_frames += n
        fps = self.live_frames / (time.perf_counter() - self.t0)
        self.bar.set_postfix_str(f"{self.live_frames} frames, {fps:.1f} frames/s", refresh=True)

    def take(self, outcome: Outcome, counted: bool = False) -> None:
        """Record a failure, or adopt the outcome's shard into the output and remove it."""
        job = outcome.job
        if outcome.error is not None:
            self.store.record_failure(job.video_id, outcome.error, job.path, attrs=job.attrs())
            self.summary.failed[job.video_id] = outcome.error
            self.bar.write(f"signseg: error: {outcome.error}")
        else:
            self.summary.frames += self.store.adopt(outcome.shard, job.video_id)
            Path(outcome.shard).unlink()
            self.summary.done.append(job.video_id)
            if not counted:
                self.live(outcome.frames)
        self.bar.update(1)

    def close(self) -> Summary:
        self.bar.close()
        self.summary.seconds = time.perf_counter() - self.t0
        return self.summary


@contextlib.contextmanager
def _shard_folder(shards: Path) -> Iterator[Path]:
    """A fresh folder for this run's shards, removed afterwards.

    A killed run's shards are redone, never trusted, and its orphaned workers may still be
    writing: this run writes into a folder of its own and removes the others.
    """
    shutil.rmtree(shards, ignore_errors=True)
    mine = shards / uuid.uuid4().hex
    mine.mkdir(parents=True)
    try:
        yield mine
    finally:
        shutil.rmtree(shards, ignore_errors=True)


def _on_workers(run: _Run, jobs: list[VideoJob], spec: ModelSpec, stride: int, shards: Path, post: Postprocess,
                n_jobs: int, backend: str, scheduler: str | None) -> None:
    with parallel(backend, n_jobs, scheduler) as par:
        for outcome in par(delayed(segment_to_shard)(spec, job, str(shards / f"{i:07d}.h5"), stride, None, post)
                           for i, job in enumerate(jobs)):
            run.take(outcome)


INFER_MODES = ("auto", "workers", "driver")


def _gpu_here() -> bool:
    """Whether this process would run the model on a GPU (cheap test first: no TensorFlow
    import on machines without an NVIDIA driver)."""
    if not (os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidia0")):
        return False
    from signseg.infer.runtimes import has_gpu
    return has_gpu()


def process(jobs: Sequence[VideoJob], out: str | os.PathLike, model, *, n_jobs: int = 1,
            backend: str = "loky", scheduler: str | None = None, stride: int = 1, resume: bool = False,
            overwrite: bool = False, progress: bool = True, infer: str = "auto", parts: bool = False,
            crops: int | None = None, still_hands: bool = True) -> Summary:
    """Segment ``jobs`` into the mask file ``out`` and return a :class:`Summary`.

    ``model``: a :class:`ModelSpec` or a ready ``Segmenter`` (in-process and driver runs).
    ``infer``:

    - ``"workers"``: with ``n_jobs > 1`` or a dask/ray backend, each video goes to a worker,
      which runs the flow on it into a shard; with ``n_jobs=1``, the flow runs in this process.
    - ``"driver"``: the flow runs in this process, its batches spanning videos, fed by
      ``n_jobs`` decode threads (the GPU path).
    - ``"auto"``: ``"driver"`` where this process sees a GPU (and the backend is local),
      else ``"workers"``.

    Either way this process copies each finished shard into ``out``, the only writer of it.
    ``parts`` splits masks into face / left hand / right hand and stores boxes; ``crops``
    (a size in pixels) adds square RGB crops of each part (see :mod:`signseg.postprocess.parts`);
    ``still_hands=False`` keeps hand blobs that have not moved for a second
    (:mod:`signseg.postprocess.still_hands`).
    """
    post = Postprocess(parts=parts, crop_size=crops, still_hands=still_hands)
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1, got {n_jobs}")
    if infer not in INFER_MODES:
        raise ValueError(f"infer must be one of {', '.join(INFER_MODES)}, got {infer!r}")
    remote = backend in ("dask", "ray")
    if infer == "driver" and remote:
        raise ValueError("infer='driver' runs the model in this process: it needs a local backend, not " + backend)
    if infer == "auto":
        infer = "driver" if not remote and _gpu_here() else "workers"
    on_workers = infer == "workers" and (n_jobs > 1 or remote)
    if on_workers and not isinstance(model, ModelSpec):
        raise TypeError("parallel runs need a ModelSpec (each worker loads its own model), not a Segmenter")
    with open_output(out, resume=resume, overwrite=overwrite) as store:
        complete = set(store.video_ids()) if resume else set()
        pending = [j for j in jobs if j.video_id not in complete]
        run = _Run(store, len(pending), progress)
        run.summary.skipped = [j.video_id for j in jobs if j.video_id in complete]
        try:
            with _shard_folder(shard_dir_for(out)) as shards:
                segmenter = None if on_workers else model.load() if isinstance(model, ModelSpec) else model
                if on_workers:
                    spec = dataclasses.replace(model, threads=threads_per_worker(backend, n_jobs, scheduler))
                    _on_workers(run, pending, spec, stride, shards, post, n_jobs, backend, scheduler)
                else:  # this process runs the network, fed by n_jobs decode threads
                    segment_jobs(pending, segmenter, shard_for=lambda i: shards / f"{i:07d}.h5",
                                 take=lambda o: run.take(o, counted=True), stride=stride, decoders=n_jobs,
                                 on_frames=run.live, post=post)
        finally:
            summary = run.close()
            if summary.done or summary.failed:
                with contextlib.suppress(StoreError):  # a full disk has been reported already
                    store.record_run(summary.seconds, summary.frames, len(summary.done), len(summary.failed))
    return summary


def segment_videos(videos: Sequence[str | os.PathLike], out: str | os.PathLike, segmenter, *,
                   stride: int = 1, resume: bool = False, overwrite: bool = False,
                   progress: bool = True, parts: bool = False, crops: int | None = None,
                   still_hands: bool = True) -> Summary:
    """Segment video files (ids = file stems) into ``out`` in this process."""
    return process(jobs_for_files(videos), out, segmenter, stride=stride, resume=resume,
                   overwrite=overwrite, progress=progress, parts=parts, crops=crops, still_hands=still_hands)

"""The driver: videos -> one HDF5 mask file, in-process or on parallel workers, resumable.

Data flows one way: jobs -> (workers: decode -> infer -> shard file) -> the driver adopts each
shard into the output, the only process that writes it. A video that fails (unreadable, no
frames, ...) is recorded under ``/failures`` and the others go on; what is already written
stays complete and readable, and ``resume`` skips it.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from joblib import delayed
from tqdm.auto import tqdm

from signseg.backends import parallel, threads_per_worker
from signseg.corpus import VideoJob, jobs_for_files
from signseg.errors import StoreError
from signseg.store import MaskFile
from signseg.tasks import VIDEO_FAILURES, ModelSpec, failure_message, segment_into, segment_to_shard


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
    """Bookkeeping shared by the in-process and parallel paths: summary, bar, failures."""

    def __init__(self, store: MaskFile, total: int, progress: bool):
        self.store = store
        self.summary = Summary()
        self.t0 = time.perf_counter()
        self.bar = tqdm(total=total, unit="video", disable=not progress, dynamic_ncols=True)

    def frames(self, n: int) -> None:
        self.summary.frames += n
        elapsed = time.perf_counter() - self.t0
        self.bar.set_postfix_str(f"{self.summary.frames} frames, {self.summary.frames / elapsed:.1f} frames/s",
                                 refresh=True)

    def done(self, job: VideoJob) -> None:
        self.summary.done.append(job.video_id)
        self.bar.update(1)

    def failed(self, job: VideoJob, message: str) -> None:
        self.store.record_failure(job.video_id, message, job.path, attrs=job.attrs())
        self.summary.failed[job.video_id] = message
        self.bar.write(f"signseg: error: {message}")
        self.bar.update(1)

    def close(self) -> Summary:
        self.bar.close()
        self.summary.seconds = time.perf_counter() - self.t0
        return self.summary


def _in_process(run: _Run, jobs: list[VideoJob], segmenter, stride: int) -> None:
    for job in jobs:
        run.bar.set_description(job.video_id)
        try:
            segment_into(run.store, segmenter, job, stride, on_frames=run.frames)
            run.done(job)
        except VIDEO_FAILURES as exc:
            run.failed(job, failure_message(exc, job.path))


def _on_workers(run: _Run, jobs: list[VideoJob], spec: ModelSpec, stride: int, shards: Path,
                n_jobs: int, backend: str, scheduler: str | None) -> None:
    # A killed run's shards are redone, never trusted, and its orphaned workers may still be
    # writing: this run writes into a folder of its own and removes the others.
    shutil.rmtree(shards, ignore_errors=True)
    mine = shards / uuid.uuid4().hex
    mine.mkdir(parents=True)
    try:
        with parallel(backend, n_jobs, scheduler) as par:
            outcomes = par(delayed(segment_to_shard)(spec, job, str(mine / f"{i:07d}.h5"), stride)
                           for i, job in enumerate(jobs))
            for outcome in outcomes:
                if outcome.error is not None:
                    run.failed(outcome.job, outcome.error)
                    continue
                run.frames(run.store.adopt(outcome.shard, outcome.job.video_id))
                Path(outcome.shard).unlink()
                run.done(outcome.job)
    finally:
        shutil.rmtree(shards, ignore_errors=True)


def process(jobs: Sequence[VideoJob], out: str | os.PathLike, model, *, n_jobs: int = 1,
            backend: str = "loky", scheduler: str | None = None, stride: int = 1, resume: bool = False,
            overwrite: bool = False, progress: bool = True) -> Summary:
    """Segment ``jobs`` into the mask file ``out`` and return a :class:`Summary`.

    ``model``: a :class:`ModelSpec` (workers load it themselves) or, for an in-process run
    (``n_jobs=1`` on loky or threading), a ready ``Segmenter``. With ``n_jobs > 1`` or a
    dask/ray backend, videos go to workers that write shards under ``OUT.h5.shards/`` and
    the driver copies each into ``out`` as it finishes.
    """
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1, got {n_jobs}")
    on_workers = n_jobs > 1 or backend in ("dask", "ray")
    if on_workers and not isinstance(model, ModelSpec):
        raise TypeError("parallel runs need a ModelSpec (each worker loads its own model), not a Segmenter")
    with open_output(out, resume=resume, overwrite=overwrite) as store:
        pending = [j for j in jobs if not (resume and store.is_complete(j.video_id))]
        skipped = [j.video_id for j in jobs if resume and store.is_complete(j.video_id)]
        run = _Run(store, len(pending), progress)
        run.summary.skipped = skipped
        try:
            if on_workers:
                spec = dataclasses.replace(model, threads=threads_per_worker(backend, n_jobs, scheduler))
                _on_workers(run, pending, spec, stride, shard_dir_for(out), n_jobs, backend, scheduler)
            else:
                _in_process(run, pending, model.load() if isinstance(model, ModelSpec) else model, stride)
        finally:
            summary = run.close()
    return summary


def segment_videos(videos: Sequence[str | os.PathLike], out: str | os.PathLike, segmenter, *,
                   stride: int = 1, resume: bool = False, overwrite: bool = False,
                   progress: bool = True) -> Summary:
    """Segment video files (ids = file stems) into ``out`` in this process."""
    return process(jobs_for_files(videos), out, segmenter, stride=stride, resume=resume,
                   overwrite=overwrite, progress=progress)

"""Videos -> HDF5 masks: decode, infer, write, one video after another.

A video that fails (unreadable, no frames, ...) is recorded under ``/failures`` and the
others go on; what is already written stays complete and readable.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from signseg.errors import SignsegError, StoreError
from signseg.segmenter import Segmenter
from signseg.store import MaskFile
from signseg.video import VideoReader


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


def _counted(batches, bar):
    """Pass batches through, advancing the progress bar by their frames."""
    for batch in batches:
        bar.update(len(batch))
        yield batch


def video_id_for(path: str | os.PathLike) -> str:
    """The id a video gets in the mask file: its file name without extension."""
    return Path(path).stem


def check_unique_ids(videos: Sequence[str | os.PathLike]) -> list[str]:
    """The videos' ids; raises ValueError when two videos would share one."""
    ids = [video_id_for(v) for v in videos]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"several videos would get the same id (file name without extension): {', '.join(dupes)}")
    return ids


def open_output(out: str | os.PathLike, resume: bool = False, overwrite: bool = False) -> MaskFile:
    """Open the output mask file; an existing one needs ``resume`` or ``overwrite``."""
    out = Path(out)
    if resume and overwrite:
        raise ValueError("resume and overwrite exclude each other")
    if out.exists() and not (resume or overwrite):
        raise StoreError(out, "output exists: pass --resume to add to it (complete videos are "
                              "skipped) or --overwrite to replace it")
    return MaskFile(out, "w" if overwrite else "a")


def segment_videos(videos: Sequence[str | os.PathLike], out: str | os.PathLike, segmenter: Segmenter, *,
                   stride: int = 1, resume: bool = False, overwrite: bool = False,
                   progress: bool = True) -> Summary:
    """Segment ``videos`` into the mask file ``out`` and return a :class:`Summary`."""
    ids = check_unique_ids(videos)
    summary = Summary()
    t0 = time.perf_counter()
    with open_output(out, resume=resume, overwrite=overwrite) as store, \
            tqdm(total=0, unit="frame", disable=not progress, dynamic_ncols=True) as bar:
        for n, (video, vid) in enumerate(zip(videos, ids), start=1):
            bar.set_description(f"video {n}/{len(videos)}")
            bar.set_postfix_str(vid)
            if resume and store.is_complete(vid):
                summary.skipped.append(vid)
                continue
            try:
                reader = VideoReader(video, stride=stride)
                bar.total += -(-reader.info.claimed_frames // stride)  # grows as videos open
                bar.refresh()
                attrs = {"fps": reader.fps, "source": os.fspath(video), "model": segmenter.name,
                         "weights_sha256": segmenter.weights_sha256, "threshold": segmenter.threshold,
                         "stride": stride}
                summary.frames += store.write_video(vid, _counted(
                    (segmenter.predict(batch) for batch in reader.batches(segmenter.batch_size)), bar), attrs)
                summary.done.append(vid)
            except (SignsegError, ValueError, OSError, RuntimeError) as exc:
                message = str(exc) if isinstance(exc, SignsegError) else f"{os.fspath(video)}: {exc}"
                store.record_failure(vid, message, video)
                summary.failed[vid] = message
                bar.write(f"signseg: error: {message}")
    summary.seconds = time.perf_counter() - t0
    return summary

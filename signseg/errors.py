"""Exceptions signseg raises: each message names the file and what is wrong with it."""
from __future__ import annotations

import os


class SignsegError(Exception):
    """Base class: a problem with an input or output file, reported in one line."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(problem if self.path is None else f"{self.path}: {problem}")


class VideoError(SignsegError):
    """A video that cannot be opened or decoded, or that has no frames."""


class StoreError(SignsegError):
    """An HDF5 mask file that is not ours, is from a newer format, or cannot be written."""


class WeightsError(SignsegError):
    """Missing, unknown or corrupt model weights."""


class LabelsError(SignsegError):
    """A labels or class-map CSV that cannot be read as ``video_id,label`` rows."""

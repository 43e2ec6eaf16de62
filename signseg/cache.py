"""Where signseg keeps the files it makes for itself: ONNX exports, the teacher's venv.

A module of its own, light to import, so that finding the cache needs no Keras.
"""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$SIGNSEG_CACHE``, default ``~/.cache/signseg``."""
    return Path(os.environ.get("SIGNSEG_CACHE", Path.home() / ".cache" / "signseg"))

"""Keep TensorFlow's C++ start-up lines off the user's terminal, from the CLI and from Python.

TensorFlow 2.21 prints absl notices at import and first device query ("All log messages
before absl::InitializeLog()", oneDNN, the CUDA stub, cuInit, CPU instruction notes) from C++,
before its logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` does not reach them. While
:func:`filtered_stderr` runs, file descriptor 2 goes through a pipe and a thread forwards
everything else: signseg's own messages and errors, Python tracebacks, progress bars (at
once, they have no newline), and the same for worker processes, which inherit the descriptor.

The CLI runs whole under the filter. A library must not hold a process's stderr, so in Python
only the two moments that print are filtered: TensorFlow's import (:func:`quiet_imports`, set
up by ``import signseg``) and its first device query, made right after the import (listing
the physical devices, which leaves them configurable, as TensorFlow's own guide does).
Python's own warnings and logging are never touched.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import os
import re
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

#: Lines dropped: absl-formatted C++ log lines and TensorFlow's build notices.
NOISE = re.compile(rb"^(WARNING: All log messages before absl::InitializeLog\(\)"
                   rb"|[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]"
                   rb"|To enable the following instructions:"
                   rb"|This TensorFlow binary is optimized to use available CPU instructions"
                   rb"|INFO: Created TensorFlow Lite XNNPACK delegate)")  # MediaPipe's, in the teacher
_HEADS = (b"WARNING: All log", b"I0000", b"W0000", b"E0000", b"F0000", b"To enable the", b"This TensorFlow",
          b"INFO: Created TensorFlow Lite")


def _could_be_noise(partial: bytes) -> bool:
    """True while an unfinished line may still turn out to be a noise line (hold it back)."""
    return any(h.startswith(partial[:len(h)]) for h in _HEADS) or (
        len(partial) >= 5 and partial[:1] in b"IWEF" and partial[1:5].isdigit())


def _pump(read_fd: int, out_fd: int) -> None:
    buf = b""
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        buf += chunk
        while (nl := buf.find(b"\n")) >= 0:
            line, buf = buf[:nl + 1], buf[nl + 1:]
            if not NOISE.match(line):
                os.write(out_fd, line)
        if buf and not _could_be_noise(buf):
            os.write(out_fd, buf)
            buf = b""
    if buf and not NOISE.match(buf):
        os.write(out_fd, buf)
    os.close(read_fd)


@contextmanager
def filtered_stderr() -> Iterator[None]:
    """Drop :data:`NOISE` lines from everything written to file descriptor 2 in the block."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr (a closed descriptor): nothing to filter
        yield
        return
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    pump = threading.Thread(target=_pump, args=(read_fd, saved), name="signseg-stderr", daemon=True)
    pump.start()
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)  # the pipe's last writer in this process closes: the pump sees EOF
        pump.join(timeout=5)  # workers that still hold the pipe keep it open; never hang on them
        if not pump.is_alive():  # else it still forwards to ``saved``: leave that descriptor open
            os.close(saved)


#: Top-level modules whose import prints the start-up lines.
NOISY_IMPORTS = ("tensorflow",)


class _QuietLoader(importlib.abc.Loader):
    """A module's own loader, run with :func:`filtered_stderr` around it."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        with filtered_stderr():
            self.loader.exec_module(module)
            if module.__name__ == "tensorflow":  # its CUDA lines come at the first device query:
                module.config.list_physical_devices()  # have it now (physical devices stay configurable)

    def __getattr__(self, name):  # get_resource_reader, is_package and the rest: the loader's own
        return getattr(self.loader, name)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds :data:`NOISY_IMPORTS` as the other finders do and wraps their loaders."""

    def __init__(self):
        self._finding = False

    def find_spec(self, name, path=None, target=None):
        if name not in NOISY_IMPORTS or self._finding:
            return None
        self._finding = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._finding = False
        if spec is None or spec.loader is None or isinstance(spec.loader, _QuietLoader):
            return None
        spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_imports() -> None:
    """Filter the start-up lines of :data:`NOISY_IMPORTS` when they are first imported (once per
    process; nothing to do where they are imported already)."""
    if not any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())

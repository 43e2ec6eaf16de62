"""The teacher's own Python environment: found, or made once under the user's cache.

``mediapipe==0.10.21`` (the last release with its models inside the wheel) pins numpy<2 and
protobuf<5, so it cannot share signseg's TensorFlow environment: it lives in a venv of its
own and signseg runs its python as a subprocess (:mod:`signseg.teacher.holistic`).
Where to find it, in order: ``--teacher-python``, ``$SIGNSEG_TEACHER_PYTHON``, then
``<cache>/teacher-venv`` (``$SIGNSEG_CACHE``, default ``~/.cache/signseg``), made by
:func:`setup_teacher` on first use or by ``signseg teacher setup``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from signseg.cache import cache_dir
from signseg.errors import SignsegError

TEACHER_REQUIREMENT = "mediapipe==0.10.21"
#: Python versions that mediapipe 0.10.21 publishes wheels for.
SUPPORTED_PYTHONS = ((3, 9), (3, 10), (3, 11), (3, 12))
_MARKER = "signseg-teacher.json"
_CHECK = ("import mediapipe as mp, numpy; mp.solutions.holistic.Holistic(enable_segmentation=True).close(); "
          "print(mp.__version__)")


def default_dir() -> Path:
    """``<cache>/teacher-venv``, beside signseg's other cached files."""
    return cache_dir() / "teacher-venv"


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def find_teacher(explicit: str | os.PathLike | None = None) -> str | None:
    """The teacher's python: ``explicit``, else ``$SIGNSEG_TEACHER_PYTHON``, else the cached venv
    if :func:`setup_teacher` finished making it; None when there is none yet."""
    if explicit:
        return os.fspath(explicit)
    if os.environ.get("SIGNSEG_TEACHER_PYTHON"):
        return os.environ["SIGNSEG_TEACHER_PYTHON"]
    venv = default_dir()
    if (venv / _MARKER).is_file() and _venv_python(venv).exists():
        return str(_venv_python(venv))
    return None


def _base_python() -> str:
    """An interpreter that mediapipe 0.10.21 has wheels for: this one, or one on PATH."""
    if sys.version_info[:2] in SUPPORTED_PYTHONS:
        return sys.executable
    for major, minor in reversed(SUPPORTED_PYTHONS):
        found = shutil.which(f"python{major}.{minor}")
        if found:
            return found
    versions = ", ".join(f"{a}.{b}" for a, b in SUPPORTED_PYTHONS)
    raise SignsegError("teacher", f"no suitable Python for {TEACHER_REQUIREMENT} (needs {versions}; this is "
                                  f"{sys.version_info[0]}.{sys.version_info[1]}): install one, or pass "
                                  "--teacher-python of an environment that has it")


def _run(cmd: list[str], what: str, venv: Path) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as exc:  # the interpreter itself is missing or not executable
        raise SignsegError(venv, f"teacher environment: {what} failed: {cmd[0]}: {exc.strerror}") from exc
    if r.returncode:
        last = (r.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SignsegError(venv, f"teacher environment: {what} failed: {last}")
    return r.stdout.strip()


def setup_teacher(venv: str | os.PathLike | None = None, python: str | None = None, quiet: bool = False) -> str:
    """Make (or check) the teacher venv and return its python; idempotent.

    Installs :data:`TEACHER_REQUIREMENT` from the package index (the one download; the
    models ship inside the wheel), then runs Holistic once to prove it works. A half-made
    venv (killed, no network) is made again on the next call.
    """
    venv = Path(venv) if venv else default_dir()
    py = _venv_python(venv)
    if (venv / _MARKER).is_file() and py.exists():
        return str(py)
    if venv.exists():
        shutil.rmtree(venv)  # no marker: an earlier attempt did not finish
    if not quiet:
        print(f"signseg: making the MediaPipe teacher environment in {venv} (once; about a minute)", file=sys.stderr)
    venv.parent.mkdir(parents=True, exist_ok=True)
    _run([python or _base_python(), "-m", "venv", str(venv)], "python -m venv", venv)
    _run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", TEACHER_REQUIREMENT],
         f"pip install {TEACHER_REQUIREMENT} (is the package index reachable?)", venv)
    version = _run([str(py), "-c", _CHECK], "running MediaPipe Holistic", venv).splitlines()[-1]
    (venv / _MARKER).write_text(json.dumps({"requirement": TEACHER_REQUIREMENT, "mediapipe": version}) + "\n")
    return str(py)


def ensure_teacher(explicit: str | os.PathLike | None = None, quiet: bool = False) -> str:
    """:func:`find_teacher`, making the cached venv first when there is none."""
    return find_teacher(explicit) or setup_teacher(quiet=quiet)

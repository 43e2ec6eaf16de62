"""The teacher installs itself: found, or made once under the cache; clear errors otherwise."""
import os
import subprocess

import h5py
import pytest

from conftest import REPO, signseg_command
from signseg.errors import SignsegError
from signseg.teacher import env
from test_teacher import LANDMARKS


def _cli(*args, cache, teacher=None):
    e = {k: v for k, v in os.environ.items() if k != "SIGNSEG_TEACHER_PYTHON"}
    e["SIGNSEG_CACHE"] = str(cache)
    if teacher:
        e["SIGNSEG_TEACHER_PYTHON"] = teacher
    return subprocess.run(signseg_command(*args), capture_output=True, text=True, env=e, cwd=REPO, timeout=600)


def test_cached_landmarks_need_no_teacher(tmp_path, soup):
    """Everything cached: labels are built without finding, or making, a teacher."""
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "SOUP.npz").write_bytes(LANDMARKS.read_bytes())
    r = _cli("label", soup, "-o", tmp_path / "l.h5", "--landmarks", tmp_path / "lm", "--every", "8", "-q",
             cache=tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "cache" / "teacher-venv").exists()
    with h5py.File(tmp_path / "l.h5", "r") as f:
        assert f["videos/SOUP"].attrs["complete"]


def test_cached_only_names_the_video_without_landmarks(tmp_path, soup):
    r = _cli("label", soup, "-o", tmp_path / "l.h5", "--cached-only", "-q", cache=tmp_path / "cache")
    assert r.returncode == 1
    assert "SOUP.mp4" in r.stderr and "--cached-only" in r.stderr
    assert not (tmp_path / "cache" / "teacher-venv").exists()


def test_a_venv_that_cannot_be_made_is_one_clear_error(tmp_path):
    with pytest.raises(SignsegError, match="python -m venv failed") as err:
        env.setup_teacher(tmp_path / "venv", python=str(tmp_path / "no-such-python"), quiet=True)
    assert "venv" in str(err.value) and "\n" not in str(err.value)


def test_find_prefers_explicit_then_environment_then_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path))
    monkeypatch.delenv("SIGNSEG_TEACHER_PYTHON", raising=False)
    assert env.find_teacher() is None  # nothing made yet
    monkeypatch.setenv("SIGNSEG_TEACHER_PYTHON", "/opt/teacher/bin/python")
    assert env.find_teacher() == "/opt/teacher/bin/python"
    assert env.find_teacher("/mine/python") == "/mine/python"


def test_setup_makes_a_working_teacher_once_and_label_uses_it(tmp_path, soup, teacher_python):
    """The real thing: the venv made from the package index runs Holistic for `signseg label`,
    with no --teacher-python given; a second setup reuses it."""
    cache = tmp_path / "cache"
    if not os.environ.get("SIGNSEG_TEACHER_PYTHON"):  # the fixture made one: it is the cached venv here
        venv = os.path.dirname(os.path.dirname(teacher_python))
        os.makedirs(cache)
        os.symlink(venv, cache / "teacher-venv")
        r = _cli("teacher", "setup", cache=cache)
        assert r.returncode == 0 and r.stdout.strip().endswith("bin/python"), r.stderr
        assert "making" not in r.stderr  # found, not made again
        r = _cli("label", soup, "-o", tmp_path / "l.h5", "--every", "4", "-q", cache=cache)
    else:
        r = _cli("label", soup, "-o", tmp_path / "l.h5", "--every", "4", "-q", cache=cache, teacher=teacher_python)
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "l.h5", "r") as f:
        g = f["videos/SOUP"]
        assert g.attrs["complete"] and g["labels"].shape[0] == 11 and "person" in g
        assert (g["labels"][:] == 1).any()  # the face is there

"""Shared fixtures: real clips from ../shared, damaged copies of them, small real models."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# ONNX exports made by the tests (the default CPU runtime) stay out of the user's ~/.cache;
# subprocesses inherit it, so one export per model serves the whole run
import tempfile  # noqa: E402
os.environ.setdefault("SIGNSEG_CACHE", tempfile.mkdtemp(prefix="signseg-test-cache-"))

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SIGNSEG_SHARED", REPO.parent / "shared")) / "data"
SOUP = SHARED / "videos" / "SOUP.mp4"          # 320x240, 41 frames, 29.97 fps
PORTRAIT = SHARED / "videos" / "test_video.mp4"  # 540x720, 58 frames
HD = SHARED / "videos" / "video.mp4"            # 1280x720, 9 frames
SIGN = SHARED / "signs" / "tid-asl_hocam.mp4"    # 512x288


def signseg_command(*args) -> list[str]:
    """The argv that runs the signseg CLI in this interpreter."""
    return [sys.executable, "-m", "signseg", *map(str, args)]


def run(*args, env_weights=None, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    """Run the CLI as a user does, in a subprocess; capture its output."""
    env = dict(os.environ)
    if env_weights:
        env["SIGNSEG_WEIGHTS_DIR"] = str(env_weights)
    return subprocess.run(signseg_command(*args), capture_output=True, text=True, env=env, cwd=cwd or REPO,
                          timeout=timeout)


def make_autsl(root, clips):
    """An AUTSL-style corpus: train/signerK_sampleM_{color,depth}.mp4, labels CSV, class list."""
    train = root / "train"
    train.mkdir(parents=True)
    rows = []
    for i, clip in enumerate(clips):
        vid = f"signer{i % 2}_sample{i + 1}"
        shutil.copy(clip, train / f"{vid}_color.mp4")
        shutil.copy(clip, train / f"{vid}_depth.mp4")  # not RGB: must be skipped
        rows.append(f"{vid},{i * 10}")
    (root / "train_labels.csv").write_text("\n".join(rows) + "\n")
    (root / "SignList_ClassId_TR_EN.csv").write_text(
        "ClassId,TR,EN\n" + "".join(f"{i * 10},tr{i},sign{i}\n" for i in range(len(clips))))
    return train


def write_video(path, frames, fps=25.0, fourcc="MJPG", color=True):
    """Write RGB (or gray) frames with OpenCV; returns the path."""
    import cv2
    h, w = frames.shape[1:3]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h), isColor=color)
    assert out.isOpened(), f"OpenCV cannot write {fourcc} to {path}"
    for f in frames:
        out.write(f if not color else cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    out.release()
    return path


def pytest_configure(config):
    if not SOUP.is_file():
        raise pytest.UsageError(f"test data missing: {SOUP} (the shared/ folder beside the repo)")


@pytest.fixture(scope="session")
def soup() -> Path:
    return SOUP


@pytest.fixture
def damaged(tmp_path) -> dict[str, Path]:
    """Bad inputs made from a real clip: truncated, zero-byte, text named .mp4."""
    data = SOUP.read_bytes()
    out = {}
    out["truncated"] = tmp_path / "truncated.mp4"
    out["truncated"].write_bytes(data[: len(data) // 3])
    out["empty"] = tmp_path / "empty.mp4"
    out["empty"].write_bytes(b"")
    out["text"] = tmp_path / "text.mp4"
    out["text"].write_text("this is not a video\n")
    return out


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory) -> Path:
    """A small real SNet (width 0.125, 64x64) saved as .weights.h5 with its model card."""
    import keras
    from signseg.models import snet
    from signseg.infer.presets import ModelCard, sha256_of

    folder = tmp_path_factory.mktemp("tiny_model")
    keras.utils.set_random_seed(1)
    model = snet(width=0.125)
    weights = folder / "tiny.weights.h5"
    model.save_weights(str(weights))
    ModelCard(name="tiny", architecture="snet", config={"width": 0.125}, input_size=(64, 64), threshold=0.5,
              sha256=sha256_of(weights), weights_file=weights.name).save(folder / "tiny.json")
    return weights


@pytest.fixture
def preset_dir(tmp_path, tiny_model_file, monkeypatch) -> Path:
    """A weights folder holding the tiny model under the registered name 'snet-lite'."""
    shutil.copy(tiny_model_file, tmp_path / "snet-lite.weights.h5")
    card = (tiny_model_file.parent / "tiny.json").read_text().replace('"tiny"', '"snet-lite"')
    (tmp_path / "snet-lite.json").write_text(card)
    monkeypatch.setenv("SIGNSEG_WEIGHTS_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="session")
def teacher_python(tmp_path_factory):
    """The real MediaPipe teacher: $SIGNSEG_TEACHER_PYTHON, else the venv `signseg teacher setup`
    makes (once per test run, from the package index, as a user's first run does)."""
    if os.environ.get("SIGNSEG_TEACHER_PYTHON"):
        return os.environ["SIGNSEG_TEACHER_PYTHON"]
    venv = tmp_path_factory.mktemp("teacher") / "teacher-venv"
    r = subprocess.run(signseg_command("teacher", "setup", "--dir", venv), capture_output=True, text=True,
                       timeout=1200)
    assert r.returncode == 0, r.stderr
    python = r.stdout.strip().splitlines()[-1]
    assert Path(python).exists() and str(venv) in python
    return python


@pytest.fixture(scope="session")
def soup_labels(tmp_path_factory) -> Path:
    """Teacher labels of SOUP (its committed landmarks, every 4th frame, frames at 160 px): a
    tiny real training set."""
    from signseg.teacher.labelset import label_videos
    folder = tmp_path_factory.mktemp("labels")
    (folder / "SOUP.npz").write_bytes((Path(__file__).parent / "data" / "SOUP.landmarks.npz").read_bytes())
    out = folder / "soup_labels.h5"
    assert not label_videos([SOUP], out, teacher_python=None, landmarks_dir=folder, max_side=160, every=4,
                            progress=False)
    return out


@pytest.fixture(scope="module")
def touching_labels(tmp_path_factory):
    """Teacher labels of a real clip (a validation signer, hands touching), from committed landmarks."""
    from signseg.teacher.labelset import label_videos
    out = tmp_path_factory.mktemp("refiner") / "touching.h5"
    assert not label_videos([SHARED / "signs3" / "ryanestanton__thanks.mp4"], out, teacher_python=None,
                            landmarks_dir=Path(__file__).parent / "data" / "touching", progress=False)
    return out

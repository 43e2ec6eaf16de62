"""signseg adapt on a small corpus of real clips, with the real MediaPipe teacher."""
import os
import subprocess

import h5py
import pytest

from conftest import HD, REPO, SHARED, SIGN, SOUP, make_autsl, signseg_command
from signseg.adapt import adapt, pick_holdout
from signseg.corpus import VideoJob, scan
from signseg.errors import SignsegError
from signseg.segmenter import Segmenter

CLIPS = [SOUP, SIGN, SHARED / "signs" / "tid-asl_polis.mp4", HD]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_autsl(tmp_path_factory.mktemp("corpus"), CLIPS)


def test_holdout_is_stable_and_spreads_over_signers(tmp_path):
    jobs = [VideoJob(f"signer{i % 3}_sample{i}", tmp_path / f"{i}.mp4", signer=i % 3) for i in range(12)]
    picked = pick_holdout(jobs, 3)
    assert picked == pick_holdout(list(reversed(jobs)), 3)  # order of discovery does not matter
    assert len({j.signer for j in jobs if j.video_id in picked}) == 3


def test_adapt_labels_fine_tunes_and_measures_then_resumes(tmp_path, corpus, teacher_python):
    jobs = scan(corpus).jobs
    assert len(jobs) == 4  # the depth videos are not RGB: skipped
    out = tmp_path / "model"
    r = adapt(jobs, out, frames=60, minutes=5, teacher_python=teacher_python, epochs=2, steps_per_epoch=3,
              progress=False)
    assert r.weights == out / "model.weights.h5" and r.weights.is_file() and (out / "model.json").is_file()
    assert len(r.holdout_videos) == 1 and len(r.train_videos) == 3 and r.labelled_frames >= 20
    assert 0.0 <= r.iou_before <= 1.0 and 0.0 <= r.iou_after <= 1.0
    seg = Segmenter.from_file(r.weights)
    assert seg.name == "model" and seg.input_size == (224, 224)
    with h5py.File(out / "labels.h5", "r") as f:
        assert sorted(f["videos"]) == sorted(j.video_id for j in jobs)
        held = f[f"videos/{r.holdout_videos[0]}"]
        n_train = sum(len(f[f"videos/{v}/flags"]) for v in r.train_videos)
        assert 45 <= n_train <= 75  # about --frames, spread over the training videos
        assert "person" in held  # the teacher's segmentation came along
    stamps = {p: p.stat().st_mtime for p in (out / "labels.h5.landmarks").glob("*.npz")}
    again = adapt(jobs, out, frames=60, minutes=5, teacher_python="/no/teacher/needed", epochs=1, steps_per_epoch=1,
                  progress=False)  # everything labelled before: the teacher is not run again
    assert again.holdout_videos == r.holdout_videos
    assert stamps == {p: p.stat().st_mtime for p in (out / "labels.h5.landmarks").glob("*.npz")}


def test_too_few_usable_frames_is_a_clear_error(tmp_path, corpus, teacher_python):
    with pytest.raises(SignsegError, match="only .* training frames"):
        adapt(scan(corpus).jobs, tmp_path / "m", frames=3, teacher_python=teacher_python, progress=False)
    with pytest.raises(SignsegError, match="at least 2 videos"):
        adapt(scan(corpus).jobs[:1], tmp_path / "m1", teacher_python=teacher_python, progress=False)


def test_adapt_cli_then_segment_with_the_adapted_weights(tmp_path, corpus, teacher_python):
    env = dict(os.environ, SIGNSEG_TEACHER_PYTHON=teacher_python)
    r = subprocess.run(signseg_command("adapt", corpus, "-o", tmp_path / "m", "--frames", "40", "--minutes", "0.01",
                                       "-q"), capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert r.returncode == 0, r.stderr
    assert "held-out IoU" in r.stderr and "--weights" in r.stderr
    seg = subprocess.run(signseg_command("segment", SOUP, "-o", tmp_path / "s.h5", "--weights",
                                         tmp_path / "m" / "model.weights.h5", "-q"),
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert seg.returncode == 0, seg.stderr
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert f["videos/SOUP/masks"].shape == (41, 240, 320)
    empty = tmp_path / "empty"
    empty.mkdir()
    r = subprocess.run(signseg_command("adapt", empty, "-o", tmp_path / "m2", "-q"), capture_output=True, text=True,
                       env=env, cwd=REPO, timeout=300)
    assert r.returncode == 2 and "empty" in r.stderr


def test_corpus_adapt_segments_with_the_adapted_model_and_says_so(tmp_path, corpus, teacher_python):
    env = dict(os.environ, SIGNSEG_TEACHER_PYTHON=teacher_python)
    out = tmp_path / "out.h5"
    args = ("corpus", corpus, "-o", out, "--adapt", "40", "--adapt-minutes", "0.01", "-q")
    r = subprocess.run(signseg_command(*args), capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert r.returncode == 0, r.stderr
    import json
    report = json.loads((tmp_path / "out.adapt" / "adapt.json").read_text())
    with h5py.File(out, "r") as f:
        assert f.attrs["adapted_from"] == "snet-lite" and f.attrs["adapted_on_frames"] == report["frames"]
        assert list(f.attrs["adapted_heldout_iou"]) == [report["iou_before"], report["iou_after"]]
        assert sorted(f["videos"]) == sorted(j.video_id for j in scan(corpus).jobs)
        for g in f["videos"].values():  # every video's masks came from the adapted weights
            assert g.attrs["model"] == "model" and g.attrs["weights_sha256"] == report["weights_sha256"]
    # run again: the adapted model (OUT.adapt/) is reused, not trained again
    r = subprocess.run(signseg_command(*args, "--overwrite"), capture_output=True, text=True, env=env, cwd=REPO,
                       timeout=900)
    assert r.returncode == 0 and "reusing the model adapted before" in r.stderr

"""Corpus runs: AUTSL layout and labels, the index, parallel backends, kill -9 and resume."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import HD, PORTRAIT, REPO, SHARED, SOUP, make_autsl, run, signseg_command, write_video
from signseg.run.corpus import find_videos, read_class_map, read_labels, scan, signer_of, video_id_for
from signseg.errors import LabelsError
from signseg.run.pipeline import process, shard_dir_for
from signseg.store.mask_file import COMPLETE, MaskFile
from signseg.run.workers import ModelSpec

SIGNS = sorted((SHARED / "signs").glob("*.mp4"))[:6]


def masks_of(path) -> dict[str, np.ndarray]:
    with MaskFile(path) as f:
        return {v: f.masks(v)[()] for v in f.video_ids()}


# ------------------------------------------------------------------ discovery and labels
def test_autsl_names_ids_signers_and_depth_skipped(tmp_path):
    train = make_autsl(tmp_path, [SOUP, HD])
    assert [p.name for p in find_videos(train)] == ["signer0_sample1_color.mp4", "signer1_sample2_color.mp4"]
    assert video_id_for(train / "signer0_sample1_color.mp4", train) == "signer0_sample1"
    assert signer_of("signer12_sample3") == 12 and signer_of("SOUP") is None
    corpus = scan(train, labels=tmp_path / "train_labels.csv", class_map=tmp_path / "SignList_ClassId_TR_EN.csv")
    assert [(j.video_id, j.label, j.label_name, j.signer) for j in corpus.jobs] == [
        ("signer0_sample1", 0, "sign0", 0), ("signer1_sample2", 10, "sign1", 1)]


def test_any_tree_ids_from_relative_paths_and_pattern(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(SOUP, tmp_path / "a" / "b" / "clip.mp4")
    shutil.copy(SOUP, tmp_path / "top.avi")
    (tmp_path / "notes.txt").write_text("not a video")
    (tmp_path / ".hidden.mp4").write_bytes(b"")
    ids = [j.video_id for j in scan(tmp_path).jobs]
    assert ids == ["a__b__clip", "top"]
    assert [j.video_id for j in scan(tmp_path, pattern="**/*.mp4").jobs] == ["a__b__clip"]
    with pytest.raises(FileNotFoundError, match="no videos found matching"):
        scan(tmp_path, pattern="*.webm")


def test_labels_csv_header_bom_crlf_and_errors(tmp_path):
    f = tmp_path / "labels.csv"
    f.write_bytes("\ufeffvideo,label\r\nsigner0_sample1,41\r\n\r\nsigner0_sample2_color, 7\r\n"
                  "signer0_sample1,41\r\n".encode())
    assert read_labels(f) == {"signer0_sample1": 41, "signer0_sample2": 7}
    f.write_text("a,1\nb,two\n")
    with pytest.raises(LabelsError, match=re.escape(f"{f}: line 2: label 'two' of 'b' is not an integer")):
        read_labels(f)
    f.write_text("a,1\nb,2\na,3\n")
    with pytest.raises(LabelsError, match="line 3: 'a' has label 3 here but 1 on line 1"):
        read_labels(f)
    f.write_text("a,1\nb\n")
    with pytest.raises(LabelsError, match="line 2: expected 'video_id,label'"):
        read_labels(f)
    with pytest.raises(LabelsError, match="does not exist"):
        read_labels(tmp_path / "missing.csv")
    m = tmp_path / "classes.csv"
    m.write_text("ClassId,TR,EN\n0,abla,sister\n1,acele,hurry\n")
    assert read_class_map(m) == {0: "sister", 1: "hurry"}


def test_unlabelled_videos_and_unknown_ids_are_reported(tmp_path):
    train = make_autsl(tmp_path, [SOUP, HD])
    (tmp_path / "partial.csv").write_text("signer0_sample1,5\nsigner9_sample9,1\n")
    corpus = scan(train, labels=tmp_path / "partial.csv")
    assert corpus.unlabelled == ["signer1_sample2"] and corpus.unknown_labels == ["signer9_sample9"]
    assert "1 without a label" in corpus.describe() and "1 labelled id(s) with no video" in corpus.describe()


# ------------------------------------------------------------------ runs
def test_corpus_cli_writes_every_video_with_label_and_index(tmp_path, tiny_model_file):
    train = make_autsl(tmp_path, [SOUP, HD, SIGNS[0]])
    out = tmp_path / "out.h5"
    args = ("corpus", train, "-o", out, "--labels", tmp_path / "train_labels.csv", "--class-map",
            tmp_path / "SignList_ClassId_TR_EN.csv", "--weights", tiny_model_file)
    r = run(*args, "--n-jobs", "2")
    assert r.returncode == 0, r.stderr
    assert "3 video(s) segmented" in r.stderr and "3/3" in r.stderr  # the progress bar counts videos
    with MaskFile(out) as f:
        assert f.video_ids() == ["signer0_sample1", "signer0_sample3", "signer1_sample2"]
        a = f.attrs("signer1_sample2")
        assert (a["label"], a["label_name"], a["signer"], a["n_frames"]) == (10, "sign1", 1, 9)
        assert f.masks("signer1_sample2").shape == (9, 720, 1280)
        index = {row["video_id"]: row for row in f.index()}
        assert sorted(index) == f.video_ids()
        assert all(r["status"] == COMPLETE and r["n_frames"] == f.attrs(v)["n_frames"] and r["label"] ==
                   f.attrs(v)["label"] and r["signer"] == f.attrs(v)["signer"] for v, r in index.items())
    assert not shard_dir_for(out).exists()  # shards are adopted and removed
    r = run(*args)
    assert r.returncode == 2 and "output exists" in r.stderr
    r = run(*args, "--resume")
    assert r.returncode == 0 and "3 already complete (skipped)" in r.stderr


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory, tiny_model_file):
    """Four real clips in AUTSL layout; masks of clean runs in-process and on 2 loky workers.

    Worker processes run TensorFlow with cores / n_jobs threads (here 1), the in-process run
    with all cores: float sums in another order can flip a pixel that sits at the threshold,
    so each run is compared with the clean run of the same thread layout.
    """
    root = tmp_path_factory.mktemp("corpus")
    train = make_autsl(root, [SOUP, HD, *SIGNS[:2]])
    jobs = scan(train, labels=root / "train_labels.csv").jobs
    spec = ModelSpec(weights=str(tiny_model_file))
    process(jobs, root / "clean.h5", spec, progress=False)
    process(jobs, root / "clean2.h5", spec, n_jobs=2, progress=False)
    clean = {"1": masks_of(root / "clean.h5"), "2": masks_of(root / "clean2.h5")}
    for vid, masks in clean["1"].items():  # the two layouts agree but for pixels at the threshold
        assert (masks == clean["2"][vid]).mean() > 0.9999
    return jobs, spec, clean


@pytest.mark.parametrize("backend", ["threading", "dask", "ray"])
def test_backends_give_the_same_masks(backend, small_corpus, tmp_path):
    if backend in ("dask", "ray"):
        pytest.importorskip("distributed" if backend == "dask" else "ray")
    jobs, spec, clean = small_corpus
    clean = clean["1" if backend == "threading" else "2"]  # threads share this process's TensorFlow
    summary = process(jobs, tmp_path / "out.h5", spec, n_jobs=2, backend=backend, progress=False)
    assert not summary.failed and sorted(summary.done) == sorted(clean)
    got = masks_of(tmp_path / "out.h5")
    assert got.keys() == clean.keys()
    for vid in clean:
        np.testing.assert_array_equal(got[vid], clean[vid], err_msg=f"{backend}: {vid}")
    with MaskFile(tmp_path / "out.h5") as f:
        assert {r["video_id"]: r["label"] for r in f.index()} == {j.video_id: j.label for j in jobs}


def _run_until(args, done: int, sig: int):
    """Start the CLI, wait until its progress bar shows ``done`` videos, send ``sig``."""
    # Ctrl-C's default action for the child, even where this run inherited SIGINT ignored (a
    # background job of a non-interactive shell): Python keeps an ignored SIGINT ignored.
    p = subprocess.Popen(signseg_command(*args), stderr=subprocess.PIPE, cwd=REPO, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = b""
    while not re.search(rb"\b(%d|[%d-9])/\d+ \[" % (done, done), seen):
        chunk = os.read(p.stderr.fileno(), 4096)
        assert chunk, f"run ended before {done} videos were done: {seen.decode(errors='replace')[-2000:]}"
        seen += chunk
    os.kill(p.pid, sig)  # the driver only, as `kill` does: its workers are orphaned
    p.wait(timeout=120)
    os.set_blocking(p.stderr.fileno(), False)
    seen += p.stderr.read() or b""
    p.stderr.close()
    return p, seen.decode(errors="replace")


def _kill_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.mark.parametrize("n_jobs", ["1", "2"])
def test_kill_9_mid_run_then_resume_equals_a_clean_run(n_jobs, small_corpus, tmp_path, tiny_model_file, request):
    """The killed run's orphaned workers (n_jobs=2) are left running while the run resumes."""
    jobs, _, clean = small_corpus
    clean = clean[n_jobs]
    train = jobs[0].path.parent
    out = tmp_path / "out.h5"
    args = ["corpus", train, "-o", out, "--labels", train.parent / "train_labels.csv", "--weights",
            tiny_model_file, "--n-jobs", n_jobs]
    killed, _ = _run_until(args, 1, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    request.addfinalizer(lambda: _kill_group(killed))
    with MaskFile(out) as f:  # the killed run's file opens; what it calls complete is whole
        partial = f.video_ids()
        assert 1 <= len(partial) <= len(clean)
        for vid in partial:
            np.testing.assert_array_equal(f.masks(vid)[()], clean[vid])
    r = run(*args, "--resume", "-q")
    assert r.returncode == 0, r.stderr
    assert f"{len(partial)} already complete (skipped)" in r.stderr
    got = masks_of(out)
    assert got.keys() == clean.keys()
    for vid in clean:
        np.testing.assert_array_equal(got[vid], clean[vid])
    with MaskFile(out) as f:
        assert len(f.index()) == len(clean) and (f.index()["status"] == COMPLETE).all()
    assert not shard_dir_for(out).exists()


def test_sigint_stops_cleanly_and_keeps_complete_videos(tmp_path, tiny_model_file):
    """SIGINT while a long video streams through the lanes: the finished one is kept."""
    from signseg.decode.video import read_video
    frames = read_video(SOUP)
    long_clip = write_video(tmp_path / "long.mp4", np.concatenate([frames, frames[::-1]] * 15), fps=30.0,
                            fourcc="mp4v")  # SOUP played back and forth, 1230 frames: seconds of work
    train = make_autsl(tmp_path / "corpus", [SOUP, long_clip])
    out = tmp_path / "out.h5"
    p, err = _run_until(["corpus", train, "-o", out, "--weights", tiny_model_file], 1, signal.SIGINT)
    assert p.returncode == 130 and "interrupted" in err and "--resume" in err, err[-2000:]
    with MaskFile(out) as f:
        assert f.video_ids() == ["signer0_sample1"]  # SOUP, whole; the long one not claimed
        assert f.index()[f.index()["video_id"] == "signer0_sample1"]["status"][0] == COMPLETE


def test_driver_inference_batches_across_videos(small_corpus, tmp_path, damaged):
    """The GPU path's setting, run on the CPU: decode threads feed one model whose fixed-size
    batches mix videos; damaged videos fail alone; its masks are one video at a time's."""
    from signseg.infer.fixed_shape import FixedShapeNetwork
    from signseg.infer.segmenter import Segmenter
    jobs, _, _ = small_corpus
    seg = Segmenter.from_pretrained("snet-lite", batch_size=16)
    process(jobs, tmp_path / "clean.h5", seg, progress=False)  # one video at a time, float probabilities
    clean = masks_of(tmp_path / "clean.h5")
    calls = []
    network = FixedShapeNetwork.of(seg)
    call = network._call
    network._call = lambda x, filled: calls.append(filled) or call(x, filled)
    bad = [type(jobs[0])("truncated", damaged["truncated"]), type(jobs[0])("text", damaged["text"])]
    summary = process(jobs + bad, tmp_path / "out.h5", seg, n_jobs=2, infer="driver", progress=False)
    assert sorted(summary.failed) == ["text", "truncated"] and len(summary.done) == len(clean)
    got = masks_of(tmp_path / "out.h5")
    for vid in clean:
        a, b = got[vid] > 0, clean[vid] > 0
        assert got[vid].shape == clean[vid].shape and (a == b).mean() > 0.9999
        assert (a & b).sum() / max(1, (a | b).sum()) > 0.99
    # full batches whatever the video: all but the last call carry batch_size frames
    assert all(n == 16 for n in calls[:-1]) and sum(calls) == sum(len(m) for m in clean.values())
    assert FixedShapeNetwork.of(seg).compiles == 1
    with MaskFile(tmp_path / "out.h5") as f:
        assert sorted(f.failures()) == ["text", "truncated"]
    assert not shard_dir_for(tmp_path / "out.h5").exists()


def test_every_path_is_the_one_flow_and_gives_the_masks_of_predict(small_corpus, tmp_path):
    """In this process, as the GPU driver (decode threads, batches spanning videos) and on
    parallel workers, a run is the one flow of signseg.run.flow: each video's masks are, bit for
    bit, what ``Segmenter.predict`` gives on its frames (with the worker's thread count)."""
    from signseg.decode.video import read_video
    from signseg.infer.segmenter import Segmenter
    jobs, _, _ = small_corpus
    seg = Segmenter.from_pretrained("snet-lite")
    frames = {j.video_id: read_video(j.path) for j in jobs}
    from signseg.run.workers import threads_per_worker
    per_worker = ModelSpec("snet-lite", threads=threads_per_worker("loky", 2)).load()  # what each worker runs
    runs = {"in-process": (seg, {}), "driver": (seg, {"n_jobs": 2, "infer": "driver"}),
            "workers": (ModelSpec("snet-lite"), {"n_jobs": 2, "infer": "workers"})}
    for name, (model, kw) in runs.items():
        summary = process(jobs, tmp_path / f"{name}.h5", model, progress=False, **kw)
        assert len(summary.done) == len(jobs), name
        reference = per_worker if name == "workers" else seg
        for vid, masks in masks_of(tmp_path / f"{name}.h5").items():
            np.testing.assert_array_equal(masks, reference.predict(frames[vid]), err_msg=f"{name}: {vid}")


def test_driver_compiles_once_for_videos_of_any_length_and_size(tmp_path):
    """Under JAX (the GPU machine's backend), run here on the CPU: a corpus of clips of five
    frame sizes and many lengths, twice, costs one compile of the network."""
    pytest.importorskip("jax")
    clips = [SOUP, HD, PORTRAIT, *SIGNS[:3]] + sorted((SHARED / "signs2").glob("*.mp4"))[:4]
    script = f"""
import sys
from signseg.run.jobs import VideoJob
from signseg.infer.fixed_shape import FixedShapeNetwork
from signseg.run.pipeline import process
from signseg.infer.segmenter import Segmenter
from signseg.decode.video import VideoReader
clips = {[str(c) for c in clips]!r}
assert len({{VideoReader(c).info.height * 10000 + VideoReader(c).info.width for c in clips}}) >= 5
seg = Segmenter.from_pretrained("snet-lite", batch_size=32, runtime="keras")
for run in range(2):
    jobs = [VideoJob(f"v{{i}}", c) for i, c in enumerate(clips)]
    s = process(jobs, sys.argv[1] + f"/out{{run}}.h5", seg, n_jobs=2, infer="driver", stride=run + 1,
                progress=False)
    assert not s.failed, s.failed
net = FixedShapeNetwork.of(seg)
print("compiled", net.compiled, "compiles", net.compiles)
import numpy as np
from signseg.store.mask_file import MaskFile
process(jobs[:3], sys.argv[1] + "/per_video.h5", seg, infer="workers", stride=2, progress=False)
with MaskFile(sys.argv[1] + "/per_video.h5") as a, MaskFile(sys.argv[1] + "/out1.h5") as b:
    for v in a.video_ids():
        x, y = a.masks(v)[()] > 0, b.masks(v)[()] > 0
        print("iou", v, (x & y).sum() / max(1, (x | y).sum()))
process(jobs[:2], sys.argv[1] + "/parts.h5", seg, infer="driver", parts=True, progress=False)
"""
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env,
                       timeout=600, cwd=REPO)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "compiled True compiles 1" in r.stdout, r.stdout + r.stderr[-2000:]
    ious = [float(line.split()[-1]) for line in r.stdout.splitlines() if line.startswith("iou")]
    assert len(ious) == 3 and min(ious) > 0.99, r.stdout  # the same masks as one video at a time
    # parts from the network's channels (uint8 from the graph) as the host path splits them
    from signseg.run.jobs import VideoJob
    from signseg.infer.segmenter import Segmenter
    host = tmp_path / "host_parts.h5"
    process([VideoJob(f"v{i}", c) for i, c in enumerate(clips[:2])], host, Segmenter.from_pretrained("snet-lite"),
            parts=True, progress=False)
    with MaskFile(tmp_path / "parts.h5") as a, MaskFile(host) as b:
        for v in ("v0", "v1"):
            assert a.attrs(v)["parts_from"] == b.attrs(v)["parts_from"] == \
                "network face, hands by side of the face, hands refined on crops"
            x, y = a.masks(v)[()], b.masks(v)[()]
            for part in (1, 2, 3):
                inter, union = ((x == part) & (y == part)).sum(), ((x == part) | (y == part)).sum()
                assert union == 0 or inter / union > 0.9, (v, part, inter / union)

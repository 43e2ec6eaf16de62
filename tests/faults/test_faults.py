"""Fault suite: bad inputs, bad labels, a hostile environment, bad API calls.

Each case states what must happen. Real files, real processes, real signals: videos are made
with OpenCV from a real clip; limits are real rlimits. Common to all: the error names the file
and the problem in one line, other videos go on, what was written stays readable.
"""
from __future__ import annotations

import re
import resource
import shutil
import subprocess

import cv2
import h5py
import numpy as np
import pytest

from conftest import REPO, SOUP, run, signseg_command, write_video
from signseg.store.mask_file import COMPLETE, FAILED, MaskFile
from signseg.decode.video import VideoReader, read_video


@pytest.fixture(scope="module")
def soup_frames():
    return read_video(SOUP)


def encode_h264(path, frames, pts_ms=None):
    """Encode RGB frames as H.264 with PyAV (odd sizes need 4:4:4); ``pts_ms`` for variable rate."""
    av = pytest.importorskip("av")
    from fractions import Fraction
    h, w = frames.shape[1:3]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"bf": "0"})
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv444p" if h % 2 or w % 2 else "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts, frame.time_base = (pts_ms[i] if pts_ms else i * 40), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def corpus_run(folder, out, model, *extra):
    return run("corpus", folder, "-o", out, "--weights", model, "-q", *extra)


# ------------------------------------------------------------------ the done-when case
def test_two_good_clips_and_three_bad_ones(tmp_path, tiny_model_file, damaged):
    """Good videos complete; truncated, zero-byte and text .mp4 are listed under /failures with
    an error each; the exit status is 1 and the summary counts the failures."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SOUP, corpus / "good_a.mp4")
    shutil.copy(SOUP, corpus / "good_b.mp4")
    for name, path in damaged.items():
        shutil.copy(path, corpus / f"{name}.mp4")
    r = corpus_run(corpus, tmp_path / "out.h5", tiny_model_file, "--n-jobs", "2")
    assert r.returncode == 1, r.stderr
    assert "2 video(s) segmented" in r.stderr and "3 FAILED" in r.stderr
    with MaskFile(tmp_path / "out.h5") as f:
        assert f.video_ids() == ["good_a", "good_b"]
        failures = f.failures()
        assert sorted(failures) == ["empty", "text", "truncated"]
        for vid, error in failures.items():
            assert error.startswith(str(corpus / f"{vid}.mp4") + ": ") and "\n" not in error
        assert "empty (0 bytes)" in failures["empty"]
        status = {r["video_id"]: r["status"] for r in f.index()}
        assert status == {"good_a": COMPLETE, "good_b": COMPLETE, "empty": FAILED, "text": FAILED,
                          "truncated": FAILED}
    for vid in ("empty", "text", "truncated"):
        assert f"signseg: failed: {corpus / vid}.mp4: " in r.stderr


# ------------------------------------------------------------------ inputs
@pytest.mark.parametrize("case, size", [("odd width and height", (241, 321)), ("tiny", (12, 16)),
                                        ("portrait", (320, 180)), ("4K", (2160, 3840))])
def test_odd_sizes_give_masks_at_source_size(case, size, tmp_path, tiny_model_file, soup_frames):
    h, w = size
    frames = np.stack([cv2.resize(f, (w, h)) for f in soup_frames[:3]])
    clip = encode_h264(tmp_path / "clip.mp4", frames)
    out = tmp_path / "out.h5"
    r = run("segment", clip, "-o", out, "--weights", tiny_model_file, "-q")
    assert r.returncode == 0, r.stderr
    with MaskFile(out) as f:
        assert f.masks("clip").shape == (3, h, w)


def test_grayscale_video_is_read_as_rgb(tmp_path, tiny_model_file, soup_frames):
    gray = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in soup_frames[:4]])
    clip = write_video(tmp_path / "gray.avi", gray, color=False)
    frames = read_video(clip)
    assert frames.shape == (4, 240, 320, 3)
    assert np.abs(frames[..., 0].astype(int) - frames[..., 1]).max() <= 2  # still gray
    r = run("segment", clip, "-o", tmp_path / "out.h5", "--weights", tiny_model_file, "-q")
    assert r.returncode == 0, r.stderr


def test_container_claiming_more_frames_than_decode(tmp_path, tiny_model_file, soup_frames):
    """A truncated AVI still says 41 frames; what decodes is stored and n_frames says so,
    with the claim kept in claimed_frames."""
    clip = write_video(tmp_path / "cut.avi", soup_frames)
    data = clip.read_bytes()
    clip.write_bytes(data[: int(len(data) * 0.6)])
    reader = VideoReader(clip)
    decoded = len(list(reader))
    assert reader.info.claimed_frames == 41 and 0 < decoded < 41
    out = tmp_path / "out.h5"
    r = run("segment", clip, "-o", out, "--weights", tiny_model_file, "-q")
    assert r.returncode == 0, r.stderr
    with MaskFile(out) as f:
        a = f.attrs("cut")
        assert a["n_frames"] == decoded == f.masks("cut").shape[0] and a["claimed_frames"] == 41


def test_variable_frame_rate_keeps_every_frame(tmp_path, tiny_model_file, soup_frames):
    """Frames at irregular times: each decoded frame gets one mask, none dropped or repeated;
    fps is the container's average rate."""
    clip = encode_h264(tmp_path / "vfr.mp4", soup_frames[:6], pts_ms=[0, 40, 50, 200, 210, 500])
    out = tmp_path / "out.h5"
    r = run("segment", clip, "-o", out, "--weights", tiny_model_file, "-q")
    assert r.returncode == 0, r.stderr
    with MaskFile(out) as f:
        assert f.masks("vfr").shape == (6, 240, 320) and 0 < f.attrs("vfr")["fps"] < 25


def test_video_that_decodes_no_frames(tmp_path, tiny_model_file):
    """A valid container with no frames in it fails at open, naming the file."""
    clip = tmp_path / "noframes.avi"
    out = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    out.release()
    assert clip.stat().st_size > 0
    r = run("segment", clip, "-o", tmp_path / "out.h5", "--weights", tiny_model_file, "-q")
    assert r.returncode == 1
    assert f"signseg: failed: {clip}: " in r.stderr


def test_unicode_and_spaces_in_paths(tmp_path, tiny_model_file):
    folder = tmp_path / "my corpus — çğış"
    folder.mkdir()
    shutil.copy(SOUP, folder / "işaret dili 1.mp4")
    out = folder / "maskeler ü.h5"
    r = corpus_run(folder, out, tiny_model_file)
    assert r.returncode == 0, r.stderr
    with MaskFile(out) as f:
        assert f.video_ids() == ["işaret dili 1"]
        assert f.attrs("işaret dili 1")["source"] == str(folder / "işaret dili 1.mp4")


# ------------------------------------------------------------------ labels
@pytest.fixture
def two_clips(tmp_path):
    corpus = tmp_path / "train"
    corpus.mkdir()
    for vid in ("signer0_sample1", "signer1_sample2"):
        shutil.copy(SOUP, corpus / f"{vid}_color.mp4")
    return corpus


@pytest.mark.parametrize("content, problem", [
    (b"signer0_sample1,3\nsigner1_sample2,x\n", "line 2: label 'x' of 'signer1_sample2' is not an integer"),
    (b"signer0_sample1,3\nsigner0_sample1,4\n", "line 2: 'signer0_sample1' has label 4 here but 3 on line 1"),
    (b"\xff\xfe\x00bad", "not UTF-8 text (invalid start byte at byte 0)"),
])
def test_bad_labels_csv_stops_before_any_work(content, problem, two_clips, tmp_path, tiny_model_file):
    labels = tmp_path / "labels.csv"
    labels.write_bytes(content)
    r = corpus_run(two_clips, tmp_path / "out.h5", tiny_model_file, "--labels", labels)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == f"signseg: error: {labels}: {problem}"
    assert not (tmp_path / "out.h5").exists()


def test_labels_with_bom_crlf_missing_rows_and_unknown_ids(two_clips, tmp_path, tiny_model_file):
    """BOM and Windows line ends are read; a video without a row gets no label (index -1);
    both mismatches are reported and the run goes on."""
    labels = tmp_path / "labels.csv"
    labels.write_bytes(b"\xef\xbb\xbfsigner0_sample1,3\r\nsigner0_sample1,3\r\nsigner7_sample9,1\r\n")
    out = tmp_path / "out.h5"
    r = corpus_run(two_clips, out, tiny_model_file, "--labels", labels)
    assert r.returncode == 0, r.stderr
    assert "1 without a label (e.g. signer1_sample2)" in r.stderr
    assert "1 labelled id(s) with no video (e.g. signer7_sample9)" in r.stderr
    with MaskFile(out) as f:
        assert f.attrs("signer0_sample1")["label"] == 3 and "label" not in f.attrs("signer1_sample2")
        assert {r["video_id"]: r["label"] for r in f.index()} == {"signer0_sample1": 3, "signer1_sample2": -1}


# ------------------------------------------------------------------ environment
def test_unwritable_output_location(two_clips, tiny_model_file):
    out = "/proc/self/masks.h5"  # a folder no user may create files in, root included
    r = corpus_run(two_clips, out, tiny_model_file)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith(f"signseg: error: {out}: ")


def _limit_file_size(limit):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.parametrize("infer", [(), ("--infer", "driver", "--n-jobs", "2")], ids=["in-process", "driver"])
def test_disk_full_mid_run_stops_keeps_what_was_written_and_resumes(infer, tmp_path, tiny_model_file):
    """A file size limit (RLIMIT_FSIZE) stands in for a full disk: the run stops (exit 2) with
    one line naming the output before any write can fail, complete videos stay readable, and
    --resume with room finishes. On the driver path the error comes from its writer thread."""
    corpus = tmp_path / "train"
    corpus.mkdir()
    for i in range(10):
        shutil.copy(SOUP, corpus / f"clip{i}.mp4")
    out = tmp_path / "out.h5"
    args = ["corpus", corpus, "-o", out, "--weights", tiny_model_file, "-q", *infer]
    r = subprocess.run(signseg_command(*args), capture_output=True, text=True, cwd=REPO, timeout=300,
                       preexec_fn=_limit_file_size(1_000_000))
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    # the output, or the shard beside it where the next video was being written
    assert re.match(rf"signseg: error: {re.escape(str(out))}(\.shards/\w+/\d+\.h5)?: cannot write", last), last
    assert "disk full" in last and "--resume" in last
    with MaskFile(out) as f:
        kept = f.video_ids()
        assert 1 <= len(kept) < 10
        for vid in kept:
            assert f.masks(vid).shape == (41, 240, 320)
    r = run(*args, "--resume")
    assert r.returncode == 0, r.stderr
    assert f"{len(kept)} already complete (skipped)" in r.stderr
    with MaskFile(out) as f:
        assert f.video_ids() == [f"clip{i}" for i in range(10)] and not f.failures()


def test_two_corpus_runs_on_one_output(two_clips, tmp_path, tiny_model_file):
    """The second run is refused by the HDF5 lock in one line; the first is unharmed."""
    out = tmp_path / "out.h5"
    with MaskFile(out, "a"):
        r = corpus_run(two_clips, out, tiny_model_file, "--resume")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (f"signseg: error: {out}: file is open for writing by another "
                                                 f"process (HDF5 lock)")
    assert corpus_run(two_clips, out, tiny_model_file, "--resume").returncode == 0


@pytest.mark.parametrize("kind", ["newer format", "not HDF5", "foreign HDF5"])
def test_output_files_it_must_not_touch(kind, two_clips, tmp_path, tiny_model_file):
    out = tmp_path / "out.h5"
    if kind == "not HDF5":
        out.write_text("some text")
    else:
        with h5py.File(out, "w") as f:
            if kind == "newer format":
                f.attrs["format_version"] = 99
    before = out.read_bytes()
    r = corpus_run(two_clips, out, tiny_model_file, "--resume")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) <= 3
    expected = {"newer format": "newer than this signseg", "not HDF5": "not an HDF5 file",
                "foreign HDF5": "not written by signseg"}[kind]
    assert expected in r.stderr and str(out) in r.stderr
    assert out.read_bytes() == before  # untouched


# ------------------------------------------------------------------ API
def test_predict_rejects_wrong_dtypes_and_shapes_and_takes_empty_batches(tiny_model_file):
    from signseg.infer.segmenter import Segmenter
    seg = Segmenter.from_file(tiny_model_file)
    for bad, message in [(np.zeros((2, 32, 32, 3), np.float32), "uint8"),
                         (np.zeros((32, 32, 3), np.uint8), "got one frame"),
                         (np.zeros((2, 32, 32), np.uint8), r"\(N, H, W, 3\)"),
                         (np.zeros((2, 32, 32, 4), np.uint8), r"\(N, H, W, 3\)")]:
        with pytest.raises(ValueError, match=message):
            seg.predict(bad)
    assert seg.predict(np.zeros((0, 32, 48, 3), np.uint8)).shape == (0, 32, 48)

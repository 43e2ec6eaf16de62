"""The command line, run as a user runs it: a real subprocess on real clips."""
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from conftest import REPO, run


def test_segment_writes_complete_masks_then_refuses_and_resumes(tmp_path, soup, tiny_model_file, damaged):
    out = tmp_path / "out.h5"
    r = run("segment", soup, "-o", out, "--weights", tiny_model_file, "--batch-size", "16")
    assert r.returncode == 0, r.stderr
    assert "1 video(s) segmented, 41 frames" in r.stderr
    with h5py.File(out, "r") as f:
        g = f["videos/SOUP"]
        assert g["masks"].shape == (41, 240, 320) and g["masks"].dtype == np.uint8
        assert g.attrs["complete"] and g.attrs["n_frames"] == 41 and g.attrs["model"] == "tiny"
        assert g.attrs["source"] == str(soup) and len(g.attrs["weights_sha256"]) == 64
        assert not g.attrs["mirror"]  # the tiny model's card does not ask for the flip

    r = run("segment", soup, "-o", out, "--weights", tiny_model_file)
    assert r.returncode == 2 and "output exists" in r.stderr and str(out) in r.stderr

    # resume: SOUP is skipped, the bad clips fail one by one, each named, the good ones stay
    r = run("segment", soup, damaged["empty"], damaged["text"], "-o", out, "--weights", tiny_model_file,
            "--resume", "-q")
    assert r.returncode == 1
    assert "1 already complete (skipped)" in r.stderr and "2 FAILED" in r.stderr
    assert str(damaged["empty"]) in r.stderr and str(damaged["text"]) in r.stderr
    with h5py.File(out, "r") as f:
        assert sorted(f["failures"]) == ["empty", "text"]
        assert "empty" in f["failures/empty"].attrs["error"]
        assert f["videos/SOUP"].attrs["complete"]


def test_stride_and_overwrite(tmp_path, soup, tiny_model_file):
    out = tmp_path / "out.h5"
    out.write_text("junk from before")
    r = run("segment", soup, "-o", out, "--weights", tiny_model_file, "--stride", "4", "--overwrite", "--mirror",
            "-q")
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        assert f["videos/SOUP/masks"].shape == (11, 240, 320) and f["videos/SOUP"].attrs["mirror"]
        assert f["videos/SOUP"].attrs["fps"] == pytest.approx(29.97 / 4, abs=0.01)


def test_missing_weights_and_bad_arguments_fail_in_one_line(tmp_path, soup):
    r = run("segment", soup, "-o", tmp_path / "o.h5", "--model", "snet", env_weights=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith(f"signseg: error: {tmp_path / 'snet.json'}")
    r = run("segment", soup, "-o", tmp_path / "o.h5", "--threshold", "2")
    assert r.returncode == 2 and "between 0 and 1" in r.stderr
    r = run("segment", soup, soup, "-o", tmp_path / "o.h5", "--model", "snet-lite")
    assert r.returncode == 2 and "same id" in r.stderr


def test_models_lists_the_registry():
    r = run("models")
    assert r.returncode == 0 and "snet-lite" in r.stdout and "snet " in r.stdout
    lite = next(line for line in r.stdout.splitlines() if line.startswith("snet-lite"))
    assert "int8 graph for CPUs" in lite
    # its second networks, and which of them run only where asked
    assert "hand refiner," in lite and "arm network (off unless asked)" in lite


def test_console_script_is_installed():
    exe = shutil.which("signseg", path=str(REPO.parent)) or shutil.which("signseg")
    if exe is None:
        exe = str(__import__("pathlib").Path(sys.executable).with_name("signseg"))
    assert subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.startswith("signseg ")


def test_unwritable_output_folder_is_one_line(tmp_path, soup, tiny_model_file):
    out = tmp_path / "missing_dir" / "o.h5"
    r = run("segment", soup, "-o", out, "--weights", tiny_model_file)
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("signseg: error: ") and str(out) in last and "does not exist" in last


def test_a_second_writer_is_refused_clearly(tmp_path, soup, tiny_model_file):
    """While one process holds the output open for writing, another run says so and stops."""
    out = tmp_path / "busy.h5"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from signseg.store.mask_file import MaskFile\n"
        f"f = MaskFile({str(out)!r}, 'w'); print('open', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "open"
        r = run("segment", soup, "-o", out, "--weights", tiny_model_file, "--resume")
        assert r.returncode == 2
        last = r.stderr.strip().splitlines()[-1]
        assert str(out) in last and "another process" in last
    finally:
        holder.kill()
        holder.wait()
    r = run("segment", soup, "-o", out, "--weights", tiny_model_file, "--resume", "-q")
    assert r.returncode == 0, r.stderr  # the lock dies with its holder; the file is usable

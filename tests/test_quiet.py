"""TensorFlow's C++ start-up lines stay off the terminal; everything else gets through."""
import subprocess
import sys

from conftest import REPO, signseg_command

NOISY_CHILD = r'''
import os, sys, time
from signseg.quiet import filtered_stderr
with filtered_stderr():
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
    os.write(2, b"I0000 00:00:1795854072.408318   13965 port.cc:153] oneDNN custom operations are on.\n")
    os.write(2, b"E0000 00:00:1795854073.520894   13965 cuda_platform.cc:52] failed call to cuInit\n")
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    print("signseg: error: clip.mp4: not a video", file=sys.stderr, flush=True)
    os.write(2, b"\r 50%|#####     | 1/2")  # a progress bar: no newline, must not wait for one
    time.sleep(0.3)
    os.write(2, b"\r100%|##########| 2/2\n")
    os.write(2, b"I0000 is how a line about the letter I could start, but not in that log format\n")
    subprocess_line = b"W0000 00:00:1.0   1 worker.cc:9] from a worker process\n"
    import subprocess
    subprocess.run([sys.executable, "-c", "import os; os.write(2, %r); os.write(2, b'worker says hi\\n')" % subprocess_line])
print("stdout untouched")
'''


def test_filter_drops_absl_lines_and_keeps_the_rest():
    r = subprocess.run([sys.executable, "-c", NOISY_CHILD], capture_output=True, timeout=60, cwd=REPO)
    assert r.returncode == 0, r.stderr
    err = r.stderr.decode()
    assert "absl" not in err and "oneDNN" not in err and "cuInit" not in err and "worker.cc" not in err
    assert "XNNPACK" not in err
    assert "signseg: error: clip.mp4: not a video\n" in err
    assert "\r 50%|#####     | 1/2\r100%|##########| 2/2\n" in err
    assert "I0000 is how a line about the letter I could start" in err  # only absl's format is dropped
    assert "worker says hi\n" in err  # child processes inherit the filter
    assert r.stdout.decode() == "stdout untouched\n"


def test_cli_is_quiet_unless_verbose(tmp_path, soup):
    quiet = subprocess.run(signseg_command("segment", soup, "-o", tmp_path / "a.h5", "-q"), capture_output=True,
                           text=True, timeout=300, cwd=REPO)
    assert quiet.returncode == 0, quiet.stderr
    assert not [ln for ln in quiet.stderr.splitlines() if "absl" in ln or "] " in ln[:60] and ln[:5] in
                ("I0000", "W0000", "E0000")], quiet.stderr
    assert "1 video(s) segmented" in quiet.stderr
    loud = subprocess.run(signseg_command("segment", soup, "-o", tmp_path / "b.h5", "-q", "-v"), capture_output=True,
                          text=True, timeout=300, cwd=REPO)
    assert loud.returncode == 0 and "1 video(s) segmented" in loud.stderr
    missing = subprocess.run(signseg_command("segment", tmp_path / "none.mp4", "-o", tmp_path / "c.h5", "-q"),
                             capture_output=True, text=True, timeout=300, cwd=REPO)
    assert missing.returncode == 1 and "none.mp4: file does not exist" in missing.stderr


QUIET_LIBRARY = r'''
import os, sys, warnings
import numpy as np
import signseg
from signseg.infer.segmenter import Segmenter
Segmenter.from_file(os.path.join(os.path.dirname(signseg.__file__), "weights", "snet-lite.weights.h5"))
seg = signseg.Segmenter.from_pretrained()
seg.predict(np.zeros((2, 120, 160, 3), np.uint8))
warnings.warn("a warning that matters")
print("signseg: said on purpose", file=sys.stderr)
'''


def test_the_library_prints_nothing_of_its_own_from_python(tmp_path):
    """In Python, ``import signseg``, loading the shipped weights and segmenting print nothing
    (TensorFlow's start-up lines included); Python warnings and the caller's own stderr stay."""
    r = subprocess.run([sys.executable, "-c", QUIET_LIBRARY], capture_output=True, timeout=300, cwd=tmp_path,
                       text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert [ln for ln in lines if "warn" not in ln] == ["signseg: said on purpose"], r.stderr
    assert any("UserWarning: a warning that matters" in ln for ln in lines)

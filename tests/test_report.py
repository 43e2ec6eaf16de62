"""``signseg report`` on a real corpus run: each flag on real footage made to fail it, old files
without signals, and the page itself in a real browser (headless Chromium)."""
import json
import os
import shutil
import subprocess

import h5py
import numpy as np
import pytest

from conftest import SOUP, run, write_video
from signseg.decode.video import read_video
from signseg.report import Limits, read_report
from signseg.report.figures import VideoFigures, flag_video

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _twice(frames):
    return np.repeat(np.repeat(frames, 2, axis=1), 2, axis=2)


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    """A corpus of real footage, segmented with the shipped model and parts: SOUP as it is, and
    clips cut from it to fail one check each, plus a file that is not a video."""
    root = tmp_path_factory.mktemp("report")
    clips = root / "clips"
    clips.mkdir()
    frames = read_video(SOUP)
    shutil.copy(SOUP, clips / "soup.mp4")
    write_video(clips / "no_person.avi", _twice(frames[:, 16:232, 272:320]))   # the studio wall beside her
    write_video(clips / "no_hands.avi", _twice(frames[:, 0:104, 96:224]))      # head and shoulders only
    write_video(clips / "black.avi", np.zeros((20, 240, 320, 3), np.uint8))   # an empty-mask video
    blink = frames.copy()
    blink[1::2] = 0                                                             # the signer there, then gone
    write_video(clips / "blinking.avi", blink)
    face = frames[:, 28:92, 124:188]                                            # her face filling the frame
    write_video(clips / "face_closeup.avi", np.repeat(np.repeat(face, 4, axis=1), 4, axis=2))
    (clips / "not_a_video.mp4").write_text("this is not a video\n")
    out = root / "run.h5"
    r = run("corpus", clips, "-o", out, "--parts", "-q", timeout=600)
    assert r.returncode == 1 and "not_a_video.mp4" in r.stderr, r.stderr  # one failure, the rest written
    return root, out


EXPECTED = {"soup": set(), "no_person": {"empty"}, "black": {"empty"}, "no_hands": {"no_hands"},
            "blinking": {"flicker"}, "face_closeup": {"background"},
            "not_a_video": {"failed"}}


def test_each_flag_on_the_clip_made_to_fail_it(corpus_run, tmp_path):
    root, out = corpus_run
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    r = run("report", out, "-o", html, "--json", js)
    assert r.returncode == 0, r.stderr
    data = json.loads(js.read_text())
    flags = {v["video_id"]: set(v["flags"]) for v in data["videos"]}
    assert flags == EXPECTED
    soup = next(v for v in data["videos"] if v["video_id"] == "soup")
    assert soup["parts_from"] == "parts" and soup["frames"] == 41 and soup["face"] > 0.9
    assert soup["one_hand"] + soup["two_hands"] > 0.8 and 0.5 < soup["confidence"] <= 1
    assert data["run"]["complete"] == 6 and data["run"]["failed"] == 1 and data["run"]["model"] == "snet-lite"
    assert data["run"]["runs"] == 1 and data["run"]["wall_seconds"] > 0
    assert "1 flagged" not in r.stderr and "flagged no_hands: no_hands" in r.stderr
    # every reason names its figure
    reasons = {v["video_id"]: v["flags"] for v in data["videos"]}
    assert "of the frame marked" in reasons["face_closeup"]["background"]
    assert "of 20 frames" in reasons["black"]["empty"] and "cannot be opened as a video" in reasons["not_a_video"]["failed"]


def test_a_file_from_before_signals_is_read_from_its_masks(corpus_run, tmp_path):
    _, out = corpus_run
    old = tmp_path / "old.h5"
    shutil.copy(out, old)
    with h5py.File(old, "a") as f:
        for g in f["videos"].values():
            del g["signals"]
        for key in ("run_log", "runs", "wall_seconds"):
            del f.attrs[key]
    report = read_report(old)
    assert {v.video_id: set(v.flags) for v in report.videos} == EXPECTED
    assert all(v.confidence is None for v in report.videos) and "wall_seconds" not in report.run
    assert run("report", old, "-o", tmp_path / "old.html").returncode == 0


def test_without_parts_hands_are_estimated_from_blobs(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copy(SOUP, clips / "soup.mp4")
    write_video(clips / "no_hands.avi", _twice(read_video(SOUP)[:, 0:104, 96:224]))
    out = tmp_path / "plain.h5"
    assert run("corpus", clips, "-o", out, "-q").returncode == 0
    report = read_report(out)
    figs = {v.video_id: v for v in report.videos}
    assert figs["soup"].parts_from == "blobs" and not figs["soup"].flags
    assert set(figs["no_hands"].flags) == {"no_hands"} and "estimated from blobs" in figs["no_hands"].flags["no_hands"]


def test_limits_move_the_flags():
    fig = VideoFigures("v", "complete", frames=100, face=0.4, one_hand=0.1, two_hands=0.1, empty=0.0, area=0.05,
                       confidence=0.9, flicker=0.0, parts_from="parts")
    flag_video(fig, Limits())
    assert set(fig.flags) == {"no_face", "no_hands"}
    flag_video(fig, Limits(face=0.3, hands=0.1))
    assert fig.flags == {}
    fig.hand_box = 8.0  # one 'hand' eight times the face: clothing or background marked, or the face as a hand
    flag_video(fig, Limits(face=0.3, hands=0.1))
    assert set(fig.flags) == {"background"} and "8x the face's box" in fig.flags["background"]
    assert "the face itself called a hand" in fig.flags["background"]
    flag_video(fig, Limits(face=0.3, hands=0.1, hand_box=10.0))
    assert fig.flags == {}


def test_groups_and_suggestions_name_the_signer(tmp_path):
    from signseg.report.figures import _groups, _suggestions
    videos = []
    for i in range(4):
        v = VideoFigures(f"signer7_sample{i}", "complete", frames=10, signer=7, group="signer 7",
                         source=f"/data/autsl/train/signer7_sample{i}_color.mp4")
        v.flags = {"no_hands": "x"} if i < 3 else {}
        videos.append(v)
    videos.append(VideoFigures("signer2_sample9", "complete", frames=10, signer=2, group="signer 2",
                               source="/data/autsl/train/signer2_sample9_color.mp4"))
    groups = _groups(videos)
    assert groups[0] == {"group": "signer 7", "videos": 4, "flagged": 3, "share": 0.75, "flags": {"no_hands": 3}}
    (line,) = _suggestions(groups, videos)
    assert "signer 7: 3 of 4 videos flagged" in line
    assert "signseg corpus /data/autsl/train --pattern 'signer7_sample*_color.mp4' --adapt" in line
    # a folder of its own needs no pattern
    for v in videos[:4]:
        v.source = v.source.replace("/train/", "/train/s7/")
    assert "signseg corpus /data/autsl/train/s7 --adapt" in _suggestions(groups, videos)[0]


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (.ci/run installs it; in CI its absence fails)")
def test_the_page_renders_in_a_real_browser(corpus_run, tmp_path):
    """Headless Chromium opens the page from disk: the script fills the table, the plots and
    the worst videos' thumbnails are there, and the screenshot is not blank."""
    import cv2
    assert CHROMIUM is not None, "chromium is missing: .ci/run installs Debian's chromium"
    _, out = corpus_run
    page = tmp_path / "report.html"
    assert run("report", out, "-o", page).returncode == 0
    assert "http://" not in page.read_text() and "https://" not in page.read_text()  # nothing fetched
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(base + ["--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    body = html.split('id="videos"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr>") == 7 and "face_closeup" in body and 'class="flag flicker"' in body
    assert "7 videos, page 1 of 1" in html
    assert html.count("<svg") >= 6 and html.count('<img src="data:image/jpeg;base64,') >= 10
    shot = tmp_path / "shot.png"
    r = subprocess.run(base + ["--window-size=1280,1800", f"--screenshot={shot}", page.as_uri()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    img = cv2.imread(str(shot))
    assert img.shape[:2] == (1800, 1280) and img.std() > 20  # text, bars and pictures, not a blank page
    # the filter works in the browser too: a page opened on the flicker filter shows one row
    filtered = tmp_path / "filtered.html"
    filtered.write_text(page.read_text().replace("<option value='flicker'>", "<option value='flicker' selected>"))
    dom = subprocess.run(base + ["--virtual-time-budget=5000", "--dump-dom", filtered.as_uri()],
                         capture_output=True, text=True, timeout=120)
    rows = dom.stdout.split('id="videos"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "1 videos, page 1 of 1" in dom.stdout and rows.count("<tr>") == 1 and "blinking" in rows


def test_a_large_corpus_keeps_the_page_small(tmp_path):
    """Thousands of videos: the table holds every flagged one and then only up to --max-rows;
    the JSON holds all; thumbnails only for the worst N (here their sources are gone: noted)."""
    from signseg.infer.signals import signals_dtype
    from signseg.report.build import write_report
    from signseg.store.mask_file import MaskFile
    out = tmp_path / "big.h5"
    n_videos = 3000
    masks = np.zeros((4, 8, 8), np.uint8)
    masks[:, 2:5, 2:5] = 4
    with MaskFile(out, "w") as store:
        for i in range(n_videos):
            sig = np.zeros(4, signals_dtype())
            sig["area"], sig["confidence"] = 9 / 64, 0.9
            sig["blobs"] = 1 if i % 10 == 0 else 3  # a tenth of the videos: never a hand
            store.write_video(f"signer{i % 30}_sample{i}", [{"masks": masks, "signals": sig}],
                              {"source": f"/gone/signer{i % 30}_sample{i}_color.mp4", "fps": 30.0})
    page, js = tmp_path / "big.html", tmp_path / "big.json"
    report = write_report(out, page, js, worst_n=5, max_rows=1000)
    assert len(report.videos) == n_videos and len(report.flagged()) == n_videos // 10
    assert len(json.loads(js.read_text())["videos"]) == n_videos
    text = page.read_text()
    rows = json.loads(text.split("<script id='rows' type='application/json'>", 1)[1].split("</script>", 1)[0])
    assert len(rows) == 1000 and sum(1 for r in rows if r["flags"]) == n_videos // 10
    assert "2,000 videos without flags are not listed here" in text
    assert text.count("no thumbnails: source video not found") == 5
    assert len(text) < 1_000_000

"""Masks cut to each frame's largest blobs (signseg.infer.blobs), on every path that makes masks."""
import json

import cv2
import h5py
import numpy as np
import pytest

from conftest import run
from signseg.infer.preprocess import threshold, to_masks
from signseg.infer.segmenter import Segmenter
from signseg.infer.blobs import components, keep_largest


def _blobs(mask: np.ndarray) -> int:
    return cv2.connectedComponents((mask > 0).astype(np.uint8), connectivity=8)[0] - 1


def _five_blobs() -> np.ndarray:
    m = np.zeros((60, 80), np.uint8)
    m[2:22, 2:22] = 4     # 400 px: the face
    m[30:45, 5:20] = 4    # 225 px: a hand
    m[40:50, 60:72] = 4   # 120 px: the other hand
    m[5:9, 50:54] = 4     # 16 px: a speck on the wall
    m[55:58, 30:33] = 4   # 9 px: another
    m[22, 22] = 4         # touches the face only at a corner: 8-connected, part of the face
    return m


def test_keep_largest_keeps_the_n_largest_blobs_and_nothing_else():
    m = _five_blobs()
    out = keep_largest(m.copy(), 3)
    assert _blobs(out) == 3 and set(np.unique(out)) == {0, 4}
    assert out[2:23, 2:23].sum() == m[2:23, 2:23].sum()  # the face, its diagonal pixel with it
    assert (out[30:45, 5:20] == 4).all() and (out[40:50, 60:72] == 4).all()
    assert not out[5:9, 50:54].any() and not out[55:58, 30:33].any()
    assert _blobs(keep_largest(m.copy(), 1)) == 1 and keep_largest(m.copy(), 1)[10, 10] == 4
    for n in (None, 0, 5, 9):  # nothing to drop: the mask is returned as it was
        np.testing.assert_array_equal(keep_largest(m.copy(), n), m)
    with pytest.raises(ValueError, match="uint8"):
        keep_largest(m.astype(bool), 3)


def test_threshold_and_to_masks_cut_each_frame():
    """The two ways probabilities become masks (a Segmenter's predict, corpus runs' writer)."""
    proba = np.stack([_five_blobs(), np.flipud(_five_blobs()), np.zeros((60, 80), np.uint8)]).astype(np.float32) / 4
    want = np.stack([keep_largest(m, 2) for m in threshold(proba, 0.5)])
    np.testing.assert_array_equal(threshold(proba, 0.5, max_blobs=2), want)
    masks, signals = to_masks(proba, 60, 80, 0.5, max_blobs=2)
    np.testing.assert_array_equal(masks, want)
    assert [_blobs(m) for m in want] == [2, 2, 0]
    # the signals of the same pass: blobs left, share marked, mean probability of what is marked
    assert list(signals["blobs"]) == [2, 2, 0]
    np.testing.assert_allclose(signals["area"], [(m > 0).mean() for m in want], rtol=1e-6)
    marked = proba[0] >= 0.5
    assert signals["confidence"][0] == pytest.approx(proba[0][marked].mean(), rel=1e-6)
    assert np.isnan(signals["confidence"][2])  # nothing marked: no confidence
    # uint8 probabilities (x255, an asynchronous network's) give the same masks and signals
    masks8, signals8 = to_masks(np.round(proba * 255).astype(np.uint8), 60, 80, 0.5, max_blobs=2)
    np.testing.assert_array_equal(masks8, want)
    np.testing.assert_allclose(signals8["confidence"][:2], signals["confidence"][:2], atol=2e-3)


def test_segmenter_takes_max_blobs_from_the_card_and_the_caller(preset_dir, soup):
    from signseg.video import VideoReader
    frames = np.stack(list(VideoReader(soup)))[:6]
    card = json.loads((preset_dir / "snet-lite.json").read_text())
    assert card["max_blobs"] is None  # a card without the cut says so
    seg = Segmenter.from_pretrained("snet-lite", runtime="keras")
    assert seg.max_blobs is None
    proba = seg.predict_proba(frames)
    t = float(np.quantile(proba, 0.9))  # the tiny random network: a speckle of many blobs here
    many = seg.predict(frames, threshold=t)
    assert min(_blobs(m) for m in many) > 3
    (preset_dir / "snet-lite.json").write_text(json.dumps({**card, "max_blobs": 3}))
    cut = Segmenter.from_pretrained("snet-lite", runtime="keras")
    assert cut.max_blobs == 3
    np.testing.assert_array_equal(cut.predict(frames, threshold=t), np.stack([keep_largest(m.copy(), 3) for m in many]))
    assert Segmenter.from_pretrained("snet-lite", max_blobs=0).max_blobs is None  # the caller decides last
    with pytest.raises(ValueError, match="max_blobs"):
        Segmenter.from_pretrained("snet-lite", max_blobs=-1)


def test_max_blobs_on_the_command_line_reaches_the_file(tmp_path, soup, tiny_model_file):
    """`segment --max-blobs`: the corpus writer cuts the masks and records the setting."""
    masks = {}
    for n in (0, 2):
        out = tmp_path / f"blobs{n}.h5"
        r = run("segment", soup, "-o", out, "--weights", tiny_model_file, "--stride", "8", "--threshold", "0.503",
                "--max-blobs", str(n), "-q")
        assert r.returncode == 0, r.stderr
        with h5py.File(out, "r") as f:
            assert f["videos/SOUP"].attrs["max_blobs"] == n
            masks[n] = f["videos/SOUP/masks"][:]
    assert max(_blobs(m) for m in masks[0]) > 2
    np.testing.assert_array_equal(masks[2], np.stack([keep_largest(m.copy(), 2) for m in masks[0]]))
    r = run("segment", soup, "-o", tmp_path / "x.h5", "--weights", tiny_model_file, "--max-blobs", "-1")
    assert r.returncode == 2 and ">= 0" in r.stderr


def test_components_label_as_opencv_does_and_go_32_bit_where_a_frame_could_overflow_16():
    rng = np.random.default_rng(3)
    mask = (rng.random((288, 512)) > 0.7).astype(np.uint8)  # thousands of small blobs
    n, labels, stats, centres = components(mask)
    n32, labels32, stats32, centres32 = cv2.connectedComponentsWithStats(mask, connectivity=8, ltype=cv2.CV_32S)
    assert labels.dtype == np.uint16 and n == n32 > 1000
    assert (labels == labels32).all() and (stats == stats32).all() and np.allclose(centres, centres32)
    # a 1080p frame could hold more 8-connected blobs than 16 bits count: 32-bit labels there
    big = np.zeros((1080, 1920), np.uint8)
    big[::2, ::2] = 1
    n, labels, stats, _ = components(big)
    assert labels.dtype == np.int32 and n == 540 * 960 + 1 and stats[1:, cv2.CC_STAT_AREA].max() == 1

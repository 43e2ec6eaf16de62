"""The motion plane (signseg.infer.motion) and a hand refiner that reads it: batches give what
one pass gives, still pixels are 0, a moving hand is not; the refiner verb trains one from the
shipped refiner, and `segment --parts` runs it on real footage."""
import json
import shutil

import cv2
import h5py
import numpy as np

from conftest import SHARED, run
from signseg.decode.video import read_video
from signseg.infer.motion import GAIN, Motion, lag_frames
from signseg.infer.presets import weights_dir
from signseg.infer.segmenter import Segmenter


def test_a_moving_square_moves_a_still_one_does_not_and_batches_give_one_pass():
    frames = np.full((12, 60, 80, 3), 90, np.uint8)
    for i, frame in enumerate(frames):
        cv2.rectangle(frame, (5, 5), (15, 15), (200, 180, 160), -1)  # still
        cv2.rectangle(frame, (30 + 3 * i, 30), (40 + 3 * i, 40), (200, 180, 160), -1)  # moving right
    assert lag_frames(30) == 3 and lag_frames(10) == 1 and lag_frames(None) == 3 and lag_frames(60) == 6
    whole = Motion(30)(frames)
    assert whole.shape == (12, 60, 80) and whole.dtype == np.uint8
    assert not whole[:3].any()  # nothing to compare with before the lag
    assert not whole[3:, 3:18, 3:18].any() and whole[3:, 28:45].max(axis=(1, 2)).min() == 255
    grey_step = int(np.round(abs(int(cv2.cvtColor(frames[0, :1, :1], cv2.COLOR_RGB2GRAY)[0, 0])
                                - int(cv2.cvtColor(frames[0, 10:11, 10:11], cv2.COLOR_RGB2GRAY)[0, 0]))))
    assert grey_step * GAIN > 255  # the square's edge saturates
    m = Motion(30)
    assert np.array_equal(np.concatenate([m(frames[:2]), m(frames[2:7]), m(frames[7:])]), whole)
    m = Motion(30)  # a new size starts afresh
    m(frames[:5])
    assert not m(np.zeros((2, 30, 40, 3), np.uint8)).any()


def test_real_footage_moves_where_the_signer_moves():
    frames = read_video(SHARED / "videos" / "SOUP.mp4")
    plane = Motion(29.97)(frames)
    # SOUP's grey backdrop stays still; the signer's hands and arms move in the lower middle
    assert np.median(plane[5:, :40, :60]) == 0 and plane[5:, 120:, 100:220].mean() > 4 * plane[5:, :40, :60].mean()


def test_the_refiner_verb_gives_the_shipped_refiner_a_motion_plane_and_segment_runs_it(touching_labels, tmp_path):
    from signseg.store.mask_reader import MaskReader
    from signseg.train.hand_refiner import crops_from_labels
    first = Segmenter.from_pretrained("snet-lite", refine_hands=False)
    x, _ = crops_from_labels(first, [touching_labels], motion=True)
    assert x.shape[-1] == 6 and x[..., 5].any() and not x[:2, ..., 5].any()  # the clip's first frame has none
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("snet-lite.json", "snet-lite.weights.h5", "snet-lite.int8.onnx", "hand-refiner.weights.h5"):
        shutil.copy(weights_dir() / name, folder / name)
    r = run("refiner", touching_labels, "-o", folder / "moving.weights.h5", "--init", folder / "hand-refiner.weights.h5",
            "--motion", "--epochs", "1", "--lr", "1e-4", "--attach", folder / "snet-lite.json", "-q")
    assert r.returncode == 0, r.stderr
    entry = json.loads((folder / "snet-lite.json").read_text())["hand_refiner"]
    assert entry["motion"] is True and entry["training"]["motion"] is True
    seg = Segmenter.from_file(folder / "snet-lite.weights.h5")
    assert seg.hand_refiner.motion and seg.hand_refiner.channels == 6
    frames = read_video(SHARED / "videos" / "SOUP.mp4")[:8]
    p = seg.predict_parts_proba(frames)
    still = seg.hand_refiner.hands(frames, p, seg.parts)  # no motion given: a plane of 0
    moving = seg.hand_refiner.hands(frames, p, seg.parts, motion=Motion(30)(frames))
    assert still.shape == moving.shape == frames.shape[:3] and (moving > 0).any()
    out = tmp_path / "soup.h5"
    r = run("segment", SHARED / "videos" / "SOUP.mp4", "-o", out, "--weights", folder / "snet-lite.weights.h5",
            "--parts", "-q")
    assert r.returncode == 0, r.stderr
    with MaskReader(out) as reader:
        masks = reader["SOUP"].masks[()]
        assert reader["SOUP"].attrs["hand_refiner_sha256"] == entry["sha256"]
    assert ((masks == 2) | (masks == 3)).any()

"""Still hands: hand blobs that have not moved over the last second are dropped from the parts."""
import cv2
import h5py
import numpy as np
import pytest

from conftest import SOUP, write_video
from signseg import labels as L
from signseg.postprocess.still_hands import MIN_SECONDS, SECONDS, StillHands

H, W = 120, 160


def _scene(n: int, still_at=(20, 20), moving_from=(100, 60)) -> tuple[np.ndarray, np.ndarray]:
    """n frames of textured noise (fixed) with a still bright square and one that moves 3
    pixels a frame, and parts marking both squares as hands, and a still face."""
    rng = np.random.default_rng(0)
    ground = rng.integers(60, 90, (H, W, 3), dtype=np.uint8)
    frames = np.repeat(ground[None], n, 0)
    parts = np.zeros((n, H, W), np.uint8)
    frames[:, 60:90, 10:30] = (190, 150, 130)
    parts[:, 60:90, 10:30] = L.FACE
    for i in range(n):
        y, x = still_at
        frames[i, y:y + 20, x:x + 20] = (200, 160, 140)
        parts[i, y:y + 20, x:x + 20] = L.LEFT_HAND
        y, x = moving_from[0], moving_from[1] + 3 * (i % 10)
        frames[i, y - 20:y, x - 20:x] = (200, 160, 140)
        parts[i, y - 20:y, x - 20:x] = L.RIGHT_HAND
    return frames, parts


def test_a_still_hand_goes_after_half_a_second_and_a_moving_one_stays():
    fps = 20.0
    frames, parts = _scene(40)
    out = parts.copy()
    changed = StillHands(fps)(frames, out)
    least = int(MIN_SECONDS * fps) + 1
    assert changed == list(range(least - 1, 40))  # nothing is judged before half a second is seen
    np.testing.assert_array_equal(out[: least - 1], parts[: least - 1])
    assert not (out[least - 1:] == L.LEFT_HAND).any()  # the still square is gone ...
    np.testing.assert_array_equal(out == L.RIGHT_HAND, parts == L.RIGHT_HAND)  # ... the moving one stays
    np.testing.assert_array_equal(out == L.FACE, parts == L.FACE)  # a still face is no hand: it stays


def test_batches_give_what_one_pass_gives_and_a_hand_that_starts_moving_comes_back():
    fps = 20.0
    frames, parts = _scene(60)
    # from frame 40 on the "still" square moves too
    for i in range(40, 60):
        frames[i, 20:40, 20:40] = frames[0, 60:80, 60:80]
        dx = 2 * (i - 39)
        frames[i, 20:40, 20 + dx:40 + dx] = (200, 160, 140)
    one = parts.copy()
    StillHands(fps)(frames, one)
    batched = parts.copy()
    state = StillHands(fps)
    for start in range(0, 60, 7):
        state(frames[start:start + 7], batched[start:start + 7])
    np.testing.assert_array_equal(one, batched)
    assert not (one[30:40] == L.LEFT_HAND).any()
    assert (one[45:] == L.LEFT_HAND).any(axis=(1, 2)).all()
    assert state.window == int(SECONDS * fps) + 1


def test_large_frames_are_judged_on_a_grid_and_whole_blobs_go():
    frames, parts = _scene(30)
    big_f = np.repeat(np.repeat(frames, 4, 1), 4, 2)  # 480x640: judged every 2nd pixel
    big_p = np.repeat(np.repeat(parts, 4, 1), 4, 2)
    StillHands(20.0)(big_f, big_p)
    assert (big_p[:10] == L.LEFT_HAND).any() and not (big_p[10:] == L.LEFT_HAND).any()
    assert (big_p == L.RIGHT_HAND).sum() == (np.repeat(np.repeat(parts, 4, 1), 4, 2) == L.RIGHT_HAND).sum()


@pytest.fixture(scope="module")
def soup_with_a_still_hand(tmp_path_factory):
    """SOUP (real footage) with a still copy of the signer's own hand pasted by the frame's left
    edge in every frame: a real hand's pixels that never move, as a photo on the wall would."""
    from signseg.decode.video import read_video
    from signseg.infer.segmenter import Segmenter
    from signseg.train.evaluate import written_parts
    frames = read_video(SOUP)
    _, parts = written_parts(Segmenter.from_pretrained(), frames)
    hand = L.is_hand(parts)
    i = int(np.argmax(hand.sum((1, 2))))
    x, y, w, h = cv2.boundingRect(hand[i].view(np.uint8))
    patch = frames[i, y:y + h, x:x + w].copy()
    out = frames.copy()
    out[:, 100:100 + h, 4:4 + w] = patch
    return write_video(tmp_path_factory.mktemp("still") / "soup_still.avi", out, fps=29.97), (100, 4, h, w)


def test_segment_parts_drops_a_real_still_hand_and_keeps_the_signers(soup_with_a_still_hand, tmp_path):
    """`signseg segment --parts` on real footage: the pasted still hand is called a hand with
    --no-still-hands and not by default (after the first half second); the signer's moving hands
    are the same either way, and the file says which it did."""
    from signseg.infer.segmenter import Segmenter
    from signseg.run.pipeline import segment_videos
    clip, (y, x, h, w) = soup_with_a_still_hand
    seg = Segmenter.from_pretrained()
    files = {}
    for still in (True, False):
        files[still] = tmp_path / f"{still}.h5"
        assert not segment_videos([clip], files[still], seg, progress=False, parts=True, still_hands=still).failed
    with h5py.File(files[True]) as a, h5py.File(files[False]) as b:
        dropped, kept = a["videos/soup_still/masks"][()], b["videos/soup_still/masks"][()]
        assert a["videos/soup_still"].attrs["still_hands_dropped"] and not b["videos/soup_still"].attrs["still_hands_dropped"]
    late = slice(int(MIN_SECONDS * 29.97) + 1, None)
    region = (slice(None), slice(y, y + h), slice(x, x + w))
    # the network calls the pasted hand (44% of its box) a hand (else this test shows nothing) ...
    # (measured: 0.13-0.25 of the box in 25 of the 27 frames after the first half second)
    assert (L.is_hand(kept[late][region]).mean((1, 2)) > 0.05).mean() > 0.8
    # ... and by default it is gone once half a second is seen (measured: none of it)
    assert L.is_hand(dropped[late][region]).mean() < 0.01
    assert L.is_hand(dropped[:10][region]).mean() > 0.05
    rest = np.ones(kept.shape[1:], bool)
    rest[y:y + h + 10, : x + w + 10] = False
    signer_kept, signer_dropped = L.is_hand(kept)[:, rest], L.is_hand(dropped)[:, rest]
    assert signer_dropped.sum() >= 0.95 * signer_kept.sum() > 0
    np.testing.assert_array_equal(dropped == L.FACE, kept == L.FACE)


def test_the_command_line_keeps_still_hands_when_asked(soup_with_a_still_hand, tmp_path):
    """`signseg segment --parts --no-still-hands` keeps them and says so; `--parts` alone drops them."""
    from conftest import run
    clip, (y, x, h, w) = soup_with_a_still_hand
    for flag, expected in (((), True), (("--no-still-hands",), False)):
        out = tmp_path / f"{expected}.h5"
        r = run("segment", clip, "-o", out, "--parts", "-q", *flag)
        assert r.returncode == 0, r.stderr
        with h5py.File(out) as f:
            g = f["videos/soup_still"]
            assert bool(g.attrs["still_hands_dropped"]) is expected
            late = L.is_hand(g["masks"][20:, y:y + h, x:x + w]).mean()
        assert (late < 0.01) if expected else (late > 0.05)

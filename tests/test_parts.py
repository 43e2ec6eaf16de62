"""Face / left hand / right hand parts: the tracker on drawn scenes, on teacher masks of a real
signer, and through `signseg segment --parts --crops` and `signseg overlay` on real clips."""
import cv2
import h5py
import numpy as np
import pytest

from conftest import SIGN, SOUP, run
from signseg import labels as L
from signseg.store.mask_reader import MaskReader
from signseg.train.evaluate import PartScore
from signseg.postprocess.network_parts import network_parts
from signseg.postprocess.parts import crop_parts, split_parts
from signseg.decode.video import VideoReader

H, W = 180, 320


def scene(face=(160, 45), left=None, right=None, r_face=(22, 28), r_hand=12) -> np.ndarray:
    """A drawn frame: a face ellipse and hand discs, labelled by part (the truth)."""
    m = np.zeros((H, W), np.uint8)
    cv2.ellipse(m, face, r_face, 0, 0, 360, L.FACE, -1)
    for centre, value in ((left, L.LEFT_HAND), (right, L.RIGHT_HAND)):
        if centre is not None:
            cv2.circle(m, centre, r_hand, value, -1)
    return m


def test_parts_follow_the_signers_sides_and_boxes_fit():
    truth = np.stack([scene(left=(220, 130), right=(100, 130)) for _ in range(3)])
    parts, boxes = split_parts(truth > 0)
    np.testing.assert_array_equal(parts, truth)  # the signer's left hand is on the image's right
    assert boxes.shape == (3, 3, 4) and boxes.dtype == np.float32
    np.testing.assert_allclose(boxes[0, 1], [208, 118, 233, 143])  # x0, y0, x1, y1 of the left hand


def test_a_hand_keeps_its_identity_through_a_crossing():
    frames = []
    for t in range(21):  # hands swap sides, passing below the face
        x = int(100 + 6 * t)
        frames.append(scene(left=(320 - x, 120), right=(x, 150)))
    truth = np.stack(frames)
    parts, _ = split_parts(truth > 0)
    score = PartScore()
    score.add(parts, truth)
    assert min(score.iou().values()) > 0.97, score.iou()
    # by the end the right hand is on the image's right: the side rule alone would swap them
    assert (parts[-1] == L.RIGHT_HAND)[:, 200:].any()


def test_a_hand_touching_the_face_is_split_off_and_a_short_miss_keeps_identity():
    frames = [scene(left=(220, 130), right=(100, 130)) for _ in range(4)]
    frames += [scene(left=(220, 130), right=(100 + 10 * t, 130 - 12 * t)) for t in range(1, 5)]  # up to the chin
    frames += [scene(left=(220, 130)) for _ in range(3)]  # right hand out of view
    frames += [scene(left=(220, 130), right=(110, 130))]  # back
    truth = np.stack(frames)
    parts, boxes = split_parts(truth > 0)
    score = PartScore()
    score.add(parts[6:8], truth[6:8])  # merged with the face
    assert score.iou()["face"] > 0.85 and score.iou()["right_hand"] > 0.6, score.iou()
    assert np.isnan(boxes[8:11, 2]).all() and not np.isnan(boxes[8:11, :2]).any()  # absent: NaN
    assert (parts[-1] == truth[-1]).all()


def test_crops_are_square_around_the_box_and_black_when_absent():
    frames = np.zeros((2, H, W, 3), np.uint8)
    frames[:, 100:120, 200:240] = 255  # a 40x20 white box
    boxes = np.full((2, 3, 4), np.nan, np.float32)
    boxes[0, 1] = [200, 100, 240, 120]
    crops = crop_parts(frames, boxes, size=28, margin=0.0)
    assert crops.shape == (2, 3, 28, 28, 3) and crops.dtype == np.uint8
    c = crops[0, 1, :, :, 0]
    assert (c[9:19, 2:-2] > 200).all() and (c[:5] == 0).all() and (c[-5:] == 0).all()  # full width, centred
    assert not crops[1].any() and not crops[0, 0].any()


def test_splitting_teacher_masks_of_a_real_signer_recovers_the_parts(tmp_path, soup):
    """The union of the teacher's part labels of SOUP, split again, against those labels."""
    from test_teacher import LANDMARKS
    from signseg.teacher.labelset import label_videos, usable_frames
    lm_dir = tmp_path / "lm"
    lm_dir.mkdir()
    (lm_dir / "SOUP.npz").write_bytes(LANDMARKS.read_bytes())
    label_videos([soup], tmp_path / "labels.h5", teacher_python=None, landmarks_dir=lm_dir, progress=False)
    with h5py.File(tmp_path / "labels.h5", "r") as f:
        truth, keep = f["videos/SOUP/labels"][()], usable_frames(f["videos/SOUP/flags"][()])
    parts, _ = split_parts(truth > 0)
    score = PartScore()
    score.add(parts[keep], truth[keep])
    assert score.frames >= 30 and min(score.iou().values()) > 0.9, score.as_dict()


@pytest.fixture(scope="module")
def parts_file(tmp_path_factory):
    """The shipped default model with --parts --crops on a two-hand clip and a one-hand clip."""
    out = tmp_path_factory.mktemp("parts") / "out.h5"
    r = run("segment", SOUP, SIGN, "-o", out, "--parts", "--crops", "32", "-q")
    assert r.returncode == 0, r.stderr
    return out


def test_segment_parts_gives_face_and_both_hands(parts_file):
    with MaskReader(parts_file) as reader:
        v = reader["SOUP"]
        masks, boxes = v.masks[()], v.boxes[()]
        assert {1, 2, 3} <= set(np.unique(masks)) <= {0, 1, 2, 3, 4}
        assert boxes.shape == (len(v), 3, 4) and boxes.dtype == np.float32
        for k, part in enumerate((L.FACE, L.LEFT_HAND, L.RIGHT_HAND)):  # a box exactly where a part is
            present = (masks == part).any(axis=(1, 2))
            np.testing.assert_array_equal(~np.isnan(boxes[:, k, 0]), present)
        # SOUP's signer: face on top, her right hand on the image's left, left hand on its right
        face_y = np.nanmean(boxes[:, 0, 1])
        assert face_y < np.nanmean(boxes[:, 1, 1]) and face_y < np.nanmean(boxes[:, 2, 1])
        assert np.nanmean(boxes[:, 2, 0]) < np.nanmean(boxes[:, 1, 0])
        assert set(v.crops) == {"face", "left_hand", "right_hand"}
        face = v.crops["face"][()]
        assert face.shape == (len(v), 32, 32, 3) and face.mean() > 40  # a lit face, not black
        assert v.attrs["parts"] and v.attrs["crop_size"] == 32


def test_overlay_writes_every_frame_and_a_grid(parts_file, tmp_path):
    r = run("overlay", SOUP, parts_file, "-o", tmp_path / "ov.mp4", "--png", tmp_path / "grid.png", "--count", "6",
            "--columns", "3")
    assert r.returncode == 0, r.stderr
    video = VideoReader(tmp_path / "ov.mp4")
    frames = list(video)
    assert len(frames) == 41 and frames[0].shape == (240, 320, 3)
    original = next(iter(VideoReader(SOUP)))
    assert np.abs(frames[0].astype(int) - original).mean() > 3  # something is drawn
    grid = cv2.imread(str(tmp_path / "grid.png"))
    assert grid.shape == (2 * 240 + 2, 3 * 320 + 4, 3)
    # a file holding other videos: the error names the file and the way out
    r = run("overlay", SIGN, parts_file, "--png", tmp_path / "g.png", "--video-id", "nope")
    assert r.returncode == 2 and "nope" in r.stderr and str(parts_file) in r.stderr
    r = run("overlay", SOUP, parts_file, "--png", tmp_path / "g2.png", "--video-id", "tid-asl_hocam")
    assert r.returncode == 2 and "another video" in r.stderr


def test_overlay_with_stride_still_writes_every_frame(tmp_path, soup, tiny_model_file):
    out = tmp_path / "s.h5"
    assert run("segment", soup, "-o", out, "--stride", "3", "--weights", tiny_model_file, "-q").returncode == 0
    assert run("overlay", soup, out, "-o", tmp_path / "ov.mp4").returncode == 0
    assert sum(1 for _ in VideoReader(tmp_path / "ov.mp4")) == 41


def test_parts_are_the_same_on_workers_and_in_the_driver(tmp_path):
    """Parts, boxes and crops survive the shard copy of a 2-worker run and the driver path.
    The shipped model: the driver's uint8 probabilities can move a pixel that sits at the
    threshold, which an untrained model has by the thousand."""
    outs = {}
    for name, extra in (("inprocess", ()), ("loky", ("--n-jobs", "2")), ("driver", ("--n-jobs", "2", "--infer", "driver"))):
        root = tmp_path / name
        (root / "clips").mkdir(parents=True)
        for clip in (SOUP, SIGN):
            (root / "clips" / clip.name).symlink_to(clip)
        outs[name] = root / "out.h5"
        r = run("corpus", root / "clips", "-o", outs[name], "--crops", "24", "--model", "snet-lite",
                "--batch-size", "4", "-q", *extra)
        assert r.returncode == 0, r.stderr
    with h5py.File(outs["inprocess"], "r") as ref:
        for name in ("loky", "driver"):
            with h5py.File(outs[name], "r") as f:
                for vid in ("SOUP", "tid-asl_hocam"):
                    a, b = ref[f"videos/{vid}/masks"][()], f[f"videos/{vid}/masks"][()]
                    assert (a != b).mean() < 1e-4, (name, vid)  # thread layouts may flip a pixel at the threshold
                    for ds in ("boxes", "crops/face", "crops/left_hand", "crops/right_hand"):
                        x, y = ref[f"videos/{vid}/{ds}"][()], f[f"videos/{vid}/{ds}"][()]
                        assert x.shape == y.shape and x.dtype == y.dtype, (name, vid, ds)
                        if np.array_equal(a, b):
                            np.testing.assert_array_equal(x, y, err_msg=f"{name} {vid} {ds}")


def test_a_wide_band_at_the_top_is_not_taken_for_the_face_nor_does_a_hand_drag_the_face():
    """What a model marks on a webcam clip: a skin-coloured ceiling band above the signer."""
    frames = []
    for t in range(8):  # the right hand rises to the chin and merges with the face
        m = scene(face=(160, 80), right=(100 + 8 * t, 160 - 8 * t) if t < 6 else (148, 112))
        m[0:20, 60:260] = L.UNASSIGNED  # the band: larger than the face, higher, 10x wider than tall
        frames.append(m)
    truth = np.stack(frames)
    parts, boxes = split_parts(truth > 0)
    assert (parts[:, :20] != L.FACE).all()  # the band is never the face
    face_centres = (boxes[:, 0, 1] + boxes[:, 0, 3]) / 2
    assert np.abs(face_centres - 80).max() < 12  # the face box stays on the face through the merge


def test_the_networks_face_stays_face_and_a_hand_over_it_stays_a_hand():
    """network_parts with face/hand channels: the face is the network's, the hands are named by
    their side of the face; a hand in front of the face (one blob for the tracker alone) stays
    a hand."""
    frames = [scene(left=(220, 130), right=(100, 130)), scene(left=(220, 130), right=(150, 50))]  # right hand on the face
    truth = np.stack(frames)
    proba = np.zeros((*truth.shape, 2), np.float32)  # face, hand
    proba[..., 0] = truth == L.FACE
    proba[..., 1] = L.is_hand(truth)
    parts, boxes = network_parts(truth > 0, proba, ("face", "hand"))
    assert (parts != truth).sum() <= 2  # a face pixel the hand cut off from the face may go to the hand
    assert not np.isnan(boxes).any()
    alone, _ = split_parts(truth > 0)  # the tracker alone cannot see the hand in the face blob
    assert (alone[1] == L.RIGHT_HAND).sum() < (truth[1] == L.RIGHT_HAND).sum()


def test_a_close_up_face_the_head_half_calls_hand_is_face_and_specks_are_not_hands():
    """The face grows from where the network is surest over marked pixels whose hand share is
    under FACE_GROW (a close-up face's cheek at 0.6 is face; a hand at 0.9 stays a hand), and
    hand blobs under a tenth of the face are dropped."""
    truth = scene(left=(265, 140), right=(55, 140), r_face=(45, 60), r_hand=20)
    share = np.where(truth == L.FACE, 0.2, 0.9).astype(np.float32)
    share[:, 160:][truth[:, 160:] == L.FACE] = 0.6  # half the face called more hand than face
    speck = np.zeros_like(truth)
    cv2.circle(speck, (290, 20), 3, 1, -1)
    marked = (truth > 0) | (speck > 0)
    proba = np.stack([1 - share, share], -1)[None]
    parts, _ = network_parts(marked[None], proba, ("face", "hand"))
    assert (parts[0][truth == L.FACE] == L.FACE).all()
    assert (parts[0][truth == L.LEFT_HAND] == L.LEFT_HAND).all()
    assert (parts[0][truth == L.RIGHT_HAND] == L.RIGHT_HAND).all()
    assert (parts[0][speck > 0] == L.UNASSIGNED).all()
    share[:, 160:][truth[:, 160:] == L.FACE] = 0.8  # past FACE_GROW: that half is not face
    parts, _ = network_parts(marked[None], np.stack([1 - share, share], -1)[None], ("face", "hand"))
    assert (parts[0][:, 170:][truth[:, 170:] == L.FACE] != L.FACE).all()


def test_touching_hands_are_cut_along_the_face_and_one_hand_across_it_stays_whole():
    """Both hands in one blob below the face are cut along the face's line, the signer's left on
    the image's right; a single hand lying a little across the line stays one hand."""
    clasped = scene(left=(172, 140), right=(148, 140))
    assert cv2.connectedComponents(L.is_hand(clasped).astype(np.uint8))[0] == 2  # one blob
    across = scene(left=(168, 140))  # three quarters of it right of the face's centre
    truth = np.stack([clasped, across])
    proba = np.stack([truth == L.FACE, L.is_hand(truth)], -1).astype(np.float32)
    parts, boxes = network_parts(truth > 0, proba, ("face", "hand"))
    hand = L.is_hand(clasped)
    assert ((parts[0] == truth[0])[hand]).mean() > 0.85
    assert (parts[1][truth[1] == L.LEFT_HAND] == L.LEFT_HAND).all()
    assert np.isnan(boxes[1, 2]).all()  # no right hand in the second frame


def test_a_large_frame_is_split_at_a_smaller_size_and_brought_back():
    """Frames over WORK_PIXELS (here 720x1280, four times the drawn scene) are split smaller:
    the parts brought back match the large frame's truth but for a pixel at their edges, and
    the boxes fit the parts written."""
    from signseg.postprocess.network_parts import WORK_PIXELS
    truth = scene(left=(220, 130), right=(100, 130))
    big = cv2.resize(truth, (W * 4, H * 4), interpolation=cv2.INTER_NEAREST)
    assert big.size > WORK_PIXELS >= truth.size
    proba = np.stack([big == L.FACE, L.is_hand(big)], -1).astype(np.float32)[None]
    parts, boxes = network_parts((big > 0)[None], proba, ("face", "hand"))
    assert (parts[0] == big).mean() > 0.998 and set(np.unique(parts[0])) == {0, 1, 2, 3}
    for k, v in enumerate(L.PARTS):
        ys, xs = np.nonzero(parts[0] == v)
        assert tuple(boxes[0, k]) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_clasped_hands_of_a_real_signer_are_two_hands(tmp_path):
    """Real footage where the hands touch (ryanestanton__thanks, signs3; a validation signer,
    never trained on): in the frames where the teacher's two hands touch, the shipped model's
    parts as written give each hand, not one hand twice its size. The part tracker alone gives
    one blob one hand there."""
    from conftest import SHARED
    from signseg.infer.segmenter import Segmenter
    from signseg.teacher.labelset import label_videos
    from signseg.train.evaluate import written_parts
    from pathlib import Path
    out = tmp_path / "touching.h5"
    assert not label_videos([SHARED / "signs3" / "ryanestanton__thanks.mp4"], out, teacher_python=None,
                            landmarks_dir=Path(__file__).parent / "data" / "touching", progress=False)
    with h5py.File(out) as f:
        g = f["videos/ryanestanton__thanks"]
        frames, truth = g["frames"][()], g["labels"][()]
    ring = np.ones((5, 5), np.uint8)
    touch = [i for i, t in enumerate(truth) if (t == L.LEFT_HAND).sum() > 100 and (t == L.RIGHT_HAND).sum() > 100
             and (cv2.dilate((t == L.LEFT_HAND).astype(np.uint8), ring) & (t == L.RIGHT_HAND)).any()]
    assert len(touch) >= 15
    seg = Segmenter.from_pretrained()
    masks, parts = written_parts(seg, frames)

    def each_hand(parts):
        iou = lambda a, b: (a & b).sum() / max((a | b).sum(), 1)  # noqa: E731
        return np.array([[iou(parts[i] == v, truth[i] == v) for v in (L.LEFT_HAND, L.RIGHT_HAND)] for i in touch])

    written = each_hand(parts)
    tracked = each_hand(split_parts(masks)[0])
    # measured (twenty-third session): both hands at IoU >= 0.2 in 20 of 22 frames, left 0.43,
    # right 0.38; the tracker alone: 0 of 22, left 0.00, right 0.04
    assert (written.min(1) >= 0.2).mean() >= 0.7, written
    assert written.mean(0).min() >= 0.3, written.mean(0)
    assert (tracked.min(1) >= 0.2).mean() < 0.3
    # a network with the signer's sides gives every part itself, at its own (smaller) size
    small = cv2.resize(truth[0], (W // 2, H // 2), interpolation=cv2.INTER_NEAREST)
    sided = np.stack([small == v for v in (L.FACE, L.LEFT_HAND, L.RIGHT_HAND)], -1).astype(np.float32)[None]
    parts, boxes = network_parts(truth[:1] > 0, sided, ("face", "left_hand", "right_hand"))
    assert (parts == truth[:1]).mean() > 0.99 and not np.isnan(boxes).any()


def test_parts_are_scored_as_they_are_written(parts_file, soup):
    """The evaluation's parts of the shipped face/hand model are the file's: the network's face,
    its hands named by their side of the face, still hands dropped."""
    from signseg.infer.segmenter import Segmenter
    from signseg.decode.video import read_video
    from signseg.infer.preprocess import threshold
    from signseg.train.evaluate import predicted_parts
    seg = Segmenter.from_pretrained()
    assert seg.parts == ("face", "hand")
    frames = read_video(soup)
    channels = seg.predict_channels(frames)
    masks = threshold(channels[..., 0], seg.threshold, seg.max_blobs)
    with MaskReader(parts_file) as reader:
        fps = float(reader["SOUP"].attrs["fps"])
    parts = predicted_parts(seg, frames, masks, channels[..., 1:], fps)  # still hands dropped as written
    sure = (masks > 0) & (channels[..., 1] >= 2 * channels[..., 2])  # the network is sure: face
    assert (parts[sure] == L.FACE).mean() > 0.99
    assert (parts[(masks > 0) & (channels[..., 2] >= 4 * channels[..., 1])] != L.FACE).mean() > 0.99
    with MaskReader(parts_file) as reader:
        written = reader["SOUP"].masks[()]
        assert reader["SOUP"].attrs["parts_from"] == "network face, hands by side of the face, hands refined on crops"
    assert (written == parts).mean() > 0.995  # the file's pixels (the runtime's rounding aside)


def test_the_side_rule_on_the_teachers_own_hands_swaps_only_a_hand_across_the_face():
    """sides_of_teacher names the teacher's hands by their side of the teacher's face: hands on
    their own side keep their names, a right hand reaching across to the image's right is
    called left (the rule's own error), and the face and background are left as they are."""
    from signseg.train.evaluate import Score, sides_of_teacher
    truth = np.stack([scene(left=(220, 130), right=(100, 130)), scene(right=(200, 130))])
    named = sides_of_teacher(truth)
    np.testing.assert_array_equal(named[0], truth[0])
    assert (named[1][truth[1] == L.RIGHT_HAND] == L.LEFT_HAND).all()
    np.testing.assert_array_equal(named[1] == L.FACE, truth[1] == L.FACE)
    score = Score()
    score.add(truth, truth, named, sides=True)
    hand_px = L.is_hand(truth).sum()
    assert score.swapped == pytest.approx((truth[1] == L.RIGHT_HAND).sum() / hand_px)
    assert score.hand_iou == 1.0

"""Teacher labels from real MediaPipe Holistic landmarks of SOUP.mp4 (tests/data, made by
``python -m signseg.teacher.holistic`` in the teacher environment)."""
from pathlib import Path

import h5py
import numpy as np
import pytest

from signseg import labels as L
from signseg.errors import SignsegError
from signseg.teacher.labelset import FLAG_NAMES, label_videos, open_labels, run_teacher
from signseg.teacher.masks import fit_skin_model, hand_mask, hand_missed, hull_hand_mask, part_mask
from signseg.decode.video import read_video

LANDMARKS = Path(__file__).parent / "data" / "SOUP.landmarks.npz"


@pytest.fixture(scope="module")
def soup_lm():
    return dict(np.load(LANDMARKS))


@pytest.fixture(scope="module")
def soup_frames(soup):
    return read_video(soup)


def test_skin_model_from_the_face_accepts_hands_rejects_sleeves(soup_lm, soup_frames):
    skin = fit_skin_model(list(soup_frames[::8]), list(soup_lm["face"][::8]))
    assert skin is not None
    f = 20
    is_skin = skin.is_skin(soup_frames[f])
    # pixels at the left hand's knuckles are skin; the dark sleeve below the wrist is not
    knuckles = np.round(soup_lm["left_hand"][f][[5, 9, 13]]).astype(int)
    assert is_skin[knuckles[:, 1], knuckles[:, 0]].mean() >= 2 / 3
    wrist = soup_lm["left_hand"][f][0]
    elbow = soup_lm["pose"][f][13][:2]  # the signer's left elbow: on the dark sleeve
    sleeve = np.round(wrist + 0.6 * (elbow - wrist)).astype(int)
    assert not is_skin[sleeve[1], sleeve[0]]


def test_part_mask_has_face_and_the_visible_hands(soup_lm, soup_frames):
    skin = fit_skin_model(list(soup_frames[::8]), list(soup_lm["face"][::8]))
    for f in (10, 20, 30):
        m = part_mask(soup_frames[f], soup_lm["face"][f], soup_lm["left_hand"][f], soup_lm["right_hand"][f], skin)
        assert m.shape == (240, 320) and m.dtype == np.uint8
        face_rows = np.nonzero(m == L.FACE)[0]
        assert face_rows.size > 500 and face_rows.mean() < 120  # the face is in the upper half
        for key, value in (("left_hand", L.LEFT_HAND), ("right_hand", L.RIGHT_HAND)):
            pts = soup_lm[key][f]
            if np.isfinite(pts).all():
                xy = np.clip(np.round(pts).astype(int), 0, [319, 239])
                assert (m[xy[:, 1], xy[:, 0]] == value).mean() > 0.85  # landmarks fall inside their hand
                assert 50 < (m == value).sum() < 0.2 * m.size


def test_hand_mask_keeps_the_skeleton_and_cuts_non_skin(soup_lm):
    pts = soup_lm["left_hand"][20]
    full = hand_mask(pts, (240, 320), None)
    none = hand_mask(pts, (240, 320), np.zeros((240, 320), bool))
    assert none.sum() > 0 and (none & ~full).sum() == 0 and full.sum() > none.sum()


def test_hull_hands_cover_the_skin_hand_and_ignore_colour(soup_lm, soup_frames):
    skin = fit_skin_model(list(soup_frames[::8]), list(soup_lm["face"][::8]))
    for f in (10, 20, 30):
        lm = [soup_lm[k][f] for k in ("face", "left_hand", "right_hand")]
        by_skin = part_mask(soup_frames[f], *lm, skin)
        by_hull = part_mask(soup_frames[f], *lm, skin, hands="hull")
        np.testing.assert_array_equal(by_skin == L.FACE, by_hull == L.FACE)  # the same face oval
        # the same image painted black: the skin style loses its widened band, the hull keeps all
        black = part_mask(np.zeros_like(soup_frames[f]), *lm, skin, hands="hull")
        np.testing.assert_array_equal(black, by_hull)
        for key, value in (("left_hand", L.LEFT_HAND), ("right_hand", L.RIGHT_HAND)):
            pts = soup_lm[key][f]
            if not np.isfinite(pts).all():
                continue
            hull, skinny = by_hull == value, by_skin == value
            bare = hull_hand_mask(pts, (240, 320), finger=0.0)  # the landmarks' hull itself
            assert (bare & ~hull).sum() == 0 and hull.sum() > 1.2 * bare.sum()
            # on this bare-handed signer the two styles mark much the same hand
            assert (hull & skinny).sum() / (hull | skinny).sum() > 0.6
    with pytest.raises(ValueError, match="hands must be one of"):
        part_mask(soup_frames[0], None, None, None, skin, hands="box")


def test_hand_missed_only_for_wrists_well_inside_the_frame():
    pose = np.full((33, 3), np.nan, np.float32)
    pose[15] = (100, 100, 0.9)
    no_hand = np.full((21, 2), np.nan, np.float32)
    assert hand_missed(no_hand, pose, 15, (240, 320))
    assert not hand_missed(np.zeros((21, 2), np.float32), pose, 15, (240, 320))
    pose[15] = (100, 239, 0.9)  # resting at the bottom edge
    assert not hand_missed(no_hand, pose, 15, (240, 320))
    pose[15] = (100, 100, 0.1)  # the pose itself is unsure
    assert not hand_missed(no_hand, pose, 15, (240, 320))


def test_labels_file_from_cached_landmarks(tmp_path, soup, damaged):
    lm_dir = tmp_path / "lm"
    lm_dir.mkdir()
    (lm_dir / "SOUP.npz").write_bytes(LANDMARKS.read_bytes())
    out = tmp_path / "labels.h5"
    failures = label_videos([soup, damaged["empty"]], out, teacher_python=None, landmarks_dir=lm_dir,
                            max_side=160, every=2, progress=False)
    assert list(failures) == ["empty"] and "no teacher landmarks" in failures["empty"]
    with h5py.File(out, "r") as f:
        g = f["videos/SOUP"]
        assert g.attrs["complete"] and g["frames"].shape == (21, 120, 160, 3)
        assert g["labels"].shape == (21, 120, 160) and g["flags"].shape == (21, len(FLAG_NAMES))
        assert list(g.attrs["frame_index"]) == list(range(0, 41, 2))
        assert set(np.unique(g["labels"][:])) == {0, 1, 2, 3}
        assert g["flags"][:, 0].all()  # the face was found in every frame
    with open_labels(out) as f:  # reopening adds, it does not wipe
        assert "videos/SOUP" in f
        assert f.attrs["hands"] == "skin" and f["videos/SOUP"].attrs["hands"] == "skin"
    # one style per file: hull hands go to a file of their own
    with pytest.raises(SignsegError, match="hands drawn as 'skin'"):
        label_videos([soup], out, teacher_python=None, landmarks_dir=lm_dir, progress=False, hands="hull")
    hull = tmp_path / "hull.h5"
    assert not label_videos([soup], hull, teacher_python=None, landmarks_dir=lm_dir, max_side=160, every=2,
                            progress=False, hands="hull")
    with h5py.File(hull, "r") as f, h5py.File(out, "r") as g:
        assert f.attrs["hands"] == "hull"
        hands_hull, hands_skin = L.is_hand(f["videos/SOUP/labels"][:]), L.is_hand(g["videos/SOUP/labels"][:])
        assert 0.6 < (hands_hull & hands_skin).sum() / (hands_hull | hands_skin).sum() < 0.99


def test_a_mask_file_is_not_a_labels_file(tmp_path):
    from signseg.store.mask_file import MaskFile
    MaskFile(tmp_path / "m.h5", "w").close()
    with pytest.raises(SignsegError, match="not a signseg labels file"):
        open_labels(tmp_path / "m.h5")


def test_missing_teacher_python_is_named(tmp_path, soup):
    with pytest.raises(SignsegError, match="teacher python not found") as err:
        run_teacher([soup], tmp_path, teacher_python=str(tmp_path / "no-python"))
    assert "no-python" in str(err.value)


def test_holistic_worker_reproduces_the_fixture(tmp_path, soup, soup_lm, teacher_python):
    run_teacher([soup], tmp_path, teacher_python=teacher_python)
    assert [p.name for p in tmp_path.iterdir()] == ["SOUP.npz"]  # its scratch files are gone
    fresh = np.load(tmp_path / "SOUP.npz")
    assert np.isfinite(fresh["face"][:, 0, 0]).all()
    np.testing.assert_allclose(fresh["face"], soup_lm["face"], atol=2.0)
    # the person segmentation that training pastes signers with: one mask per frame, the
    # signer inside it (every face centre), the grey studio outside it (most of the frame)
    person = fresh["person"]
    assert person.dtype == np.uint8 and person.shape == (len(fresh["frame_index"]), 240, 320)
    cx, cy = np.nanmean(fresh["face"], axis=1).round().astype(int).T
    assert (person[np.arange(len(person)), cy, cx] > 200).all()
    assert 0.05 < (person > 128).mean() < 0.6


def _pose_with_left_hand(x: float, y: float, visibility: float = 0.9) -> np.ndarray:
    """A pose whose left forearm points down to a wrist at (x, y), its hand points below it."""
    pose = np.full((33, 3), np.nan, np.float32)
    pose[13] = (x, y - 40, visibility)  # elbow
    pose[15] = (x, y, visibility)  # wrist
    pose[17], pose[19], pose[21] = (x - 5, y + 12, visibility), (x, y + 15, visibility), (x + 6, y + 10, visibility)
    return pose


def test_where_the_pose_puts_a_hand_the_teacher_missed_is_ignored_not_background():
    from signseg.teacher.masks import ignore_mask, pose_hand_region
    shape = (240, 320)
    pose = _pose_with_left_hand(100, 200)
    region = pose_hand_region(pose, "left", shape)
    assert region is not None and region[200, 100] and region[215, 100]  # wrist and fingertips
    assert not region[20, 300] and region.mean() < 0.1  # a hand-sized patch, not the frame
    assert pose_hand_region(pose, "right", shape) is None  # the pose has no right arm
    assert pose_hand_region(_pose_with_left_hand(100, 600), "left", shape) is None  # far below the frame
    # a hand resting at the bottom edge (hand_missed does not count it) is still ignored,
    assert pose_hand_region(_pose_with_left_hand(100, 236), "left", shape)[236, 100]
    # at any visibility while its wrist is in the frame (the pose is unsure of hands the edge cuts) ...
    assert pose_hand_region(_pose_with_left_hand(100, 225, 0.05), "left", shape)[235, 100]
    # ... but not when an unsure wrist is outside it (a hand below the frame is not in the picture)
    assert pose_hand_region(_pose_with_left_hand(100, 245, 0.05), "left", shape) is None
    # a sure wrist just below the frame: its hand points all outside, so no hand is in the picture
    assert pose_hand_region(_pose_with_left_hand(100, 245), "left", shape) is None
    # a sure wrist just above the frame's bottom, its hand points below: the region covers the part inside
    edge = pose_hand_region(_pose_with_left_hand(100, 238), "left", shape)
    assert edge[239, 100] and edge[239, 100 - 20] and not edge[180, 100]
    # a hull the frame's edge cuts is widened whole, not clipped first (its corners outside still widen in)
    from signseg.teacher.masks import _widened_hull
    cut = _widened_hull(np.array([[100, 239], [140, 245], [60, 245]], np.int32), shape, 10)
    assert cut[239, 135] and cut[239, 65] and not cut[225, 100]
    no_hand = np.full((21, 2), np.nan, np.float32)
    found = np.tile(np.array([[100, 200]], np.float32), (21, 1)) + np.arange(21)[:, None]
    assert ignore_mask(shape, pose, no_hand, no_hand)[200, 100]
    assert not ignore_mask(shape, pose, found, no_hand).any()  # the teacher found that hand: nothing to ignore


def test_a_hand_lost_for_a_few_frames_is_interpolated():
    from signseg.teacher.masks import fill_short_gaps
    hands = np.full((10, 21, 2), np.nan, np.float32)
    hands[0], hands[3], hands[9] = 0.0, 30.0, 90.0
    filled = fill_short_gaps(hands, max_gap=4)
    np.testing.assert_allclose(filled[1], 10.0)
    np.testing.assert_allclose(filled[2], 20.0)
    assert np.isnan(filled[4:9]).all()  # five frames missing: too long to guess
    # rows every 2nd frame: a one-row gap is three frames lost, filled; every 4th: seven, not
    np.testing.assert_allclose(fill_short_gaps(hands[[0, 1, 3]], frame_index=np.array([0, 2, 4]))[1], 15.0)
    assert np.isnan(fill_short_gaps(hands[[0, 1, 3]], frame_index=np.array([0, 4, 8]))[1]).all()


def test_labels_file_keeps_ignore_regions_and_training_reads_them(tmp_path, soup):
    from signseg.train.frames import load_labels_file, with_ignore
    lm = dict(np.load(LANDMARKS))
    lm["left_hand"][5:8] = np.nan  # the teacher loses the left hand for three frames
    lm["left_hand"][20:] = np.nan  # ... and for the rest of the clip (the pose still sees the arm)
    lm_dir = tmp_path / "lm"
    lm_dir.mkdir()
    np.savez(lm_dir / "SOUP.npz", **lm)
    out = tmp_path / "labels.h5"
    assert not label_videos([soup], out, teacher_python=None, landmarks_dir=lm_dir, progress=False)
    with h5py.File(out, "r") as f:
        g = f["videos/SOUP"]
        ignore, labels, flags = g["ignore"][:], g["labels"][:], g["flags"][:]
        assert g.attrs["ignore_frames"] == int(ignore.any(axis=(1, 2)).sum())
    lost = ignore.any(axis=(1, 2))
    assert lost[5:8].all()  # the short gap: where the interpolated hand would be
    assert lost[20:].mean() > 0.8  # the long one: where the pose places the hand
    data = load_labels_file(out)
    assert len(data) == int(flags[:, 0].sum())  # frames with a missed hand are kept now ...
    merged, kept = np.stack(data.masks), flags[:, 0] > 0
    assert (merged == L.IGNORE).sum() == ((ignore[kept] > 0) & (labels[kept] <= L.FACE)).sum()  # ... their hands ignored
    hands = lambda m: L.is_hand(m).sum()  # noqa: E731
    assert hands(merged) == hands(labels[kept])  # never over a hand the teacher did draw
    np.testing.assert_array_equal(with_ignore(labels, np.zeros_like(ignore)), labels)


def _looped_soup(tmp_path, soup_frames, times: int):
    """SOUP played ``times`` over (a longer real video) with its landmarks and a person mask
    per frame, as the teacher writes them (compressed .npz)."""
    from conftest import write_video
    lm = dict(np.load(LANDMARKS))
    n = len(lm["frame_index"])
    long = {k: (np.concatenate([v] * times) if k in ("face", "left_hand", "right_hand", "pose") else v)
            for k, v in lm.items()}
    long["frame_index"] = np.arange(n * times, dtype=np.int32)
    rng = np.random.default_rng(times)
    long["person"] = (rng.random((n * times, 120, 160)) * 255).astype(np.uint8)
    video = write_video(tmp_path / f"loop{times}.avi", np.concatenate([soup_frames] * times))
    np.savez_compressed(tmp_path / f"loop{times}.npz", **long)
    return video, tmp_path / f"loop{times}.npz", long


def test_labelling_memory_does_not_grow_with_the_video(tmp_path, soup_frames):
    """The labels of a video are made a chunk at a time and its person masks read a row at a
    time, so labelling a video three times as long takes no more memory at its peak."""
    import tracemalloc
    from signseg.decode.image import resize
    from signseg.teacher.labelset import CHUNK, build_labels
    peaks, persons = {}, {}
    for times in (4, 12):  # 164 and 492 frames: both longer than one chunk
        video, lm_file, lm = _looped_soup(tmp_path, soup_frames, times)
        assert len(lm["frame_index"]) > 2 * CHUNK
        tracemalloc.start()
        with h5py.File(tmp_path / f"labels{times}.h5", "w") as f:
            assert build_labels(video, lm_file, f, video_id="v") == len(lm["frame_index"])
        peaks[times] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        with h5py.File(tmp_path / f"labels{times}.h5", "r") as f:
            g = f["videos/v"]
            assert g.attrs["complete"] and g["frames"].shape == (len(lm["frame_index"]), 240, 320, 3)
            persons[times] = g["person"][[0, -1]]
            np.testing.assert_array_equal(persons[times][-1], resize(lm["person"][-1], (240, 320)))
    assert peaks[12] < 1.25 * peaks[4], peaks  # the whole video held at once would be 3x


def test_npz_rows_reads_rows_in_order_from_the_archive(tmp_path):
    from signseg.teacher.labelset import npz_rows
    a = np.arange(7 * 3 * 4, dtype=np.uint8).reshape(7, 3, 4)
    for save in (np.savez, np.savez_compressed):
        save(tmp_path / "a.npz", person=a)
        got = list(npz_rows(tmp_path / "a.npz", "person", [0, 2, 3, 6]))
        np.testing.assert_array_equal(np.stack(got), a[[0, 2, 3, 6]])
    with pytest.raises(ValueError, match="out of order"):
        list(npz_rows(tmp_path / "a.npz", "person", [3, 1]))


def test_the_teachers_npz_is_written_from_rows_on_disk(tmp_path):
    """The teacher writes a video's landmarks and person masks to scratch files as they come
    and streams them into its .npz: np.load reads the same arrays as from np.savez_compressed,
    and the rows can be read back one at a time."""
    from signseg.teacher.holistic import Spool, write_npz
    from signseg.teacher.labelset import npz_rows
    rng = np.random.default_rng(0)
    person = rng.integers(0, 256, (50, 9, 16), dtype=np.uint8)
    face = rng.random((50, 468, 2), np.float32)
    small = {"width": 16, "fps": 29.97, "source": "clip.mp4"}
    spools = {"frame_index": Spool(tmp_path / "i.raw", np.int32), "face": Spool(tmp_path / "f.raw", np.float32),
              "person": Spool(tmp_path / "p.raw", np.uint8)}
    for i in range(50):
        spools["frame_index"].append(np.int32(i))
        spools["face"].append(face[i])
        spools["person"].append(person[i])
    with pytest.raises(ValueError, match="p.raw: row of shape"):
        spools["person"].append(person[0, :3])
    write_npz(tmp_path / "streamed.npz", small, spools, block=100)
    np.savez_compressed(tmp_path / "whole.npz", **small, frame_index=np.arange(50, dtype=np.int32), face=face,
                        person=person)
    streamed, whole = np.load(tmp_path / "streamed.npz"), np.load(tmp_path / "whole.npz")
    assert sorted(streamed.files) == sorted(whole.files)
    for key in whole.files:
        np.testing.assert_array_equal(streamed[key], whole[key])
        assert streamed[key].dtype == whole[key].dtype
    rows = np.stack(list(npz_rows(tmp_path / "streamed.npz", "person", [3, 49])))
    np.testing.assert_array_equal(rows, person[[3, 49]])

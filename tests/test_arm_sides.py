"""The arm network: its targets drawn from the pose, its naming of the hands, its card and its verb."""
import json
import shutil

import numpy as np
import pytest

from conftest import run
from signseg import labels as L
from signseg.infer.arm_sides import ArmSides
from signseg.models.arm_sides import SIZE
from signseg.postprocess.network_parts import LINE_WEIGHT, HandSides, leaning_left
from signseg.teacher.masks import arm_mask
from signseg.train.arm_sides import arm_targets, arms_from_labels


def _pose() -> np.ndarray:
    """A signer facing the camera in a 200x200 frame: the left shoulder on the image's right,
    the left arm hanging, the right arm reaching across the body to the image's right."""
    pose = np.full((33, 3), np.nan, np.float32)
    pose[:, 2] = 1.0
    pose[11, :2], pose[12, :2] = (130, 60), (70, 60)      # shoulders, 60 px apart
    pose[13, :2], pose[15, :2] = (140, 110), (145, 150)   # left elbow, wrist
    pose[[17, 19, 21], :2] = (150, 165), (145, 168), (140, 162)
    pose[14, :2], pose[16, :2] = (80, 120), (120, 130)    # right elbow, wrist: across the body
    pose[[18, 20, 22], :2] = (135, 135), (132, 140), (128, 138)
    return pose


def test_an_arm_runs_from_its_shoulder_through_elbow_and_wrist_to_the_hand():
    pose = _pose()
    left = arm_mask(pose, "left", (200, 200))
    right = arm_mask(pose, "right", (200, 200))
    for (x, y) in ((130, 60), (140, 110), (145, 150), (145, 165)):
        assert left[y, x] == 1
    for (x, y) in ((70, 60), (80, 120), (120, 130)):
        assert right[y, x] == 1
    assert left[190, 10] == 0 and right[10, 190] == 0
    # 0.28 of a shoulder width thick: 60 px apart -> about 17 px across the upper arm
    row = left[85]
    assert 12 <= row.sum() <= 24
    hand = np.zeros((200, 200), bool)
    hand[170:180, 150:160] = True
    assert arm_mask(pose, "left", (200, 200), hand)[175, 155] == 1
    pose[13] = np.nan  # no elbow: no arm
    assert arm_mask(pose, "left", (200, 200)) is None
    t = arm_targets(_pose(), np.where(hand, L.LEFT_HAND, 0).astype(np.uint8))
    assert t.shape == (200, 200, 2) and t[175, 155, 0] == 1 and t[175, 155, 1] == 0


def test_hands_are_named_by_the_arm_they_lean_to_and_touching_hands_are_cut_by_it():
    parts = np.zeros((60, 100), np.uint8)
    hands = np.zeros((60, 100), bool)
    hands[10:20, 70:80] = True           # wholly on the image's right of the line
    hands[40:50, 20:40] = True           # two hands touching, left of the line
    small = np.zeros((60, 100), bool)
    small[2:4, 2:4] = True
    parts[hands | small] = L.UNASSIGNED
    by_line = parts.copy()
    HandSides().name(by_line, hands | small, 50.0, min_area=10)
    assert (by_line[10:20, 70:80] == L.LEFT_HAND).all() and (by_line[40:50, 20:40] == L.RIGHT_HAND).all()
    assert (by_line[2:4, 2:4] == L.UNASSIGNED).all()  # under min_area: left as it was
    arms = np.zeros((60, 100, 2), np.float32)
    arms[..., 1] = 0.6                   # the right arm everywhere ...
    arms[40:50, 30:40, 0] = 0.9          # ... but the left hand touching it
    by_arms = parts.copy()
    HandSides().name(by_arms, hands | small, 50.0, min_area=10, arms=arms)
    assert (by_arms[10:20, 70:80] == L.RIGHT_HAND).all()  # across the body: its arm says right
    assert (by_arms[40:50, 20:30] == L.RIGHT_HAND).all() and (by_arms[40:50, 30:40] == L.LEFT_HAND).all()
    assert (by_arms[2:4, 2:4] == L.UNASSIGNED).all()
    # arms the network is unsure of (a close-up with no shoulder): the line names the hands
    unsure = np.zeros((60, 100, 2), np.float32)
    unsure[..., 1] = 0.9 * LINE_WEIGHT
    by_unsure = parts.copy()
    HandSides().name(by_unsure, hands | small, 50.0, min_area=10, arms=unsure)
    np.testing.assert_array_equal(by_unsure, by_line)
    # probabilities at the network's size are brought to the frame's
    assert leaning_left((60, 100), 50.0, arms[::2, ::2]).shape == (60, 100)
    assert not leaning_left((60, 100), 50.0)[:, :50].any() and leaning_left((60, 100), 50.0)[:, 50:].all()


def test_arm_targets_are_read_from_labels_and_their_landmarks(soup_labels):
    x, y, groups = arms_from_labels([soup_labels], landmarks=soup_labels.parent)
    assert x.shape[1:] == (SIZE, SIZE, 3) and y.shape == (*x.shape[:3], 2) and x.dtype == y.dtype == np.uint8
    assert set(groups) == {"SOUP"} and len(x) > 5
    # SOUP's signer faces the camera: the left arm is mostly on the image's right
    cols = np.arange(SIZE)
    for channel, right_side in ((0, True), (1, False)):
        mass = y[..., channel].astype(float).sum(axis=(0, 1))
        centre = (mass * cols).sum() / mass.sum()
        assert (centre > SIZE / 2) == right_side, (channel, centre)
    with pytest.raises(FileNotFoundError, match="SOUP.npz: no landmarks"):
        arms_from_labels([soup_labels], landmarks=soup_labels.parent / "elsewhere")


@pytest.fixture(scope="module")
def arms_card(soup_labels, tmp_path_factory):
    """The shipped weights' folder with an arm network trained by ``signseg arms`` (a few steps on
    SOUP) and attached to snet-lite's card in place of the shipped one."""
    from signseg.infer.presets import weights_dir

    folder = tmp_path_factory.mktemp("arms") / "weights"
    shutil.copytree(weights_dir(), folder)
    r = run("arms", soup_labels, "--landmarks", soup_labels.parent, "-o", folder / "arm-sides.weights.h5",
            "--epochs", "1", "--steps", "3", "--batch-size", "4", "--width", "4",
            "--attach", folder / "snet-lite.json", "-q")
    assert r.returncode == 0, r.stderr
    return folder


def test_signseg_arms_trains_a_network_and_names_it_in_a_card(arms_card, soup_labels):
    entry = json.loads((arms_card / "snet-lite.json").read_text())["arm_sides"]
    assert entry["file"] == "arm-sides.weights.h5" and entry["width"] == 4
    assert entry["default"] is False  # a card that had none runs it only where asked
    assert entry["training"]["frames"] > 5 and entry["training"]["videos"] == 1
    assert json.loads((arms_card / "arm-sides.json").read_text())["sha256"] == entry["sha256"]
    arms = ArmSides.from_card(entry, arms_card)
    p = arms.arms(np.zeros((3, 90, 160, 3), np.uint8))
    assert p.shape == (3, SIZE, SIZE, 2) and 0 <= p.min() and p.max() <= 1
    assert arms.arms(np.zeros((0, 90, 160, 3), np.uint8)).shape == (0, SIZE, SIZE, 2)
    r = run("arms", soup_labels, "-o", arms_card / "arms.h5", "-q")
    assert r.returncode == 2 and "must end in .weights.h5" in r.stderr


def test_a_card_runs_its_arm_network_where_asked_and_checks_it_then(arms_card, tmp_path):
    from signseg.errors import WeightsError
    from signseg.infer.segmenter import Segmenter

    with pytest.raises(ValueError, match="names no arm network"):
        Segmenter.from_pretrained("snet", arm_sides=True)  # snet's card names none
    # snet-lite's names one, off unless asked (it did not help new people held out), with its int8 graph
    assert Segmenter.from_pretrained("snet-lite").arm_sides is None
    shipped = Segmenter.from_pretrained("snet-lite", arm_sides=True).arm_sides
    assert shipped.int8 is not None and shipped.width == 8
    folder = tmp_path / "card"
    shutil.copytree(arms_card, folder)
    entry = json.loads((folder / "snet-lite.json").read_text())["arm_sides"]
    assert Segmenter.from_file(folder / "snet-lite.weights.h5").arm_sides is None  # off unless asked
    seg = Segmenter.from_file(folder / "snet-lite.weights.h5", arm_sides=True)
    assert seg.arm_sides.sha256 == entry["sha256"] and seg.arm_sides.int8 is None
    (folder / entry["file"]).write_bytes(b"not weights")
    assert Segmenter.from_file(folder / "snet-lite.weights.h5").arm_sides is None  # not asked: not read
    with pytest.raises(WeightsError, match="sha256 does not match"):
        Segmenter.from_file(folder / "snet-lite.weights.h5", arm_sides=True)


def test_a_fine_tune_keeps_the_arm_network_beside_its_weights(arms_card, tmp_path):
    from signseg.train.fit import carried_networks, init_card

    card0 = init_card(arms_card / "snet-lite.weights.h5")
    kept = carried_networks(card0, tmp_path, {"outputs": "face_hand"})
    assert set(kept) == {"hand_refiner", "arm_sides"}
    assert (tmp_path / kept["arm_sides"]["file"]).is_file() and (tmp_path / kept["hand_refiner"]["file"]).is_file()
    # the refiner reads the face and hand channels, the arm network the frames alone
    (tmp_path / "other").mkdir()
    assert set(carried_networks(card0, tmp_path / "other", {"outputs": "mask"})) == {"arm_sides"}


def test_segment_parts_with_the_arm_network_says_so_in_the_file(arms_card, tmp_path):
    from conftest import SHARED
    from signseg.store.mask_reader import MaskReader

    outs = {}
    for name, extra in (("face", ()), ("arms", ("--arm-sides",))):
        outs[name] = tmp_path / f"{name}.h5"
        r = run("segment", SHARED / "videos" / "SOUP.mp4", "-o", outs[name], "--parts", "-q", *extra,
                env_weights=arms_card)
        assert r.returncode == 0, r.stderr
    entry = json.loads((arms_card / "snet-lite.json").read_text())["arm_sides"]
    with MaskReader(outs["face"]) as a, MaskReader(outs["arms"]) as b:
        assert "arm_sides_sha256" not in a["SOUP"].attrs
        assert a["SOUP"].attrs["parts_from"] == "network face, hands by side of the face, hands refined on crops"
        assert b["SOUP"].attrs["parts_from"] == "network face, hands named by their arms, hands refined on crops"
        assert b["SOUP"].attrs["arm_sides_sha256"] == entry["sha256"]
        x, y = a["SOUP"].masks[()], b["SOUP"].masks[()]
    hands = L.is_hand
    np.testing.assert_array_equal(x == L.FACE, y == L.FACE)  # only the hands' names may differ
    np.testing.assert_array_equal(hands(x), hands(y))


def test_a_time_budget_sets_the_epochs_and_the_rate_falls_along_a_cosine():
    from signseg.train.arm_sides import cosine_rate, train_arm_sides

    assert cosine_rate(1e-3, 0, 10) == pytest.approx(1e-3)
    assert cosine_rate(1e-3, 5, 10) == pytest.approx(1e-3 * (0.05 + 0.95 * 0.5))
    assert cosine_rate(1e-3, 9, 10) > cosine_rate(1e-3, 10, 10) == pytest.approx(5e-5)
    x = np.random.default_rng(0).integers(0, 256, (4, SIZE, SIZE, 3), dtype=np.uint8)
    y = np.zeros((4, SIZE, SIZE, 2), np.uint8)
    lines = []
    train_arm_sides(x, y, epochs=50, steps=1, batch_size=2, width=4, max_minutes=1e-6, log=lines.append)
    assert len(lines) == 2 and lines[0].startswith("epoch 1/50:")  # the budget held one epoch of 50
    assert lines[1] == "1e-06 minutes hold 1 of the 50 epochs"

import numpy as np
import pytest

from signseg.models import metrics


@pytest.fixture
def pair():
    t = np.zeros((2, 8, 8, 1), np.float32)
    p = np.zeros((2, 8, 8, 1), np.float32)
    t[:, :4] = 1          # 64 true pixels
    p[:, 2:6] = 0.9       # 64 predicted, 32 of them true
    return t, p


def test_paper_metrics(pair):
    t, p = pair
    assert float(metrics.precision_m(t, p)) == pytest.approx(0.5, abs=1e-5)
    assert float(metrics.recall_m(t, p)) == pytest.approx(0.5, abs=1e-5)
    assert float(metrics.f1_m(t, p)) == pytest.approx(0.5, abs=1e-5)
    assert float(metrics.iou_m(t, p)) == pytest.approx(1 / 3, abs=1e-5)
    assert float(metrics.dice_m(t, p)) == pytest.approx(0.5, abs=1e-5)


def test_soft_dice_loss_is_zero_for_a_perfect_prediction(pair):
    t, _ = pair
    assert float(metrics.dice_loss(t, t)) == pytest.approx(0.0, abs=1e-6)
    assert float(metrics.dice_loss(t, 1 - t)) > 0.9


def test_numpy_metrics(pair):
    t, p = pair
    assert metrics.iou(t > 0, p > 0.5) == pytest.approx(1 / 3)
    assert metrics.dice(t > 0, p > 0.5) == pytest.approx(0.5)
    assert metrics.iou(np.zeros(4), np.zeros(4)) == 1.0


def test_custom_objects_use_the_paper_names():
    assert {"precision_m", "recall_m", "f1_m"} <= set(metrics.CUSTOM_OBJECTS)


def test_scores_by_setting_weigh_clips_alike_and_name_the_worst():
    import numpy as np
    from signseg.train.evaluate import Score, by_setting
    scores = {"all": Score()}
    for vid, hit in (("a", 90), ("b", 50), ("c", 10)):
        s = Score()
        truth = np.zeros((1, 10, 10), np.uint8)
        truth[0, :, :] = 1
        pred = np.zeros_like(truth)
        pred.reshape(-1)[:hit] = 4
        s.add(pred, truth)
        scores[vid] = s
    table = by_setting(scores, {"a": "studio", "b": "studio", "c": "home"})
    assert table["studio"] == {"clips": 2, "mean_iou": 0.7, "worst_iou": 0.5, "worst_clip": "b"}
    assert table["all clips"]["mean_iou"] == 0.5 and table["all clips"]["worst_clip"] == "c"
    assert scores["a"].precision == 1.0


def face_and_hand(side: int, face: slice, hand: slice) -> tuple[np.ndarray, np.ndarray]:
    """A label map (1, side, side, 1) with a square face and a square right hand, and a
    face_hand model's outputs that are right about both (0.99 / 0.01)."""
    from signseg import labels as L
    y = np.zeros((1, side, side, 1), np.float32)
    y[0, face, face] = L.FACE
    y[0, hand, hand] = L.RIGHT_HAND
    good = np.zeros((1, side, side, 3), np.float32) + 0.01
    good[0, face, face, 0] = good[0, face, face, 1] = 0.99
    good[0, hand, hand, 0] = good[0, hand, hand, 2] = 0.99
    return y, good


def test_segmentation_loss_skips_ignored_pixels_and_weighs_hands():
    from signseg import labels as L
    y, good = face_and_hand(16, slice(2, 8), slice(10, 12))
    y[0, 12:16, 0:4] = L.IGNORE
    loss = metrics.SegmentationLoss()
    anything = good.copy()
    anything[0, 12:16, 0:4] = 0.99  # whatever the model says where the teacher did not know
    assert float(loss(y, anything)) == pytest.approx(float(loss(y, good)))
    missed = good.copy()
    missed[0, 10:12, 10:12, [0, 2]] = 0.01  # the hand left out
    heavy = metrics.SegmentationLoss(hand_weight=5.0)
    assert float(heavy(y, missed)) - float(heavy(y, good)) > 2 * (float(loss(y, missed)) - float(loss(y, good)))
    assert float(metrics.mask_iou(y, good)) == pytest.approx(1.0, abs=1e-5)
    assert float(metrics.hand_iou(y, good)) == pytest.approx(1.0, abs=1e-5)
    assert float(metrics.hand_iou(y, missed)) == pytest.approx(0.0, abs=1e-5)
    # a one-channel model: the mask against hand-or-face, ignored pixels still skipped
    one = good[..., :1]
    assert float(loss(y, one)) == pytest.approx(float(loss(y, anything[..., :1])))


def test_hand_dice_charges_a_missed_hand_whatever_its_size():
    """--hand-dice: a Dice term of the hands alone. Leaving a small hand out costs a share of
    the whole Dice weight (the mask's Dice hardly notices: the face is most of it), and
    nothing is added at weight 0."""
    y, good = face_and_hand(32, slice(2, 20), slice(24, 27))
    missed = good.copy()
    missed[0, 24:27, 24:27, [0, 2]] = 0.01
    plain = metrics.SegmentationLoss(dice=True)
    assert float(metrics.SegmentationLoss(dice=True, hand_dice=0.0)(y, missed)) == pytest.approx(float(plain(y, missed)))
    hd = metrics.SegmentationLoss(dice=True, hand_dice=1.0)
    gap_plain = float(plain(y, missed)) - float(plain(y, good))
    gap_hd = float(hd(y, missed)) - float(hd(y, good))
    assert gap_hd - gap_plain > 0.5  # the hands' Dice goes from near 0 to near 1
    assert hd.get_config()["hand_dice"] == 1.0


def test_parts_loss_tells_the_signers_hands_apart():
    """A parts model (face, left, right): the loss falls when each hand is its own side, and is
    the face_hand loss where left and right are not told apart (their shares summed)."""
    from signseg import labels as L
    y = np.zeros((1, 16, 16, 1), np.float32)
    y[0, 2:8, 2:8] = L.FACE
    y[0, 10:12, 2:4] = L.LEFT_HAND
    y[0, 10:12, 10:12] = L.RIGHT_HAND
    right = np.zeros((1, 16, 16, 4), np.float32) + 0.01
    right[0, 2:8, 2:8, [0, 1]] = 0.99
    right[0, 10:12, 2:4, 0] = right[0, 10:12, 2:4, 2] = 0.99
    right[0, 10:12, 10:12, 0] = right[0, 10:12, 10:12, 3] = 0.99
    swapped = right.copy()
    swapped[..., [2, 3]] = right[..., [3, 2]]
    loss = metrics.SegmentationLoss(hand_weight=2.0)
    assert float(loss(y, swapped)) > float(loss(y, right)) + 0.05
    assert float(metrics.hand_iou(y, swapped)) == pytest.approx(1.0, abs=1e-5)  # hands are hands
    undecided = right.copy()
    undecided[..., 2] = undecided[..., 3] = 0.5 * (right[..., 2] + right[..., 3])
    fh = np.concatenate([right[..., :2], right[..., 2:].sum(-1, keepdims=True)], axis=-1)
    assert float(loss(y, undecided)) > float(loss(y, fh))  # a side not told costs log 2 a hand pixel


def test_scores_keep_each_hand_and_the_swapped_share():
    from signseg import labels as L
    from signseg.train.evaluate import Score, by_setting
    truth = np.zeros((1, 8, 8), np.uint8)
    truth[0, :2, :2] = L.FACE
    truth[0, 4:6, 0:2] = L.LEFT_HAND
    truth[0, 4:6, 6:8] = L.RIGHT_HAND
    parts = truth.copy()
    parts[0, 4:6, 0:2] = L.RIGHT_HAND  # the left hand called right
    s = Score()
    s.add(parts > 0, truth, parts, sides=True)
    assert s.hand_iou == 1.0 and s.left_iou == 0.0 and s.right_iou == pytest.approx(0.5)
    assert s.swapped == pytest.approx(0.5)
    plain = Score()
    plain.add(parts > 0, truth, parts)
    assert plain.left_iou is None and plain.swapped is None and plain.hand_iou == 1.0
    row = by_setting({"a": s, "b": plain}, {"a": "studio", "b": "studio"})["studio"]
    assert row["left_iou"] == 0.0 and row["right_iou"] == 0.5 and row["worst_side_clip"] == "a"

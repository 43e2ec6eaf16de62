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

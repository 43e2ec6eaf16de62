"""Quality floors of the shipped weights on held-out signers of several settings.

None of these clips, nor any clip of their signers, was used to train or to pick a checkpoint
(``pipelines/signers.tsv``, split ``test``). Three of their people, though, are also in
training or validation clips in other clothes, under another signer's name (the table's
``person`` column): ``lameburger__asl_thankyou`` (validation), ``bonbon1603__friend`` and
``psuchanarth-cpu__how-are-you`` (training). Settings: from home webcams and selfies with hands
at the lens to full-body framing, light and skin-coloured clothing, brown and dark skin.
Hands are held to floors of their own: a whole-mask mean hides missed hands (faces are large). Their teacher landmarks (every 4th frame) are
committed in ``tests/data/heldout/``; the masks are built from them here as ``signseg label``
does. Floors sit a margin below the IoU measured for docs/model_card.md, so a regression
(weights, preprocessing, resizing) fails while float noise does not.
"""
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED
from signseg.train.evaluate import by_setting, evaluate
from signseg.infer.segmenter import Segmenter
from signseg.teacher.labelset import label_videos

HELDOUT = Path(__file__).parent / "data" / "heldout"
#: clip -> (folder under shared/data, setting)
CLIPS = {
    "test_video": ("videos", "home webcam"),
    "Andrea12004__ls_como_estas": ("signs2", "home"),
    "lameburger__asl_thankyou": ("signs2", "selfie / close-up"),
    "klyct__lsm_energia": ("signs2", "skin-coloured wall"),
    "google__Jsl_example": ("signs2", "skin-coloured wall"),
    "google__Hksl_lemon": ("signs2", "light clothing"),
    "google__Jsl_swim": ("signs2", "white wall"),
    "Noct1z__asl_goodbye": ("signs2", "coloured studio"),
    # signs3's held-out signers (twenty-first session): hands touching at the lens, a hand at the
    # lens, hands touching the face in light clothing, brown skin, dark skin full body, a home
    "aymen-hacini__famille": ("signs3", "selfie / close-up"),
    "Mosacd__hello": ("signs3", "selfie / close-up"),
    "bonbon1603__friend": ("signs3", "light clothing"),
    "beleshivprasad__friday": ("signs3", "plain studio"),
    "cimentociumento__abridor": ("signs3", "full body"),
    "psuchanarth-cpu__how-are-you": ("signs3", "home"),
}
#: model -> floors of (the mean per-clip IoU, every clip's IoU, the mean precision, the mean
#: per-clip hand IoU, every clip's hand IoU). Hands are scored apart (signseg.train.evaluate),
#: as --parts writes them: the network's face and hands, named by their side of the face, where
#: the model has face/hand channels (snet-lite; signseg.postprocess.network_parts), else the part
#: tracker's split of its mask (snet). Twenty-third session, as written, same weights: snet-lite
#: hands 0.377, worst hand clip 0.115 (google__Hksl_lemon), left / right 0.258 / 0.368, hand
#: pixels given the other hand 0.127; the whole-mask figures unchanged. (Twenty-second session's
#: split: hands 0.333, worst 0.014, the floor then 0.01.)
#: Measured on these 14 clips (twenty-first session; the 6 signs3 clips new then):
#: snet-lite (face_hand, flip, 3 blobs) 0.583 mean, worst 0.393 (psuchanarth-cpu__how-are-you),
#: precision 0.692 (it marks more: forearms and necks count against it here; against people's
#: hgr1 masks its precision is 0.908), hands 0.349, worst hand clip 0.099 (google__Hksl_lemon);
#: snet 0.558 / 0.172 (bonbon1603__friend) / 0.819, hands 0.285, worst hand 0.012 (Mosacd__hello).
#: On the first 8 clips before: snet-lite 0.597 / 0.462 / 0.795 (fourteenth session), snet 0.603 /
#: 0.381 / 0.784 (twelfth). Earlier snet-lite weights: 0.540 / 0.329 / 0.733 (stage 4),
#: 0.524 / 0.263 / 0.675, 0.260 / 0.014; the CPU-trained snet was not held to a floor.
FLOORS = {"snet-lite": (0.55, 0.35, 0.65, 0.33, 0.08), "snet": (0.52, 0.14, 0.77, 0.24, 0.0)}
#: model -> the most hand pixels that may be given the other hand (mean over clips): the sides of
#: a face/hand model come from the face (0.127 measured); the tracker's of a one-channel model
#: are not held to one.
SWAPPED_CEILING = {"snet-lite": 0.2}
#: The least the hand refiner must add to the held-out hands of these clips (mean per clip).
#: Measured (twenty-seventh session): hands 0.382 -> 0.429, recall 0.631 -> 0.644, face 0.701 both.
REFINER_GAIN = 0.03


@pytest.fixture(scope="module")
def heldout_labels(tmp_path_factory):
    out = tmp_path_factory.mktemp("heldout") / "labels.h5"
    videos = [SHARED / folder / f"{clip}.mp4" for clip, (folder, _) in CLIPS.items()]
    assert not label_videos(videos, out, teacher_python=None, landmarks_dir=HELDOUT, progress=False)
    return out


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_quality_on_held_out_signers_and_settings(name, heldout_labels):
    scores = evaluate(Segmenter.from_pretrained(name), heldout_labels, list(CLIPS))
    table = by_setting(scores, {clip: setting for clip, (_, setting) in CLIPS.items()})
    overall = table["all clips"]
    mean_floor, clip_floor, precision_floor, hand_floor, hand_clip_floor = FLOORS[name]
    detail = ", ".join(f"{c} {scores[c].iou:.3f}/{scores[c].hand_iou:.3f}" for c in CLIPS)
    assert overall["clips"] == len(CLIPS)
    assert overall["mean_iou"] >= mean_floor, f"{name}: mean IoU {overall['mean_iou']} ({detail})"
    assert overall["worst_iou"] >= clip_floor, f"{name}: worst clip {overall['worst_clip']} ({detail})"
    assert np.mean([scores[c].precision for c in CLIPS]) >= precision_floor  # what it marks is mostly hand or face
    # hands apart from faces: a model that finds faces and misses hands fails here
    assert overall["hand_iou"] >= hand_floor, f"{name}: mean hand IoU {overall['hand_iou']} ({detail})"
    assert overall["worst_hand_iou"] >= hand_clip_floor, f"{name}: worst hands {overall['worst_hand_clip']} ({detail})"
    if name in SWAPPED_CEILING:  # each hand named as the signer's own
        assert overall["swapped"] <= SWAPPED_CEILING[name], f"{name}: {overall['swapped']} of hand pixels swapped"


def test_the_hand_refiner_finds_more_of_the_held_out_hands(heldout_labels):
    """The shipped hand refiner against the first network's own hands on the same masks and
    faces: the hands (mean per clip) rise, the face is untouched. REFINER_GAIN is measured."""
    setting_of = {clip: setting for clip, (_, setting) in CLIPS.items()}
    tables = {on: by_setting(evaluate(Segmenter.from_pretrained("snet-lite", refine_hands=on), heldout_labels,
                                      list(CLIPS)), setting_of) for on in (False, True)}
    before, after = tables[False]["all clips"], tables[True]["all clips"]
    assert after["hand_iou"] >= before["hand_iou"] + REFINER_GAIN, (before["hand_iou"], after["hand_iou"])
    assert after["hand_recall"] > before["hand_recall"]
    assert after["face_iou"] == pytest.approx(before["face_iou"], abs=0.005)


def test_evaluate_models_keeps_two_candidates_of_one_file_name_apart():
    import importlib.util
    spec = importlib.util.spec_from_file_location("evaluate_models", Path(__file__).parents[1] / "pipelines" / "evaluate_models.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    names = ["snet-lite", "snet+mirror", "runs/a/m.weights.h5", "runs/b/m.weights.h5", "runs/b/m.weights.h5-mirror",
             "runs/c/other.weights.h5", "old/snet-lite.weights.h5"]
    assert tool._labels(names) == {  # one row each: none overwrites another's scores
        "snet-lite": "snet-lite", "snet+mirror": "snet+mirror", "runs/a/m.weights.h5": "a/m",
        "runs/b/m.weights.h5": "b/m", "runs/b/m.weights.h5-mirror": "m-mirror", "runs/c/other.weights.h5": "other",
        "old/snet-lite.weights.h5": "old/snet-lite"}


def test_human_mask_sets_read_as_people_drew_them():
    """HGR1 (skin) and FASSEG (face classes, blended edges snapped to the nearest class colour):
    measured against, never trained on. The shipped default marks mostly what people call skin."""
    from signseg.train.evaluate import evaluate_frames, human_mask_set
    name, images, truths = human_mask_set(SHARED / "human-masks" / "hgr1")
    assert name == "hgr1" and len(images) == len(truths) == 225
    assert all(t.shape == i.shape[:2] and set(np.unique(t)) <= {0, 1} for i, t in zip(images[:5], truths[:5]))
    assert 0.05 < np.mean([t.mean() for t in truths]) < 0.5  # skin a fifth of a frame (SOURCE.txt: median 0.197)
    score = evaluate_frames(Segmenter.from_pretrained("snet-lite"), images[::25], truths[::25])
    # a sanity floor, not the hands issue's bar (0.9 over all 225 images: 0.896 now). On these 9
    # images (forty-first session): the 7-bit int8 graph 0.794, the 8-bit one before 0.803, float32 0.831
    assert score.frames == 9 and score.precision > 0.75 and 0 < score.recall < 1
    name, images, truths = human_mask_set(SHARED / "human-masks" / "fasseg")
    assert name == "fasseg" and len(images) == 70
    face = np.mean([t.mean() for t in truths])
    assert 0.1 < face < 0.7  # frontal faces fill much of the frame; hair and background are not face
    with pytest.raises(ValueError, match="not a known human-mask set"):
        human_mask_set(SHARED / "videos")

"""`pipelines/part_errors.py`: one clip's shares on a frame drawn by hand, each pixel counted once."""
import importlib.util

import numpy as np

from conftest import REPO
from signseg import labels as L

spec = importlib.util.spec_from_file_location("part_errors", REPO / "pipelines" / "part_errors.py")
part_errors = importlib.util.module_from_spec(spec)
spec.loader.exec_module(part_errors)


def test_shares_of_a_drawn_frame():
    F, H, R = L.FACE, L.LEFT_HAND, L.RIGHT_HAND
    truth = np.array([[F, F, 0, 0],
                      [F, F, 0, H],
                      [0, 0, 0, H],
                      [0, 0, R, R]], np.uint8)[None]
    parts = np.array([[F, H, 0, 0],    # a face pixel called hand
                      [0, F, H, H],    # one face pixel called nothing; a false hand on the person
                      [0, 0, 0, 0],    # a hand pixel called nothing
                      [H, 0, R, F]], np.uint8)[None]  # a false hand on the background, a hand called face
    person = np.zeros_like(truth, bool)
    person[0, 1, 2] = True
    e = part_errors.clip_errors(parts, truth, person, np.ones_like(truth, bool))
    # predicted hand: (0,1) (1,2) (1,3) (3,0) (3,2); right: (1,3) (3,2) of the teacher's 4 hand pixels
    assert (e["precision"], e["recall"]) == (2 / 5, 2 / 4)
    assert (e["false_face"], e["false_person"], e["false_background"]) == (1 / 5, 1 / 5, 1 / 5)
    assert (e["missed_as_face"], e["missed_as_nothing"]) == (1 / 4, 1 / 4)
    # the face said at (0,0) (1,1) (3,3): 2 of them right, the union 5
    assert (e["face_iou"], e["face_as_hand"], e["face_as_nothing"]) == (2 / 5, 1 / 4, 1 / 4)
    # a frame without the teacher's hands has no hand shares, one without a face no face shares
    assert set(part_errors.clip_errors(parts, np.where(L.is_hand(truth), 0, truth).astype(np.uint8), person,
                                       np.ones_like(truth, bool))) == set(part_errors.FACE_SHARES)
    assert set(part_errors.clip_errors(parts, np.where(truth == F, 0, truth).astype(np.uint8), person,
                                       np.ones_like(truth, bool))) == set(part_errors.HAND_SHARES + part_errors.PERSON_SPLIT)


def test_false_person_pixels_split_by_where_they_lie():
    """A wrist pixel by the hand, a hair pixel below the face, an elbow far from both: each in one
    place, and the three add up to false_person."""
    truth = np.zeros((1, 100, 100), np.uint8)
    truth[0, 10:20, 40:50] = L.FACE            # a face 10 pixels high
    truth[0, 80:90, 10:20] = L.RIGHT_HAND
    parts = truth.copy()
    parts[0, 80:90, 21:23] = L.RIGHT_HAND      # 2-3 px right of the hand: near it (NEAR: 5 px here)
    parts[0, 25:27, 44:46] = L.LEFT_HAND       # 5-7 px under the face: hair on the shoulder
    parts[0, 60, 80] = L.LEFT_HAND             # far from both: an elbow
    person = np.zeros(truth.shape, bool)
    person[0, 20:100, 5:100] = True
    e = part_errors.clip_errors(parts, truth, person, np.ones_like(truth, bool))
    n_pred = 100 + 20 + 4 + 1
    assert (e["pers_by_hand"], e["pers_by_face"], e["pers_else"]) == (20 / n_pred, 4 / n_pred, 1 / n_pred)
    assert np.isclose(sum(e[k] for k in part_errors.PERSON_SPLIT), e["false_person"])
    e = part_errors.clip_errors(parts, np.where(truth == L.FACE, 0, truth).astype(np.uint8), person,
                                np.ones_like(truth, bool))
    assert e["pers_by_face"] == 0 and e["pers_else"] == 5 / n_pred  # no face: the hair is elsewhere


def test_the_missed_hand_pixels_are_split_whole(soup_labels):
    """On SOUP's teacher labels, the shipped default's hand pixels called nothing are each in one
    place of the refiner's pipeline: the four shares add up to clip_errors' missed_as_nothing."""
    import h5py
    from signseg.infer.segmenter import Segmenter
    from signseg.train.evaluate import written_parts
    seg = Segmenter.from_pretrained("snet-lite")
    with h5py.File(soup_labels, "r") as f:
        frames, truth = f["videos/SOUP/frames"][()], f["videos/SOUP/labels"][()]
    known = np.ones(truth.shape, bool)
    _, parts = written_parts(seg, frames)
    errors = part_errors.clip_errors(parts, truth, np.zeros(truth.shape, bool), known)
    misses = part_errors.refiner_misses(seg, frames, parts, truth, known)
    assert set(misses) == set(part_errors.REFINER_MISSES)
    assert np.isclose(sum(misses.values()), errors["missed_as_nothing"])
    assert 0 < errors["missed_as_nothing"] < 0.5 and errors["recall"] > 0.5  # SOUP's hands are mostly found

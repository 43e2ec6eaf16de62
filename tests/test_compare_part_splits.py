"""`pipelines/compare_part_splits.py --room shelves`: a clip's signer pasted onto one drawn bookshelf."""
import importlib.util

import h5py
import numpy as np

from conftest import REPO

spec = importlib.util.spec_from_file_location("compare_part_splits", REPO / "pipelines" / "compare_part_splits.py")
compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare)


def test_a_clip_on_shelves_keeps_its_signer_and_gets_one_busy_room(soup_labels):
    with h5py.File(soup_labels) as f:
        g = f["videos/SOUP"]
        frames, truth = g["frames"][()], g["labels"][()]
    person = np.zeros(truth.shape, np.uint8)
    person[:, 30:, 50:115] = 255  # SOUP's labels carry no person mask: the signer's rough box (160 px frames)
    out = compare.on_shelves("SOUP", frames, truth, person)
    assert out.shape == frames.shape and out.dtype == np.uint8
    labelled = truth > 0
    assert np.abs(out[labelled].astype(int) - frames[labelled]).mean() < 1  # hands and face kept
    far = np.zeros(truth.shape[1:], bool)
    far[:, :30] = True  # left of the signer: SOUP's grey wall becomes books
    assert np.abs(out[:, far].astype(int) - frames[:, far]).mean() > 20
    assert (out[:, far] == out[0, far]).all()  # one room, the same in every frame
    again = compare.on_shelves("SOUP", frames, truth, person)
    other = compare.on_shelves("SOUP2", frames, truth, person)
    assert (again == out).all() and not (other[:, far] == out[:, far]).all()  # seeded by the clip's name

"""Readers for recognizers (numpy, tf.data, PyTorch) and the example recognizer, on mask files
written by real corpus runs."""
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from conftest import HD, REPO, SOUP, make_autsl, run
from signseg.store.mask_reader import MaskReader
from signseg.store.datasets import ClipDataset, sample_indices, to_tf_dataset, to_torch_dataset
from signseg.store.mask_file import MaskFile


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tiny_model_file):
    """4 clips of 2 signers (SOUP 41 frames, HD 9 frames), labelled, with parts and 16 px crops."""
    root = tmp_path_factory.mktemp("readers")
    train = make_autsl(root, [SOUP, HD, SOUP, HD])
    out = root / "out.h5"
    r = run("corpus", train, "-o", out, "--labels", root / "train_labels.csv", "--crops", "16",
            "--weights", tiny_model_file, "-q")
    assert r.returncode == 0, r.stderr
    return root, out


def test_sample_indices_spread_or_pad():
    np.testing.assert_array_equal(sample_indices(41, 5), [0, 10, 20, 30, 40])
    np.testing.assert_array_equal(sample_indices(3, 5), [0, 1, 2, -1, -1])
    with pytest.raises(ValueError):
        sample_indices(0, 4)


def test_clips_are_sampled_padded_and_labelled(corpus):
    _, out = corpus
    ds = ClipDataset(out, source="masks", frames=16, size=(48, 64))
    assert len(ds) == 4 and list(ds.labels) == [0, 20, 10, 30]  # signer0_sample1, _sample3, signer1_...
    with MaskReader(out) as reader:
        soup = reader["signer0_sample1"].masks[()]
        hd = reader["signer1_sample2"].masks[()]
    x, y = ds[0]
    assert x.shape == (16, 48, 64) and x.dtype == np.uint8 and y == 0
    import cv2
    np.testing.assert_array_equal(x[8], cv2.resize(soup[sample_indices(41, 16)[8]], (64, 48),
                                                   interpolation=cv2.INTER_NEAREST))
    x, y = ds[2]  # 9 frames -> 9 real + 7 zero frames
    assert y == 10 and not x[9:].any()
    assert x[:9].any() == hd.any()
    both, _ = ClipDataset(out, source=("left_hand_crops", "boxes"), frames=4)[0]
    assert both["left_hand_crops"].shape == (4, 16, 16, 3) and both["boxes"].shape == (4, 3, 4)
    assert both["boxes"].dtype == np.float32 and 0 <= both["boxes"].min() and both["boxes"].max() <= 1
    with pytest.raises(ValueError, match="source"):
        ClipDataset(out, source="hands")
    with pytest.raises(ValueError, match="no complete videos"):
        ClipDataset(out, label=999)


def test_per_frame_signals_and_part_presence_follow_the_masks(corpus, tmp_path):
    """Every frame's signals agree with its stored mask; a part is found exactly where its value
    is in the mask, with a confidence in 0..1; readers give presence per frame (0: not found)."""
    from signseg import labels as L
    _, out = corpus
    with MaskReader(out) as reader:
        for vid in reader.keys():
            item = reader[vid]
            masks, sig = item.masks[()], item.signals[()]
            assert len(sig) == len(masks)
            np.testing.assert_allclose(sig["area"], (masks > 0).mean(axis=(1, 2)), rtol=1e-5)
            marked = sig["area"] > 0
            assert (np.isnan(sig["confidence"]) == ~marked).all()
            assert ((sig["confidence"][marked] > 0) & (sig["confidence"][marked] <= 1)).all()
            assert (sig["blobs"][~marked] == 0).all() and (sig["blobs"][marked] >= 1).all()
            presence = item.presence()
            for k, (value, name) in enumerate(zip(L.PARTS, L.PART_NAMES)):
                found = (masks == value).any(axis=(1, 2))
                np.testing.assert_array_equal(sig[f"{name}_found"] > 0, found)
                assert (presence[found, k] > 0).all() and (presence[~found, k] == 0).all()
    x, _ = ClipDataset(out, source="presence", frames=16)[2]  # 9 frames and 7 of padding
    assert x.shape == (16, 3) and x.dtype == np.float32 and not x[9:].any()
    # a file without parts has the base signals but no presence to give
    plain = tmp_path / "plain.h5"
    assert run("segment", SOUP, "-o", plain, "-q").returncode == 0
    with MaskReader(plain) as reader:
        item = reader["SOUP"]
        assert set(item.signals.dtype.names) == {"area", "confidence", "blobs"}
        with pytest.raises(ValueError, match="no part signals"):
            item.presence()


def test_split_by_signer_is_disjoint_and_complete(corpus):
    _, out = corpus
    for seed in range(6):
        train = MaskReader(out, split="train", val_fraction=0.5, split_seed=seed)
        val = MaskReader(out, split="val", val_fraction=0.5, split_seed=seed)
        assert sorted(train.keys() + val.keys()) == MaskReader(out).keys()
        signers = lambda r: {r[v].signer for v in r}  # noqa: E731
        assert not signers(train) & signers(val)
    with pytest.raises(ValueError, match="split"):
        MaskReader(out, split="test")


def test_tf_dataset_batches_clips_with_labels(corpus):
    _, out = corpus
    ds = to_tf_dataset(out, source=("right_hand_crops", "boxes"), frames=8, batch_size=3, seed=1)
    batches = list(ds)
    assert [len(b[1]) for b in batches] == [3, 1]
    x, y = batches[0]
    assert x["right_hand_crops"].shape == (3, 8, 16, 16, 3) and x["boxes"].shape == (3, 8, 3, 4)
    assert sorted(np.concatenate([b[1].numpy() for b in batches]).tolist()) == [0, 10, 20, 30]


def test_torch_dataloader_with_worker_processes(corpus):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader
    _, out = corpus
    ds = to_torch_dataset(out, source="masks", frames=8, size=(32, 32))
    assert isinstance(ds, torch.utils.data.Dataset)
    seen = []
    for x, y in DataLoader(ds, batch_size=2, num_workers=2):
        assert isinstance(x, torch.Tensor) and x.shape == (2, 8, 32, 32) and x.dtype == torch.uint8
        seen += y.tolist()
    assert sorted(seen) == [0, 10, 20, 30]


def test_reader_follows_external_links_to_shards(corpus, tmp_path):
    """A file whose /videos/<id> entries link into other mask files (e.g. kept shards)."""
    _, out = corpus
    with MaskFile(tmp_path / "links.h5", "w") as f:
        for vid in ("signer0_sample1", "signer1_sample2"):
            f.h5[f"videos/{vid}"] = h5py.ExternalLink(os.fspath(out), f"/videos/{vid}")
    with MaskReader(tmp_path / "links.h5") as reader, MaskReader(out) as direct:
        assert reader.keys() == ["signer0_sample1", "signer1_sample2"]
        v = reader["signer0_sample1"]
        np.testing.assert_array_equal(v.masks[()], direct["signer0_sample1"].masks[()])
        assert v.boxes.shape == (41, 3, 4) and v.label == 0 and set(v.crops) == {"face", "left_hand", "right_hand"}


def test_example_recognizer_runs_end_to_end(corpus, tmp_path):
    """examples/train_recognizer.py: corpus folder -> masks, crops, boxes -> a trained recognizer."""
    root, _ = corpus
    cmd = [sys.executable, str(REPO / "examples" / "train_recognizer.py"), root / "train", "--labels",
           root / "train_labels.csv", "-o", tmp_path / "work", "--epochs", "2", "--steps", "2", "--frames", "4",
           "--crop", "16", "--batch-size", "2"]
    r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "4 video(s) segmented" in r.stdout and "train clips" in r.stdout
    with MaskReader(tmp_path / "work" / "masks.h5") as reader:
        assert len(reader) == 4 and reader["signer0_sample1"].crops["left_hand"].shape[1:] == (16, 16, 3)

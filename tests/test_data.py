"""MaskReader on files written by real corpus and segment runs."""
import numpy as np
import pytest

from conftest import HD, SOUP, make_autsl, run
from signseg.store.mask_reader import MaskReader
from signseg.store.mask_file import MaskFile


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory, tiny_model_file):
    root = tmp_path_factory.mktemp("reader")
    train = make_autsl(root, [SOUP, HD, SOUP])
    (train / "broken_color.mp4").write_text("not a video")
    out = root / "out.h5"
    r = run("corpus", train, "-o", out, "--labels", root / "train_labels.csv", "--weights", tiny_model_file, "-q")
    assert r.returncode == 1, r.stderr  # the broken clip
    return out


def test_lists_reads_and_filters_complete_videos(corpus_file):
    with MaskReader(corpus_file) as reader:
        assert reader.keys() == ["signer0_sample1", "signer0_sample3", "signer1_sample2"] and len(reader) == 3
        assert "broken" not in reader
        v = reader["signer1_sample2"]
        assert (v.label, v.signer, len(v)) == (10, 1, 9) and v.fps > 0
        with MaskFile(corpus_file) as f:
            np.testing.assert_array_equal(v.masks[2:5], f.masks("signer1_sample2")[2:5])
        with pytest.raises(KeyError, match="broken"):
            reader["broken"]
    assert MaskReader(corpus_file, signer=0).keys() == ["signer0_sample1", "signer0_sample3"]
    assert MaskReader(corpus_file, label=[0, 20]).keys() == ["signer0_sample1", "signer0_sample3"]
    assert MaskReader(corpus_file, label=10, signer=0).keys() == []


def test_reads_segment_output_by_file_stem(tmp_path, soup, tiny_model_file):
    out = tmp_path / "out.h5"
    assert run("segment", soup, "-o", out, "--weights", tiny_model_file, "-q").returncode == 0
    with MaskReader(out) as reader:
        v = reader["SOUP"]
        assert v.masks.shape == (41, 240, 320) and v.label is None and v.signer is None

import h5py
import numpy as np
import pytest

from signseg.errors import StoreError
from signseg.store.chunking import chunk_frames
from signseg.store.mask_file import FORMAT_VERSION, MaskFile


def _batches(t=10, h=24, w=32, n=4):
    rng = np.random.default_rng(0)
    masks = (rng.random((t, h, w)) > 0.7).astype(np.uint8) * 4
    return masks, [masks[i:i + n] for i in range(0, t, n)]


def test_round_trip_with_attrs_and_chunking(tmp_path):
    masks, batches = _batches()
    path = tmp_path / "m.h5"
    with MaskFile(path, "w") as f:
        assert f.write_video("clip_a", iter(batches), {"fps": 25.0, "source": "a.mp4", "model": "x"}) == 10
    with MaskFile(path) as f:
        assert f.video_ids() == ["clip_a"] and f.format_version == FORMAT_VERSION
        ds = f.masks("clip_a")
        np.testing.assert_array_equal(ds[:], masks)
        assert ds.chunks == (chunk_frames(24, 32), 24, 32) and ds.compression == "gzip"
        a = f.attrs("clip_a")
        assert a["complete"] and a["n_frames"] == 10 and a["fps"] == 25.0 and a["source"] == "a.mp4"
        assert (a["height"], a["width"]) == (24, 32)
    with h5py.File(path, "r") as raw:  # readable with plain h5py, as docs/format.md says
        assert raw["videos/clip_a/masks"].shape == (10, 24, 32)
        assert raw.attrs["format_version"] == FORMAT_VERSION


def test_chunks_stay_within_the_default_chunk_cache():
    for h, w in [(240, 320), (400, 400), (720, 1280), (2160, 3840), (8, 8)]:
        assert 1 <= chunk_frames(h, w) <= 64
        assert chunk_frames(h, w) * h * w <= max(1 << 20, h * w)


def test_a_failed_write_leaves_no_partial_video(tmp_path):
    masks, batches = _batches()
    path = tmp_path / "m.h5"

    def broken():
        yield batches[0]
        raise RuntimeError("decoder died")

    with MaskFile(path, "w") as f:
        f.write_video("good", iter(batches), {})
        with pytest.raises(RuntimeError):
            f.write_video("bad", broken(), {})
        f.record_failure("bad", "bad.mp4: decoder died", "bad.mp4")
    with MaskFile(path) as f:
        assert f.video_ids() == ["good"] and f.video_ids(complete_only=False) == ["good"]
        assert f.failures() == {"bad": "bad.mp4: decoder died"}


def test_incomplete_groups_are_not_listed_and_are_rewritten(tmp_path):
    masks, batches = _batches()
    path = tmp_path / "m.h5"
    with MaskFile(path, "w") as f:
        g = f.h5.create_group("videos/half")  # what a killed run leaves behind
        g.attrs["complete"] = False
    with MaskFile(path, "a") as f:
        assert f.video_ids() == [] and f.video_ids(complete_only=False) == ["half"]
        with pytest.raises(KeyError, match="incomplete"):
            f.masks("half")
        f.write_video("half", iter(batches), {})
        assert f.is_complete("half")
        with pytest.raises(StoreError, match="already complete"):
            f.write_video("half", iter(batches), {})


@pytest.mark.parametrize("bad", [np.zeros((2, 4, 4), np.float32), np.zeros((4, 4), np.uint8)])
def test_rejects_bad_mask_batches(tmp_path, bad):
    with MaskFile(tmp_path / "m.h5", "w") as f, pytest.raises(ValueError, match="uint8"):
        f.write_video("x", iter([bad]), {})


def test_zero_frames_is_an_error(tmp_path):
    with MaskFile(tmp_path / "m.h5", "w") as f, pytest.raises(ValueError, match="0 frames"):
        f.write_video("x", iter([]), {})


def test_refuses_files_it_cannot_trust(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(StoreError, match="not an HDF5 file") as err:
        MaskFile(text)
    assert str(text) in str(err.value)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    with pytest.raises(StoreError, match="not written by signseg"):
        MaskFile(foreign, "a")
    newer = tmp_path / "newer.h5"
    MaskFile(newer, "w").close()
    with h5py.File(newer, "a") as f:
        f.attrs["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(StoreError, match="newer"):
        MaskFile(newer)
    with pytest.raises(StoreError, match="does not exist"):
        MaskFile(tmp_path / "missing.h5")
    with pytest.raises(StoreError, match="folder"):
        MaskFile(tmp_path / "no" / "such" / "dir.h5", "w")


@pytest.mark.parametrize("vid", ["", "a/b", ".."])
def test_invalid_video_ids(tmp_path, vid):
    with MaskFile(tmp_path / "m.h5", "w") as f, pytest.raises(ValueError, match="invalid video id"):
        f.write_video(vid, iter(_batches()[1]), {})


def test_masks_compressed_on_threads_read_back_as_written(tmp_path):
    """Chunks compressed on a thread pool and written whole (the driver path) make the same
    dataset as h5py's own gzip: batches of odd sizes, a chunk straddling batches, a padded
    last chunk."""
    from concurrent.futures import ThreadPoolExecutor
    rng = np.random.default_rng(0)
    masks = (rng.random((203, 96, 128)) > 0.7).astype(np.uint8) * 4
    sizes = [1, 16, 37, 64, 5, 80]  # sums to 203
    files = {}
    with ThreadPoolExecutor(2) as pool:
        for name, deflate in (("h5py", None), ("threads", pool)):
            files[name] = tmp_path / f"{name}.h5"
            with MaskFile(files[name], "w") as f:
                w = f.video_writer("v", deflate=deflate)
                start = 0
                for n in sizes:
                    w.append(masks[start:start + n])
                    start += n
                assert w.commit({"fps": 25.0}) == 203
    for name, path in files.items():
        with MaskFile(path) as f:
            ds = f.masks("v")
            assert ds.compression == "gzip" and ds.chunks[0] == chunk_frames(96, 128) < 203
            np.testing.assert_array_equal(ds[()], masks, err_msg=name)
            assert f.attrs("v")["n_frames"] == 203
    with h5py.File(files["threads"], "r") as f:  # the chunks' own bytes are valid deflate streams
        assert f["videos/v/masks"].id.get_num_chunks() == -(-203 // chunk_frames(96, 128))

import numpy as np
import pytest

from conftest import HD, PORTRAIT
from signseg.errors import VideoError
from signseg.decode.video import VideoReader, read_video


def test_reads_true_metadata_and_rgb_frames(soup):
    r = VideoReader(soup)
    assert (r.info.width, r.info.height) == (320, 240)
    assert r.info.fps == pytest.approx(29.97, abs=0.01)
    frames = list(r)
    assert len(frames) == r.frames_read == r.frames_decoded == 41
    assert frames[0].shape == (240, 320, 3) and frames[0].dtype == np.uint8
    # grey studio backdrop: RGB (not BGR) order keeps R ~ B; compare a BGR decode to be sure
    import cv2
    ok, bgr = cv2.VideoCapture(str(soup)).read()
    np.testing.assert_array_equal(frames[0], bgr[..., ::-1])


def test_stride_resize_and_batches():
    r = VideoReader(PORTRAIT, stride=3, size=(200, 152))
    batches = list(r.batches(8))
    assert [len(b) for b in batches] == [8, 8, 4]          # ceil(58 / 3) = 20 frames
    assert batches[0].shape[1:] == (200, 152, 3)
    assert r.frames_decoded == 58 and r.frames_read == 20
    assert r.fps == pytest.approx(r.info.fps / 3)
    assert r.shape == (200, 152)


def test_iterating_twice_decodes_again():
    r = VideoReader(HD)
    assert len(list(r)) == len(list(r)) == 9


def test_read_video_whole_clip(soup):
    assert read_video(soup, stride=2).shape == (21, 240, 320, 3)


@pytest.mark.parametrize("kind", ["empty", "text"])
def test_unreadable_files_raise_naming_the_file(damaged, kind):
    with pytest.raises(VideoError) as err:
        VideoReader(damaged[kind])
    assert str(damaged[kind]) in str(err.value)


def test_truncated_video_fails_at_open_naming_it(damaged):
    """SOUP.mp4 keeps its index (moov atom) at the end: a truncated copy cannot be opened."""
    with pytest.raises(VideoError, match="cannot be opened as a video") as err:
        VideoReader(damaged["truncated"])
    assert "truncated.mp4" in str(err.value)


def test_missing_file_and_bad_stride(tmp_path, soup):
    with pytest.raises(VideoError, match="does not exist"):
        VideoReader(tmp_path / "nope.mp4")
    with pytest.raises(VideoError, match="directory"):
        VideoReader(tmp_path)
    with pytest.raises(ValueError, match="stride"):
        VideoReader(soup, stride=0)

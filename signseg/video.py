"""``signseg.video``, the public home of the video reader (it lives in :mod:`signseg.decode.video`)."""
from signseg.decode.video import VideoInfo, VideoReader, read_video

__all__ = ["VideoInfo", "VideoReader", "read_video"]

"""Video and image I/O: streaming decode + probe, frame folders, image/zip/mp4 writers, RGB8 conversion."""

from styleinv_data.io.color import to_gray8, to_rgb8
from styleinv_data.io.decode import DecodeError, iter_video_frames
from styleinv_data.io.probe import VideoInfo, probe_source
from styleinv_data.io.source import iter_source_frames

__all__ = [
    "DecodeError",
    "VideoInfo",
    "iter_source_frames",
    "iter_video_frames",
    "probe_source",
    "to_gray8",
    "to_rgb8",
]

"""One entry point for frame sources: a video file or a folder of frame images."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from styleinv_data.io.decode import iter_video_frames
from styleinv_data.io.frames_dir import iter_folder_frames
from styleinv_data.io.probe import VideoInfo, probe_source


def iter_source_frames(
    path: Path | str, *, gray: bool = False, threads: int = 1, info: VideoInfo | None = None
) -> Iterator[np.ndarray]:
    """Stream RGB8 (or gray8) frames from a video file or a frame folder."""
    path = Path(path)
    info = info or probe_source(path)
    if info.kind == "frames":
        return iter_folder_frames(path, gray=gray)
    return iter_video_frames(path, gray=gray, threads=threads, info=info)

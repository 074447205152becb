"""A folder of videos as a metric source: video files (mp4, ...) and/or folders of frames.

Layouts accepted under ``root``: ``root/<id>.mp4`` (any container PyAV reads), ``root/<id>/<frame>.jpg``
(frames sorted by name; jpg/png/bmp/webp), or ``root`` itself holding frames (one video). A crop
output folder of the frames layout (``OUT/_meta`` beside ``OUT/frames/<id>/``) reads as
``OUT/frames``. Frames of any mode (grey, RGBA, palette) come back as RGB uint8 ``[T, H, W, 3]``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image

from styleinv_data.output_layout import FRAMES_FOLDER, META_DIR

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class VideoEntry:
    video_id: str
    path: Path
    frame_files: tuple[Path, ...] | None  # None for a video file

    @property
    def is_frame_folder(self) -> bool:
        return self.frame_files is not None


def _frame_files(folder: Path) -> tuple[Path, ...]:
    return tuple(sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES))


def list_videos(root: str | Path) -> list[VideoEntry]:
    """All videos under ``root`` (sorted by id); raises a one-line error when there are none."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory; give a folder of videos (*.mp4) or of frame folders")
    if (root / META_DIR).is_dir() and (root / FRAMES_FOLDER).is_dir():
        root = root / FRAMES_FOLDER  # a crop output folder (frames layout): its clips are in OUT/frames
    entries: list[VideoEntry] = []
    for child in sorted(root.iterdir()):
        if child.is_file() and child.suffix.lower() in VIDEO_SUFFIXES:
            entries.append(VideoEntry(child.stem, child, None))
        elif child.is_dir() and not child.name.startswith(("_", ".")):
            frames = _frame_files(child)
            if frames:
                entries.append(VideoEntry(child.name, child, frames))
    if not entries:
        frames = _frame_files(root)
        if frames:
            entries.append(VideoEntry(root.name, root, frames))
    if not entries:
        raise FileNotFoundError(
            f"{root}: no videos found; expected *.mp4 files or sub-folders of {'/'.join(FRAME_SUFFIXES)} frames"
        )
    return entries


def folder_fingerprint(entries: Sequence[VideoEntry]) -> str:
    """sha256 over ids, file names, sizes and modification times (changes when the data changes)."""
    digest = hashlib.sha256()
    for entry in entries:
        files = entry.frame_files if entry.frame_files is not None else (entry.path,)
        digest.update(entry.video_id.encode())
        for path in files:
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def count_frames(entry: VideoEntry) -> int:
    if entry.frame_files is not None:
        return len(entry.frame_files)
    import av

    try:
        with av.open(str(entry.path)) as container:
            stream = container.streams.video[0]
            if stream.frames:
                return int(stream.frames)
            return sum(1 for _ in container.decode(stream))
    except (av.error.FFmpegError, IndexError) as error:
        raise ValueError(f"{entry.path}: cannot read as a video ({error}); re-encode it as H.264 mp4") from error


def _to_rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def read_frames(entry: VideoEntry, indices: Iterable[int]) -> dict[int, np.ndarray]:
    """Frames at ``indices`` (decoded once, streaming) as ``{index: [H, W, 3] uint8}``."""
    wanted = sorted(set(int(i) for i in indices))
    if not wanted:
        return {}
    if entry.frame_files is not None:
        if wanted[-1] >= len(entry.frame_files) or wanted[0] < 0:
            raise IndexError(f"{entry.path}: frame {wanted[-1]} requested, folder has {len(entry.frame_files)}")
        out = {}
        for index in wanted:
            with Image.open(entry.frame_files[index]) as image:
                out[index] = _to_rgb(image)
        return out
    import av

    out = {}
    wanted_set, last = set(wanted), wanted[-1]
    try:
        with av.open(str(entry.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if index in wanted_set:
                    out[index] = frame.to_ndarray(format="rgb24")
                if index >= last:
                    break
    except av.error.FFmpegError as error:
        raise ValueError(f"{entry.path}: decoding failed ({error}); re-encode it as H.264 mp4") from error
    if len(out) != len(wanted):
        missing = [i for i in wanted if i not in out]
        raise IndexError(f"{entry.path}: video ended before frame {missing[0]}")
    return out

"""Metric sources: something that holds videos and can hand out frames by (video, frame index)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol

import numpy as np

from .video_folder import VideoEntry, count_frames, folder_fingerprint, list_videos, read_frames


class VideoSource(Protocol):
    def __len__(self) -> int: ...
    def frame_count(self, video_index: int) -> int: ...
    def read_frames(self, video_index: int, indices: Iterable[int]) -> dict[int, np.ndarray]: ...
    def fingerprint(self) -> str: ...
    def describe(self) -> dict[str, Any]: ...


@dataclass
class FolderVideoSource:
    """Videos in a folder (see :mod:`video_folder` for the layouts)."""

    root: Path
    entries: list[VideoEntry]
    _frame_counts: dict[int, int] = field(default_factory=dict)

    @staticmethod
    def open(root: str | Path) -> "FolderVideoSource":
        return FolderVideoSource(Path(root), list_videos(root))

    def __len__(self) -> int:
        return len(self.entries)

    def frame_count(self, video_index: int) -> int:
        if video_index not in self._frame_counts:
            self._frame_counts[video_index] = count_frames(self.entries[video_index])
        return self._frame_counts[video_index]

    def read_frames(self, video_index: int, indices: Iterable[int]) -> dict[int, np.ndarray]:
        return read_frames(self.entries[video_index], indices)

    def fingerprint(self) -> str:
        return folder_fingerprint(self.entries)

    def describe(self) -> dict[str, Any]:
        return {"kind": "folder", "path": str(self.root.resolve()), "videos": len(self.entries)}


@dataclass
class ArrayVideoSource:
    """Videos already in memory (``[T, H, W, 3]`` uint8 each): for tests, benchmarks and in-process use."""

    videos: list[np.ndarray]
    name: str = "arrays"

    def __len__(self) -> int:
        return len(self.videos)

    def frame_count(self, video_index: int) -> int:
        return int(self.videos[video_index].shape[0])

    def read_frames(self, video_index: int, indices: Iterable[int]) -> dict[int, np.ndarray]:
        video = self.videos[video_index]
        return {int(i): video[int(i)] for i in indices}

    def fingerprint(self) -> str:
        import hashlib

        digest = hashlib.sha256()
        for video in self.videos:
            digest.update(str(video.shape).encode())
            digest.update(np.ascontiguousarray(video).tobytes())
        return digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        return {"kind": "arrays", "name": self.name, "videos": len(self.videos)}

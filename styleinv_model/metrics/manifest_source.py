"""A dataset manifest (``styleinv_data.manifest``) as a metric source.

The source's fingerprint is the manifest file's SHA-256 plus the split, so cached real statistics
follow the manifest: rebuild the manifest and the statistics are recomputed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np


@dataclass
class ManifestVideoSource:
    manifest: Any  # styleinv_data.manifest.Manifest
    manifest_path: Path
    split: str | None
    _reader: Any = None

    @staticmethod
    def open(path: str | Path, split: str | None = None) -> "ManifestVideoSource":
        from styleinv_data.manifest import read_manifest

        path = Path(path)
        manifest = read_manifest(path)  # validated; raises ManifestError (a ValueError) naming the line
        if split is not None:
            manifest = manifest.subset(split)
        return ManifestVideoSource(manifest, path, split)

    def _frames_reader(self):
        if self._reader is None:
            from styleinv_data.datasets import VideoFrameReader

            self._reader = VideoFrameReader(self.manifest)
        return self._reader

    def __len__(self) -> int:
        return len(self.manifest.records)

    def frame_count(self, video_index: int) -> int:
        return int(self.manifest.records[video_index].frame_count)

    @property
    def frame_counts(self) -> list[int]:
        return [int(c) for c in self.manifest.frame_counts]

    def read_frames(self, video_index: int, indices: Iterable[int]) -> dict[int, np.ndarray]:
        wanted = sorted(set(int(i) for i in indices))
        frames = self._frames_reader().read_frames(self.manifest.records[video_index], wanted)  # [T, 3, H, W]
        hwc = frames.permute(0, 2, 3, 1).numpy()
        return {index: hwc[k] for k, index in enumerate(wanted)}

    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.manifest_path.read_bytes())
        digest.update(f"|split={self.split}".encode())
        return digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        return {"kind": "manifest", "path": str(self.manifest_path.resolve()), "split": self.split,
                "dataset_name": self.manifest.header.dataset_name, "videos": len(self.manifest.records),
                "manifest_sha256": hashlib.sha256(self.manifest_path.read_bytes()).hexdigest()}

"""In-memory form of a manifest: one header and one record per video.

The on-disk form is JSON Lines (see :mod:`styleinv_data.manifest.io` and ``manifests/schema.json``);
these dataclasses mirror it field for field so that ``from_json(to_json(x)) == x``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
LAYOUTS = ("frames", "zip", "mp4")


@dataclass
class SourceSpan:
    """Where a clip came from: the raw video and the frame/time span cut out of it."""

    video: str | None = None
    video_id: str | None = None
    start_frame: int | None = None
    stop_frame: int | None = None
    start_sec: float | None = None
    stop_sec: float | None = None


@dataclass
class CropStats:
    """What the crop step reported for this clip (read from ``_meta/<video_id>.*.json``)."""

    strategy: str | None
    frame_sources: dict[str, int]  # plan sources inside the clip: detected / tracked / interpolated / ...
    counts: dict[str, Any]  # the crop step's per-video counts (status.json "counts")
    # per-clip quality scores (styleinv_data.quality) and the video's dropped fraction, segments
    # and scene cuts; None in manifests of crops made before the scores existed
    quality: dict[str, Any] | None = None


@dataclass(frozen=True)
class FrameNaming:
    """How one video's frame files are named when not ``000000.jpg, 000001.jpg, ...``.

    Frame ``i`` is ``f"{prefix}{start + i:0{digits}d}{ext}"``: StyleGAN-V's ``frame1.jpg`` is
    ``("frame", 1, 1)`` (no padding), a 1-based ``000001.jpg`` is ``("", 1, 6)``.
    """

    prefix: str = ""
    start: int = 0
    digits: int = 6

    def name(self, frame_index: int, ext: str) -> str:
        return f"{self.prefix}{self.start + frame_index:0{self.digits}d}{ext}"


CROP_NAMING = FrameNaming()  # the crop's own frame files: 000000.jpg, 000001.jpg, ...


def frame_file_name(frame_index: int, ext: str, naming: FrameNaming | None) -> str:
    """The file name of frame ``frame_index``: ``naming``'s, or the crop's own when None."""
    return (naming or CROP_NAMING).name(frame_index, ext)


@dataclass
class VideoRecord:
    """One video (clip) of the dataset."""

    id: str
    path: str  # POSIX, relative to the dataset root (a folder, an mp4, or a folder inside the zip)
    frame_count: int
    width: int
    height: int
    fps: float | None = None
    frame_ext: str | None = ".jpg"  # ".jpg" / ".png" for frame layouts, None for mp4
    label: int | None = None
    label_name: str | None = None
    split: str = "train"
    identity: str | None = None
    source: SourceSpan = field(default_factory=SourceSpan)
    content_hash: str | None = None
    crop: CropStats | None = None
    frame_naming: FrameNaming | None = None  # None: 000000.jpg, 000001.jpg, ... (the crop's own naming)

    def frame_name(self, frame_index: int) -> str:
        """The file name of frame ``frame_index`` (frame layouts only): ``000012.jpg``, or as
        ``frame_naming`` says (``frame13.jpg`` for StyleGAN-V's 1-based unpadded names)."""
        if self.frame_ext is None:
            raise ValueError(f"record {self.id!r} is an mp4 video: it has no frame files")
        return frame_file_name(frame_index, self.frame_ext, self.frame_naming)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.frame_naming is None:
            del out["frame_naming"]  # records of the crop's own naming read as before
        return {"kind": "video", **out}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "VideoRecord":
        d = {k: v for k, v in d.items() if k != "kind"}
        d["source"] = SourceSpan(**d["source"])
        d["crop"] = CropStats(**d["crop"]) if d.get("crop") is not None else None
        d["frame_naming"] = FrameNaming(**d["frame_naming"]) if d.get("frame_naming") is not None else None
        return cls(**d)


@dataclass
class ManifestHeader:
    dataset_name: str
    layout: str  # "frames" | "zip" | "mp4"
    container: str | None = None  # "frames.zip" for the zip layout
    resolution: list[int] | None = None  # [width, height] when shared by every video
    fps: float | None = None  # when shared by every video
    crop: dict[str, Any] | None = None  # {"strategy", "params", "recipe"}
    label_names: list[str] | None = None  # label int -> name
    splits: dict[str, int] = field(default_factory=dict)  # split -> number of videos
    split_method: dict[str, Any] = field(default_factory=lambda: {"kind": "single"})
    tool: dict[str, str] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)
    created_utc: str = ""
    num_videos: int = 0
    num_frames: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)  # [{"id", "reason"}]
    root: str = "."  # the dataset root relative to the manifest file's folder
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {"kind": "header", **asdict(self)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ManifestHeader":
        return cls(**{k: v for k, v in d.items() if k != "kind"})


@dataclass
class Manifest:
    """A dataset root plus its header and video records (``root`` is absolute in memory)."""

    root: Path
    header: ManifestHeader
    records: list[VideoRecord]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def frame_counts(self) -> list[int]:
        return [r.frame_count for r in self.records]

    def by_id(self, video_id: str) -> VideoRecord:
        for r in self.records:
            if r.id == video_id:
                return r
        raise KeyError(f"no record with id {video_id!r} in the manifest of {self.root}")

    def subset(self, split: str) -> "Manifest":
        """The records of one split (same root and header)."""
        kept = [r for r in self.records if r.split == split]
        if not kept:
            known = sorted({r.split for r in self.records})
            raise ValueError(f"split {split!r} has no videos in the manifest of {self.root} (splits: {known})")
        return Manifest(root=self.root, header=self.header, records=kept)

"""What the report shows, read from a crop output folder (through an in-memory manifest) or a manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from styleinv_data.manifest.records import Manifest, ManifestHeader
from styleinv_data.manifest.schema import ManifestError
from styleinv_data.output_layout import META_DIR

# score key -> (label, which end is worst: "low" or "high", unit)
SCORES: dict[str, tuple[str, str, str]] = {
    "face_px_min": ("face size, smallest (source px)", "low", "px"),
    "upscale_max": ("upscaling to the output size", "high", "x"),
    "sharpness": ("sharpness (variance of the Laplacian)", "low", ""),
    "jitter_px": ("crop jitter (output px, RMS of the 2nd difference)", "high", "px"),
    "confidence_min": ("landmark confidence, lowest", "low", ""),
    "dropped_fraction": ("frames of the video not in any clip", "high", ""),
    "interpolated": ("frames interpolated", "high", ""),
    "padded": ("frames whose crop leaves the image", "high", ""),
}


@dataclass
class ReportData:
    title: str
    manifest: Manifest
    failed: list[tuple[str, str]]  # (video id, reason)
    skipped_runs: int | None = None  # videos skipped as already done by the last crop run
    meta_dir: Path | None = None  # the crop's sidecars (plans), when the report is of a crop folder
    notes: list[str] = field(default_factory=list)

    @cached_property
    def scored(self) -> list[tuple[Any, dict[str, Any]]]:
        return [(r, r.crop.quality) for r in self.manifest.records if r.crop is not None and r.crop.quality]

    def values(self, key: str) -> list[float]:
        return [float(q[key]) for _, q in self.scored if isinstance(q.get(key), (int, float))]

    def worst(self, key: str, count: int = 20) -> list[tuple[Any, float]]:
        rows = [(r, float(q[key])) for r, q in self.scored if isinstance(q.get(key), (int, float))]
        rows.sort(key=lambda item: (item[1] if SCORES[key][1] == "low" else -item[1], item[0].id))
        return rows[:count]

    @property
    def hours(self) -> float:
        return sum(r.frame_count / r.fps for r in self.manifest.records if r.fps) / 3600.0


def _failed_from_header(manifest: Manifest) -> list[tuple[str, str]]:
    return [(str(e.get("id")), str(e.get("reason"))) for e in manifest.header.skipped
            if not str(e.get("reason", "")).startswith("filtered: ")]


def collect(source: Path) -> ReportData:
    """A crop output folder (its clips, scores and failures) or a manifest file."""
    from styleinv_data.manifest import BuildConfig, build_manifest, read_manifest

    source = Path(source)
    if source.is_file():
        manifest = read_manifest(source)
        return ReportData(manifest.header.dataset_name, manifest, _failed_from_header(manifest))
    try:
        manifest = build_manifest(source, BuildConfig(hash_content=False))
        failed = _failed_from_header(manifest)
    except ManifestError as error:
        if not (source / META_DIR).is_dir() or "no videos found" not in str(error):
            raise
        from styleinv_data.manifest.crop_meta import read_crop_meta

        manifest = Manifest(root=source, header=ManifestHeader(dataset_name=source.name, layout="frames"), records=[])
        failed = read_crop_meta(source).failed  # every video failed: nothing on disk to scan
    data = ReportData(manifest.header.dataset_name, manifest, failed, meta_dir=source / META_DIR)
    summary = source / META_DIR / "summary.json"
    if summary.is_file():
        try:
            data.skipped_runs = int(json.loads(summary.read_text()).get("skipped", 0))
        except (ValueError, OSError):
            data.notes.append(f"{summary}: unreadable; the skipped count is not shown")
    return data

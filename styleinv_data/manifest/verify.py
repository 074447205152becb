"""Checks that a manifest still describes the files on disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from styleinv_data.manifest.records import Manifest
from styleinv_data.manifest.schema import ManifestError
from styleinv_data.manifest.storage import FrameStore, ZIP_CONTAINER, mp4_frame_count_and_rate


@dataclass
class VerifyReport:
    videos: int
    frames: int


def _rebuild_hint(manifest: Manifest) -> str:
    return f"rebuild it with `styleinv-data manifest {manifest.root}`"


def verify_manifest(manifest: Manifest, deep: bool = False) -> VerifyReport:
    """Fast check (default): every record's folder / zip members / mp4 exist with the recorded
    frame count, and no path leaves the root (symlinks included). ``deep`` also re-hashes content.
    Raises :class:`ManifestError` naming the record and what differs."""
    root = Path(manifest.root).resolve()
    header = manifest.header
    if not root.is_dir():
        raise ManifestError(f"{root}: dataset root of the manifest does not exist; pass --root or move the manifest")
    if header.layout == "zip":
        container = root / (header.container or ZIP_CONTAINER)
        if not container.resolve().is_relative_to(root):
            raise ManifestError(f"{container}: the zip container escapes the dataset root {root}")
        if not container.is_file():
            raise ManifestError(f"{container}: the manifest's zip is missing; {_rebuild_hint(manifest)}")
    store = FrameStore(root, header.layout, header.container) if header.layout != "mp4" else None
    try:
        for rec in manifest.records:
            where = f"record {rec.id!r} ({rec.path})"
            if header.layout != "zip":
                resolved = (root / rec.path).resolve()
                if not resolved.is_relative_to(root):
                    raise ManifestError(f"{where}: field path resolves to {resolved}, outside the dataset root {root}")
                if not resolved.exists():
                    raise ManifestError(f"{where}: {resolved} is missing; the manifest does not match the dataset, {_rebuild_hint(manifest)}")
            if store is None:
                count = mp4_frame_count_and_rate(root / rec.path)[0]
            else:
                count = store.count_frames(rec.path)
            if count != rec.frame_count:
                raise ManifestError(
                    f"{where}: field frame_count is {rec.frame_count} but the dataset has {count} frames; "
                    f"the manifest does not match the dataset, {_rebuild_hint(manifest)}"
                )
        if deep:
            _verify_hashes(manifest)
    finally:
        if store is not None:
            store.close()
    return VerifyReport(videos=len(manifest.records), frames=sum(r.frame_count for r in manifest.records))


def _verify_hashes(manifest: Manifest) -> None:
    from styleinv_data.manifest.build import BuildConfig, _probe_frames, _probe_mp4
    from styleinv_data.manifest.storage import ScannedVideo

    config = BuildConfig(hash_content=True, check_frame_sizes=False)
    header = manifest.header
    store = FrameStore(manifest.root, header.layout, header.container) if header.layout != "mp4" else None
    for rec in manifest.records:
        if rec.content_hash is None and store is None:
            continue
        video = ScannedVideo(id=rec.id, path=rec.path, frame_ext=rec.frame_ext, frame_count=rec.frame_count,
                             frame_naming=rec.frame_naming)
        # frames are read in full even without a recorded hash: the store checks every zip member's CRC-32
        digest = _probe_mp4(manifest.root, video, config)[2] if store is None else _probe_frames(store, video, config)[2]
        if rec.content_hash is not None and digest != rec.content_hash:
            raise ManifestError(
                f"record {rec.id!r} ({rec.path}): field content_hash differs from the files on disk (frames changed); "
                f"{_rebuild_hint(manifest)}"
            )

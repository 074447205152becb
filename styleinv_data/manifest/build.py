"""Builds a manifest from a prepared dataset root (the crop step's output layout)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from styleinv_data import __version__
from styleinv_data.manifest.crop_meta import CropMeta, read_crop_meta
from styleinv_data.manifest.labels import build_label_table, celebvhq_source_spans, read_identities, read_label_names
from styleinv_data.manifest.records import CropStats, Manifest, ManifestHeader, SourceSpan, VideoRecord
from styleinv_data.manifest.schema import ManifestError
from styleinv_data.manifest.splits import SplitConfig, assign_splits
from styleinv_data.manifest.storage import (
    ZIP_CONTAINER,
    FrameStore,
    ScannedVideo,
    dataset_location,
    list_video_ids,
    mp4_frame_count_and_rate,
    scan_dataset,
)

RECORDED_PACKAGES = ("numpy", "torch", "torchvision", "pillow", "av", "imageio-ffmpeg", "opencv-python-headless", "dlib-bin")


@dataclass
class BuildConfig:
    """Options of :func:`build_manifest` (each one is a ``styleinv-data manifest`` flag)."""

    dataset_name: str | None = None  # default: the root folder's name
    labels_path: Path | None = None  # CSV / JSON / celebvhq_info.json
    label_field: str | None = None  # CSV column, or emotion / appearance:<attr> / action:<attr>
    require_labels: bool = False  # refuse videos without a label instead of leaving them unlabeled
    identities_path: Path | None = None  # CSV id,identity or JSON {id: identity}
    split: SplitConfig = field(default_factory=SplitConfig)
    fps: float | None = None  # used when neither the crop sidecar nor the container records it
    hash_content: bool = True  # SHA-256 over the frame bytes (reads every frame once)
    check_frame_sizes: bool = True  # every frame must have the first frame's size (reads headers)
    workers: int = 4  # threads that hash / read headers


def _package_versions() -> dict[str, str]:
    out = {}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _image_size(data: bytes, where: str) -> tuple[int, int]:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception as e:  # PIL raises several types for broken files
        raise ManifestError(f"{where}: unreadable image ({e}); re-run the crop of this video") from e


def _probe_frames(store: FrameStore, video: ScannedVideo, config: BuildConfig) -> tuple[int, int, str | None]:
    """(width, height, content hash) of a frame-layout video; checks every frame when asked."""
    hasher = hashlib.sha256() if config.hash_content else None
    size: tuple[int, int] | None = None
    read_all = config.hash_content or config.check_frame_sizes
    for i in range(video.frame_count if read_all else 1):
        name = video.frame_name(i)
        data = store.read(video.path, name)
        where = f"{store.root}/{video.path}/{name}" if store.layout == "frames" else f"{store.zip_path}:{video.path}/{name}"
        if hasher is not None:
            hasher.update(len(data).to_bytes(8, "little"))
            hasher.update(data)
        if size is None or config.check_frame_sizes:
            this = _image_size(data, where)
            if size is not None and this != size:
                raise ManifestError(
                    f"{where}: frame size {this[0]}x{this[1]} differs from frame 0 ({size[0]}x{size[1]}); "
                    f"re-run the crop of video {video.id!r}"
                )
            size = this
    assert size is not None
    return size[0], size[1], ("sha256:" + hasher.hexdigest()) if hasher is not None else None


def _probe_mp4(root: Path, video: ScannedVideo, config: BuildConfig) -> tuple[int, int, str | None, float | None]:
    path = root / video.path
    _, width, height, rate = mp4_frame_count_and_rate(path)
    digest = None
    if config.hash_content:
        hasher = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                hasher.update(chunk)
        digest = "sha256:" + hasher.hexdigest()
    return width, height, digest, rate


def _lookup_keys(video_id: str, crop: CropMeta) -> list[str]:
    """Alternative ids for labels / splits / identities: the source video id of a split clip."""
    clip = crop.clips.get(video_id)
    return [clip.video_id] if clip is not None and clip.video_id != video_id else []


def _skipped(failed: list[tuple[str, str]], unlisted: list[str]) -> list[dict[str, str]]:
    """The header's ``skipped`` list: failed crops (saying when output of theirs is on disk anyway)
    and outputs on disk that no done status lists. Each appears once, with the reason."""
    on_disk = set(unlisted)
    entries = []
    for vid, reason in failed:
        if vid in on_disk:
            reason = (f"crop failed ({reason}) but frames of it are on disk: not included; re-run the crop of "
                      f"{vid!r}")
        entries.append({"id": vid, "reason": reason})
    failed_ids = {vid for vid, _ in failed}
    entries += [{"id": vid, "reason": "on disk but not a done output in _meta/*.status.json (stale or unfinished); "
                                      "ignored"} for vid in unlisted if vid not in failed_ids]
    return entries


def build_manifest(root: Path | str, config: BuildConfig | None = None) -> Manifest:
    """Scan ``root`` (frames / zip / mp4 layout plus ``_meta`` sidecars) and return its manifest."""
    config = config or BuildConfig()
    given = Path(root)
    if not given.exists():
        raise ManifestError(f"{given}: no such dataset folder or zip")
    root, named_zip = dataset_location(given.resolve())
    # A zip passed by name (StyleGAN-V's releases) is a dataset of its own; a crop output's
    # frames.zip has its crop sidecars beside it in _meta.
    crop = read_crop_meta(root) if named_zip in (None, ZIP_CONTAINER) else CropMeta()
    # crop output: the clip list is the status files' done outputs, never the directory listing
    # (docs/architecture.md); a dataset without _meta status files is taken as listed on disk
    listed = set(crop.clips) if crop.status_files else None
    layout, container, videos = scan_dataset(root, listed, named_zip)
    on_disk = {v.id for v in videos}
    unlisted = sorted(list_video_ids(root, layout) - on_disk) if listed is not None else []

    for out_id, clip in sorted(crop.clips.items()):
        if out_id not in on_disk:
            raise ManifestError(
                f"{root}/_meta/{clip.video_id}.status.json: output {out_id!r} is listed as done but missing on disk; "
                f"re-run the crop of {clip.video_id!r}"
            )
    for v in videos:
        clip = crop.clips.get(v.id)
        if clip is not None and clip.frames is not None and clip.frames != v.frame_count:
            raise ManifestError(
                f"{root}/{v.path}: has {v.frame_count} frames but _meta/{clip.video_id}.status.json records "
                f"{clip.frames}; the crop was interrupted or files were edited, re-run the crop of {clip.video_id!r}"
            )

    store = FrameStore(root, layout, container) if layout != "mp4" else None

    def probe(v: ScannedVideo) -> tuple[int, int, str | None, float | None]:
        if store is None:
            return _probe_mp4(root, v, config)
        w, h, digest = _probe_frames(store, v, config)
        return w, h, digest, None

    with ThreadPoolExecutor(max_workers=max(1, config.workers)) as pool:
        probes = list(pool.map(probe, videos))
    if store is not None:
        store.close()

    lookup = {v.id: _lookup_keys(v.id, crop) for v in videos}
    label_names_by_id: dict[str, str] = {}
    label_table = None
    spans: dict[str, tuple[str, float, float]] = {}
    if config.labels_path is not None:
        all_names = read_label_names(Path(config.labels_path), config.label_field)
        spans = celebvhq_source_spans(Path(config.labels_path))
        for v in videos:
            name = next((all_names[k] for k in (v.id, *lookup[v.id]) if k in all_names), None)
            if name is None and config.require_labels:
                raise ManifestError(f"{config.labels_path}: no label for video {v.id!r}; add it or drop --require-labels")
            if name is not None:
                label_names_by_id[v.id] = name
        if label_names_by_id:
            label_table = build_label_table(label_names_by_id)
    identities = read_identities(Path(config.identities_path)) if config.identities_path else {}
    split_config = config.split
    if identities and not split_config.identities:
        split_config = SplitConfig(fractions=split_config.fractions, list_path=split_config.list_path,
                                   seed=split_config.seed, default_split=split_config.default_split,
                                   identities=identities)
    splits = assign_splits([v.id for v in videos], split_config, lookup)

    records = []
    for v, (width, height, digest, container_fps) in zip(videos, probes):
        clip = crop.clips.get(v.id)
        fps = (clip.fps if clip else None) or container_fps or config.fps
        source = SourceSpan()
        if clip is not None:
            source = SourceSpan(video=clip.source, video_id=clip.video_id, start_frame=clip.source_start,
                                stop_frame=clip.source_stop)
            if fps and clip.source_start is not None and clip.source_stop is not None:
                source.start_sec = round(clip.source_start / fps, 6)
                source.stop_sec = round(clip.source_stop / fps, 6)
        span_key = next((k for k in (v.id, *lookup[v.id]) if k in spans), None)
        if span_key is not None:  # CelebV-HQ: the clip's place in its YouTube video
            ytb, start, stop = spans[span_key]
            source.video = source.video or f"youtube:{ytb}"
            if source.start_sec is None:  # the crop step recorded no span of its own
                source.start_sec, source.stop_sec = start, stop
        name = label_names_by_id.get(v.id)
        records.append(VideoRecord(
            id=v.id,
            path=v.path,
            frame_count=v.frame_count,
            width=width,
            height=height,
            fps=fps,
            frame_ext=v.frame_ext,
            label=label_table.code(name) if (label_table and name is not None) else None,
            label_name=name,
            split=splits[v.id],
            identity=next((identities[k] for k in (v.id, *lookup[v.id]) if k in identities), None),
            source=source,
            content_hash=digest,
            crop=CropStats(strategy=clip.strategy, frame_sources=clip.frame_sources, counts=clip.counts,
                           quality=clip.quality) if clip else None,
            frame_naming=v.frame_naming,
        ))

    sizes = {(r.width, r.height) for r in records}
    rates = {r.fps for r in records}
    split_counts: dict[str, int] = {}
    for r in records:
        split_counts[r.split] = split_counts.get(r.split, 0) + 1
    header = ManifestHeader(
        dataset_name=config.dataset_name or (Path(named_zip).stem if named_zip and named_zip != ZIP_CONTAINER
                                             else root.name),
        layout=layout,
        container=container,
        resolution=list(sizes.pop()) if len(sizes) == 1 else None,
        fps=rates.pop() if len(rates) == 1 else None,
        crop=crop.header_crop(),
        label_names=label_table.label_names if label_table else None,
        splits=dict(sorted(split_counts.items())),
        split_method=split_config.method(),
        tool={"name": "styleinv-data", "version": __version__},
        packages=_package_versions(),
        created_utc=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        num_videos=len(records),
        num_frames=sum(r.frame_count for r in records),
        skipped=_skipped(crop.failed, unlisted),
    )
    return Manifest(root=root, header=header, records=records)

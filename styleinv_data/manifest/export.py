"""Exports of a manifest: Parquet (one row per video) and StyleGAN-V / StyleGAN2-ADA ``dataset.json``."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path, PurePosixPath

from styleinv_data.manifest.records import Manifest
from styleinv_data.manifest.schema import ManifestError
from styleinv_data.output_layout import FRAMES_FOLDER, ZIP_CONTAINER


def write_parquet(manifest: Manifest, path: Path | str) -> Path:
    """One row per video with flat columns (``source_*``, ``crop_*`` as JSON text); the header is
    stored as JSON in the file's key-value metadata under ``styleinv_manifest_header``."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ManifestError("Parquet export needs pyarrow: pip install 'styleinv[parquet]'") from e
    rows = []
    for r in manifest.records:
        rows.append({
            "id": r.id, "path": r.path, "frame_count": r.frame_count, "width": r.width, "height": r.height,
            "fps": r.fps, "frame_ext": r.frame_ext, "label": r.label, "label_name": r.label_name,
            "split": r.split, "identity": r.identity, "content_hash": r.content_hash,
            "source_video": r.source.video, "source_video_id": r.source.video_id,
            "source_start_frame": r.source.start_frame, "source_stop_frame": r.source.stop_frame,
            "source_start_sec": r.source.start_sec, "source_stop_sec": r.source.stop_sec,
            "crop_strategy": r.crop.strategy if r.crop else None,
            "crop_frame_sources": json.dumps(r.crop.frame_sources) if r.crop else None,
            "crop_counts": json.dumps(r.crop.counts) if r.crop else None,
        })
    schema = pa.schema([
        ("id", pa.string()), ("path", pa.string()), ("frame_count", pa.int64()), ("width", pa.int32()),
        ("height", pa.int32()), ("fps", pa.float64()), ("frame_ext", pa.string()), ("label", pa.int64()),
        ("label_name", pa.string()), ("split", pa.string()), ("identity", pa.string()),
        ("content_hash", pa.string()), ("source_video", pa.string()), ("source_video_id", pa.string()),
        ("source_start_frame", pa.int64()), ("source_stop_frame", pa.int64()),
        ("source_start_sec", pa.float64()), ("source_stop_sec", pa.float64()),
        ("crop_strategy", pa.string()), ("crop_frame_sources", pa.string()), ("crop_counts", pa.string()),
    ])
    table = pa.Table.from_pylist(rows, schema=schema)
    table = table.replace_schema_metadata({"styleinv_manifest_header": json.dumps(manifest.header.to_json())})
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return path


def write_dataset_json(manifest: Manifest, path: Path | str | None = None) -> Path | None:
    """StyleGAN-V / StyleGAN2-ADA ``dataset.json`` at the dataset root (``OUT/frames`` for the crop's
    frames layout, the folder those trainers are given): ``{"labels": [[<frame path>,
    <int>], ...]}`` with **one entry per frame file** (``<video path>/<frame name>``), which both
    readers accept: StyleGAN2-ADA looks every image file up by its path; StyleGAN-V takes each
    entry's folder as its video and checks that a video's frames agree. (One entry per *video*, as
    written before, is refused by both.) An mp4 dataset gets one entry per video file. Returns
    None (and writes nothing) when no video has a label.

    Every video must then be labeled (those tools index labels by every file they read)."""
    labeled = [r for r in manifest.records if r.label is not None]
    if not labeled:
        return None
    missing = [r.id for r in manifest.records if r.label is None]
    if missing:
        raise ManifestError(
            f"dataset.json needs a label for every video; {len(missing)} have none (first: {missing[0]!r}); "
            f"complete the label file or pass --require-labels to find them"
        )
    # the frames layout's dataset root is OUT/frames (what the trainers are given): the file goes
    # there, its paths relative to it
    below = (manifest.header.layout == "frames"
             and all(PurePosixPath(r.path).parts[0] == FRAMES_FOLDER and len(PurePosixPath(r.path).parts) == 2
                     for r in manifest.records))
    root = Path(manifest.root) / FRAMES_FOLDER if below else Path(manifest.root)
    path = Path(path) if path is not None else root / "dataset.json"
    entries: list[list] = []
    for r in manifest.records:
        video_path = PurePosixPath(r.path).name if below else r.path
        if r.frame_ext is None:  # mp4
            entries.append([video_path, int(r.label)])  # type: ignore[arg-type]
        else:
            entries += [[f"{video_path}/{r.frame_name(i)}", int(r.label)] for i in range(r.frame_count)]  # type: ignore[arg-type]
    payload = {"labels": entries}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)
    return path


DATASET_JSON_FORMATS = ("stylegan2-ada", "stylegan-v")


def add_dataset_json_to_zip(manifest: Manifest, dataset_json: Path, fmt: str = "stylegan2-ada") -> Path:
    """Put ``dataset.json`` inside a zip-layout dataset, where each trainer reads it from.

    The two readers differ here: StyleGAN2-ADA reads exactly ``dataset.json`` at the zip's root;
    StyleGAN-V's video reader takes the first sorted member as the root folder, so the file must
    sit inside the top folder (``frames/dataset.json``). The zip is rewritten under a temporary
    name and renamed (a previous ``dataset.json`` member is replaced); frames are copied as they
    are stored. Returns the zip's path.
    """
    if fmt not in DATASET_JSON_FORMATS:
        raise ManifestError(f"dataset.json format {fmt!r}: use one of {', '.join(DATASET_JSON_FORMATS)}")
    if manifest.header.layout != "zip":
        raise ManifestError("dataset.json goes into the zip only for a zip dataset; this one is "
                            f"{manifest.header.layout!r} (its dataset.json is at the root)")
    zip_path = Path(manifest.root) / (manifest.header.container or ZIP_CONTAINER)
    tops = {PurePosixPath(r.path).parts[0] for r in manifest.records if len(PurePosixPath(r.path).parts) == 2}
    if fmt == "stylegan-v":
        if len(tops) != 1:
            raise ManifestError(f"{zip_path}: StyleGAN-V needs every video inside one top folder (found "
                                f"{sorted(tops) or 'none'}); re-run the crop with --layout zip to rebuild the zip")
        member = f"{tops.pop()}/dataset.json"
    else:
        member = "dataset.json"
    payload = Path(dataset_json).read_bytes()
    tmp = zip_path.with_name(zip_path.name + ".tmp")
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(tmp, "w") as dst:
        for info in src.infolist():
            if PurePosixPath(info.filename).name == "dataset.json":
                continue  # the previous one, in either place
            dst.writestr(info, src.read(info), compress_type=info.compress_type)
        dst.writestr(zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0)), payload)
    os.replace(tmp, zip_path)
    return zip_path

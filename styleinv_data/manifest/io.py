"""Reading and writing manifests (JSON Lines, validated against ``manifests/schema.json``).

Line 1 is the header, every other line one video record. ``header.root`` is the dataset root
relative to the manifest file's folder, so a manifest can live inside the dataset (``"."``) or
elsewhere (``"../data/ffs_256"``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from styleinv_data.manifest.records import LAYOUTS, Manifest, ManifestHeader, VideoRecord
from styleinv_data.manifest.schema import ManifestError, check_relative_path, validate_line


def _where(path: Path, line_no: int, record_id: object = None) -> str:
    return f"{path} line {line_no}" + (f" (record {record_id!r})" if isinstance(record_id, str) else "")


def check_manifest(manifest: Manifest, path: Path | str = "<manifest>") -> None:
    """Cross-record checks the schema cannot express (unique ids and paths, header totals)."""
    path = Path(path)
    ids: dict[str, int] = {}
    paths: dict[str, int] = {}
    header = manifest.header
    for i, rec in enumerate(manifest.records):
        where = _where(path, i + 2, rec.id)
        check_relative_path(rec.path, where)
        if rec.id in ids:
            raise ManifestError(f"{where}: field id: duplicate of line {ids[rec.id]}")
        if rec.path in paths:
            raise ManifestError(f"{where}: field path: {rec.path!r} duplicates line {paths[rec.path]}")
        ids[rec.id], paths[rec.path] = i + 2, i + 2
        if header.label_names is not None and rec.label is not None and rec.label >= len(header.label_names):
            raise ManifestError(f"{where}: field label: {rec.label} has no entry in header.label_names")
        if (rec.frame_ext is None) != (header.layout == "mp4"):
            raise ManifestError(f"{where}: field frame_ext: {rec.frame_ext!r} does not fit layout {header.layout!r}")
    if header.layout not in LAYOUTS:
        raise ManifestError(f"{path} line 1 (header): field layout: {header.layout!r} is not one of {LAYOUTS}")
    if header.num_videos != len(manifest.records):
        raise ManifestError(
            f"{path} line 1 (header): field num_videos: {header.num_videos} but the file has "
            f"{len(manifest.records)} records (truncated or edited?); rebuild the manifest"
        )
    total = sum(r.frame_count for r in manifest.records)
    if header.num_frames != total:
        raise ManifestError(f"{path} line 1 (header): field num_frames: {header.num_frames} but records sum to {total}")


def write_manifest(manifest: Manifest, path: Path | str) -> Path:
    """Validate and write ``manifest`` to ``path`` (atomically); ``header.root`` is set relative to it."""
    path = Path(path)
    root = Path(manifest.root).resolve()
    rel_root = Path(os.path.relpath(root, path.parent.resolve())).as_posix()
    manifest.header.root = rel_root
    check_manifest(manifest, path)
    header_json = manifest.header.to_json()
    validate_line(header_json, "header", _where(path, 1) + " (header)")
    lines = [json.dumps(header_json, sort_keys=False)]
    for i, rec in enumerate(manifest.records):
        rec_json = rec.to_json()
        validate_line(rec_json, "record", _where(path, i + 2, rec.id))
        lines.append(json.dumps(rec_json, sort_keys=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)
    return path


def read_manifest(path: Path | str, root: Path | str | None = None) -> Manifest:
    """Read and validate a manifest; ``root`` overrides the dataset root stored in the header."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ManifestError(f"{path}: cannot read the manifest ({e.strerror}); build it with `styleinv-data manifest ROOT`") from e
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ManifestError(f"{path}: empty manifest; rebuild it with `styleinv-data manifest ROOT`")
    parsed = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed.append((line_no, json.loads(line)))
        except json.JSONDecodeError as e:
            raise ManifestError(
                f"{_where(path, line_no)}: not valid JSON ({e.msg} at column {e.colno}); the manifest is corrupted, rebuild it"
            ) from e
    (h_line, header_obj), *record_objs = parsed
    if not isinstance(header_obj, dict) or header_obj.get("kind") != "header":
        raise ManifestError(f"{_where(path, h_line)}: the first line must be the header (kind 'header')")
    validate_line(header_obj, "header", _where(path, h_line) + " (header)")
    header = ManifestHeader.from_json(header_obj)
    records = []
    for line_no, obj in record_objs:
        rid = obj.get("id") if isinstance(obj, dict) else None
        validate_line(obj, "record", _where(path, line_no, rid))
        records.append(VideoRecord.from_json(obj))
    dataset_root = Path(root) if root is not None else (path.parent / header.root)
    manifest = Manifest(root=dataset_root.resolve(), header=header, records=records)
    check_manifest(manifest, path)
    return manifest

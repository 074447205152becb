"""Class labels and identities for videos, read from CSV or JSON files.

Accepted label files:

* CSV with a header: an id column (``id`` or ``video_id``) and a label column (``label`` by
  default, or ``--label-field``);
* JSON ``{"<id>": <label>, ...}`` or ``{"labels": {"<id>": <label>}}``;
* CelebV-HQ's ``celebvhq_info.json`` (``{"meta_info": ..., "clips": {...}}``), with the label
  chosen by ``label_field``: ``emotion`` (default; the longest-lasting emotion when a clip has
  several), ``appearance:<attribute>`` or ``action:<attribute>`` (binary: ``<attribute>`` /
  ``not_<attribute>``).

Labels are names; :func:`label_index` maps them to ints (ints as written when every name is an
integer, else the sorted names' positions).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from styleinv_data.manifest.schema import ManifestError

ID_COLUMNS = ("id", "video_id", "clip_id")


@dataclass
class LabelTable:
    """Video id -> label name, plus the int code of every name."""

    names_by_id: dict[str, str]
    label_names: list[str]  # int code -> name

    def code(self, name: str) -> int:
        return self.label_names.index(name)


def _read_csv_column(path: Path, column: str) -> dict[str, str]:
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            id_col = next((c for c in ID_COLUMNS if c in fields), None)
            if id_col is None:
                raise ManifestError(f"{path}: no id column (one of {list(ID_COLUMNS)}) in the CSV header {fields}")
            if column not in fields:
                raise ManifestError(f"{path}: no column {column!r} in the CSV header {fields}; pass --label-field")
            out: dict[str, str] = {}
            for line_no, row in enumerate(reader, start=2):
                vid, value = (row.get(id_col) or "").strip(), (row.get(column) or "").strip()
                if not vid or not value:
                    raise ManifestError(f"{path} line {line_no}: empty {id_col!r} or {column!r}")
                if vid in out and out[vid] != value:
                    raise ManifestError(f"{path} line {line_no}: id {vid!r} listed twice with different values")
                out[vid] = value
            return out
    except OSError as e:
        raise ManifestError(f"{path}: cannot read ({e.strerror}); check the --labels path") from e


def _celebvhq_label(clip_id: str, clip: dict[str, Any], meta: dict[str, Any], field: str, path: Path) -> str:
    attrs = clip.get("attributes") or {}
    if field == "emotion":
        emo = attrs.get("emotion") or {}
        labels = emo.get("labels")
        if isinstance(labels, str):
            return labels
        if isinstance(labels, list) and labels:
            best = max(labels, key=lambda e: float(e.get("end_sec", 0)) - float(e.get("start_sec", 0)))
            return str(best.get("emotion"))
        raise ManifestError(f"{path}: clip {clip_id!r} has no attributes.emotion.labels")
    group, _, name = field.partition(":")
    if group not in ("appearance", "action") or not name:
        raise ManifestError(
            f"{path}: label field {field!r} is not emotion, appearance:<attribute> or action:<attribute>"
        )
    names = list(meta.get(f"{group}_mapping") or [])
    if name not in names:
        raise ManifestError(f"{path}: {group} attribute {name!r} is not in meta_info.{group}_mapping")
    values = attrs.get(group)
    if not isinstance(values, list) or len(values) != len(names):
        raise ManifestError(f"{path}: clip {clip_id!r} has no {len(names)}-long attributes.{group}")
    return name if int(values[names.index(name)]) else f"not_{name}"


def read_label_names(path: Path, field: str | None = None) -> dict[str, str]:
    """Video id -> label name from a CSV or JSON label file (see the module doc for formats)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return _read_csv_column(path, field or "label")
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise ManifestError(f"{path}: cannot read ({e.strerror}); check the --labels path") from e
    except json.JSONDecodeError as e:
        raise ManifestError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from e
    if isinstance(data, dict) and "clips" in data and "meta_info" in data:
        meta = data["meta_info"]
        return {cid: _celebvhq_label(cid, clip, meta, field or "emotion", path) for cid, clip in data["clips"].items()}
    if isinstance(data, dict) and isinstance(data.get("labels"), dict):
        data = data["labels"]
    if not isinstance(data, dict) or not all(isinstance(v, (str, int)) for v in data.values()):
        raise ManifestError(f"{path}: expected a JSON object {{id: label}} (labels are strings or ints)")
    return {str(k): str(v) for k, v in data.items()}


def celebvhq_source_spans(path: Path) -> dict[str, tuple[str, float, float]]:
    """CelebV-HQ clip id -> (YouTube id, start_sec, end_sec); empty for other label files."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return {}
    data = json.loads(path.read_text())
    if not (isinstance(data, dict) and "clips" in data and "meta_info" in data):
        return {}
    out = {}
    for cid, clip in data["clips"].items():
        dur = clip.get("duration") or {}
        if "ytb_id" in clip and "start_sec" in dur and "end_sec" in dur:
            out[cid] = (str(clip["ytb_id"]), float(dur["start_sec"]), float(dur["end_sec"]))
    return out


def label_index(names: list[str]) -> list[str]:
    """The code table for a set of label names: ints as written when all are integers, else sorted."""
    unique = sorted(set(names))
    if unique and all(n.lstrip("-").isdigit() for n in unique):
        ints = sorted(int(n) for n in unique)
        if ints[0] < 0:
            raise ManifestError(f"integer labels must be >= 0, got {ints[0]}")
        return [str(i) for i in range(ints[-1] + 1)]
    return unique


def build_label_table(names_by_id: dict[str, str]) -> LabelTable:
    return LabelTable(names_by_id=names_by_id, label_names=label_index(list(names_by_id.values())))


def read_identities(path: Path) -> dict[str, str]:
    """Video id -> identity from a CSV (``id,identity``) or JSON (``{id: identity}``) file."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return _read_csv_column(path, "identity")
    return read_label_names(path)

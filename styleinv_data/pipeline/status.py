"""Per-video sidecar files under ``OUT/_meta/`` (status, plan, recipe), written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from styleinv_data.output_layout import META_DIR

PARTIAL_DIR = "partial"
SHARD_DIR = "shards"


def meta_dir(out_root: Path) -> Path:
    return Path(out_root) / META_DIR


def shard_name(shard: tuple[int, int]) -> str:
    """``shard-I-of-N``: how a shard's own files in ``OUT/_meta`` are named."""
    return f"shard-{shard[0]}-of-{shard[1]}"


def partial_dir(out_root: Path, shard: tuple[int, int] | None = None) -> Path:
    """Where unfinished outputs are built; each shard of a sharded batch has its own folder in it."""
    base = meta_dir(out_root) / PARTIAL_DIR
    return base if shard is None else base / shard_name(shard)


def shard_dir(out_root: Path) -> Path:
    return meta_dir(out_root) / SHARD_DIR


def status_path(out_root: Path, video_id: str) -> Path:
    return meta_dir(out_root) / f"{video_id}.status.json"


def plan_path(out_root: Path, video_id: str) -> Path:
    return meta_dir(out_root) / f"{video_id}.plan.json"


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path.tmp``, fsync, then rename over ``path``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_status(out_root: Path, status: dict[str, Any]) -> Path:
    path = status_path(out_root, status["video_id"])
    write_text_atomic(path, json.dumps(status, indent=1, sort_keys=False))
    return path


def read_status(out_root: Path, video_id: str) -> dict[str, Any] | None:
    """The video's status, or None when missing or unreadable (an unreadable one counts as unfinished)."""
    path = status_path(out_root, video_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None

"""first-order-model's TaiChi metadata: ``video_id,start,end,bbox,fps,width,height,partition``.

``bbox`` is ``left-top-right-bottom`` in a ``width x height`` frame; ``start``/``end`` are frame
numbers at ``fps``, read as the half-open span ``[start, end)``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

REQUIRED_COLUMNS = ("video_id", "start", "end", "bbox")


@dataclass(frozen=True)
class ClipRow:
    video_id: str
    start: int
    end: int
    bbox_ltrb: tuple[float, float, float, float]
    fps: float | None
    width: int | None
    height: int | None
    partition: str | None
    line: int


def _opt_float(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def _opt_int(value: str | None) -> int | None:
    return int(float(value)) if value not in (None, "") else None


def read_clip_table(path: Path | str, partition: str | None = None) -> list[ClipRow]:
    """Parse the table; a malformed row is an error naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: metadata table not found (strategies.box.metadata / --metadata)")
    rows: list[ClipRow] = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected video_id,start,end,bbox,fps,width,height,partition")
        for line, rec in enumerate(reader, start=2):
            try:
                parts = [float(v) for v in rec["bbox"].split("-")]
                if len(parts) != 4:
                    raise ValueError(f"bbox {rec['bbox']!r} is not left-top-right-bottom")
                left, top, right, bottom = parts
                if not (right > left and bottom > top):
                    raise ValueError(f"bbox {rec['bbox']!r} is empty")
                row = ClipRow(
                    video_id=rec["video_id"].strip(),
                    start=int(float(rec["start"])),
                    end=int(float(rec["end"])),
                    bbox_ltrb=(left, top, right, bottom),
                    fps=_opt_float(rec.get("fps")),
                    width=_opt_int(rec.get("width")),
                    height=_opt_int(rec.get("height")),
                    partition=(rec.get("partition") or "").strip() or None,
                    line=line,
                )
            except (ValueError, TypeError, AttributeError) as e:
                raise ValueError(f"{path}:{line}: {e}") from e
            if row.end <= row.start:
                raise ValueError(f"{path}:{line}: end {row.end} <= start {row.start}")
            if partition is None or row.partition == partition:
                rows.append(row)
    return rows

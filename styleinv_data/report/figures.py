"""Pictures of the report as PNG data URIs: score histograms (matplotlib) and contact strips."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from styleinv_data.crop.plan import CropPlan
from styleinv_data.quality import crop_corners

THUMB = 72  # px, one output frame in a contact strip


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def histogram(values: list[float], label: str, worst_end: str) -> str:
    """A small histogram of one score; the worst end is marked."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.6, 2.2), dpi=90)
    try:
        array = np.asarray(values, dtype=np.float64)
        ax.hist(array, bins=min(40, max(5, int(np.sqrt(len(array))))), color="#3b6ea8")
        ax.set_title(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.annotate("worst", xy=(0.02 if worst_end == "low" else 0.98, 0.92), xycoords="axes fraction",
                    ha="left" if worst_end == "low" else "right", fontsize=7, color="#b03030")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return data_uri(buffer.getvalue())


def _frame(store: Any, record: Any, index: int) -> Image.Image | None:
    from styleinv_data.datasets.decode import decode_hwc

    try:
        data = store.read(record.path, record.frame_name(index))
        return Image.fromarray(decode_hwc(data, record.frame_ext or ".jpg", record.path))
    except Exception:  # noqa: BLE001 - a missing or unreadable frame leaves a gap, never stops the report
        return None


def _crop_path_panel(plan: CropPlan | None, start: int | None, stop: int | None, height: int) -> Image.Image | None:
    """The clip's crop regions (every few frames) over the source frame's area, to scale."""
    if plan is None or not plan.source_size:
        return None
    w, h = plan.source_size
    scale = height / max(h, 1)
    panel = Image.new("RGB", (max(1, int(w * scale)), height), (235, 235, 235))
    draw = ImageDraw.Draw(panel)
    frames = [f for f in plan.frames if (start is None or f.frame_index >= start)
              and (stop is None or f.frame_index < stop)]
    for k, frame in enumerate(frames[:: max(1, len(frames) // 12)]):
        corners = crop_corners(frame)
        if corners is None:
            continue
        draw.polygon([(x * scale, y * scale) for x, y in corners], outline=(200, 40, 40) if k == 0 else (40, 90, 170))
    draw.rectangle([0, 0, panel.width - 1, height - 1], outline=(120, 120, 120))
    return panel


def contact_strip(store: Any, record: Any, meta_dir: Path | None) -> str | None:
    """Four output frames of the clip (first, two inside, last) and its crop path; None when no
    frame of it can be read (a manifest without its images, say)."""
    positions = sorted({0, record.frame_count // 3, (2 * record.frame_count) // 3, max(record.frame_count - 1, 0)})
    tiles = [_frame(store, record, i) for i in positions] if store is not None else []
    tiles = [t.resize((THUMB, THUMB)) for t in tiles if t is not None]
    plan = None
    if meta_dir is not None and record.source.video_id:
        path = Path(meta_dir) / f"{record.source.video_id}.plan.json"
        try:
            plan = CropPlan.load(path) if path.is_file() else None
        except ValueError:  # CropPlan.load's error for an unreadable plan: the panel is left out
            plan = None
    path_panel = _crop_path_panel(plan, record.source.start_frame, record.source.stop_frame, THUMB)
    if not tiles and path_panel is None:
        return None
    parts = tiles + ([path_panel] if path_panel is not None else [])
    strip = Image.new("RGB", (sum(p.width for p in parts) + 2 * (len(parts) - 1), THUMB), (255, 255, 255))
    x = 0
    for part in parts:
        strip.paste(part, (x, 0))
        x += part.width + 2
    buffer = io.BytesIO()
    strip.save(buffer, format="PNG")
    return data_uri(buffer.getvalue())

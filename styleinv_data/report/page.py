"""The report page: one HTML file, CSS inline and pictures as data URIs (opens with no network)."""

from __future__ import annotations

import datetime as _dt
import html
import os
import time
from pathlib import Path
from typing import Any

from styleinv_data.report.collect import SCORES, ReportData, collect
from styleinv_data.report.figures import contact_strip, histogram

WORST = 20

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
header{background:#0b3d6e;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;font-size:13px;opacity:.85}
main{padding:18px 28px}
.summary{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:18px}
.card{background:#fff;border:1px solid #d5dbe3;border-radius:6px;padding:10px 16px;min-width:110px}
.card b{display:block;font-size:22px} .card span{font-size:12px;color:#5b6776}
.card.bad b{color:#b03030}
h2{font-size:17px;margin:22px 0 8px;border-bottom:1px solid #d5dbe3;padding-bottom:4px}
.hists{display:flex;flex-wrap:wrap;gap:10px} .hists img{background:#fff;border:1px solid #d5dbe3}
table{border-collapse:collapse;background:#fff;font-size:12px;margin-bottom:10px}
td,th{border:1px solid #d5dbe3;padding:3px 8px;text-align:left;vertical-align:middle}
th{background:#eef1f5} td.num{text-align:right;font-variant-numeric:tabular-nums}
details{margin-bottom:8px} summary{cursor:pointer;font-weight:600;font-size:14px}
.note{font-size:12px;color:#5b6776}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _frame_store(data: ReportData):
    from styleinv_data.manifest.storage import FrameStore

    header = data.manifest.header
    if header.layout not in ("frames", "zip") or not data.manifest.records:
        return None
    return FrameStore(data.manifest.root, header.layout, header.container)


def build_report(source: Path | str, out_path: Path | str | None = None, progress: bool = True) -> Path:
    """Write the report of a crop output folder or a manifest; returns the HTML file
    (default: ``<folder>/report.html``, or ``<manifest>.report.html``)."""
    from styleinv_data.progress import progress_bar

    started = time.perf_counter()
    source = Path(source)
    data = collect(source)
    out = Path(out_path) if out_path else (source / "report.html" if source.is_dir()
                                           else source.with_suffix(".report.html"))
    values = {key: data.values(key) for key in SCORES}
    scores = [key for key in SCORES if values[key]]
    worst = {key: data.worst(key, WORST) for key in scores}
    strip_ids = {r.id for rows in worst.values() for r, _ in rows}
    store = _frame_store(data)
    strips: dict[str, str | None] = {}
    with progress_bar(total=len(scores) + len(strip_ids), desc="report", unit="item", disable=not progress) as bar:
        figures = {}
        for key in scores:
            label, end, _ = SCORES[key]
            figures[key] = histogram(values[key], label, end)
            bar.update(1)
        by_id = {r.id: r for r in data.manifest.records}
        for clip_id in sorted(strip_ids):
            strips[clip_id] = contact_strip(store, by_id[clip_id], data.meta_dir)
            bar.update(1)
    if store is not None:
        store.close()
    records = data.manifest.records
    videos_done = len({r.source.video_id or r.id for r in records})
    cards = [
        ("videos cropped", f"{videos_done:,}", False),
        ("videos failed", f"{len(data.failed):,}", bool(data.failed)),
        *([("skipped (already done)", f"{data.skipped_runs:,}", False)] if data.skipped_runs is not None else []),
        ("clips", f"{len(records):,}", False),
        ("frames", f"{sum(r.frame_count for r in records):,}", False),
        ("hours", f"{data.hours:.3g}", False),
        ("clips with scores", f"{len(data.scored):,}", False),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(data.title)}: dataset report</title><style>{_STYLE}</style></head><body>",
        f"<header><h1>{_e(data.title)}: dataset report</h1><p>{_e(source)} &middot; layout "
        f"{_e(data.manifest.header.layout)} &middot; written {_dt.datetime.now():%Y-%m-%d %H:%M}</p></header><main>",
        "<section id='summary' class='summary'>",
        *(f"<div class='card{' bad' if bad else ''}'><b>{_e(v)}</b><span>{_e(k)}</span></div>" for k, v, bad in cards),
        "</section>",
        *(f"<p class='note'>{_e(n)}</p>" for n in data.notes),
    ]
    if scores:
        parts.append("<h2>Scores</h2><div class='hists'>")
        parts += [f"<img alt='{_e(SCORES[k][0])}' src='{figures[k]}'>" for k in scores]
        parts.append("</div>")
        parts.append(f"<h2>The {WORST} worst clips by each score</h2>")
        for key in scores:
            label, end, unit = SCORES[key]
            parts.append(f"<details{' open' if key == scores[0] else ''}><summary>{_e(label)} "
                         f"({'lowest' if end == 'low' else 'highest'} first)</summary><table>"
                         "<tr><th>clip</th><th>split</th><th>value</th><th>frames</th><th>contact strip "
                         "(output frames; crop regions over the source frame)</th></tr>")
            for record, value in worst[key]:
                strip = strips.get(record.id)
                image = f"<img alt='{_e(record.id)}' src='{strip}'>" if strip else "<span class='note'>no frames</span>"
                parts.append(f"<tr><td>{_e(record.id)}</td><td>{_e(record.split)}</td><td class='num'>"
                             f"{_fmt(value)}{_e(unit)}</td><td class='num'>{record.frame_count}</td><td>{image}</td></tr>")
            parts.append("</table></details>")
    else:
        parts.append("<p class='note'>No clip has quality scores (a crop made before they existed, or none "
                     "succeeded).</p>")
    parts.append(f"<h2 id='failed'>Failed videos ({len(data.failed)})</h2>")
    if data.failed:
        parts.append("<table><tr><th>video</th><th>reason</th></tr>")
        parts += [f"<tr><td>{_e(v)}</td><td>{_e(reason)}</td></tr>" for v, reason in sorted(data.failed)]
        parts.append("</table>")
    else:
        parts.append("<p class='note'>None.</p>")
    parts.append(f"<p class='note'>Built in {time.perf_counter() - started:.1f} s by styleinv-data report.</p>")
    parts.append("</main></body></html>")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    os.replace(tmp, out)
    return out

"""Time ``styleinv-data report`` on a manifest of 35,000 scored clips (CelebV-HQ's size) whose
frames are not on disk (the issue's measure: the page's data, histograms and tables, no images).
Prints a table and writes benchmarks/results/report_scale.json.

    python benchmarks/report_scale.py [--clips 35000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from styleinv_data.manifest import write_manifest
from styleinv_data.report import build_report
from styleinv_data.report.synthetic import synthetic_scored_manifest

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=35_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report_scale_") as tmp:
        start = time.perf_counter()
        manifest = write_manifest(synthetic_scored_manifest(args.clips, Path(tmp) / "absent", seed=0, failed=350),
                                  Path(tmp) / "m.jsonl")
        written = time.perf_counter() - start
        start = time.perf_counter()
        page = build_report(manifest, Path(tmp) / "report.html", progress=False)
        elapsed = time.perf_counter() - start
        size = page.stat().st_size
    load = os.getloadavg()[0]
    print(f"{'clips':>8} {'manifest write s':>17} {'report s':>9} {'html KiB':>9} {'load':>5}")
    print(f"{args.clips:>8} {written:>17.1f} {elapsed:>9.1f} {size / 1024:>9.0f} {load:>5.2f}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "report_scale.json"
    out.write_text(json.dumps({"clips": args.clips, "report_s": round(elapsed, 2), "manifest_write_s": round(written, 2),
                               "html_bytes": size, "load_avg_1min": load, "machine": platform.platform(),
                               "command": " ".join(sys.argv)}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""When do crop results reach the progress bar with ``--backend dask``? Six videos of different
lengths (longest first), two Dask worker threads: the time each result arrives, for results in
submission order (joblib's default, as before) and as they finish (``generator_unordered``, now). A warm-up pass runs first; the ordered pass runs before and after
the unordered one.

    .venv/bin/python benchmarks/dask_progress.py [--out benchmarks/results/dask_progress.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

LENGTHS = (240, 120, 60, 30, 15, 6)  # frames, longest first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "dask_progress.json")
    args = parser.parse_args(argv)

    import distributed
    import joblib

    from styleinv_data.io.synthetic import MovingBoxClip, linear_path, write_moving_box_clip
    from styleinv_data.pipeline.recipe import build_recipe
    from styleinv_data.pipeline.runner import discover_tasks, prepare_output, run_video

    rows = {}
    with tempfile.TemporaryDirectory() as tmp, distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster.scheduler_address) as client:
        root = Path(tmp) / "data"
        (root / "original").mkdir(parents=True)
        (root / "mask").mkdir(parents=True)
        for k, n in enumerate(LENGTHS):
            clip = MovingBoxClip(128, 96, linear_path((8, 12, 48, 60), (60, 20, 112, 80), n))
            write_moving_box_clip(root / "original" / f"v{k}_{n}.mp4", root / "mask" / f"v{k}_{n}.mp4", clip, seed=k)
        for mode in ("warm-up", "list", "generator_unordered", "list again"):
            recipe = build_recipe("faceforensics", flags={
                "input.root": str(root), "output.root": str(Path(tmp) / f"out_{mode}"), "output.size": 64,
                "run.progress": False})
            prepare_output(recipe)
            tasks = discover_tasks(recipe)
            start = time.perf_counter()
            arrivals = []
            with joblib.parallel_config(backend="dask", client=client):
                parallel = joblib.Parallel(n_jobs=2, return_as="list" if mode != "generator_unordered" else mode)
                for result in parallel(joblib.delayed(run_video)(t, recipe) for t in tasks):
                    arrivals.append((result.video_id, round(time.perf_counter() - start, 2)))
            if mode != "warm-up":
                rows[mode] = arrivals
    print("| result order | arrivals (video: seconds after start) |\n|---|---|")
    for mode, arrivals in rows.items():
        label = "as they finish (now)" if mode == "generator_unordered" else f"all at the end ({mode}, before)"
        print(f"| {label} | {', '.join(f'{v}: {t}' for v, t in arrivals)} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "dask_progress", "python": platform.python_version(),
                                    "lengths": LENGTHS, "arrivals": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

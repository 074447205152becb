"""FVD16 of a learning-check run's stage-3 model at initialisation and after training, at more z
seeds than the check's one (its init/after comparison is paired on one seed; this shows the spread).

Rebuilds the initial model exactly as ``train_learning_check.py`` does (its stage-3 overrides and
seed from the result JSON, the stage-1 and stage-2 checkpoints) and loads the trained one.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/learning_check_seeds.py RESULT.json \
        --manifest WORKDIR/data/manifest.jsonl --stage1 S1.safetensors --stage2 S2.safetensors \
        --stage3 S3.safetensors --seeds 1000,2000,3000 [--out seeds.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import train_learning_check as check  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", type=Path, help="the learning check's result JSON")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--stage1", type=Path, required=True, help="stage-1 checkpoint of that run")
    parser.add_argument("--stage2", type=Path, required=True, help="stage-2 checkpoint of that run")
    parser.add_argument("--stage3", type=Path, required=True, help="stage-3 checkpoint of that run")
    parser.add_argument("--seeds", default="1000,2000,3000", help="first z/motion seed of each set of videos")
    parser.add_argument("--fvd-videos", type=int, default=None, help="default: the run's")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    report = json.loads(args.result.read_text())

    import torch

    from styleinv_model.styleinv.checkpoint import load_styleinv

    torch.set_num_threads(1)
    count = args.fvd_videos or report["fvd16"]["videos_per_side"]
    with tempfile.TemporaryDirectory(prefix="styleinv_seeds_") as scratch:
        init = check.stage3_at_init(report["overrides"]["stage3"], args.manifest, Path(scratch),
                                    report["arguments"]["seed"], args.stage1, args.stage2)
    after = load_styleinv(args.stage3).eval()
    fvd = check.FVD(args.manifest, count)
    rows = []
    print(f"{'z seed':>8} {'init':>8} {'after':>8} {'after/init':>10}")
    for seed in seeds:
        before, trained = fvd.of_model(init, seed)[0], fvd.of_model(after, seed)[0]
        rows.append({"seed": seed, "init": before, "after": trained, "ratio": trained / before})
        print(f"{seed:>8} {before:>8.1f} {trained:>8.1f} {trained / before:>10.3f}", flush=True)
    mean_init = sum(r["init"] for r in rows) / len(rows)
    mean_after = sum(r["after"] for r in rows) / len(rows)
    print(f"{'mean':>8} {mean_init:>8.1f} {mean_after:>8.1f} {mean_after / mean_init:>10.3f}")
    if args.out is not None:
        check.write_json_atomic(args.out, {"result": str(args.result), "videos_per_side": count, "rows": rows,
                                           "mean": {"init": mean_init, "after": mean_after}})
    return 0


if __name__ == "__main__":
    sys.exit(main())

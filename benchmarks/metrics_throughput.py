"""Throughput of the metric networks: I3D (FVD) and Inception (FID) frames per second.

Measures each network on every available device (CPU always, CUDA when present), on random uint8
input (the networks' cost does not depend on content), preprocessing (resize + scale) included.
Prints a table and writes benchmarks/results/metrics_throughput.json.

    python benchmarks/metrics_throughput.py [--repeats 3] [--i3d-batch 4] [--inception-batch 32]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from styleinv_model.metrics.networks import I3DExtractor, InceptionExtractor


def _time(fn, repeats: int, sync) -> float:
    fn()  # warm-up
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--i3d-batch", type=int, default=4, help="16-frame clips per I3D call")
    parser.add_argument("--inception-batch", type=int, default=32)
    parser.add_argument("--source-size", type=int, default=256, help="input frame side before the resize")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "metrics_throughput.json")
    args = parser.parse_args()

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (args.i3d_batch, 16, args.source_size, args.source_size, 3), dtype=np.uint8)
    images = rng.integers(0, 256, (args.inception_batch, args.source_size, args.source_size, 3), dtype=np.uint8)
    rows = []
    for device in devices:
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        i3d = I3DExtractor.load(device=device)
        inception = InceptionExtractor.load(device=device)
        seconds = _time(lambda: i3d(clips), args.repeats, sync)
        rows.append({"network": "i3d (FVD16 clips)", "device": device, "batch": args.i3d_batch,
                     "frames": clips.shape[0] * clips.shape[1], "seconds": seconds,
                     "frames_per_s": clips.shape[0] * clips.shape[1] / seconds})
        seconds = _time(lambda: inception(images), args.repeats, sync)
        rows.append({"network": "inception (FID)", "device": device, "batch": args.inception_batch,
                     "frames": images.shape[0], "seconds": seconds, "frames_per_s": images.shape[0] / seconds})
        del i3d, inception
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
    }
    print(f"{'network':<20} {'device':<6} {'batch':>5} {'frames/s':>10}")
    for row in rows:
        print(f"{row['network']:<20} {row['device']:<6} {row['batch']:>5} {row['frames_per_s']:>10.1f}")
    # 2048 clips of 16 frames for FVD16; 50k frames for FID
    for row in rows:
        total = 2048 * 16 if row["network"].startswith("i3d") else 50_000
        row["projected_protocol_s"] = total / row["frames_per_s"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join([Path(sys.executable).name, *sys.argv]), "machine": machine,
                                    "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

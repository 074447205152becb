"""StyleInV generation throughput: frames/s at 256^2 for batch sizes 1..64.

The batch size is the number of frames produced per forward pass (one video streamed with
``chunk_frames = batch``): temporal style -> modulated IR-SE-50 encoder -> StyleGAN2 synthesis
(paper256). The per-video set-up (G(w0) and the encoder stem, done once per video) is timed apart.
Weights are random: speed does not depend on training.

    .venv/bin/python benchmarks/generate_throughput.py                      # CPU, 1..64
    .venv/bin/python benchmarks/generate_throughput.py --device cuda --steps 5

Prints a table and writes benchmarks/results/generate_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from styleinv_model.generate import Timeline, iter_frames, prepare_videos
from styleinv_model.stylegan2 import build_generator
from styleinv_model.styleinv.generator import StyleInVConfig, StyleInVGenerator
from styleinv_model.styleinv.motion_noise import SeededMotionNoise


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(model: StyleInVGenerator, batch: int, steps: int, warmup: int, device: torch.device) -> dict:
    """Seconds per step for `steps` chunks of `batch` frames of one video (after `warmup` chunks)."""
    total = batch * (steps + warmup)
    _sync(device)
    started = time.perf_counter()
    context = prepare_videos(model, [batch], device=device)
    _sync(device)
    setup_s = time.perf_counter() - started
    motion = SeededMotionNoise([batch], model.temporal_style.config.motion_dim)
    stream = iter_frames(model, context, motion, Timeline(total), chunk_frames=batch)
    for _ in range(warmup):
        next(stream)
    _sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        frames = next(stream)[1]
    _sync(device)
    elapsed = time.perf_counter() - started
    assert frames.shape[1] == batch
    return {
        "batch": batch,
        "steps": steps,
        "seconds_per_step": elapsed / steps,
        "frames_per_s": batch * steps / elapsed,
        "video_setup_s": setup_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--batch-sizes", default="1,2,4,8,16,32,64")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=1, help="timed steps per batch size")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps per batch size (default: 0 on CPU, 2 on CUDA)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--machine", default=None, help="machine description for the table")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/generate_throughput.json"))
    args = parser.parse_args(argv)

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    warmup = args.warmup if args.warmup is not None else (2 if device.type == "cuda" else 0)
    sizes = [int(s) for s in args.batch_sizes.split(",") if s]
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    image_generator = build_generator("paper256", resolution=args.resolution)
    model = StyleInVGenerator(image_generator, StyleInVConfig.faces(args.resolution)).eval().to(device)
    with torch.no_grad():
        measure(model, 1, 1, 0, device)  # first-call overheads (allocator, kernel selection)
        rows = [measure(model, b, args.steps, warmup, device) for b in sizes]

    machine = args.machine or (torch.cuda.get_device_name(device) if device.type == "cuda" else
                               f"{platform.machine()} CPU, {torch.get_num_threads()} threads")
    print(f"StyleInV generation throughput, {args.resolution}^2, {device.type} ({machine})")
    print(f"{'batch':>6} {'s/step':>9} {'frames/s':>9} {'video set-up s':>15}")
    for row in rows:
        print(f"{row['batch']:>6} {row['seconds_per_step']:>9.3f} {row['frames_per_s']:>9.2f} {row['video_setup_s']:>15.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "generate_throughput",
        "resolution": args.resolution,
        "device": device.type,
        "machine": machine,
        "torch": torch.__version__,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "rows": rows,
    }, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory of streaming StyleInV generation: 1,000 vs 10,000 frames at 32^2 on the CPU.

Each length runs in a fresh subprocess that generates one video end to end through
``generate_videos`` (temporal style -> modulated encoder -> StyleGAN2 synthesis -> mp4 through the
ffmpeg pipe) and reports its peak resident set size (``ru_maxrss``; the ffmpeg encoder is a separate process and
not counted), and how much it grew after the networks were built.
Streaming must keep the peak flat: the acceptance bound is 10,000 frames within 10% of 1,000.

The networks are random and narrower than the paper's (``--encoder small``: IR-SE trunk widths
16-32-64-128, one unit per stage; the image generator with channel_max 64) so 10,000 frames finish in
minutes on a CPU; the model's size is the same in both runs, and what is measured is whether memory
grows with the video's length. ``--encoder ir-se-50`` uses the full encoder.

    .venv/bin/python benchmarks/generate_memory.py                    # 1000 and 10000 frames
    .venv/bin/python benchmarks/generate_memory.py --frames 1000,10000 --encoder ir-se-50

Prints a table and writes benchmarks/results/generate_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_child(frames: int, encoder: str, resolution: int, chunk_frames: int, out_dir: Path) -> dict:
    """Generate one video of `frames` frames in this process; return peak RSS numbers (MiB)."""
    import torch

    from styleinv_model.generate import Timeline, VideoGenerationConfig, generate_videos
    from styleinv_model.stylegan2 import build_generator
    from styleinv_model.styleinv.encoder import EncoderConfig
    from styleinv_model.styleinv.generator import StyleInVConfig, StyleInVGenerator

    torch.set_num_threads(1)
    torch.manual_seed(0)
    image_generator = build_generator("auto", resolution=resolution, channel_max=64)
    if encoder == "small":
        encoder_config = EncoderConfig(stage_channels=(16, 32, 64, 128), stage_units=(1, 1, 1, 1))
    else:
        encoder_config = EncoderConfig()
    config = StyleInVConfig(encoder=encoder_config)
    model = StyleInVGenerator(image_generator, config).eval()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    result = generate_videos(
        model,
        VideoGenerationConfig(seeds=[0], timestamps=Timeline(frames), chunk_frames=chunk_frames, videos_per_batch=1,
                              grid_columns=8),
        out_dir,
    )
    elapsed = time.perf_counter() - started
    size = result.videos[0].stat().st_size
    return {
        "frames": frames,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_after_model_build_mib": rss_before,
        "seconds": elapsed,
        "frames_per_s": frames / elapsed,
        "mp4_bytes": size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", default="1000,10000")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--chunk-frames", type=int, default=16)
    parser.add_argument("--encoder", choices=["small", "ir-se-50"], default="small")
    parser.add_argument("--machine", default="2-core x86-64 CPU, shared/loaded")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/generate_memory.json"))
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child is not None:
        with tempfile.TemporaryDirectory() as tmp:
            row = run_child(args.child, args.encoder, args.resolution, args.chunk_frames, Path(tmp))
        print(json.dumps(row))
        return 0

    rows = []
    for frames in [int(f) for f in args.frames.split(",") if f]:
        command = [sys.executable, os.path.abspath(__file__), "--child", str(frames), "--encoder", args.encoder,
                   "--resolution", str(args.resolution), "--chunk-frames", str(args.chunk_frames)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            return done.returncode
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))

    base = rows[0]["peak_rss_mib"]
    print(f"StyleInV streaming generation memory, {args.resolution}^2, encoder {args.encoder}, CPU ({args.machine})")
    print(f"{'frames':>7} {'peak RSS MiB':>13} {'vs first':>9} {'growth while generating MiB':>28} "
          f"{'seconds':>8} {'frames/s':>9}")
    for row in rows:
        row["ratio_to_first"] = row["peak_rss_mib"] / base
        row["growth_while_generating_mib"] = row["peak_rss_mib"] - row["peak_rss_after_model_build_mib"]
        print(f"{row['frames']:>7} {row['peak_rss_mib']:>13.1f} {row['ratio_to_first']:>9.3f} "
              f"{row['growth_while_generating_mib']:>28.1f} {row['seconds']:>8.1f} {row['frames_per_s']:>9.1f}")
    worst = max(row["ratio_to_first"] for row in rows)
    verdict = "PASS" if worst <= 1.10 else "FAIL"
    print(f"largest peak / first peak = {worst:.3f} ({verdict}: bound 1.10)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "generate_memory",
        "machine": args.machine,
        "platform": platform.platform(),
        "resolution": args.resolution,
        "encoder": args.encoder,
        "chunk_frames": args.chunk_frames,
        "command": " ".join([".venv/bin/python", "benchmarks/generate_memory.py", *(argv or sys.argv[1:])]),
        "rows": rows,
        "max_ratio": worst,
        "verdict": verdict,
    }, indent=1))
    print(f"wrote {args.out}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())

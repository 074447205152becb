"""Training throughput and memory: stage-1 s/kimg and stage-3 memory per video and videos/s.

Builds the training stages exactly as ``styleinv-train`` does (``Stage1`` / ``Stage3`` with the
config from ``load_stage_config``), on a synthetic moving-faces manifest written to a temporary
folder, and times ``stage.train_step`` directly:

* stage 1: the config's StyleGAN2 networks (faceforensics: paper256, fp16 in the top 4
  resolutions on CUDA, as the networks do themselves), ``--steps`` timed steps after ``--warmup``
  steps; s/kimg = seconds / (steps x batch / 1000). With the default 4 + 32 steps the window holds
  every lazy-regularisation step in its true proportion (path length every 4, R1 every 16).
* stage 3: for each batch size in ``--stage3-batches`` (videos per step, 4 frames per video),
  a fresh Stage3 over a randomly initialised stage-1 generator saved in our checkpoint format;
  on CUDA ``torch.cuda.max_memory_allocated`` from just after the build to the end of the timed
  steps (so it includes weights, Adam states and the R1 step), the least-squares slope of the peak
  over batch sizes (GB per extra video), the per-video average (peak / videos) and videos/s.

Data loading is excluded from the training timings: before timing, ``--preload`` batches are
pulled from the stage's real stream (threaded PNG decoding), kept on the device and cycled. The
loader's own rate over those batches is reported separately (``loader_s_per_kimg``).
Random weights: timing and memory do not depend on the weights' values.

    # the target measurement (one CUDA GPU)
    .venv/bin/python benchmarks/train_throughput.py --device cuda --resolution 256 \\
        --stage1-batch 32,64 --stage3-batches 4,8,16 --steps 32
    # CPU smoke run (demo config: 32x32, small networks)
    .venv/bin/python benchmarks/train_throughput.py --device cpu --config demo --resolution 32 \\
        --stage1-batch 8 --stage3-batches 2,4 --steps 4 --warmup 1 --frames 40 \\
        --out benchmarks/results/train_throughput_cpu_smoke.json

Prints a table and writes the JSON (default benchmarks/results/train_throughput.json).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import torch

GB = 1e9  # the targets (2.0 GB, paper 2.85 GB) are read as 10^9 bytes; GiB are reported too


def parse_int_list(text: str, flag: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"{flag} {text!r}: give comma-separated positive integers, e.g. 4,8,16") from None
    if not values or any(v < 1 for v in values):
        raise SystemExit(f"{flag} {text!r}: give comma-separated positive integers, e.g. 4,8,16")
    return values


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def least_squares_slope(xs: list[float], ys: list[float]) -> tuple[float | None, float | None]:
    """(slope, intercept) of y = slope * x + intercept; (None, None) with fewer than 2 distinct x."""
    if len(set(xs)) < 2:
        return None, None
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return slope, my - slope * mx


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device).clone()  # clone: the loader may reuse its CPU buffers
    if isinstance(batch, tuple):
        return tuple(_to_device(b, device) for b in batch)
    raise TypeError(f"unexpected batch type {type(batch).__name__}")


def preload(stage: Any, count: int, device: torch.device) -> tuple[Iterator[Any], float]:
    """Pull `count` batches from the stage's real stream, keep them on `device`, close the stream.

    Returns (an endless cycle of those batches, seconds the loader took to deliver them); the
    bytes they occupy are left in ``stage.preloaded_bytes``."""
    started = time.perf_counter()
    cpu_batches = [next(stage.batches) for _ in range(count)]
    loader_seconds = time.perf_counter() - started
    close = getattr(stage.batches, "close", None)
    if callable(close):
        close()  # stop the prefetching threads: they would compete with the timed steps
    batches = [_to_device(b, device) for b in cpu_batches]
    del cpu_batches
    stage.preloaded_bytes = sum(t.numel() * t.element_size() for b in batches
                                for t in (b if isinstance(b, tuple) else (b,)))
    synchronize(device)
    return itertools.cycle(batches), loader_seconds


def time_steps(stage: Any, device: torch.device, warmup: int, steps: int) -> tuple[float, list[float]]:
    """Run `warmup` untimed steps, then `steps` timed ones; (window seconds, per-step seconds)."""
    for step in range(warmup):
        stage.train_step(step)
    synchronize(device)
    per_step: list[float] = []
    started = time.perf_counter()
    for step in range(warmup, warmup + steps):
        t0 = time.perf_counter()
        losses = stage.train_step(step)
        if device.type == "cpu":
            per_step.append(time.perf_counter() - t0)
    synchronize(device)
    seconds = time.perf_counter() - started
    bad = [k for k, v in losses.items() if not bool(torch.isfinite(v).all())]
    if bad:
        print(f"warning: non-finite losses {bad} in the last timed step (random weights); timings still valid",
              file=sys.stderr)
    return seconds, per_step


def overrides_for(args: argparse.Namespace, stage: str, extra: list[str]) -> list[str]:
    base = [f"run.seed={args.seed}", f"run.loader_threads={args.loader_threads}"]
    return base + extra + [o for o in args.set if o.startswith(f"{stage}.") or o.startswith("run.")]


def make_manifest(root: Path, args: argparse.Namespace) -> Path:
    from styleinv_data.moving_faces import MovingFacesConfig, write_moving_faces

    return write_moving_faces(root / "faces", MovingFacesConfig(num_videos=args.videos, frames=args.frames,
                                                                size=args.resolution, seed=args.seed))


def bench_stage1(args: argparse.Namespace, batch: int, manifest: Path, device: torch.device) -> dict[str, Any]:
    from styleinv_model.train.config import load_stage_config
    from styleinv_model.train.distributed import DistInfo
    from styleinv_model.train.stage1 import Stage1

    config = load_stage_config("stage1", args.config, overrides_for(
        args, "stage1", [f"stage1.resolution={args.resolution}", f"stage1.batch_size={batch}"]))
    torch.manual_seed(args.seed)
    stage = Stage1(config, manifest, DistInfo(), device)
    stage.build()
    stage.start(0)
    stage.batches, loader_seconds = preload(stage, args.preload, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds, per_step = time_steps(stage, device, args.warmup, args.steps)
    s = config.settings
    result = {
        "batch": batch,
        "resolution": s.resolution,
        "preset": s.preset,
        "generator_params": sum(p.numel() for p in stage.G.parameters()),
        "discriminator_params": sum(p.numel() for p in stage.D.parameters()),
        "num_fp16_res_G": stage.G.config.num_fp16_res if hasattr(stage.G.config, "num_fp16_res") else None,
        "warmup_steps": args.warmup,
        "timed_steps": args.steps,
        "seconds": seconds,
        "s_per_kimg": seconds / (args.steps * batch / 1000.0),
        "images_per_s": args.steps * batch / seconds,
        "per_step_s_cpu": per_step or None,
        "loader_batches": args.preload,
        "loader_seconds": loader_seconds,
        "loader_s_per_kimg": loader_seconds / (args.preload * batch / 1000.0),
        "peak_memory_gb": torch.cuda.max_memory_allocated(device) / GB if device.type == "cuda" else None,
    }
    del stage
    release(device)
    return result


def save_random_generator(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    """A randomly initialised stage-1 generator (the config's stage-1 networks) as our checkpoint."""
    from styleinv_model.checkpoints.safetensors_io import save_checkpoint
    from styleinv_model.train.config import load_stage_config
    from styleinv_model.train.distributed import DistInfo
    from styleinv_model.train.stage1 import Stage1

    config = load_stage_config("stage1", args.config, overrides_for(
        args, "stage1", [f"stage1.resolution={args.resolution}"]))
    torch.manual_seed(args.seed)
    G, _, _ = Stage1(config, None, DistInfo(), torch.device("cpu")).build_networks()
    save_checkpoint(path, {"G_ema": G}, {})
    return {"preset": config.settings.preset, "params": sum(p.numel() for p in G.parameters())}


def bench_stage3(args: argparse.Namespace, batch: int, manifest: Path, generator: Path,
                 device: torch.device) -> dict[str, Any]:
    from styleinv_model.train.config import load_stage_config
    from styleinv_model.train.distributed import DistInfo
    from styleinv_model.train.stage3 import Stage3

    config = load_stage_config("stage3", args.config, overrides_for(args, "stage3", [
        f"stage3.batch_size={batch}", f"stage3.generator_checkpoint={generator}", "stage3.encoder_checkpoint=null",
        f"stage3.discriminator.resolution={args.resolution}"]))
    release(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(args.seed)
    stage = Stage3(config, manifest, DistInfo(), device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no encoder_checkpoint": random weights on purpose
        stage.build()
    stage.start(0)
    stage.batches, loader_seconds = preload(stage, args.preload, device)
    after_build = torch.cuda.memory_allocated(device) if device.type == "cuda" else None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)  # peak from here: weights + batches + steps
    seconds, per_step = time_steps(stage, device, args.warmup, args.steps)
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    trainable = sum(p.numel() for p in stage.generator_parameters())
    result = {
        "videos": batch,
        "frames_per_video": 4,
        "nframes": config.settings.nframes,
        "encoder_mixed_precision": getattr(stage.config3.encoder, "mixed_precision", None),
        "trainable_params": trainable,
        "video_discriminator_params": sum(p.numel() for p in stage.D.parameters()),
        "warmup_steps": args.warmup,
        "timed_steps": args.steps,
        "seconds": seconds,
        "videos_per_s": args.steps * batch / seconds,
        "s_per_kvideo": seconds / (args.steps * batch / 1000.0),
        "per_step_s_cpu": per_step or None,
        "loader_batches": args.preload,
        "loader_seconds": loader_seconds,
        "loader_videos_per_s": args.preload * batch / loader_seconds,
        "preloaded_batches_gb": stage.preloaded_bytes / GB,
        "allocated_after_build_gb": after_build / GB if after_build is not None else None,
        "peak_memory_gb": peak / GB if peak is not None else None,
        "peak_memory_gib": peak / 2**30 if peak is not None else None,
        "peak_gb_per_video": peak / GB / batch if peak is not None else None,
    }
    del stage
    release(device)
    return result


def release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def summarize_stage3(rows: list[dict[str, Any]]) -> dict[str, Any]:
    measured = [r for r in rows if r["peak_memory_gb"] is not None]
    slope, intercept = least_squares_slope([float(r["videos"]) for r in measured],
                                           [float(r["peak_memory_gb"]) for r in measured])
    return {
        "memory_slope_gb_per_video": slope,
        "memory_intercept_gb": intercept,
        "peak_gb_per_video_at_largest_batch": measured[-1]["peak_gb_per_video"] if measured else None,
        "target_gb_per_video": 2.0,
        "paper_gb_per_video": 2.85,
        "videos_per_s_at_largest_batch": rows[-1]["videos_per_s"] if rows else None,
    }


def device_info(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {"device": str(device), "torch": torch.__version__, "python": platform.python_version(),
                            "platform": platform.platform(), "cpu_threads": torch.get_num_threads()}
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        info.update({"device_name": torch.cuda.get_device_name(index), "cuda": torch.version.cuda,
                     "cudnn": torch.backends.cudnn.version(), "total_memory_gb": props.total_memory / GB,
                     "capability": f"{props.major}.{props.minor}"})
    else:
        info["device_name"] = platform.processor() or platform.machine()
    return info


def fmt(value: Any, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(result: dict[str, Any]) -> None:
    info = result["environment"]
    print(f"device {info['device_name']} ({info['device']}), torch {info['torch']}, config {result['config']}, "
          f"{result['resolution']}x{result['resolution']}")
    print("\nstage 1                 batch   s/kimg   img/s   loader s/kimg   peak GB")
    for r in result["stage1"]:
        print(f"  {r['preset']:<20} {r['batch']:>6} {r['s_per_kimg']:>8.2f} {r['images_per_s']:>7.1f} "
              f"{r['loader_s_per_kimg']:>15.2f} {fmt(r['peak_memory_gb'], '>9.2f')}")
    if result["stage3"]:
        print("\nstage 3   videos (x4 frames)   videos/s   loader videos/s   peak GB   GB/video")
        for r in result["stage3"]:
            print(f"          {r['videos']:>18} {r['videos_per_s']:>10.2f} {r['loader_videos_per_s']:>17.1f} "
                  f"{fmt(r['peak_memory_gb'], '>9.2f')} {fmt(r['peak_gb_per_video'], '>10.3f')}")
        summary = result["stage3_summary"]
        print(f"  slope {fmt(summary['memory_slope_gb_per_video'])} GB per extra video "
              f"(intercept {fmt(summary['memory_intercept_gb'])} GB); target <= 2.0 GB/video, paper 2.85")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--config", default="faceforensics", help="bundled config name or YAML path")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--stage1-batch", default=None,
                        help="images per step, comma list allowed (default: the config's stage1.batch_size)")
    parser.add_argument("--stage3-batches", default="4,8,16", help="videos per step, comma list ('' skips stage 3)")
    parser.add_argument("--skip-stage1", action="store_true")
    parser.add_argument("--steps", type=int, default=32, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=4, help="untimed steps before timing")
    parser.add_argument("--preload", type=int, default=8, help="batches pre-loaded on the device and cycled")
    parser.add_argument("--videos", type=int, default=8, help="videos in the synthetic manifest")
    parser.add_argument("--frames", type=int, default=140, help="frames per synthetic video (>= stage3.nframes)")
    parser.add_argument("--loader-threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cudnn-benchmark", action="store_true",
                        help="torch.backends.cudnn.benchmark = True (training does not set it)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="extra config overrides for stage1/stage3/run (repeatable)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the synthetic data goes (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/train_throughput.json"))
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: CUDA is not available on this machine; use --device cpu")
    if args.steps < 1 or args.warmup < 0 or args.preload < 1:
        raise SystemExit("--steps and --preload must be >= 1 and --warmup >= 0")
    if args.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
    from styleinv_model.train.config import load_stage_config

    default_batch = load_stage_config("stage1", args.config).settings.batch_size
    stage1_batches = [] if args.skip_stage1 else parse_int_list(args.stage1_batch or str(default_batch),
                                                                "--stage1-batch")
    stage3_batches = parse_int_list(args.stage3_batches, "--stage3-batches") if args.stage3_batches.strip() else []

    result: dict[str, Any] = {
        "benchmark": "train_throughput", "config": args.config, "resolution": args.resolution,
        "environment": device_info(device), "cudnn_benchmark": bool(args.cudnn_benchmark),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *(argv if argv is not None else sys.argv[1:])]),
        "data_loading": "excluded from step timings: batches pre-loaded on the device and cycled; loader rate "
                        "reported separately",
        "stage1": [], "stage3": [], "stage3_summary": None,
    }
    with tempfile.TemporaryDirectory(prefix="train_throughput_", dir=args.workdir) as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        manifest = make_manifest(root, args)
        result["synthetic_data"] = {"videos": args.videos, "frames": args.frames, "size": args.resolution,
                                    "write_seconds": time.perf_counter() - started}
        for batch in stage1_batches:
            print(f"stage 1: batch {batch} ...", flush=True)
            result["stage1"].append(bench_stage1(args, batch, manifest, device))
        if stage3_batches:
            generator = root / "stage1_random.safetensors"
            result["stage3_generator"] = save_random_generator(args, generator)
            for batch in stage3_batches:
                print(f"stage 3: {batch} videos ...", flush=True)
                result["stage3"].append(bench_stage3(args, batch, manifest, generator, device))
            result["stage3_summary"] = summarize_stage3(result["stage3"])
    write_json_atomic(args.out, result)
    print_table(result)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

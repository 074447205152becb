"""One prepared GPU check: the CUDA kernels, training and generation measured on a real GPU.

    make gpu-check                                  # on a GPU machine (scripts/gpu_check.sh)
    python scripts/gpu_check.py --cpu-selftest      # every section at toy size on the CPU

Runs eight sections, each in its own process with its own time cap, so a section that fails or
runs over is reported and the others still run (and a GPU fault cannot take the whole check down):

1. ``tests``     the suite's GPU tests (``pytest -m gpu``: the CUDA kernels vs the reference, the
                 encoder's bf16 autocast, metric features on the GPU vs the CPU);
2. ``ops``       ``benchmarks/gpu_ops.py --quick``: bias_act / upfirdn2d / conv2d_resample, CUDA vs
                 reference to second order (fp32 <= 1e-5, fp16 <= 1e-3), and
3.               G synthesis 256², batch 32, fp16 top-4 blocks, forward+backward: cuda vs ref vs
                 torch.compile of ref (target cuda >= 1.3x ref);
4. ``train``     ``benchmarks/train_throughput.py``: stage 1 at 256² (faceforensics = paper256),
   + 5.          batch 32, 40 timed steps: s/kimg (target <= 6); stage 3 at 256², 4 frames per video,
                 batch 4/8/16: peak GB per video (target <= 2.0) and videos/s;
6. ``generate``  ``benchmarks/generate_throughput.py`` at 256², batch 1-64 (target >= 1000 frames/s at
                 the best batch), and the peak GPU memory of one 1,000- and one 10,000-frame video
                 (flat within 10 %);
7. ``metrics``   I3D clips/s and Inception images/s on the GPU (the real weights when installed, else
                 random weights: the cost is the same), and from them the time FVD128 on 2048
                 videos would take (target <= 5 min);
8. ``step``      one stage-1 step in fp32 on the GPU vs the CPU from the same state: relative
                 gradient difference and the largest weight difference after the step.

Writes ``gpu_check.json`` and prints one table, under ``$OUT`` when it is set, else under
``benchmarks/results/`` (``gpu_check_cpu_selftest.json`` for the self-test). The model code path
imports nothing from the video/face stack (PyAV, dlib, ffmpeg): the check runs on a machine that
has only torch, numpy, scipy, safetensors, pyyaml, click, tqdm, pillow, scikit-image and the
wheels ``make gpu-wheels`` fetches (jsonschema and its dependencies).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
BUDGET_S = 400  # no section starts after this many seconds (the check must end within 7 minutes)
# modules the model path must never import (the video and face stack)
FORBIDDEN_MODULES = ("av", "dlib", "ffmpeg", "imageio_ffmpeg", "skvideo", "face_recognition_models", "cv2")


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    cap_s: int  # this section's own time limit on the GPU
    command: Callable[[Path, bool], list[str]]  # (section's work folder, self-test) -> argv after python
    summarize: Callable[[Path, str], dict[str, Any]]  # (work folder, output) -> figures


# ------------------------------------------------------------------------------------ sections
def _tests_command(work: Path, selftest: bool) -> list[str]:
    return ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu", "tests/ops",
            "tests/styleinv/test_encoder_discriminator.py", "tests/metrics/test_gpu.py"]


def _tests_summary(work: Path, output: str) -> dict[str, Any]:
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|error|deselected)", output)}
    return {"passed": counts.get("passed", 0), "failed": counts.get("failed", 0) + counts.get("error", 0),
            "skipped": counts.get("skipped", 0)}


def _ops_command(work: Path, selftest: bool) -> list[str]:
    # the self-test leaves out torch.compile (its CPU build alone takes a minute; on the GPU it runs)
    mode = ["--selftest-cpu", "--no-compile"] if selftest else ["--quick"]
    return [str(BENCH / "gpu_ops.py"), *mode, "--out", str(work / "gpu_ops.json")]


def _ops_summary(work: Path, output: str) -> dict[str, Any]:
    path = next(iter(sorted(work.glob("gpu_ops*.json"))), None)
    data = json.loads(path.read_text())
    worst: dict[str, float] = {}
    for row in data["accuracy"]:
        key = f"max_rel_error_{row['dtype']}"
        worst[key] = max(worst.get(key, 0.0), row["rel_error"])
    g_rows = {r["impl"]: r["median_ms"] for r in data["timing"] if r["name"].startswith("G") and r["median_ms"]}
    fastest = min(g_rows, key=g_rows.get) if g_rows else None
    return {**worst, "accuracy_rows_failed": sum(not r["ok"] for r in data["accuracy"]),
            "g_fwd_bwd_ms": g_rows, "g_speedup_cuda_vs_ref": data.get("g_speedup_cuda_vs_ref"),
            "g_fastest_impl": fastest, "extension_build_s": data.get("build_seconds")}


def _train_command(work: Path, selftest: bool) -> list[str]:
    common = [str(BENCH / "train_throughput.py"), "--workdir", str(work), "--out", str(work / "train.json")]
    if selftest:
        return [*common, "--device", "cpu", "--config", "demo", "--resolution", "32", "--stage1-batch", "4",
                "--stage3-batches", "2", "--steps", "1", "--warmup", "1", "--videos", "3", "--frames", "12",
                "--preload", "1"]
    return [*common, "--device", "cuda", "--config", "faceforensics", "--resolution", "256", "--stage1-batch", "32",
            "--stage3-batches", "4,8,16", "--steps", "40", "--warmup", "4"]


def _train_summary(work: Path, output: str) -> dict[str, Any]:
    data = json.loads((work / "train.json").read_text())
    stage1 = data["stage1"][0] if data["stage1"] else {}
    summary = data.get("stage3_summary") or {}
    return {"stage1_s_per_kimg": stage1.get("s_per_kimg"), "stage1_target_s_per_kimg": 6.0,
            "stage1_peak_gb": stage1.get("peak_memory_gb"),
            "stage3_gb_per_video_slope": summary.get("memory_slope_gb_per_video"),
            "stage3_gb_per_video_at_largest_batch": summary.get("peak_gb_per_video_at_largest_batch"),
            "stage3_target_gb_per_video": 2.0,
            "stage3_videos_per_s": {r["videos"]: r["videos_per_s"] for r in data["stage3"]}}


def _generate_command(work: Path, selftest: bool) -> list[str]:
    return [str(Path(__file__).resolve()), "--child", "generate", str(work)] + (["--cpu-selftest"] if selftest else [])


def _generate_summary(work: Path, output: str) -> dict[str, Any]:
    return json.loads((work / "generate.json").read_text())


def _metrics_command(work: Path, selftest: bool) -> list[str]:
    return [str(Path(__file__).resolve()), "--child", "metrics", str(work)] + (["--cpu-selftest"] if selftest else [])


def _metrics_summary(work: Path, output: str) -> dict[str, Any]:
    return json.loads((work / "metrics.json").read_text())


def _step_command(work: Path, selftest: bool) -> list[str]:
    return [str(Path(__file__).resolve()), "--child", "step", str(work)] + (["--cpu-selftest"] if selftest else [])


def _step_summary(work: Path, output: str) -> dict[str, Any]:
    return json.loads((work / "step.json").read_text())


SECTIONS = (
    Section("tests", "GPU tests of the suite", 120, _tests_command, _tests_summary),
    Section("ops", "CUDA ops vs reference; G synthesis cuda/ref/compile", 150, _ops_command, _ops_summary),
    Section("train", "stage-1 s/kimg; stage-3 GB per video and videos/s", 120, _train_command, _train_summary),
    Section("generate", "generation frames/s; GPU memory 1,000 vs 10,000 frames", 90, _generate_command,
            _generate_summary),
    Section("metrics", "I3D / Inception throughput; FVD128 on 2048 videos", 60, _metrics_command, _metrics_summary),
    Section("step", "one stage-1 step, GPU vs CPU, fp32", 60, _step_command, _step_summary),
)


# --------------------------------------------------------------------------- child sections
def _device(selftest: bool):
    import torch

    if selftest:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --cpu-selftest on a machine without a GPU")
    return torch.device("cuda")


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def child_generate(work: Path, selftest: bool) -> None:
    """Frames/s over batch sizes (generate_throughput.py) and GPU memory for 1,000 vs 10,000 frames."""
    import torch

    from styleinv_model.generate import Timeline, iter_frames, prepare_videos
    from styleinv_model.styleinv import StyleInVConfig, StyleInVGenerator
    from styleinv_model.styleinv.motion_noise import SeededMotionNoise
    from styleinv_model.stylegan2 import build_generator

    device = _device(selftest)
    resolution, sizes, lengths = (32, "1,2", (20, 40)) if selftest else (256, "1,2,4,8,16,32,64", (1000, 10000))
    throughput = work / "generate_throughput.json"
    _run_python([str(BENCH / "generate_throughput.py"), "--device", device.type, "--resolution", str(resolution),
                 "--batch-sizes", sizes, "--steps", "1" if selftest else "3", "--out", str(throughput)])
    rows = json.loads(throughput.read_text())["rows"]
    torch.manual_seed(0)
    model = StyleInVGenerator(build_generator("paper256", resolution=resolution),
                              StyleInVConfig.faces(resolution)).eval().to(device)
    peaks = {}
    with torch.no_grad():
        for frames in lengths:
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            context = prepare_videos(model, [frames], device=device)
            motion = SeededMotionNoise([frames], model.temporal_style.config.motion_dim)
            count = 0
            for _, chunk in iter_frames(model, context, motion, Timeline(frames), chunk_frames=32):
                count += chunk.shape[1]  # frames are dropped: only the generator's own memory counts
            _sync(device)
            assert count == frames
            peaks[frames] = torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else None
    short, long = lengths
    ratio = peaks[long] / peaks[short] if peaks[short] else None
    best = max(rows, key=lambda r: r["frames_per_s"])
    _write(work / "generate.json", {
        "frames_per_s": {r["batch"]: r["frames_per_s"] for r in rows}, "best_batch": best["batch"],
        "best_frames_per_s": best["frames_per_s"], "target_frames_per_s": 1000,
        "peak_gb_by_frames": peaks, "peak_ratio_long_vs_short": ratio, "target_ratio": 1.10})


def child_metrics(work: Path, selftest: bool) -> None:
    """I3D and Inception throughput on the device; the time FVD128 on 2048 videos would take."""
    import numpy as np
    import torch

    from styleinv_model.metrics.networks import I3DExtractor, InceptionExtractor
    from styleinv_model.metrics.weights import WeightsNotFoundError

    device = _device(selftest)
    clips_per_call, images_per_call, repeats = (1, 2, 1) if selftest else (8, 64, 3)
    side = 64 if selftest else 256
    try:
        i3d, inception = I3DExtractor.load(device=device.type), InceptionExtractor.load(device=device.type)
        weights = "real"
    except WeightsNotFoundError:
        i3d, inception = I3DExtractor.random_weights(device.type), InceptionExtractor.random_weights(device.type)
        weights = "random (the metric weight packages are not installed here; the cost is the same)"
    rng = np.random.default_rng(0)
    clips = torch.from_numpy(rng.integers(0, 256, (clips_per_call, 16, side, side, 3), dtype=np.uint8)).to(device)
    images = torch.from_numpy(rng.integers(0, 256, (images_per_call, side, side, 3), dtype=np.uint8)).to(device)

    def best_seconds(fn) -> float:
        fn()
        _sync(device)
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            fn()
            _sync(device)
            best = min(best, time.perf_counter() - started)
        return best

    i3d_frames_per_s = clips.shape[0] * clips.shape[1] / best_seconds(lambda: i3d(clips))
    inception_images_per_s = images.shape[0] / best_seconds(lambda: inception(images))
    # FVD128: I3D on one 128-frame clip per video, for 2048 generated and 2048 real videos
    fvd128_frames = 2 * 2048 * 128
    _write(work / "metrics.json", {
        "weights": weights, "i3d_frames_per_s": i3d_frames_per_s, "i3d_clips16_per_s": i3d_frames_per_s / 16,
        "inception_images_per_s": inception_images_per_s,
        "fvd128_2048_videos_feature_minutes": fvd128_frames / i3d_frames_per_s / 60,
        "fvd128_target_minutes": 5.0,
        "note": "feature extraction of both sides only; generating the 2048 videos is the generate section's rate"})


def child_step(work: Path, selftest: bool) -> None:
    """One stage-1 step from the same state on the CPU and on the device (fp32, TF32 off, no noise)."""
    import torch

    from styleinv_data.moving_faces import MovingFacesConfig, write_moving_faces
    from styleinv_model.train.config import load_stage_config
    from styleinv_model.train.distributed import DistInfo
    from styleinv_model.train.stage1 import Stage1

    device = _device(selftest)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    manifest = write_moving_faces(work / "data", MovingFacesConfig(num_videos=4, frames=8, size=32, seed=0))
    # no draws on the device (noise buffers and path-length noise come from its own generator there)
    config = load_stage_config("stage1", "demo", [
        "stage1.use_noise=false", "stage1.pl_weight=0", "stage1.style_mixing=0", "stage1.batch_size=8",
        "stage1.generator.num_fp16_res=0", "stage1.discriminator.num_fp16_res=0", "run.loader_threads=1"])
    results = {}
    for where in ("cpu", device.type) if device.type != "cpu" else ("cpu", "cpu"):
        torch.manual_seed(config.run.seed)
        stage = Stage1(config, manifest, DistInfo(), torch.device(where))
        stage.build()
        stage.start(0)
        stage.train_step(0)
        results[where if where not in results else "cpu_again"] = {
            name: {k: (p.detach().cpu().double(), p.grad.detach().cpu().double() if p.grad is not None else None)
                   for k, p in getattr(stage, name).named_parameters()} for name in ("G", "D")}
    cpu, other = results["cpu"], results.get("cuda", results.get("cpu_again"))
    figures: dict[str, Any] = {"device": device.type}
    for name in ("G", "D"):
        grads = [(cpu[name][k][1], other[name][k][1]) for k in cpu[name] if cpu[name][k][1] is not None]
        diff = sum(float((b - a).square().sum()) for a, b in grads) ** 0.5
        norm = sum(float(a.square().sum()) for a, _ in grads) ** 0.5
        weights = [(cpu[name][k][0], other[name][k][0]) for k in cpu[name]]
        figures[f"{name}_grad_rel_diff"] = diff / max(norm, 1e-30)
        figures[f"{name}_weight_max_abs_diff"] = max(float((b - a).abs().max()) for a, b in weights)
        figures[f"{name}_weight_max_rel_diff"] = max(float((b - a).abs().max() / a.abs().max().clamp_min(1e-30))
                                                     for a, b in weights)
    _write(work / "step.json", figures)


CHILDREN = {"generate": child_generate, "metrics": child_metrics, "step": child_step}


# ---------------------------------------------------------------------------------- plumbing
def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)


def _run_python(argv: list[str]) -> None:
    result = subprocess.run([sys.executable, *argv], cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:2])} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")


def _environment(selftest: bool) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                            "cuda": torch.version.cuda, "platform": platform.platform(), "cpus": os.cpu_count()}
    if torch.cuda.is_available() and not selftest:
        info["device_name"] = torch.cuda.get_device_name(0)
        info["capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
    else:
        info["device_name"] = f"CPU self-test ({platform.machine()})"
    return info


def _forbidden_imports() -> list[str]:
    """Modules of the video/face stack that importing the model path pulls in (must be none)."""
    code = ("import sys, styleinv_model.train.stage1, styleinv_model.train.stage3, styleinv_model.generate, "
            "styleinv_model.metrics.networks, styleinv_data.moving_faces; "
            f"print(','.join(m for m in {FORBIDDEN_MODULES!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        return [f"import failed: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else '?'}"]
    return [m for m in result.stdout.strip().split(",") if m]


def _run_section(section: Section, root: Path, selftest: bool, cap_s: float, env: dict[str, str]) -> dict[str, Any]:
    work = root / section.name
    work.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, *section.command(work, selftest)]
    started = time.perf_counter()
    try:
        result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=cap_s)
        output, code = result.stdout + result.stderr, result.returncode
    except subprocess.TimeoutExpired as error:
        output = (error.stdout or b"").decode(errors="replace") if isinstance(error.stdout, bytes) else (error.stdout or "")
        return {"status": "timeout", "seconds": round(time.perf_counter() - started, 1), "cap_s": cap_s,
                "output_tail": output[-1500:]}
    record: dict[str, Any] = {"status": "ok" if code == 0 else f"failed (exit {code})",
                              "seconds": round(time.perf_counter() - started, 1), "cap_s": cap_s}
    try:
        record["figures"] = section.summarize(work, output)
    except Exception as error:  # noqa: BLE001 - a section's output that cannot be read is reported, not fatal
        record["figures"] = {}
        record["summary_error"] = f"{type(error).__name__}: {error}"
    if code != 0 or "summary_error" in record:
        record["output_tail"] = output[-1500:]
    if section.name == "tests" and record["figures"].get("failed"):
        record["status"] = f"failed ({record['figures']['failed']} tests)"
    return record


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    return str(value)


def print_table(result: dict[str, Any]) -> None:
    env = result["environment"]
    print(f"\nGPU check on {env['device_name']} (torch {env['torch']}, CUDA {env['cuda']}), "
          f"{result['total_seconds']:.0f} s; forbidden imports: {result['forbidden_imports'] or 'none'}")
    print(f"{'section':<9} {'status':<22} {'s':>6}  figures")
    for name, record in result["sections"].items():
        figures = "; ".join(f"{k} {_short(v)}" for k, v in record.get("figures", {}).items())
        print(f"{name:<9} {record['status']:<22} {record.get('seconds', 0):>6.1f}  {figures}")
        if record.get("summary_error"):
            print(f"{'':<9} summary error: {record['summary_error']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-selftest", action="store_true", help="every section at toy size on the CPU")
    parser.add_argument("--sections", default=",".join(s.name for s in SECTIONS),
                        help="comma-separated subset of: " + ", ".join(s.name for s in SECTIONS))
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: $OUT, else benchmarks/results)")
    parser.add_argument("--child", nargs=2, metavar=("NAME", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        CHILDREN[args.child[0]](Path(args.child[1]), args.cpu_selftest)
        return 0

    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(wanted) - {s.name for s in SECTIONS})
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {[s.name for s in SECTIONS]}")
    out = args.out or (Path(os.environ["OUT"]) if os.environ.get("OUT") else BENCH / "results")
    out.mkdir(parents=True, exist_ok=True)
    name = "gpu_check_cpu_selftest.json" if args.cpu_selftest else "gpu_check.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "PYTHONUNBUFFERED": "1"}
    # one extension cache for every section: the CUDA build happens once
    env.setdefault("STYLEINV_EXTENSIONS_DIR", str(Path(tempfile.gettempdir()) / "styleinv-gpu-check-extensions"))
    env.setdefault("STYLEINV_TEST_EXTENSIONS_DIR", env["STYLEINV_EXTENSIONS_DIR"])
    started = time.perf_counter()
    result: dict[str, Any] = {"command": " ".join([Path(sys.executable).name, *sys.argv]),
                              "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "selftest": args.cpu_selftest,
                              "environment": _environment(args.cpu_selftest),
                              "forbidden_imports": _forbidden_imports(), "sections": {}}
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as root:
        for section in SECTIONS:
            if section.name not in wanted:
                continue
            elapsed = time.perf_counter() - started
            if elapsed > BUDGET_S and not args.cpu_selftest:
                result["sections"][section.name] = {"status": "skipped (time budget)", "seconds": 0.0}
                continue
            cap = section.cap_s * (4 if args.cpu_selftest else 1)  # the CPU runs toy sizes, slowly
            print(f"[gpu-check] {section.name}: {section.title} (cap {cap} s)", flush=True)
            record = _run_section(section, Path(root), args.cpu_selftest, cap, env)
            result["sections"][section.name] = record
            print(f"[gpu-check] {section.name}: {record['status']} in {record['seconds']} s", flush=True)
            result["total_seconds"] = round(time.perf_counter() - started, 1)
            _write(out / name, result)  # partial results survive a later failure
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    _write(out / name, result)
    print_table(result)
    print(f"\nwrote {out / name}")
    ok = all(r["status"] == "ok" for r in result["sections"].values()) and not result["forbidden_imports"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

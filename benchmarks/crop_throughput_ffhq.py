"""FFHQ crop throughput: the crop as a user runs it against the naive loop, interleaved in one run.

Uses the 640x480 H.264 clip of ``crop_throughput.py`` (the real astronaut face moving over a
textured background), 150 frames, output 256x256 JPEG q95, dlib backend, one process. Sides:

* ``cli``: ``styleinv-data crop CLIPS OUT --strategy ffhq --size 256`` in a fresh process, timed
  from spawn to exit: start-up, imports, model loading, decode, tracking with every check,
  rendering, JPEG writing, sidecars (N=8 jittered landmark runs per frame);
* ``naive N=1`` (the issue's baseline): frames already decoded, for each frame dlib's usual call
  ``detector(gray, 1)`` on the full-resolution grey frame and one landmark run in that box, nothing
  written, models already loaded;
* ``naive N=1 RGB`` (for reference): the same on the RGB frame, as FFHQ's ``align_images.py``
  does (dlib's HOG then works on the three channels);
* ``default in-process`` / ``naive N=8 in-process``: the whole per-video task (``run_video``)
  with models loaded, as before: default, and detection on every full-resolution frame + N=8.

Runs are interleaved ``--repeats`` times so load changes hit every side alike; medians are
reported. The rows are merged into ``benchmarks/results/crop_throughput.json``::

    .venv/bin/python benchmarks/crop_throughput_ffhq.py [--frames 150] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crop_media import cpu_seconds, synth_face_clip  # noqa: E402  (shared with crop_throughput.py)

RESULTS = Path(__file__).resolve().parent / "results" / "crop_throughput.json"

SIDES: dict[str, dict[str, Any]] = {
    "default": {},
    "naive": {"track": False, "landmark_face_px": 0, "detect_max_side": 0, "detect_upsample": 1},
}


def time_cli(root: Path, out: Path) -> tuple[int, float]:
    """(frames written, wall seconds) of ``styleinv-data crop`` in a fresh process."""
    import subprocess

    if out.exists():
        shutil.rmtree(out)
    exe = Path(sys.executable).with_name("styleinv-data")
    cmd = [str(exe), "crop", str(root), str(out), "--strategy", "ffhq", "--size", "256", "--video-dir", "original",
           "--jpeg-quality", "95"]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"styleinv-data crop failed: {done.stderr[-500:]}")
    return len(list(out.rglob("*.jpg"))), elapsed


def naive_loop(frames: list, gray: bool) -> float:
    """Frames per second of detect-every-frame + one landmark run (models loaded, nothing written)."""
    from styleinv_data.faces.base import to_gray
    from styleinv_data.faces.dlib_backend import DlibHogDetector, DlibLandmarker

    detector, landmarker = naive_loop.models if hasattr(naive_loop, "models") else (
        DlibHogDetector(max_side=0, upsample=1), DlibLandmarker())
    naive_loop.models = (detector, landmarker)  # type: ignore[attr-defined]
    start = time.perf_counter()
    for frame in frames:
        image = to_gray(frame) if gray else frame
        faces = detector.detect(image)
        if faces:
            landmarker.landmarks(image, max(faces, key=lambda d: d.size).box_xyxy[None])
    return len(frames) / (time.perf_counter() - start)


def time_ffhq(root: Path, out: Path, options: dict[str, Any]) -> tuple[int, float, float, dict[str, Any]]:
    """(frames written, wall seconds, CPU seconds incl. the ffmpeg children, status counts)."""
    from styleinv_data.pipeline.recipe import build_recipe
    from styleinv_data.pipeline.runner import discover_tasks, prepare_output, run_video

    if out.exists():
        shutil.rmtree(out)
    flags = {"strategy": "ffhq", "input.root": str(root), "input.video_dir": "original", "output.root": str(out),
             "output.size": 256, "output.jpeg_quality": 95, "run.progress": False}
    flags.update({f"strategies.ffhq.{k}": v for k, v in options.items()})
    recipe = build_recipe(None, flags=flags)
    prepare_output(recipe)
    (task,) = discover_tasks(recipe)
    cpu0, start = cpu_seconds(), time.perf_counter()
    result = run_video(task, recipe)
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
    if result.state != "done":
        raise RuntimeError(f"ffhq crop failed: {result.reason}")
    status = json.loads((out / "_meta" / f"{task.video_id}.status.json").read_text())
    return result.frames_out, elapsed, cpu, status["counts"]


def bench_ffhq(args: argparse.Namespace) -> dict[str, Any]:
    from styleinv_data.io import iter_source_frames

    frames_wanted = min(args.frames, getattr(args, "ffhq_frames", None) or 150)
    with tempfile.TemporaryDirectory(prefix="ffhq_bench_") as tmp:
        root = Path(tmp) / "clips"
        synth_face_clip(root, frames_wanted)
        decoded = list(iter_source_frames(root / "original" / "clip.mp4"))
        names = ["cli", "naive_n1", "naive_n1_rgb", "default_in_process", "naive_n8_in_process"]
        fps: dict[str, list[float]] = {name: [] for name in names}
        cpu_fps: dict[str, list[float]] = {name: [] for name in SIDES}
        counts: dict[str, dict[str, Any]] = {}
        time_ffhq(root, Path(tmp) / "warm", {})  # load the models, warm the page cache
        time_cli(root, Path(tmp) / "warm_cli")  # the dlib detector cache, the OS file cache
        naive_loop(decoded[:5], gray=True)
        for _ in range(args.repeats):  # interleaved
            n, dt = time_cli(root, Path(tmp) / "out_cli")
            fps["cli"].append(n / dt)
            fps["naive_n1"].append(naive_loop(decoded, gray=True))
            fps["naive_n1_rgb"].append(naive_loop(decoded, gray=False))
            for name, options in SIDES.items():
                n, dt, cpu, c = time_ffhq(root, Path(tmp) / f"out_{name}", options)
                key = "default_in_process" if name == "default" else "naive_n8_in_process"
                fps[key].append(n / dt)
                cpu_fps[name].append(n / cpu)
                counts[key] = {k: c.get(k) for k in ("frames_out", "detections_run", "tracked", "detected",
                                                     "interpolated", "no_face")}
    med = {name: statistics.median(v) for name, v in fps.items()}
    cli_vs_naive = [c / n for c, n in zip(fps["cli"], fps["naive_n1"])]
    return {
        "ffhq": {
            "clip": f"640x480 H.264 (crf 18), {len(decoded)} frames, astronaut face moving over texture",
            "output": "256x256 JPEG q95, frames layout, N=8, dlib backend",
            "processes": 1,
            "repeats": args.repeats,
            "median_fps": {k: round(v, 1) for k, v in med.items()},
            "cli_vs_naive_n1_median_of_runs": round(statistics.median(cli_vs_naive), 2),
            "cli_vs_naive_n1_runs": [round(x, 2) for x in cli_vs_naive],
            "cli_vs_naive_n1_rgb": round(med["cli"] / med["naive_n1_rgb"], 2),
            "default_vs_naive_n8_in_process": round(med["default_in_process"] / med["naive_n8_in_process"], 2),
            "cpu_bound_fps": {k: round(statistics.median(v), 1) for k, v in cpu_fps.items()},
            "fps_runs": {k: [round(x, 1) for x in v] for k, v in fps.items()},
            "counts": counts,
            "target_ratio": 3.0,
        }
    }


def print_rows(row: dict[str, Any]) -> None:
    m = row["median_fps"]
    print("| FFHQ crop 640x480 -> 256, dlib, 1 process | frames/s (median of interleaved runs) |\n|---|---|")
    print(f"| `styleinv-data crop --strategy ffhq` end to end (start-up, models, decode, N=8, JPEG) | {m['cli']} |")
    print(f"| naive N=1: detector(gray, 1) + 1 landmark run per decoded frame, nothing written | {m['naive_n1']} |")
    print(f"| naive N=1 on RGB frames (FFHQ align_images.py style, reference) | {m['naive_n1_rgb']} |")
    print(f"| default per-video task in process (models loaded) | {m['default_in_process']} |")
    print(f"| naive N=8 per-video task in process (full-res detection every frame) | {m['naive_n8_in_process']} |")
    print(f"| CLI / naive N=1 (median of per-run ratios; target >= 3) | {row['cli_vs_naive_n1_median_of_runs']} "
          f"(runs {row['cli_vs_naive_n1_runs']}) |")
    print(f"| CLI / naive N=1 RGB | {row['cli_vs_naive_n1_rgb']} |")
    print(f"| default / naive N=8, in process | {row['default_vs_naive_n8_in_process']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--machine", default="2-core x86-64 CPU, shared/loaded")
    args = parser.parse_args(argv)
    rows = bench_ffhq(args)
    print_rows(rows["ffhq"])
    payload = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"benchmark": "crop_throughput"}
    payload.setdefault("results", {}).update(rows)
    payload["ffhq_command"] = "python benchmarks/crop_throughput_ffhq.py " + " ".join(argv if argv is not None else sys.argv[1:])
    payload["ffhq_machine"] = args.machine
    payload["ffhq_python"] = platform.python_version()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(RESULTS)
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

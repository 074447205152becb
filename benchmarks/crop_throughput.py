"""Crop throughput: the full mask crop against decoding the video and its mask alone.

Synthesises a 640x480 H.264 clip (the real astronaut face from scikit-image moving over a textured
background, with a size change and a stretch near the border) plus its H.264 mask video, then runs,
interleaved ``--repeats`` times in the same process (so load changes hit all sides alike):

* ``decode`` (headline baseline): decode the video as RGB24 and its mask as gray8 through ffmpeg
  rawvideo pipes (the arrays the field's scripts work on, the way this pipeline decoded before);
* ``decode, crop's formats``: decode exactly what the crop now decodes, the same way: the video as
  ``yuv420p`` planes and the mask as gray8, in-process (PyAV), nothing else;
* ``crop``:   the whole per-video task: decode video and mask, box, Algorithm 1 square, crop,
  Lanczos resize to 256, JPEG q95 write (frames layout), plan sidecar + status file;
* ``crop, previous decode``: the same task decoding as before this change (RGB24 video and gray mask
  through ffmpeg pipes), for a same-run before/after of the decode path;
* ``field``:  the field's script re-written from REFERENCE.md §2 (for context, same run).

Every crop repeat writes into a new folder; the outputs are deleted after the last repeat, not
between repeats: on an ext4 file system without a journal (this machine's), creating a file skips
every inode of its block group deleted in the last seconds to minutes, so deleting 300 files before
each timed run would bill the crop for the benchmark's own clean-up. The cost of creating a file in
``--workdir`` (default: the system temporary folder) is measured and printed, because other jobs'
deletions there raise it too.

Both sides use one Python process (plus its ffmpeg decoder processes where there are any). Prints a
table with the load average and writes ``benchmarks/results/crop_throughput.json``. Sections are
functions in ``SECTIONS``; each returns a dict of rows merged into the JSON.

    .venv/bin/python benchmarks/crop_throughput.py [--frames 300] [--repeats 3] [--sections mask]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crop_media import cpu_seconds, synth_face_clip  # noqa: E402  (shared with crop_throughput_ffhq.py)

RESULTS = Path(__file__).resolve().parent / "results" / "crop_throughput.json"


def time_decode(video: Path, mask: Path, threads: int) -> tuple[int, float, float]:
    """(frames, wall seconds, CPU seconds) of decoding the video (RGB) and its mask (gray) in lockstep."""
    from styleinv_data.io.decode import iter_video_frames

    cpu0, start = cpu_seconds(), time.perf_counter()
    n = 0
    for frame, m in zip(iter_video_frames(video, threads=threads), iter_video_frames(mask, gray=True, threads=threads)):
        n += 1
    return n, time.perf_counter() - start, cpu_seconds() - cpu0


def time_decode_crop_formats(video: Path, mask: Path, threads: int) -> tuple[int, float, float]:
    """(frames, wall seconds, CPU seconds) of decoding what the crop decodes, the way it decodes it:
    the video as yuv420p planes and the mask as gray8, in-process where the crop does so."""
    from styleinv_data.io.decode import av_decode_supported, iter_video_frames, iter_video_frames_av
    from styleinv_data.io.probe import probe_source

    vinfo, minfo = probe_source(video), probe_source(mask)
    cpu0, start = cpu_seconds(), time.perf_counter()
    frames = (iter_video_frames_av(video, pix_fmt="yuv420p", threads=threads, info=vinfo)
              if av_decode_supported(vinfo, "yuv420p") else iter_video_frames(video, threads=threads, info=vinfo))
    masks = (iter_video_frames_av(mask, pix_fmt="gray", threads=threads, info=minfo)
             if av_decode_supported(minfo, "gray") else iter_video_frames(mask, gray=True, threads=threads, info=minfo))
    n = 0
    for frame, m in zip(frames, masks):
        n += 1
    return n, time.perf_counter() - start, cpu_seconds() - cpu0


def file_creation_cost(folder: Path, files: int = 300, size: int = 19_000) -> float:
    """CPU ms to create and write one ~19 KB file (a 256 JPEG) in a new sub-folder of ``folder``."""
    sub = folder / f"file_probe_{os.getpid()}_{time.monotonic_ns()}"
    sub.mkdir(parents=True)
    data = os.urandom(size)
    t0 = time.process_time()
    for i in range(files):
        (sub / f"{i:06d}.jpg").write_bytes(data)
    cost = (time.process_time() - t0) / files * 1000
    shutil.rmtree(sub)
    return cost


def time_crop(root: Path, out: Path, threads: int) -> tuple[int, float, float]:
    from styleinv_data.pipeline.recipe import build_recipe
    from styleinv_data.pipeline.runner import discover_tasks, prepare_output, run_video

    if out.exists():
        shutil.rmtree(out)
    recipe = build_recipe("faceforensics", flags={"input.root": str(root), "output.root": str(out),
                                                  "run.decode_threads": threads, "run.progress": False})
    prepare_output(recipe)
    (task,) = discover_tasks(recipe)
    cpu0, start = cpu_seconds(), time.perf_counter()
    result = run_video(task, recipe)
    elapsed = time.perf_counter() - start
    if result.state != "done":
        raise RuntimeError(f"crop failed: {result.reason}")
    return result.frames_out, elapsed, cpu_seconds() - cpu0


def time_crop_rgb_path(root: Path, out: Path, threads: int) -> tuple[int, float, float]:
    """``time_crop`` with the decode the crop used before (RGB24 video + gray mask through ffmpeg pipes),
    everything else as now: the same-run "before" of the decode change."""
    from styleinv_data.io.source import iter_source_frames
    from styleinv_data.pipeline import mask_strategy

    cls = mask_strategy.MaskStrategy
    saved = cls.open_render_frames, cls._mask_frames
    cls.open_render_frames = lambda self: None  # type: ignore[method-assign]
    cls._mask_frames = lambda self, path, info: iter_source_frames(path, gray=True, threads=threads, info=info)  # type: ignore[method-assign]
    try:
        return time_crop(root, out, threads)
    finally:
        cls.open_render_frames, cls._mask_frames = saved  # type: ignore[method-assign]


def time_field_style(video: Path, mask: Path, out: Path) -> tuple[int, float, float]:
    """The field's approach (TGANv2 / StyleGAN-V script, re-written here from REFERENCE.md §2): both
    videos held in memory, per frame the RGB mask summed over channels, a column/row projection
    threshold, integer padding, a crop that comes out empty (and is skipped) when the square leaves the
    image, PIL Lanczos, JPEG saved with PIL's ignored ``q=95``. Returns (frames written, wall, CPU)."""
    from PIL import Image

    from styleinv_data.io.decode import iter_video_frames

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    cpu0, start = cpu_seconds(), time.perf_counter()
    frames = list(iter_video_frames(video))
    masks = list(iter_video_frames(mask))
    written = 0
    for i, (frame, m) in enumerate(zip(frames, masks)):
        face = (255 - m.astype(np.int64)).sum(axis=2)
        cols = np.flatnonzero(face.mean(axis=0) > 5)
        rows = np.flatnonzero(face.mean(axis=1) > 5)
        if cols.size == 0 or rows.size == 0:
            continue
        x0, x1, y0, y1 = cols[0], cols[-1], rows[0], rows[-1]
        w, h = x1 - x0, y1 - y0
        d = abs(w - h)
        if w < h:
            x0, x1 = x0 - d // 2, x1 + d // 2 + d % 2
        else:
            y0, y1 = y0 - d // 2, y1 + d // 2 + d % 2
        crop = frame[y0:y1, x0:x1]
        if crop.size == 0:
            continue  # the frame the field's script drops
        Image.fromarray(crop).resize((256, 256), Image.LANCZOS).save(out / f"{i:06d}.jpg", q=95)
        written += 1
    return written, time.perf_counter() - start, cpu_seconds() - cpu0


def stage_costs(video: Path, mask: Path, frames: int = 60, repeats: int = 3) -> dict[str, float]:
    """CPU ms per frame of each per-frame step, on frames decoded beforehand (best of ``repeats``)."""
    from PIL import Image

    from styleinv_data.crop.lanczos import resize_box_lanczos
    from styleinv_data.crop.square import render_square, square_from_box
    from styleinv_data.io.decode import iter_video_frames
    from styleinv_data.io.writers import encode_image
    from styleinv_data.masks import mask_to_box

    rgb = [f for f, _ in zip(iter_video_frames(video), range(frames))]
    yuv = [f for f, _ in zip(iter_video_frames(video, pix_fmt="yuv420p"), range(frames))]
    gray = [m for m, _ in zip(iter_video_frames(mask, gray=True), range(frames))]
    squares = [square_from_box(mask_to_box(m)) for m in gray]
    crops = [render_square(f, sq, 256) for f, sq in zip(rgb, squares)]
    hulls = [(int(sq[0]) - 5, int(sq[1]) - 5, int(sq[2]) + 6, int(sq[3]) + 6) for sq in squares]
    side = int(np.mean([sq[2] - sq[0] for sq in squares]))  # Lanczos alone: Pillow vs ours, same float boxes
    regions = [np.ascontiguousarray(f[100 : 108 + side, 200 : 208 + side]) for f in rgb]
    box = (4.25, 3.75, 4.25 + side, 3.75 + side)
    steps = {
        "mask_to_box": lambda: [mask_to_box(m) for m in gray],
        "crop_pad_lanczos_256": lambda: [render_square(f, sq, 256) for f, sq in zip(rgb, squares)],
        "yuv420_crop_to_rgb": lambda: [f.crop_rgb(*h) for f, h in zip(yuv, hulls)],
        "yuv420_crop_pad_lanczos_256": lambda: [render_square(f, sq, 256) for f, sq in zip(yuv, squares)],
        "lanczos_256_pillow": lambda: [np.asarray(Image.fromarray(r).resize((256, 256), Image.Resampling.LANCZOS, box=box))
                                       for r in regions],
        "lanczos_256_numba": lambda: [resize_box_lanczos(r, box, (256, 256)) for r in regions],
        "jpeg_q95_encode": lambda: [encode_image(c, "jpg", 95) for c in crops],
    }
    out = {}
    for name, fn in steps.items():
        best = float("inf")
        for _ in range(repeats):
            t0 = time.thread_time()
            fn()
            best = min(best, (time.thread_time() - t0) / len(rgb) * 1000)
        out[name] = round(best, 3)
    out["mean_square_side_px"] = round(float(np.mean([sq[2] - sq[0] for sq in squares])), 1)
    out["yuv420_render_equals_rgb_render"] = all(  # byte for byte, on every frame
        np.array_equal(render_square(y, sq, 256), c) for y, sq, c in zip(yuv, squares, crops)
    )
    out["lanczos_numba_equals_pillow"] = all(  # byte for byte, on every frame
        np.array_equal(resize_box_lanczos(r, box, (256, 256)),
                       np.asarray(Image.fromarray(r).resize((256, 256), Image.Resampling.LANCZOS, box=box)))
        for r in regions
    )
    return out


def bench_mask(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir) if args.workdir else None
    if workdir:
        workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="crop_bench_", dir=workdir) as tmp:
        root = Path(tmp) / "ffs"
        video, mask = synth_face_clip(root, args.frames)
        fresh = (Path(tmp) / f"out{i}" for i in itertools.count())  # one new folder per crop run
        fresh_field = (Path(tmp) / f"field{i}" for i in itertools.count())
        time_decode(video, mask, args.threads)  # warm the page cache and the binaries
        time_decode_crop_formats(video, mask, args.threads)
        time_crop(root, next(fresh), args.threads)  # and the imports a batch pays once per process
        file_ms = file_creation_cost(Path(tmp))
        load_start = os.getloadavg()
        decode_fps, decode2_fps, crop_fps, field_fps, rgbpath_fps = [], [], [], [], []
        decode_cpu, decode2_cpu, crop_cpu, rgbpath_cpu, field_written = [], [], [], [], 0
        for _ in range(args.repeats):  # interleaved
            n, dt, cpu = time_decode(video, mask, args.threads)
            decode_fps.append(n / dt)
            decode_cpu.append(cpu / n * 1000)
            n1, dt1, cpu1 = time_decode_crop_formats(video, mask, args.threads)
            decode2_fps.append(n1 / dt1)
            decode2_cpu.append(cpu1 / n1 * 1000)
            n2, dt2, cpu2 = time_crop(root, next(fresh), args.threads)
            assert n2 == n == n1 == args.frames, (n, n1, n2)
            crop_fps.append(n2 / dt2)
            crop_cpu.append(cpu2 / n2 * 1000)
            if not args.no_rgb_path:
                n4, dt4, cpu4 = time_crop_rgb_path(root, next(fresh), args.threads)
                rgbpath_fps.append(n4 / dt4)
                rgbpath_cpu.append(cpu4 / n4 * 1000)
            if not args.no_field:
                field_written, dt3, _ = time_field_style(video, mask, next(fresh_field))
                field_fps.append(n / dt3)  # frames *processed* per second (some were dropped)
        load_end = os.getloadavg()
        stages = stage_costs(video, mask)
    d, d2, c = statistics.median(decode_fps), statistics.median(decode2_fps), statistics.median(crop_fps)
    ratios = [cf / df for cf, df in zip(crop_fps, decode_fps)]
    ratios2 = [cf / df for cf, df in zip(crop_fps, decode2_fps)]
    dc, dc2, cc = statistics.median(decode_cpu), statistics.median(decode2_cpu), statistics.median(crop_cpu)
    row = {
        "clip": f"640x480 H.264 (crf 18) + H.264 mask video, {args.frames} frames",
        "output": "256x256 JPEG q95, frames layout",
        "processes": 1,
        "decode_threads": args.threads,
        "repeats": args.repeats,
        "load_average_start": [round(v, 2) for v in load_start],
        "load_average_end": [round(v, 2) for v in load_end],
        "file_create_cpu_ms_in_workdir": round(file_ms, 3),
        "decode_video_and_mask_fps": round(d, 1),
        "decode_crop_formats_fps": round(d2, 1),
        "full_mask_crop_fps": round(c, 1),
        "ratio_median_of_runs": round(statistics.median(ratios), 3),
        "ratio_vs_crop_formats_median_of_runs": round(statistics.median(ratios2), 3),
        "ratio_runs": [round(v, 3) for v in ratios],
        "decode_cpu_ms_per_frame": round(dc, 2),
        "decode_crop_formats_cpu_ms_per_frame": round(dc2, 2),
        "crop_cpu_ms_per_frame": round(cc, 2),
        "cpu_ratio": round(dc / cc, 3),
        "cpu_ratio_vs_crop_formats": round(dc2 / cc, 3),
        "decode_fps_runs": [round(v, 1) for v in decode_fps],
        "decode_crop_formats_fps_runs": [round(v, 1) for v in decode2_fps],
        "crop_fps_runs": [round(v, 1) for v in crop_fps],
        "stage_cpu_ms_per_frame": stages,
        "target_ratio": 0.8,
        "field_reference_ratio": 0.22,
    }
    if rgbpath_fps:
        row.update({
            "crop_rgb_pipe_decode_fps": round(statistics.median(rgbpath_fps), 1),
            "crop_rgb_pipe_decode_cpu_ms_per_frame": round(statistics.median(rgbpath_cpu), 2),
            "crop_rgb_pipe_decode_ratio": round(statistics.median([f / d for f, d in zip(rgbpath_fps, decode_fps)]), 3),
        })
    if field_fps:
        row.update({
            "field_style_fps": round(statistics.median(field_fps), 1),
            "field_style_ratio": round(statistics.median([f / d for f, d in zip(field_fps, decode_fps)]), 3),
            "field_style_frames_written": field_written,
        })
    return {"mask": row}


# The FFHQ strategy has its own script, benchmarks/crop_throughput_ffhq.py (same clip, same JSON).
SECTIONS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {"mask": bench_mask}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="ffmpeg decoder threads, both sides")
    parser.add_argument("--machine", default="2-core x86-64 CPU, shared/loaded")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of: {', '.join(SECTIONS)}")
    parser.add_argument("--workdir", default=None, help="folder for the clip and the crop outputs (default: system temp)")
    parser.add_argument("--no-field", action="store_true", help="skip the field-style script (context only)")
    parser.add_argument("--no-rgb-path", action="store_true", help="skip the crop with the previous decode (RGB pipes)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.sections.split(",") if n.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; use {', '.join(SECTIONS)}")
    rows: dict[str, Any] = {}
    for name in names:
        rows.update(SECTIONS[name](args))
    if "mask" in rows:
        print_mask_rows(rows["mask"], args)
    payload = {
        "benchmark": "crop_throughput",
        "machine": args.machine,
        "python": platform.python_version(),
        "command": "python benchmarks/crop_throughput.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "results": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    merged = {**previous.get("results", {}), **rows}  # sections not run keep their last results
    previous.update(payload)
    previous["results"] = merged
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(previous, indent=1))
    os.replace(tmp, RESULTS)
    print(f"wrote {RESULTS}")
    return 0


def print_mask_rows(m: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"load average (1/5/15 min) at start {m['load_average_start']}, at end {m['load_average_end']}; "
          f"creating one 19 KB file here costs {m['file_create_cpu_ms_in_workdir']} CPU ms")
    print("| case (1 process) | frames/s (median) | CPU ms/frame |\n|---|---|---|")
    print(f"| A: decode video (RGB24) + mask (gray), ffmpeg pipes | {m['decode_video_and_mask_fps']} | {m['decode_cpu_ms_per_frame']} |")
    print(f"| B: decode what the crop decodes (video yuv420p planes + gray mask, in-process) | "
          f"{m['decode_crop_formats_fps']} | {m['decode_crop_formats_cpu_ms_per_frame']} |")
    print(f"| full mask crop -> 256 JPEG q95 | {m['full_mask_crop_fps']} | {m['crop_cpu_ms_per_frame']} |")
    print(f"| **ratio crop / A** (median of interleaved runs; target >= 0.8, field 0.22) | {m['ratio_median_of_runs']} "
          f"(runs {m['ratio_runs']}) | CPU ratio {m['cpu_ratio']} |")
    print(f"| ratio crop / B | {m['ratio_vs_crop_formats_median_of_runs']} | CPU ratio {m['cpu_ratio_vs_crop_formats']} |")
    if "crop_rgb_pipe_decode_fps" in m:
        print(f"| crop with the previous decode (RGB24 + gray ffmpeg pipes), same run | {m['crop_rgb_pipe_decode_fps']} "
              f"(ratio {m['crop_rgb_pipe_decode_ratio']}) | {m['crop_rgb_pipe_decode_cpu_ms_per_frame']} |")
    if "field_style_fps" in m:
        print(f"| field-style script (whole video in memory, q=95 ignored) | {m['field_style_fps']} "
              f"(ratio {m['field_style_ratio']}, wrote {m['field_style_frames_written']}/{args.frames} frames) | |")
    for name, value in m["stage_cpu_ms_per_frame"].items():
        print(f"| stage: {name} (CPU ms/frame, best of 3) | {value} | |")


if __name__ == "__main__":
    sys.exit(main())

"""Loader throughput: frames/s of the frame and clip readers vs decoding the same files alone.

    .venv/bin/python benchmarks/loader_throughput.py [--root DATASET_ROOT] [--workers 2]

Reads a prepared dataset of 256x256 JPEG crops (the demo's crops, `demo_out/crops`, when they
exist; otherwise it writes one from the real carphone clip, resized to 256^2, to a temp folder),
in the folder and the zip layout, and as StyleGAN-V distributes datasets (``sgv_zip``: a zip named
anything, a top folder, ``frame1.jpg`` names, deflated members). For each layout it measures,
interleaved over repeats:

* ``decode_only``: the same frame files, read and decoded (the readers' decoder) by a pool of
  ``--workers`` processes, nothing else (the upper bound);
* ``frame_loader``: ``make_loader(FrameDataset, ClassAwareFrameSampler, num_workers=W)`` (worker
  processes decoding whole batches into shared memory); ``frame_loader_collate``: the plain
  ``DataLoader(FrameDataset, batch_size, sampler)``; ``frame_loader_threads``: ``ThreadedLoader``;
* ``clip_loader`` / ``clip_loader_threads``: the same with ``ClipDataset`` + ``SparseClipSampler``
  (4 frames per clip, ``--batch / 4`` clips per batch, so a batch is ``--batch`` frames as for the
  frame reader; the clip baseline hands its pool one such batch of frames per task, as the
  loaders do);
* ``*_threads_fresh``: ``ThreadedLoader(reuse_buffers=False)`` (a new batch buffer per batch), to
  show what the pooled, reused batch buffers of the default ``ThreadedLoader`` save;

and reports frames/s (wall) and frames per CPU-second (main process + workers, from /proc) with
the ratios loader / decode-only (target >= 0.9). Also prints the single-process decode rate of
simplejpeg, torchvision and PIL (why the readers prefer them in that order). Writes
``benchmarks/results/loader_throughput.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

from styleinv_data.datasets import ClipDataset, FrameDataset, ThreadedLoader, make_loader
from styleinv_data.datasets import decode as decode_module
from styleinv_data.datasets.decode import decode_hwc, decode_with_pil
from styleinv_data.manifest import BuildConfig, build_manifest
from styleinv_data.manifest.storage import FrameStore
from styleinv_data.sampling import ClassAwareFrameSampler, SparseClipConfig, SparseClipSampler

REPO = Path(__file__).resolve().parents[1]


def synthesize_dataset(root: Path, videos: int, size: int = 256) -> None:
    """Real frames (carphone, 176x144) resized to size^2, JPEG q95, shifted per video."""
    from PIL import Image

    from styleinv_data.demo import carphone_path
    import av

    with av.open(str(carphone_path())) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    for v in range(videos):
        out = root / f"carphone_{v:02d}"
        out.mkdir(parents=True, exist_ok=True)
        for i, arr in enumerate(frames):
            img = Image.fromarray(np.roll(arr, 7 * v, axis=1)).resize((size, size), Image.BICUBIC)
            img.save(out / f"{i:06d}.jpg", quality=95)


def zip_copy(src_root: Path, dst_root: Path, record_paths: list[str]) -> None:
    dst_root.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dst_root / "frames.zip", "w", zipfile.ZIP_STORED) as zf:
        for rel in record_paths:
            for f in sorted((src_root / rel).iterdir()):
                zf.write(f, f"{rel}/{f.name}")


SGV_ZIP = "sky_timelapse_256.zip"


def sgv_zip_copy(src_root: Path, dst_root: Path, record_paths: list[str]) -> None:
    """The same frames as StyleGAN-V distributes a dataset: a zip named anything, one top folder,
    directory entries, ``frame1.jpg``-style names, deflated members (as ``zip -r`` writes them)."""
    dst_root.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dst_root / SGV_ZIP, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("sky_timelapse/", b"")
        for rel in record_paths:
            video = Path(rel).name  # the crop's frames/<id> -> sky_timelapse/<id>
            zf.writestr(f"sky_timelapse/{video}/", b"")
            for i, f in enumerate(sorted((src_root / rel).iterdir())):
                zf.write(f, f"sky_timelapse/{video}/frame{i + 1}.jpg")


# ---- decode-only baseline (a process pool doing exactly the reads + decodes) ----
_STORE: FrameStore | None = None


def _init_worker(root: str, layout: str, container: str | None) -> None:
    global _STORE
    torch.set_num_threads(1)  # as DataLoader workers do
    _STORE = FrameStore(Path(root), layout, container)


def _decode_chunk(items: list[tuple[str, str]]) -> int:
    assert _STORE is not None
    for rel, name in items:
        decode_hwc(_STORE.read(rel, name), ".jpg", name)
    return len(items)


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) used so far by this process (all threads) and the given children."""
    total = time.process_time()
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICK
        except (OSError, IndexError, ValueError):
            pass
    return total


def decode_only(root: Path, layout: str, items: list[tuple[str, str]], workers: int, chunk: int,
                container: str | None = None) -> tuple[float, float]:
    """(frames per wall second, frames per CPU second) of reading + decoding alone in a process pool."""
    chunks = [items[i : i + chunk] for i in range(0, len(items), chunk)]
    ctx = mp.get_context("fork")
    container = container or ("frames.zip" if layout == "zip" else None)
    with ctx.Pool(workers, initializer=_init_worker, initargs=(str(root), layout, container)) as pool:
        pool.map(_decode_chunk, [items[:1]] * workers)  # start-up excluded, as for the loaders
        pids = [p.pid for p in pool._pool]  # type: ignore[attr-defined]
        c0, t0 = cpu_seconds(pids), time.perf_counter()
        done = sum(pool.imap_unordered(_decode_chunk, chunks))
        wall, cpu = time.perf_counter() - t0, cpu_seconds(pids) - c0
        return done / wall, done / max(cpu, 1e-9)


def loader_rate(dataset, sampler, batch_size: int, frames_per_item: int, total_frames: int, workers: int,
                in_place: bool = True, threads: bool = False, reuse_buffers: bool = True) -> float:
    kwargs = dict(num_workers=workers, prefetch_factor=4 if workers else None,
                  multiprocessing_context="fork" if workers else None)
    if threads:  # styleinv_data.datasets.ThreadedLoader: `workers` decoding threads in this process
        loader = ThreadedLoader(dataset, sampler, batch_size, num_threads=workers, prefetch_batches=4,
                                reuse_buffers=reuse_buffers)
    elif in_place:  # styleinv_data.datasets.make_loader: workers decode whole batches into shared memory
        loader = make_loader(dataset, sampler, batch_size, **kwargs)
    else:  # the plain DataLoader: per-item tensors, then default_collate stacks them (one more copy)
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=sampler, **kwargs)
    batches = total_frames // (batch_size * frames_per_item)
    it = iter(loader)
    next(it)  # worker start-up excluded: steady-state throughput
    pids = [w.pid for w in getattr(it, "_workers", [])]
    c0, t0 = cpu_seconds(pids), time.perf_counter()
    n = 0
    for batch in itertools.islice(it, batches):
        n += batch.shape[0] * (batch.shape[1] if batch.dim() == 5 else 1)
    wall, cpu = time.perf_counter() - t0, cpu_seconds(pids) - c0
    del it
    return n / wall, n / max(cpu, 1e-9)


def frame_keys(sampler, count: int) -> list:
    return list(itertools.islice(iter(sampler), count))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=None, help="dataset root of 256^2 JPEG frame folders")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--frames", type=int, default=2048, help="frames per measurement")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "loader_throughput.json")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="loader_bench_")
    tmp_root = Path(tmp.name)
    root = args.root
    if root is None and (REPO / "demo_out" / "crops").is_dir() and any((REPO / "demo_out" / "crops").iterdir()):
        root = REPO / "demo_out" / "crops"
    source = "given root"
    if root is None:
        root, source = tmp_root / "folder", "carphone resized to 256^2 (synthesized)"
        synthesize_dataset(root, videos=8)
    elif root == REPO / "demo_out" / "crops":
        source = "demo_out/crops (make demo)"
    folder_m = build_manifest(root, BuildConfig(hash_content=False))
    if folder_m.header.layout != "frames":
        print(f"{root}: needs the frames layout (got {folder_m.header.layout})", file=sys.stderr)
        return 2
    zip_root = tmp_root / "zip"
    zip_copy(root, zip_root, [r.path for r in folder_m.records])
    zip_m = build_manifest(zip_root, BuildConfig(hash_content=False))
    sgv_root = tmp_root / "sgv"
    sgv_zip_copy(root, sgv_root, [r.path for r in folder_m.records])
    sgv_m = build_manifest(sgv_root / SGV_ZIP, BuildConfig(hash_content=False))
    assert [r.id for r in sgv_m.records] == [r.id for r in folder_m.records]
    res = folder_m.header.resolution

    counts = folder_m.frame_counts
    frame_sampler = ClassAwareFrameSampler(counts, seed=0)
    sparse_cfg = SparseClipConfig(nframes=128, max_dist=32)
    clip_sampler = SparseClipSampler(counts, sparse_cfg, seed=0)
    n_items_frames = args.frames
    n_items_clips = args.frames // 4

    def items_for(sampler, n, manifest=folder_m) -> list[tuple[str, str]]:
        return [(manifest.records[v].path, manifest.records[v].frame_name(f))
                for v, idx in frame_keys(sampler, n) for f in idx]

    frame_items = items_for(frame_sampler, n_items_frames)
    clip_items = items_for(clip_sampler, n_items_clips)
    layout_items = {"folder": (frame_items, clip_items), "zip": (frame_items, clip_items),
                    "sgv_zip": (items_for(frame_sampler, n_items_frames, sgv_m),
                                items_for(clip_sampler, n_items_clips, sgv_m))}

    # single-process decoder comparison (why simplejpeg, then torchvision)
    sample = [(root / rel / name).read_bytes() for rel, name in frame_items[:300]]
    torch.set_num_threads(1)
    decoder_rates: dict[str, float] = {}
    for name in ("simplejpeg", "torchvision", "pil"):
        if name == "simplejpeg" and not decode_module.HAVE_SIMPLEJPEG:
            continue
        if name == "torchvision" and not decode_module.HAVE_TORCHVISION:
            continue
        saved = decode_module.HAVE_SIMPLEJPEG
        decode_module.HAVE_SIMPLEJPEG = name == "simplejpeg"
        t0 = time.perf_counter()
        for b in sample:
            decode_hwc(b, ".jpg", "x") if name != "pil" else decode_with_pil(b, "x")
        decoder_rates[name] = round(len(sample) / (time.perf_counter() - t0), 1)
        decode_module.HAVE_SIMPLEJPEG = saved

    load_before = os.getloadavg()[0]
    rows: dict[str, list[tuple[float, float]]] = {}
    for rep in range(args.repeats):
        for layout, m, lroot in (("folder", folder_m, root), ("zip", zip_m, zip_root), ("sgv_zip", sgv_m, sgv_root)):
            lay = "frames" if layout == "folder" else "zip"
            container = m.header.container
            frame_items, clip_items = layout_items[layout]
            rows.setdefault(f"{layout}/decode_only(frames)", []).append(
                decode_only(lroot, lay, frame_items, args.workers, args.batch, container))
            rows.setdefault(f"{layout}/frame_loader", []).append(
                loader_rate(FrameDataset(m, verify=False), frame_sampler, args.batch, 1, n_items_frames, args.workers))
            rows.setdefault(f"{layout}/frame_loader_collate", []).append(
                loader_rate(FrameDataset(m, verify=False), frame_sampler, args.batch, 1, n_items_frames, args.workers,
                            in_place=False))
            rows.setdefault(f"{layout}/frame_loader_threads", []).append(
                loader_rate(FrameDataset(m, verify=False), frame_sampler, args.batch, 1, n_items_frames, args.workers,
                            threads=True))
            rows.setdefault(f"{layout}/frame_loader_threads_fresh", []).append(
                loader_rate(FrameDataset(m, verify=False), frame_sampler, args.batch, 1, n_items_frames, args.workers,
                            threads=True, reuse_buffers=False))
            rows.setdefault(f"{layout}/clip_loader_threads", []).append(
                loader_rate(ClipDataset(m, verify=False), clip_sampler, args.batch // 4, 4, n_items_frames, args.workers,
                            threads=True))
            rows.setdefault(f"{layout}/clip_loader_threads_fresh", []).append(
                loader_rate(ClipDataset(m, verify=False), clip_sampler, args.batch // 4, 4, n_items_frames, args.workers,
                            threads=True, reuse_buffers=False))
            # one task = one loader batch: --batch frames (= --batch / 4 clips of 4 frames)
            rows.setdefault(f"{layout}/decode_only(clips)", []).append(
                decode_only(lroot, lay, clip_items, args.workers, args.batch, container))
            rows.setdefault(f"{layout}/clip_loader", []).append(
                loader_rate(ClipDataset(m, verify=False), clip_sampler, args.batch // 4 * 1, 4, n_items_frames, args.workers))
        print(f"repeat {rep + 1}/{args.repeats} done", file=sys.stderr)

    med = {k: statistics.median(w for w, _ in v) for k, v in rows.items()}
    med_cpu = {k: statistics.median(c for _, c in v) for k, v in rows.items()}
    table = []
    for layout in ("folder", "zip", "sgv_zip"):
        for kind, base in (("frame_loader", "decode_only(frames)"), ("frame_loader_collate", "decode_only(frames)"),
                           ("frame_loader_threads", "decode_only(frames)"),
                           ("frame_loader_threads_fresh", "decode_only(frames)"), ("clip_loader", "decode_only(clips)"),
                           ("clip_loader_threads", "decode_only(clips)"), ("clip_loader_threads_fresh", "decode_only(clips)")):
            loader, decode = med[f"{layout}/{kind}"], med[f"{layout}/{base}"]
            loader_cpu, decode_cpu = med_cpu[f"{layout}/{kind}"], med_cpu[f"{layout}/{base}"]
            paired = [lw / dw for (lw, _), (dw, _) in zip(rows[f"{layout}/{kind}"], rows[f"{layout}/{base}"])]
            table.append({"layout": layout, "reader": kind, "loader_fps": round(loader, 1),
                          "decode_only_fps": round(decode, 1), "ratio": round(loader / decode, 3),
                          "paired_ratio_median": round(statistics.median(paired), 3),
                          "loader_frames_per_cpu_s": round(loader_cpu, 1),
                          "decode_only_frames_per_cpu_s": round(decode_cpu, 1),
                          "cpu_efficiency_ratio": round(loader_cpu / decode_cpu, 3),
                          "loader_runs_fps": [round(w, 1) for w, _ in rows[f"{layout}/{kind}"]],
                          "decode_runs_fps": [round(w, 1) for w, _ in rows[f"{layout}/{base}"]]})
    command = "python " + " ".join([os.path.relpath(__file__, REPO)] + sys.argv[1:])
    result = {
        "benchmark": "loader_throughput",
        "machine": f"{os.cpu_count()}-core {platform.machine()} CPU, 1-min load average {load_before:.2f} before",
        "command": command,
        "dataset": {"source": source, "videos": len(folder_m.records), "frames": folder_m.header.num_frames,
                    "resolution": res},
        "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "workers": args.workers, "batch": args.batch, "frames_per_measurement": args.frames,
        "repeats": args.repeats, "target_ratio": 0.9,
        "single_process_decode_fps": decoder_rates,
        "rows": table,
    }
    print(f"dataset: {source}, {len(folder_m.records)} videos, {folder_m.header.num_frames} frames, {res}")
    print("single-process JPEG decode, frames/s: " + ", ".join(f"{k} {v:.0f}" for k, v in decoder_rates.items()))
    print(f"{'layout':7} {'reader':27} {'loader f/s':>11} {'decode-only f/s':>16} {'ratio':>6} "
          f"{'loader f/cpu-s':>15} {'decode f/cpu-s':>15} {'cpu ratio':>9}")
    for r in table:
        print(f"{r['layout']:7} {r['reader']:27} {r['loader_fps']:11.0f} {r['decode_only_fps']:16.0f} {r['ratio']:6.2f} "
              f"{r['loader_frames_per_cpu_s']:15.0f} {r['decode_only_frames_per_cpu_s']:15.0f} {r['cpu_efficiency_ratio']:9.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

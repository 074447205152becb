"""Run folders, resolved config, JSONL/TensorBoard logging, scalar accumulation and snapshot grids."""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
import textwrap
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from styleinv_model.train import run_dir as run_dir_mod
from styleinv_model.train.logger import LOG_NAME, ScalarAccumulator, TrainLogger
from styleinv_model.train.run_dir import create_run_dir, write_resolved_config
from styleinv_model.train.snapshots import default_grid, save_image_grid, save_video_grid, to_uint8

REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- run folders


def test_first_run_is_00000_and_numbers_increase(tmp_path: Path) -> None:
    root = tmp_path / "runs"  # does not exist yet
    a = create_run_dir(root, "stage1", "ffhq")
    b = create_run_dir(root, "stage2", "ffhq")
    assert a == root / "00000-stage1-ffhq" and a.is_dir()
    assert b == root / "00001-stage2-ffhq" and b.is_dir()


def test_numbering_skips_existing_and_ignores_other_entries(tmp_path: Path) -> None:
    (tmp_path / "00007-old-run").mkdir()
    (tmp_path / "00003-x").mkdir()
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "tensorboard").mkdir()
    (tmp_path / "abc-00099").mkdir()
    (tmp_path / "12").write_text("no dash: not a run")
    run = create_run_dir(tmp_path, "stage1", "demo")
    assert run.name == "00008-stage1-demo"
    (tmp_path / "123456-big").mkdir()  # more than 5 digits still counts
    assert create_run_dir(tmp_path, "s", "n").name == "123457-s-n"


@pytest.mark.parametrize("bad", ["", "a/b", "with space", ".."])
def test_bad_name_parts_are_rejected(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="folder name"):
        create_run_dir(tmp_path, "stage1", bad)


def _race(root: Path, n: int) -> list[Path]:
    barrier = threading.Barrier(n)
    results: list[Path] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            results.append(create_run_dir(root, "stage1", f"r{i}"))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_concurrent_creation_gives_distinct_numbers(tmp_path: Path) -> None:
    runs = _race(tmp_path, 12)
    numbers = sorted(int(r.name[:5]) for r in runs)
    assert numbers == list(range(12))
    assert len({r.name for r in runs}) == 12 and all(r.is_dir() for r in runs)


def test_concurrent_creation_without_the_lock_still_distinct(tmp_path: Path, monkeypatch) -> None:
    # Exercise the lock-free path (mkdir exist_ok=False + duplicate-number check) on its own.
    monkeypatch.setattr(run_dir_mod, "_root_lock", lambda root: contextlib.nullcontext())
    runs = _race(tmp_path, 12)
    numbers = sorted(int(r.name[:5]) for r in runs)
    assert len(set(numbers)) == 12, numbers
    entries = [p.name for p in tmp_path.iterdir() if p.name[:1].isdigit()]
    assert sorted(entries) == sorted(r.name for r in runs)  # yielded twins were removed


@dataclass
class _Opt:
    lr: float
    betas: tuple[float, float]


def test_resolved_config_round_trip_keeps_order(tmp_path: Path) -> None:
    run = create_run_dir(tmp_path, "stage1", "cfg")
    config = {"zeta": 1, "alpha": {"b": [1, 2], "a": "x"}, "path": Path("/data/x"),
              "opt": _Opt(2e-3, (0.0, 0.99)), "np": np.float32(0.5), "t": torch.tensor(3), "none": None}
    path = write_resolved_config(run, config)
    assert path == run / "config.yaml"
    text = path.read_text()
    assert text.index("zeta") < text.index("alpha") < text.index("path")
    assert text.index("  b:") < text.index("  a:")
    loaded = yaml.safe_load(text)
    assert loaded == {"zeta": 1, "alpha": {"b": [1, 2], "a": "x"}, "path": "/data/x",
                      "opt": {"lr": 2e-3, "betas": [0.0, 0.99]}, "np": 0.5, "t": 3, "none": None}
    assert [p.name for p in run.iterdir()] == ["config.yaml"]  # no temp file left behind
    write_resolved_config(run, {"only": True})  # overwrite
    assert yaml.safe_load(path.read_text()) == {"only": True}


def test_resolved_config_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="create_run_dir"):
        write_resolved_config(tmp_path / "missing", {})
    with pytest.raises(TypeError, match=r"config\.bad"):
        write_resolved_config(tmp_path, {"bad": object()})


# ---------------------------------------------------------------- logger


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_records_and_null_for_non_finite(tmp_path: Path) -> None:
    with TrainLogger(tmp_path, tensorboard=False) as log:
        log.log(0, 0.0, {"loss/G": 1.5, "loss/D": torch.tensor(0.25)})
        # flushed at once: readable before close
        assert _lines(tmp_path / LOG_NAME)[0]["loss/G"] == 1.5
        log.log(10, 0.64, {"loss/G": float("nan"), "r1": float("inf"), "aug/p": np.float64(0.125)})
    recs = _lines(tmp_path / LOG_NAME)
    assert len(recs) == 2
    assert recs[0]["step"] == 0 and recs[0]["kimg"] == 0.0 and recs[0]["loss/D"] == 0.25
    assert recs[1] == {"step": 10, "kimg": 0.64, "time": recs[1]["time"], "loss/G": None, "r1": None, "aug/p": 0.125}
    assert 0.0 <= recs[0]["time"] <= recs[1]["time"] < 60
    assert "NaN" not in (tmp_path / LOG_NAME).read_text()


def test_resume_appends(tmp_path: Path) -> None:
    with TrainLogger(tmp_path, tensorboard=False) as log:
        log.log(1, 0.1, {"a": 1.0})
    with TrainLogger(tmp_path, tensorboard=False) as log:
        log.log(2, 0.2, {"a": 2.0})
    assert [r["a"] for r in _lines(tmp_path / LOG_NAME)] == [1.0, 2.0]


def test_reserved_names_and_bad_values_are_rejected(tmp_path: Path) -> None:
    with TrainLogger(tmp_path, tensorboard=False) as log:
        with pytest.raises(ValueError, match="clash"):
            log.log(0, 0.0, {"step": 1.0})
        with pytest.raises(ValueError, match="elements"):
            log.log(0, 0.0, {"v": torch.ones(3)})
    assert (tmp_path / LOG_NAME).read_text() == ""


def test_disabled_logger_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "run"
    with TrainLogger(target, enabled=False) as log:
        assert log.log(0, 0.0, {"a": 1.0}) is None
    assert not target.exists()


def test_tensorboard_event_file_holds_the_scalars(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with TrainLogger(tmp_path) as log:
        assert log.tensorboard_active
        log.log(0, 0.0, {"loss/G": 2.0, "bad": float("nan")})
        log.log(5, 0.3, {"loss/G": 1.0})
    events = list(tmp_path.glob("events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert acc.Tags()["scalars"] == ["loss/G"]  # the NaN scalar is JSONL-only
    assert [(e.step, e.value) for e in acc.Scalars("loss/G")] == [(0, 2.0), (5, 1.0)]


def test_missing_tensorboard_warns_once_and_keeps_jsonl(tmp_path: Path, monkeypatch) -> None:
    import styleinv_model.train.logger as logger_mod

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # makes the import fail
    monkeypatch.setattr(logger_mod, "_tensorboard_warned", False)
    with pytest.warns(RuntimeWarning, match="TensorBoard unavailable"):
        log = TrainLogger(tmp_path / "a")
    assert not log.tensorboard_active
    log.log(0, 0.0, {"x": 1.0})
    log.close()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TrainLogger(tmp_path / "b").close()  # second one stays silent
    assert _lines(tmp_path / "a" / LOG_NAME)[0]["x"] == 1.0
    assert not list((tmp_path / "a").glob("events.*"))


# ---------------------------------------------------------------- accumulator


def test_accumulator_weighted_means_and_reset() -> None:
    acc = ScalarAccumulator()
    acc.add("loss", 1.0)
    acc.add("loss", 4.0, weight=3)  # (1 + 12) / 4
    acc.add("vec", torch.tensor([1.0, 2.0, 3.0, 6.0]))  # each element one sample
    acc.add("vec", torch.tensor(8.0), weight=4)  # (12 + 32) / 8
    acc.add("zero", 5.0, weight=0)
    means = acc.means(reduce_across_ranks=True)  # no process group: local
    assert means["loss"] == pytest.approx(13 / 4)
    assert means["vec"] == pytest.approx(44 / 8)
    assert math.isnan(means["zero"])
    assert acc.means(False) == {}


_DIST_SCRIPT = textwrap.dedent("""
    import json, sys
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp
    from styleinv_model.train.logger import ScalarAccumulator

    def worker(rank, init_file, out_dir):
        dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank, world_size=2)
        acc = ScalarAccumulator()
        if rank == 0:
            acc.add("loss", torch.tensor([1.0, 3.0]))       # sum 4, count 2
            acc.add("only0", 10.0)
        else:
            acc.add("loss", 7.0, weight=2)                  # sum 14, count 2
            acc.add("only1", torch.tensor([2.0, 4.0]))
        means = acc.means(reduce_across_ranks=True)
        local = ScalarAccumulator(); local.add("loss", float(rank))
        with open(f"{out_dir}/rank{rank}.json", "w") as f:
            json.dump({"reduced": means, "local": local.means(reduce_across_ranks=False)}, f)
        dist.destroy_process_group()

    if __name__ == "__main__":
        mp.spawn(worker, args=(sys.argv[1], sys.argv[2]), nprocs=2, join=True)
""")


def test_accumulator_all_reduce_two_gloo_ranks(tmp_path: Path) -> None:
    import torch.distributed as dist

    if not dist.is_available():
        pytest.skip("torch.distributed is not available in this build")
    script = tmp_path / "dist_acc.py"
    script.write_text(_DIST_SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "init"), str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for rank in (0, 1):
        out = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert out["reduced"] == pytest.approx({"loss": 18 / 4, "only0": 10.0, "only1": 3.0})
        assert out["local"] == {"loss": float(rank)}


# ---------------------------------------------------------------- snapshots


def test_default_grid_is_near_square() -> None:
    assert [default_grid(n) for n in (1, 2, 4, 5, 9, 10, 32)] == [(1, 1), (2, 1), (2, 2), (3, 2), (3, 3), (4, 3), (6, 6)]


def test_uint8_conversion() -> None:
    x = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.002, 0.5, 1.0, 3.0, float("nan")])
    # round((x + 1) * 127.5): 0.5 -> 191.25 -> 191; 0.0 -> 127.5 -> 128 (round half to even)
    assert to_uint8(x).tolist() == [0, 0, 64, 128, 128, 191, 255, 255, 0]


def _independent_tiling(u8: np.ndarray, cols: int, rows: int) -> np.ndarray:
    n, _, h, w = u8.shape
    canvas = np.zeros((rows * h, cols * w, 3), np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = u8[i].transpose(1, 2, 0)
    return canvas


@pytest.mark.parametrize("grid", [None, (2, 3), (4, 1)])
def test_png_grid_matches_independent_tiling(tmp_path: Path, grid) -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(4, 3, 5, 7, generator=g) * 2.4 - 1.2  # a little out of range on purpose
    path = save_image_grid(images, tmp_path / "sub" / "grid.png", grid=grid)
    got = np.asarray(Image.open(path).convert("RGB"))
    u8 = np.clip(np.round((images.numpy().astype(np.float64) + 1) * 127.5), 0, 255).astype(np.uint8)
    cols, rows = grid or (2, 2)
    assert got.shape == (rows * 5, cols * 7, 3)
    np.testing.assert_array_equal(got, _independent_tiling(u8, cols, rows))
    assert sorted(p.name for p in path.parent.iterdir()) == ["grid.png"]


def test_grid_too_small_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot hold 5"):
        save_image_grid(torch.zeros(5, 3, 4, 4), tmp_path / "g.png", grid=(2, 2))
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        save_image_grid(torch.zeros(3, 4, 4), tmp_path / "g.png")


def test_mp4_grid_frames_size_and_colours(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    b, t, h, w = 3, 7, 16, 24  # default grid (2, 2): 32 x 48, one black cell
    colours = torch.tensor([[0.8, -0.6, -0.2], [-0.9, 0.4, 0.7], [0.1, 0.9, -0.9]])
    ramp = torch.linspace(-0.3, 0.3, t)  # each video a flat colour that brightens over time
    videos = (colours[:, None, :] + ramp[None, :, None]).clamp(-1, 1)[..., None, None].expand(b, t, 3, h, w)
    path = save_video_grid(videos.contiguous(), tmp_path / "v.mp4", fps=10)
    u8 = to_uint8(videos).numpy()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(decoded) == t
    assert decoded[0].shape == (2 * h, 2 * w, 3)
    errors = []
    for k, frame in enumerate(decoded):
        expected = _independent_tiling(u8[:, k], 2, 2)
        errors.append(np.abs(frame.astype(np.float64) - expected).mean())
    assert max(errors) < 6, errors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


def test_mp4_odd_sizes_are_padded_even(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    videos = torch.full((1, 3, 3, 9, 11), 0.5)
    path = save_video_grid(videos, tmp_path / "odd.mp4", grid=(1, 1))
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 3 and frames[0].shape == (10, 12, 3)
    inner = frames[1][1:8, 1:10].astype(np.float64)  # away from the black padding
    assert np.abs(inner - 191).mean() < 6


def test_training_files_honour_the_umask(tiny_faces, tiny_config, tmp_path) -> None:
    """Checkpoints, their JSON siblings, latest.json and config.yaml are written under a temporary name
    (mkstemp: 0600) and renamed: they must end with the mode a plain open() gives (0666 & ~umask),
    so a lab group can read them."""
    import os
    import stat

    from styleinv_model.train.cli import build_config, train

    previous = os.umask(0o022)
    try:
        result = train("stage1", build_config("stage1", str(tiny_config()), (), tmp_path / "runs", None, None, 2, None,
                                              None, None), tiny_faces, None, None, progress=False)
        modes_022 = {p.name: stat.S_IMODE(p.stat().st_mode) for p in
                     [result.run_dir / "config.yaml", *sorted((result.run_dir / "checkpoints").iterdir())]}
        os.umask(0o027)
        other = train("stage1", build_config("stage1", str(tiny_config()), (), tmp_path / "runs2", None, None, 2, None,
                                             None, None), tiny_faces, None, None, progress=False)
        modes_027 = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (other.run_dir / "checkpoints").iterdir()}
    finally:
        os.umask(previous)
    assert {"config.yaml", "latest.json", "ckpt-00000002.safetensors", "ckpt-00000002.json"} <= set(modes_022)
    assert set(modes_022.values()) == {0o644}, modes_022
    assert set(modes_027.values()) == {0o640}, modes_027


def test_a_finished_run_leaves_no_loader_thread_running(tiny_faces, tiny_config, tmp_path) -> None:
    """The data stream's decoding threads are stopped when the run ends, not left to the interpreter's
    exit (where a thread still inside torch while its statics are destroyed aborts the process)."""
    import threading

    from styleinv_model.train.cli import build_config, train

    def loaders() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("styleinv-loader")]

    import gc

    assert not loaders()
    cfg = build_config("stage1", str(tiny_config()), (), tmp_path / "runs", None, None, 2, None, None, None)
    gc.disable()  # objects in reference cycles then live on, as they may until the interpreter exits
    try:
        train("stage1", cfg, tiny_faces, None, None, progress=False)
        running = loaders()
    finally:
        gc.enable()
    assert not running, f"loader threads still running after the run: {running}"

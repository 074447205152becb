"""`styleinv-data crop --shard I/N` (SLURM array jobs) and `--summary`.

Shards split the batch by a hash of the video id (stable, disjoint, covering), write into one output
folder side by side, and together give the outputs one unsharded run gives; `--summary` reports the
whole batch and assembles frames.zip for the zip layout.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from styleinv_data.pipeline.output_lock import output_lock
from styleinv_data.pipeline.recipe import RecipeError, build_recipe
from styleinv_data.pipeline.runner import run_batch, summarize_batch
from styleinv_data.pipeline.shards import parse_shard, shard_of


def _recipe(root: Path, out: Path, **flags):
    base = {"input.root": str(root), "output.root": str(out), "output.size": 32, "run.progress": False}
    base.update(flags)
    return build_recipe("faceforensics", flags=base)


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.jpg"))}


@pytest.fixture
def five_videos(tmp_path, add_video) -> Path:
    root = tmp_path / "five"
    for i in range(5):
        add_video(root, f"clip{i}", seed=i)
    return root


def test_the_split_is_stable_disjoint_and_covering():
    ids = [f"video_{i:04d}" for i in range(1000)]
    parts = [{v for v in ids if shard_of(v, 4) == k} for k in range(4)]
    assert set().union(*parts) == set(ids) and sum(len(p) for p in parts) == len(ids)
    assert all(200 <= len(p) <= 300 for p in parts)  # roughly balanced
    assert [shard_of(v, 4) for v in ids[:50]] == [shard_of(v, 4) for v in reversed(ids[:50])][::-1]
    assert parse_shard("1/3") == (1, 3) and parse_shard(None) is None
    for bad in ("3/3", "-1/2", "a/b", "1-3"):
        with pytest.raises(RecipeError, match="run.shard"):
            parse_shard(bad)


def test_two_shards_give_what_one_run_gives(five_videos, tmp_path):
    whole, sharded = tmp_path / "whole", tmp_path / "sharded"
    assert run_batch(_recipe(five_videos, whole), echo=lambda s: None).done == 5
    done = [run_batch(_recipe(five_videos, sharded, **{"run.shard": f"{k}/2"}), echo=lambda s: None).done
            for k in range(2)]
    assert sum(done) == 5 and all(done)  # each shard did its part, none did all
    assert _outputs(sharded) == _outputs(whole)
    assert (sharded / "_meta" / "summary.shard-0-of-2.json").is_file()
    lines: list[str] = []
    summary = summarize_batch(_recipe(five_videos, sharded), echo=lines.append)
    assert (summary.done, summary.failed, summary.not_run) == (5, 0, 0)
    assert lines[0].startswith("crop summary: 5 done")
    again = run_batch(_recipe(five_videos, sharded, **{"run.shard": "0/2"}), echo=lambda s: None)
    assert (again.done, again.skipped) == (0, done[0])  # a rerun of a shard resumes like any run


def test_shards_run_side_by_side_and_exclude_an_unsharded_run(five_videos, tmp_path):
    out = tmp_path / "out"
    with output_lock(out, (0, 2)):  # shard 0 of 2 is running
        shard1 = run_batch(_recipe(five_videos, out, **{"run.shard": "1/2"}), echo=lambda s: None)
        assert shard1.failed == 0 and shard1.done >= 1
        with pytest.raises(RecipeError, match=r"shard 0/2 is already running .*crop.shard-0-of-2.lock"):
            run_batch(_recipe(five_videos, out, **{"run.shard": "0/2"}), echo=lambda s: None)
        with pytest.raises(RecipeError, match="another styleinv-data crop is writing this folder \\(shards running: "
                                              "crop.shard-0-of-2.lock"):
            run_batch(_recipe(five_videos, out), echo=lambda s: None)
        lines: list[str] = []
        with pytest.raises(RecipeError, match="another styleinv-data crop is writing this folder"):
            summarize_batch(_recipe(five_videos, out), echo=lines.append)
    with output_lock(out):  # an unsharded run holds the folder: no shard starts
        with pytest.raises(RecipeError, match="an unsharded styleinv-data crop is writing this folder"):
            run_batch(_recipe(five_videos, out, **{"run.shard": "0/2"}), echo=lambda s: None)
    lines = []
    summary = summarize_batch(_recipe(five_videos, out), echo=lines.append)
    assert summary.not_run == 5 - shard1.done and any("have no status yet" in line for line in lines)


def test_zip_layout_shards_leave_the_zip_to_summary(five_videos, tmp_path):
    out = tmp_path / "out"
    lines: list[str] = []
    for k in range(2):
        run_batch(_recipe(five_videos, out, **{"run.shard": f"{k}/2", "output.layout": "zip"}), echo=lines.append)
    assert not (out / "frames.zip").exists()
    assert any("run the same command with --summary" in line for line in lines)
    summarize_batch(_recipe(five_videos, out, **{"output.layout": "zip"}), echo=lambda s: None)
    with zipfile.ZipFile(out / "frames.zip") as z:
        folders = sorted({n.split("/")[1] for n in z.namelist() if n.count("/") == 2})
    assert folders == [f"clip{i}" for i in range(5)]
    assert json.loads((out / "_meta" / "summary.json").read_text())["done"] == 5


def test_the_cli_takes_shard_and_summary(five_videos, tmp_path):
    from click.testing import CliRunner

    from styleinv_data.cli import main

    out = tmp_path / "cli"
    args = ["crop", str(five_videos), str(out), "--recipe", "faceforensics", "--size", "32", "--no-progress"]
    for k in range(3):
        result = CliRunner().invoke(main, [*args, "--shard", f"{k}/3"])
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, [*args, "--summary"])
    assert result.exit_code == 0 and "crop summary: 5 done" in result.output, result.output
    result = CliRunner().invoke(main, [*args, "--shard", "5/3"])
    assert result.exit_code == 2 and "run.shard='5/3'" in result.output
    result = CliRunner().invoke(main, [*args, "--summary", "--shard", "0/3"])
    assert result.exit_code == 2 and "without --shard" in result.output

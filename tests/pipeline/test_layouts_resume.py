"""Output layouts (frames / zip / mp4), resume, --overwrite and --reuse-plan."""

from __future__ import annotations

import json
import zipfile

import pytest

from styleinv_data.crop.plan import CropPlan
from styleinv_data.io import probe_source
from styleinv_data.pipeline.recipe import build_recipe
from styleinv_data.pipeline.runner import run_batch


def _run(root, out, *overrides, **flags):
    base = {"input.root": str(root), "output.root": str(out), "output.size": 32, "run.progress": False}
    base.update(flags)
    return run_batch(build_recipe("faceforensics", overrides=list(overrides), flags=base), echo=lambda s: None)


def test_zip_layout_and_resume_rebuilds_the_zip(good_dataset, tmp_path):
    out = tmp_path / "out"
    s = _run(good_dataset, out, **{"output.layout": "zip", "run.limit": 2})
    assert (s.done, s.failed) == (2, 0)
    with zipfile.ZipFile(out / "frames.zip") as z:
        names = z.namelist()
    assert len(names) == 24 and names[0] == "v0/000000.jpg" and names[-1] == "v1/000011.jpg"
    s = _run(good_dataset, out, **{"output.layout": "zip"})
    assert (s.done, s.skipped) == (1, 2)
    with zipfile.ZipFile(out / "frames.zip") as z:
        assert len(z.namelist()) == 36 and "v2/000011.jpg" in z.namelist()


def test_mp4_layout(good_dataset, tmp_path):
    out = tmp_path / "out"
    s = _run(good_dataset, out, **{"output.layout": "mp4"})
    assert s.done == 3
    info = probe_source(out / "v1.mp4")
    assert (info.width, info.height, info.num_frames) == (32, 32, 12)
    assert info.fps == pytest.approx(25.0)


def test_resume_skips_done_overwrite_redoes(good_dataset, tmp_path):
    out = tmp_path / "out"
    assert _run(good_dataset, out).done == 3
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "_meta").glob("*.status.json")}
    s = _run(good_dataset, out)
    assert (s.done, s.skipped, s.failed) == (0, 3, 0)
    assert stamps == {p.name: p.stat().st_mtime_ns for p in (out / "_meta").glob("*.status.json")}
    # a status file that is removed (unfinished video) is redone
    (out / "_meta" / "v1.status.json").unlink()
    s = _run(good_dataset, out)
    assert (s.done, s.skipped) == (1, 2)
    # different parameters: still skipped, but reported
    s = _run(good_dataset, out, **{"output.size": 48})
    assert (s.skipped, s.stale_params) == (3, 3)
    s = _run(good_dataset, out, **{"output.size": 48, "run.overwrite": True})
    assert s.done == 3
    status = json.loads((out / "_meta" / "v0.status.json").read_text())
    assert status["params"]["output"]["size"] == 48


def test_reuse_plan_renders_from_the_sidecar(good_dataset, tmp_path):
    out = tmp_path / "out"
    _run(good_dataset, out, **{"run.limit": 1})
    sidecar = out / "_meta" / "v0.plan.json"
    plan = CropPlan.load(sidecar)
    # move every box; a re-render from the plan must use the edited boxes, not the masks
    for f in plan.frames:
        f.box_xyxy = (0.0, 0.0, 16.0, 16.0)
    plan.save(sidecar)
    _run(good_dataset, out, **{"run.limit": 1, "run.overwrite": True, "run.reuse_plan": True})
    reused = CropPlan.load(sidecar)
    assert all(f.box_xyxy == (0.0, 0.0, 16.0, 16.0) for f in reused.frames)
    assert reused.stats.get("reused_plan") is True
    # and without --reuse-plan the masks are read again
    _run(good_dataset, out, **{"run.limit": 1, "run.overwrite": True})
    assert CropPlan.load(sidecar).frames[0].box_xyxy != (0.0, 0.0, 16.0, 16.0)

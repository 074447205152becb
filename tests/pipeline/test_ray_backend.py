"""``--backend ray``: the same tasks through joblib's Ray backend, on a local Ray started by the run."""

from __future__ import annotations

import json

import pytest

from styleinv_data.pipeline.recipe import build_recipe
from styleinv_data.pipeline.runner import run_batch


def test_ray_local_instance(good_dataset, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    started = []
    real_init = ray.init

    def counting_init(*args, **kwargs):
        started.append(kwargs)
        return real_init(*args, **kwargs)

    monkeypatch.setattr(ray, "init", counting_init)
    recipe = build_recipe("faceforensics", flags={
        "input.root": str(good_dataset), "output.root": str(tmp_path / "out"), "output.size": 32,
        "run.backend": "ray", "run.jobs": 2, "run.progress": False})
    summary = run_batch(recipe, echo=lambda s: None)
    assert (summary.done, summary.failed) == (3, 0)
    assert len(started) == 1 and started[0]["num_cpus"] == 2  # a local Ray with run.jobs CPUs ran the videos
    for vid in ("v0", "v1", "v2"):
        status = json.loads((tmp_path / "out" / "_meta" / f"{vid}.status.json").read_text())
        assert status["state"] == "done" and status["counts"]["frames_out"] == 12
        assert len(list((tmp_path / "out" / "frames" / vid).iterdir())) == 12
    assert not ray.is_initialized()  # the run shut down the Ray it started

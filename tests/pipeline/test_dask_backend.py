"""``--backend dask --scheduler ADDRESS`` runs the same tasks on an existing Dask cluster."""

from __future__ import annotations

import json

import pytest

from styleinv_data.pipeline.recipe import build_recipe
from styleinv_data.pipeline.runner import run_batch


def test_dask_local_cluster(good_dataset, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        recipe = build_recipe("faceforensics", flags={
            "input.root": str(good_dataset), "output.root": str(tmp_path / "out"), "output.size": 32,
            "run.backend": "dask", "run.scheduler": cluster.scheduler_address, "run.jobs": 2, "run.progress": False})
        summary = run_batch(recipe, echo=lambda s: None)
    assert (summary.done, summary.failed) == (3, 0)
    for vid in ("v0", "v1", "v2"):
        status = json.loads((tmp_path / "out" / "_meta" / f"{vid}.status.json").read_text())
        assert status["state"] == "done" and status["counts"]["frames_out"] == 12
        assert len(list((tmp_path / "out" / vid).iterdir())) == 12


def test_unreachable_scheduler_is_a_clear_error(good_dataset, tmp_path):
    from styleinv_data.pipeline.recipe import RecipeError

    recipe = build_recipe("faceforensics", flags={
        "input.root": str(good_dataset), "output.root": str(tmp_path / "out"),
        "run.backend": "dask", "run.scheduler": "tcp://127.0.0.1:1", "run.scheduler_timeout_s": 1, "run.progress": False})
    with pytest.raises(RecipeError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        run_batch(recipe, echo=lambda s: None)

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
        assert len(list((tmp_path / "out" / "frames" / vid).iterdir())) == 12


def test_unreachable_scheduler_is_a_clear_error(good_dataset, tmp_path):
    from styleinv_data.pipeline.recipe import RecipeError

    recipe = build_recipe("faceforensics", flags={
        "input.root": str(good_dataset), "output.root": str(tmp_path / "out"),
        "run.backend": "dask", "run.scheduler": "tcp://127.0.0.1:1", "run.scheduler_timeout_s": 1, "run.progress": False})
    with pytest.raises(RecipeError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        run_batch(recipe, echo=lambda s: None)


def test_separate_scheduler_and_worker_processes(good_dataset, tmp_path):
    """A real cluster: `dask scheduler` and `dask worker` in their own processes, as on a farm."""
    pytest.importorskip("distributed")
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    dask_cli = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    scheduler = subprocess.Popen([*dask_cli, "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0",
                                  "--no-show"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "2",
                               "--nworkers", "1", "--no-dashboard"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        from distributed import Client

        deadline = time.time() + 60
        while True:  # wait until the worker has joined
            try:
                with Client(address, timeout=5) as client:
                    if client.scheduler_info()["workers"]:
                        break
            except OSError:
                pass
            assert time.time() < deadline, "the Dask worker never joined the scheduler"
            time.sleep(0.5)
        recipe = build_recipe("faceforensics", flags={
            "input.root": str(good_dataset), "output.root": str(tmp_path / "out"), "output.size": 32,
            "run.backend": "dask", "run.scheduler": address, "run.jobs": 2, "run.progress": False})
        summary = run_batch(recipe, echo=lambda s: None)
        assert (summary.done, summary.failed) == (3, 0)
        for vid in ("v0", "v1", "v2"):
            status = json.loads((tmp_path / "out" / "_meta" / f"{vid}.status.json").read_text())
            assert status["state"] == "done" and status["counts"]["frames_out"] == 12
    finally:
        for process in (worker, scheduler):
            process.terminate()
        for process in (worker, scheduler):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_dask_results_arrive_as_videos_finish(tmp_path, add_video):
    """A long video first and short ones after: with two workers the short ones come back while the
    long one still runs (before, results were held back in submission order until the long one ended)."""
    distributed = pytest.importorskip("distributed")
    from styleinv_data.pipeline.runner import _parallel_results, discover_tasks

    root = tmp_path / "data"
    add_video(root, "a_long", n=240, seed=0)
    for i in range(4):
        add_video(root, f"b_short{i}", n=6, seed=i + 1)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        recipe = build_recipe("faceforensics", flags={
            "input.root": str(root), "output.root": str(tmp_path / "out"), "output.size": 32,
            "run.backend": "dask", "run.scheduler": cluster.scheduler_address, "run.jobs": 2, "run.progress": False})
        (tmp_path / "out" / "_meta").mkdir(parents=True)
        tasks = discover_tasks(recipe)
        assert tasks[0].video_id == "a_long"
        order = [result.video_id for result in _parallel_results(tasks, recipe)]
    assert sorted(order) == sorted(t.video_id for t in tasks)
    assert order[0] != "a_long" and order.index("a_long") >= 2, order

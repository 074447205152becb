"""A worker process that dies mid-video (a native crash) fails that video only; the batch goes on."""

from __future__ import annotations

import json
import sys
import textwrap


from styleinv_data.pipeline.recipe import build_recipe
from styleinv_data.pipeline.runner import run_batch

PLUGIN = textwrap.dedent('''
    import os
    import signal

    from styleinv_data.pipeline.mask_strategy import MaskStrategy, MASK_DEFAULTS
    from styleinv_data.pipeline.strategies import register_strategy

    class CrashOnV1(MaskStrategy):
        name = "crash_on_v1"
        def plan_stream(self, video_id, video_path, **inputs):
            return None
        def plan(self, video_id, video_path, **inputs):
            if video_id == "v1":
                os.kill(os.getpid(), signal.SIGKILL)  # what a segfault in a decoder looks like to the pool
            return super().plan(video_id, video_path, **inputs)

    register_strategy("crash_on_v1", lambda o, r: CrashOnV1(o, r), defaults=MASK_DEFAULTS,
                      discover=__import__("styleinv_data.pipeline.mask_strategy", fromlist=["x"]).discover_mask_tasks)
''')


def test_worker_crash_fails_only_that_video(tmp_path, good_dataset, monkeypatch):
    (tmp_path / "crash_plugin_mod.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # for the loky worker processes...
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)  # ...which must be fresh ones, started after that
    try:
        recipe = build_recipe("faceforensics", overrides=["plugins=[crash_plugin_mod]"], flags={
            "strategy": "crash_on_v1", "input.root": str(good_dataset), "output.root": str(tmp_path / "out"),
            "output.size": 16, "run.jobs": 2, "run.progress": False})
        summary = run_batch(recipe, echo=lambda s: None)
    finally:
        sys.modules.pop("crash_plugin_mod", None)
    assert (summary.done, summary.failed) == (2, 1)
    status = json.loads((tmp_path / "out" / "_meta" / "v1.status.json").read_text())
    assert status["state"] == "failed" and "worker process died" in status["reason"]
    for vid in ("v0", "v2"):
        assert json.loads((tmp_path / "out" / "_meta" / f"{vid}.status.json").read_text())["state"] == "done"
        assert len(list((tmp_path / "out" / "frames" / vid).iterdir())) == 12

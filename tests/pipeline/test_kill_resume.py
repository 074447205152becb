"""A run killed with SIGKILL mid-batch, then resumed: nothing half-written, finished videos not redone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from PIL import Image


def _cli(root, out):
    return [sys.executable, "-m", "styleinv_data.cli", "crop", str(root), str(out), "--recipe", "faceforensics",
            "--size", "64", "--no-progress"]


def test_sigkill_then_resume(tmp_path, add_video):
    root = tmp_path / "data"
    n_videos, n_frames = 6, 60
    for i in range(n_videos):
        add_video(root, f"v{i}", n=n_frames, seed=i)
    out = tmp_path / "out"
    proc = subprocess.Popen(_cli(root, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(list((out / "_meta").glob("*.status.json"))) < 2:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.name.split(".")[0]: p.stat().st_mtime_ns for p in (out / "_meta").glob("*.status.json")}
    assert 2 <= len(finished) < n_videos, "the kill must land mid-batch"
    # nothing half-written under a final name: a clip folder exists only complete
    for i in range(n_videos):
        clip = out / "frames" / f"v{i}"
        if clip.exists():
            assert len(list(clip.iterdir())) == n_frames
        if f"v{i}" in finished:
            assert json.loads((out / "_meta" / f"v{i}.status.json").read_text())["state"] == "done"
    resumed = subprocess.run(_cli(root, out), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{n_videos - len(finished)} done, {len(finished)} skipped, 0 failed" in resumed.stdout
    for vid, stamp in finished.items():  # finished videos were not redone
        assert (out / "_meta" / f"{vid}.status.json").stat().st_mtime_ns == stamp
    for i in range(n_videos):
        frames = sorted((out / "frames" / f"v{i}").iterdir())
        assert len(frames) == n_frames
        with Image.open(frames[-1]) as im:
            im.load()  # every file decodes: none was cut short
            assert im.size == (64, 64)
    assert not (out / "_meta" / "partial").exists() or not any((out / "_meta" / "partial").iterdir())
    assert not list(out.rglob("*.tmp"))

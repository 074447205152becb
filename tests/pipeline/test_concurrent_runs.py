"""Two `styleinv-data crop` runs on one output folder: the second is refused at once with a one-line
message naming the lock and the running process; the first finishes untouched (every status right,
no traceback anywhere), and a manifest built afterwards holds every video."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest


def _cli(root, out):
    return [sys.executable, "-m", "styleinv_data.cli", "crop", str(root), str(out), "--recipe", "faceforensics",
            "--size", "64", "--no-progress"]


@pytest.mark.parametrize("repeat", range(3))
def test_second_run_on_the_same_output_is_refused(tmp_path, add_video, repeat):
    from styleinv_data.manifest import build_manifest

    root = tmp_path / "data"
    for i in range(6):
        add_video(root, f"v{i}", n=40, seed=i)
    out = tmp_path / "out"
    first = subprocess.Popen(_cli(root, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    second = subprocess.run(_cli(root, out), capture_output=True, text=True, timeout=120)
    first_out, first_err = first.communicate(timeout=300)
    lock = out / "_meta" / "crop.lock"
    if second.returncode == 0:  # the first had not taken the lock yet: then the first must be refused
        first_out, first_err, refused = second.stdout, second.stderr, (first.returncode, first_out + first_err)
    else:
        refused = (second.returncode, second.stdout + second.stderr)
        assert first.returncode == 0, first_err
    code, message = refused
    assert code == 2, message
    assert "another styleinv-data crop is writing this folder" in message and str(lock) in message
    assert "pid " in message and len(message.strip().splitlines()) == 1 and "Traceback" not in message
    assert "Traceback" not in first_err
    assert "6 done, 0 skipped, 0 failed" in first_out
    states = {p.name: json.loads(p.read_text())["state"] for p in (out / "_meta").glob("*.status.json")}
    assert states == {f"v{i}.status.json": "done" for i in range(6)}
    assert not (out / "_meta" / "partial").exists() or not any((out / "_meta" / "partial").iterdir())
    assert build_manifest(out).header.num_videos == 6

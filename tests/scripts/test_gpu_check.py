"""`make gpu-check` cannot rot unseen: its CPU self-test runs every section at toy size here.

The self-test is the GPU check's own code path (section processes, time caps, JSON and table) with
the CPU standing in for the GPU: the reference ops for the CUDA kernels, tiny sizes, no torch.compile
row. It also checks that the model path imports nothing from the video/face stack (the GPU machine
has no PyAV, dlib or ffmpeg)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_cpu_selftest_runs_every_section(tmp_path: Path) -> None:
    command = [sys.executable, str(REPO / "scripts" / "gpu_check.py"), "--cpu-selftest", "--out", str(tmp_path)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check_cpu_selftest.json").read_text())
    assert report["selftest"] is True and report["forbidden_imports"] == []
    sections = report["sections"]
    assert list(sections) == ["tests", "ops", "train", "generate", "metrics", "step"]
    assert all(record["status"] == "ok" for record in sections.values()), sections
    figures = {name: record["figures"] for name, record in sections.items()}
    assert figures["tests"]["failed"] == 0 and figures["tests"]["skipped"] > 0  # GPU tests skip on the CPU
    assert figures["ops"]["accuracy_rows_failed"] == 0 and set(figures["ops"]["g_fwd_bwd_ms"]) == {"cuda", "ref"}
    assert figures["train"]["stage1_s_per_kimg"] > 0 and figures["train"]["stage3_videos_per_s"]
    assert figures["generate"]["best_frames_per_s"] > 0 and len(figures["generate"]["frames_per_s"]) == 2
    assert figures["metrics"]["i3d_frames_per_s"] > 0 and figures["metrics"]["inception_images_per_s"] > 0
    # the CPU against itself: the same step twice is bitwise the same
    assert figures["step"]["G_grad_rel_diff"] == 0.0 and figures["step"]["D_weight_max_abs_diff"] == 0.0
    assert "GPU check on CPU self-test" in result.stdout and "wrote" in result.stdout


def test_unknown_section_is_a_usage_error(tmp_path: Path) -> None:
    command = [sys.executable, str(REPO / "scripts" / "gpu_check.py"), "--cpu-selftest", "--sections", "warp",
               "--out", str(tmp_path)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "unknown section(s) ['warp']" in result.stderr
    assert not list(tmp_path.iterdir())

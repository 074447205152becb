"""`styleinv-data crop` with stderr going to a file (nohup, SLURM, CI): readable progress lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_crop_progress_in_a_log_file_is_whole_lines(tmp_path: Path, add_video) -> None:
    root = tmp_path / "data"
    for i in range(2):
        add_video(root, f"v{i}", n=8, seed=i)
    log = tmp_path / "crop.log"
    with log.open("w") as handle:
        result = subprocess.run([sys.executable, "-m", "styleinv_data.cli", "crop", str(root), str(tmp_path / "out"),
                                 "--recipe", "faceforensics", "--size", "32"],
                                cwd=REPO, stderr=handle, stdout=subprocess.PIPE, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + log.read_text()
    text = log.read_text()
    assert "\r" not in text, repr(text)
    assert any(line.startswith("crop:") and "2/2" in line for line in text.splitlines()), text

"""``styleinv-data report``: the HTML page of a crop folder (with scores, and with failures), read
back and rendered by headless Chromium (Debian package ``chromium``; ``.ci/run`` installs it) to a
PNG screenshot that must not be blank and must show the summary."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from styleinv_data.cli import main


@pytest.fixture(scope="module")
def crop_folder(tmp_path_factory, carphone_path) -> Path:
    """A mask crop of carphone clips: two done, one failed (its mask is missing)."""
    import av

    from styleinv_data.io.encode import write_mp4

    with av.open(str(carphone_path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    root = tmp_path_factory.mktemp("report")
    for folder in ("original", "mask"):
        (root / folder).mkdir()
    mask = np.full(frames[0].shape[:2], 255, np.uint8)
    mask[16:80, 56:120] = 0
    for i, name in enumerate(("a", "b", "nomask")):
        clip = frames[i * 30:i * 30 + 20]
        write_mp4(root / "original" / f"{name}.mp4", clip, fps=25, crf=0, pix_fmt="yuv444p", preset="ultrafast")
        if name != "nomask":
            write_mp4(root / "mask" / f"{name}.mp4", [mask] * len(clip), fps=25, crf=0, pix_fmt="yuv444p",
                      preset="ultrafast")
    result = CliRunner().invoke(main, ["crop", str(root), str(root / "out"), "--recipe", "faceforensics", "--size",
                                       "64", "--no-progress"])
    assert "2 done" in result.output and "1 failed" in result.output, result.output
    return root / "out"


def test_report_of_a_crop_folder_with_failures(crop_folder):
    result = CliRunner().invoke(main, ["report", str(crop_folder), "--no-progress"])
    assert result.exit_code == 0, result.output
    page = (crop_folder / "report.html").read_text()
    assert "<section id='summary'" in page and "videos failed" in page
    assert "nomask" in page and "no mask" in page  # the failed video with its reason
    assert page.count("data:image/png;base64,") >= 7  # histograms and contact strips, inline
    assert "http://" not in page and "https://" not in page  # nothing to fetch when opened


def test_report_of_a_manifest_without_images(tmp_path):
    """A manifest whose frames are not on disk (the 35,000-clip benchmark's case) still reports:
    histograms from the scores, "no frames" where a strip would be."""
    from styleinv_data.manifest import write_manifest
    from styleinv_data.report.synthetic import synthetic_scored_manifest

    manifest = write_manifest(synthetic_scored_manifest(300, tmp_path / "absent", seed=1, failed=4),
                              tmp_path / "m.jsonl")
    result = CliRunner().invoke(main, ["report", str(manifest), "--no-progress"])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "m.report.html").read_text()
    assert "300" in page and "Failed videos (4)" in page
    assert page.count("no frames") == 20 * 8  # 8 scores, 20 worst clips each, no frames on disk


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed (Debian package chromium; "
                                                 ".ci/run installs it)")
def test_report_renders_in_headless_chromium(crop_folder, tmp_path):
    CliRunner().invoke(main, ["report", str(crop_folder), "-o", str(tmp_path / "r.html"), "--no-progress"])
    shot = tmp_path / "shot.png"
    base = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,900"]
    run = subprocess.run([*base, f"--screenshot={shot}", (tmp_path / "r.html").as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert shot.is_file(), run.stderr[-2000:]
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert image.shape[:2] == (900, 1200) and image.std() > 20  # not blank
    header_band = image[5:50, :600]
    assert np.abs(header_band - np.array([11, 61, 110])).sum(axis=-1).mean() < 40  # the title band is drawn
    cards = image[70:160, 20:900]
    assert cards.std() > 20  # the summary cards show (numbers on white over the grey page)
    dom = subprocess.run([*base, "--dump-dom", (tmp_path / "r.html").as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert "videos cropped" in dom and "videos failed" in dom and "nomask" in dom

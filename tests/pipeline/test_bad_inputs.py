"""One batch full of bad inputs: each bad video fails with a clear reason, the others finish, exit code 1."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from styleinv_data.commands.crop import crop
from styleinv_data.io.encode import write_mp4
from styleinv_data.io.synthetic import render_moving_box_frames


def _png(path, array):
    ok, buf = cv2.imencode(".png", array)
    buf.tofile(str(path))


def _build(root, add_video, small_clip):
    add_video(root, "good")
    add_video(root, "short_mask", mask_frames=6)
    add_video(root, "empty_mask", empty_mask=True)
    add_video(root, "vidéo un", seed=2)  # spaces and non-ASCII in the file name
    (root / "original" / "zero.mp4").write_bytes(b"")
    shutil.copyfile(root / "mask" / "good.mp4", root / "mask" / "zero.mp4")
    data = (root / "original" / "good.mp4").read_bytes()
    (root / "original" / "truncated.mp4").write_bytes(data[: len(data) // 2])
    shutil.copyfile(root / "mask" / "good.mp4", root / "mask" / "truncated.mp4")
    shutil.copyfile(root / "original" / "good.mp4", root / "original" / "nomask.mp4")
    # faststart mp4 cut in the middle: the header is intact, the frames are not
    pairs = list(render_moving_box_frames(small_clip(40)))
    write_mp4(root / "original" / "cut.mp4", [f for f, _ in pairs], fps=25, crf=10, faststart=True)
    cut = (root / "original" / "cut.mp4").read_bytes()
    (root / "original" / "cut.mp4").write_bytes(cut[: int(len(cut) * 0.6)])
    write_mp4(root / "mask" / "cut.mp4", [m for _, m in pairs], fps=25, crf=0, pix_fmt="yuv444p", preset="ultrafast")
    # grayscale and RGBA frame folders as source videos
    pairs = list(render_moving_box_frames(small_clip()))
    for name in ("gray_frames", "rgba_frames"):
        (root / "original" / name).mkdir()
        shutil.copyfile(root / "mask" / "good.mp4", root / "mask" / f"{name}.mp4")
    for i, (frame, _) in enumerate(pairs):
        _png(root / "original" / "gray_frames" / f"{i}.png", cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
        bgra = np.dstack([frame[..., ::-1], np.full(frame.shape[:2], 128, np.uint8)])
        _png(root / "original" / "rgba_frames" / f"{i:03d}.png", bgra)


def test_bad_inputs_batch(tmp_path, add_video, small_clip):
    root = tmp_path / "data set é"
    _build(root, add_video, small_clip)
    out = tmp_path / "out put"
    result = CliRunner().invoke(crop, [str(root), str(out), "--recipe", "faceforensics", "--size", "32", "--no-progress"])
    assert result.exit_code == 1, result.output
    status = {p.name[: -len(".status.json")]: json.loads(p.read_text()) for p in (out / "_meta").glob("*.status.json")}
    done = {k for k, s in status.items() if s["state"] == "done"}
    assert done == {"good", "short_mask", "vidéo un", "gray_frames", "rgba_frames"}
    reasons = {k: s["reason"] for k, s in status.items() if s["state"] == "failed"}
    assert "zero.mp4: empty file (0 bytes)" in reasons["zero"]
    assert "truncated.mp4: not a readable video" in reasons["truncated"]
    assert "mask is empty in all 12 frames" in reasons["empty_mask"]
    assert "FileNotFoundError: no mask for nomask" in reasons["nomask"]
    assert "decoded only" in reasons["cut"] and "truncated" in reasons["cut"]
    for vid, reason in reasons.items():  # every reason names the source file
        assert f"{vid}.mp4" in reason, reason
    assert "\n" not in "".join(reasons.values())
    for vid in done:
        frames = sorted((out / "frames" / vid).iterdir())
        assert len(frames) == 12 and status[vid]["counts"]["frames_out"] == 12
        with Image.open(frames[0]) as im:
            assert im.size == (32, 32) and im.mode == "RGB"
    for vid in reasons:
        assert not (out / "frames" / vid).exists()  # nothing written under a failed video's name
    assert not any((out / "_meta" / "partial").iterdir()) if (out / "_meta" / "partial").exists() else True
    counts = status["short_mask"]["counts"]
    assert (counts["mask_frames"], counts["missing_mask"], counts["interpolated"]) == (6, 6, 6)
    summary = json.loads((out / "_meta" / "summary.json").read_text())
    assert (summary["done"], summary["failed"], summary["skipped"]) == (5, 5, 0)
    assert "5 done, 0 skipped, 5 failed" in result.output
    # gray source: the three channels are equal
    gray = np.asarray(Image.open(out / "frames" / "gray_frames" / "000000.jpg")).astype(int)
    assert np.abs(gray[..., 0] - gray[..., 2]).max() <= 6

    # a re-run redoes the failed ones only (still failing), skips the done ones
    again = CliRunner().invoke(crop, [str(root), str(out), "--recipe", "faceforensics", "--size", "32", "--no-progress"])
    assert again.exit_code == 1
    assert "0 done, 5 skipped, 5 failed" in again.output


@pytest.mark.parametrize("box_mode", ["per-frame", "video-union"])
def test_more_frames_than_the_header_says_fails_instead_of_dropping(tmp_path, add_video, monkeypatch, box_mode):
    """A header that under-counts frames (seen in broken files) must not silently drop the extra frames."""
    import dataclasses

    from styleinv_data.pipeline import runner
    from styleinv_data.pipeline.recipe import build_recipe

    add_video(tmp_path / "data", "liar")
    real_probe = runner.probe_source
    monkeypatch.setattr(runner, "probe_source", lambda p: dataclasses.replace(real_probe(p), num_frames=10))
    recipe = build_recipe("faceforensics", flags={"input.root": str(tmp_path / "data"), "output.root": str(tmp_path / "out"),
                                                  "output.size": 16, "crop.box_mode": box_mode, "run.progress": False})
    summary = runner.run_batch(recipe, echo=lambda s: None)
    assert summary.failed == 1
    status = json.loads((tmp_path / "out" / "_meta" / "liar.status.json").read_text())
    assert "more frames than the 10 its header declares" in status["reason"]
    assert not (tmp_path / "out" / "liar").exists()


def test_usage_error_creates_no_output_folder(tmp_path):
    """A crop whose input does not exist stops before writing anything (no OUT/_meta/recipe.yaml)."""
    from click.testing import CliRunner

    from styleinv_data.cli import main

    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["crop", str(tmp_path / "nonexistent"), str(out), "--recipe", "faceforensics",
                                       "--no-progress"])
    assert result.exit_code == 2 and "nonexistent: input root is not a directory" in result.output
    assert not out.exists()



def test_full_disk_names_the_output_path_and_the_fix(tmp_path, add_video, monkeypatch):
    import errno

    from styleinv_data.pipeline import runner

    root = tmp_path / "data"
    add_video(root, "v0")
    out = tmp_path / "out"
    target = out / "_meta" / "partial" / "v0" / "000003.jpg"

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(runner, "render_segments", full_disk)
    monkeypatch.setattr(runner, "render_streamed", full_disk)
    result = CliRunner().invoke(crop, [str(root), str(out), "--recipe", "faceforensics", "--size", "32", "--no-progress"])
    assert result.exit_code == 1
    line = next(l for l in result.output.splitlines() if l.startswith("failed: v0"))
    assert f"no space left on the device writing {target}" in line and "free space on it" in line

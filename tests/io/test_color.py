"""Grayscale, RGBA and 16-bit inputs (arrays, frame folders, videos) all become RGB8."""

from __future__ import annotations

import subprocess

import cv2
import numpy as np
import pytest

from styleinv_data.io import iter_source_frames, probe_source, to_gray8, to_rgb8
from styleinv_data.io.ffmpeg_bin import ffmpeg_executable
from styleinv_data.io.frames_dir import list_frame_files


def test_to_rgb8_kinds():
    gray = np.array([[0, 128], [255, 7]], np.uint8)
    assert to_rgb8(gray).shape == (2, 2, 3) and np.array_equal(to_rgb8(gray)[..., 1], gray)
    rgba = np.dstack([gray, gray, gray, np.zeros_like(gray)])
    assert np.array_equal(to_rgb8(rgba), np.dstack([gray] * 3))
    g16 = gray.astype(np.uint16) * 257
    assert np.array_equal(to_rgb8(g16)[..., 0], gray)
    assert to_rgb8(np.full((2, 2), 0.5, np.float32))[0, 0, 0] == 128
    assert np.array_equal(to_gray8(np.dstack([gray] * 3)), gray)
    with pytest.raises(ValueError, match="shape"):
        to_rgb8(np.zeros((2, 2, 5), np.uint8))


def _write_png(path, array):
    ok, buf = cv2.imencode(".png", array)
    assert ok
    buf.tofile(str(path))


def test_frame_folder_gray_rgba_16bit(tmp_path):
    folder = tmp_path / "frames dossier é"
    folder.mkdir()
    gray = (np.arange(24 * 32).reshape(24, 32) % 256).astype(np.uint8)
    _write_png(folder / "1.png", gray)  # gray
    bgra = np.dstack([gray, gray // 2, gray // 3, np.full_like(gray, 100)])
    _write_png(folder / "2.png", bgra)  # RGBA (cv2 writes BGRA order)
    _write_png(folder / "10.png", (gray.astype(np.uint16) * 257))  # 16-bit gray
    rgb16 = np.dstack([gray, gray, gray]).astype(np.uint16) * 257
    _write_png(folder / "11.png", rgb16)  # 16-bit colour
    cv2.imwrite(str(tmp_path / "x.jpg"), gray)
    (folder / "notes.txt").write_text("ignored")
    assert [p.name for p in list_frame_files(folder)] == ["1.png", "2.png", "10.png", "11.png"]
    info = probe_source(folder)
    assert (info.kind, info.width, info.height, info.num_frames) == ("frames", 32, 24, 4)
    frames = list(iter_source_frames(folder))
    assert all(f.shape == (24, 32, 3) and f.dtype == np.uint8 for f in frames)
    assert np.array_equal(frames[0][..., 0], gray)
    assert np.array_equal(frames[1][..., 0], gray // 3) and np.array_equal(frames[1][..., 2], gray)  # RGB order
    assert np.array_equal(frames[2][..., 2], gray)
    assert np.array_equal(frames[3][..., 1], gray)


def _ffmpeg_video(path, frames: np.ndarray, in_pix_fmt: str, codec_args: list[str]) -> None:
    n, h, w = frames.shape[:3]
    cmd = [ffmpeg_executable(), "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", in_pix_fmt,
           "-s", f"{w}x{h}", "-r", "10", "-i", "pipe:", *codec_args, str(path)]
    subprocess.run(cmd, input=frames.tobytes(), check=True)


@pytest.mark.parametrize(
    "name, in_pix_fmt, channels, dtype, codec_args",
    [
        ("gray.mkv", "gray", 1, np.uint8, ["-c:v", "ffv1", "-pix_fmt", "gray"]),
        ("rgba.mov", "rgba", 4, np.uint8, ["-c:v", "png", "-pix_fmt", "rgba"]),
        ("gray16.mkv", "gray16le", 1, np.uint16, ["-c:v", "ffv1", "-pix_fmt", "gray16le"]),
        ("rgb48.mkv", "rgb48le", 3, np.uint16, ["-c:v", "ffv1", "-pix_fmt", "rgb48le"]),
    ],
)
def test_videos_of_any_pixel_format_decode_to_rgb8(tmp_path, name, in_pix_fmt, channels, dtype, codec_args):
    h, w, n = 24, 32, 5
    base = (np.arange(h * w).reshape(h, w) % 256).astype(np.uint8)
    planes = [base, base // 2, base // 3, np.full_like(base, 200)][:channels] if channels > 1 else [base]
    frame = np.dstack(planes) if channels > 1 else base
    if dtype == np.uint16:
        frame = frame.astype(np.uint16) * 257
    frames = np.stack([frame] * n)
    path = tmp_path / name
    _ffmpeg_video(path, frames, in_pix_fmt, codec_args)
    info = probe_source(path)
    assert (info.width, info.height, info.num_frames) == (w, h, n)
    decoded = list(iter_source_frames(path))
    assert len(decoded) == n
    for f in decoded:
        assert f.shape == (h, w, 3) and f.dtype == np.uint8
        assert np.abs(f[..., 0].astype(int) - base.astype(int)).max() <= 2  # red (or gray) channel preserved

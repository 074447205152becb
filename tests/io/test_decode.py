"""Streaming decode and probe: frame values, counts, bad files with clear one-line errors."""

from __future__ import annotations

import shutil

import av
import numpy as np
import pytest

from styleinv_data.io import DecodeError, iter_video_frames, probe_source
from styleinv_data.io.probe import ProbeError
from styleinv_data.io.source import iter_source_frames


def test_probe_and_stream_match_pyav(small_video):
    path, truth = small_video
    info = probe_source(path)
    assert (info.width, info.height, info.num_frames, info.kind) == (48, 32, 10, "video")
    assert info.fps == pytest.approx(10.0)
    frames = iter_video_frames(path)
    assert not isinstance(frames, list)  # a generator: one frame at a time
    decoded = list(frames)
    with av.open(str(path)) as c:
        ref = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == len(ref) == 10
    for a, b, t in zip(decoded, ref, truth):
        assert a.shape == (32, 48, 3) and a.dtype == np.uint8
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 3
        assert np.abs(a.astype(int) - t.astype(int)).mean() < 2.0


def test_gray_decode(small_video):
    path, _ = small_video
    gray = list(iter_video_frames(path, gray=True))
    assert len(gray) == 10 and gray[0].shape == (32, 48) and gray[0].dtype == np.uint8


def test_closing_the_generator_early_stops_ffmpeg(small_video):
    path, _ = small_video
    gen = iter_video_frames(path)
    next(gen)
    gen.close()  # must not hang or raise


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(ProbeError, match=r"empty\.mp4: empty file \(0 bytes\)"):
        probe_source(path)


def test_truncated_mp4(small_video, tmp_path):
    path, _ = small_video
    data = path.read_bytes()
    bad = tmp_path / "truncated.mp4"
    bad.write_bytes(data[: len(data) // 2])  # the moov atom (at the end) is cut off
    with pytest.raises(ProbeError, match=r"truncated\.mp4: not a readable video .*truncated"):
        probe_source(bad)


def test_truncated_faststart_mp4_decodes_fewer_frames(tmp_path, make_frames):
    """moov at the front: the header still promises 40 frames, the data holds fewer."""
    from styleinv_data.io.encode import write_mp4

    path = tmp_path / "fast.mp4"
    write_mp4(path, make_frames(40, 64, 48), fps=10, crf=10, faststart=True)
    data = path.read_bytes()
    bad = tmp_path / "fast_truncated.mp4"
    bad.write_bytes(data[: int(len(data) * 0.6)])
    assert probe_source(bad).num_frames == 40
    # The decoder yields the frames the data holds and stops without an error (the crop's renderer
    # compares the count with the plan and fails the video, naming it: tests/pipeline).
    frames = list(iter_video_frames(bad))
    assert 0 < len(frames) < 40
    assert all(frame.shape == (48, 64, 3) and frame.dtype == np.uint8 for frame in frames)


def test_not_a_video(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("hello")
    with pytest.raises(ProbeError, match="notes.mp4: not a readable video"):
        probe_source(bad)


def test_missing_file(tmp_path):
    with pytest.raises(ProbeError, match="no such file"):
        probe_source(tmp_path / "nope.mp4")


def test_path_with_spaces_and_non_ascii(small_video, tmp_path):
    path, _ = small_video
    folder = tmp_path / "dossier vidéo 视频"
    folder.mkdir()
    target = folder / "clip été 1.mp4"
    shutil.copyfile(path, target)
    assert probe_source(target).num_frames == 10
    assert len(list(iter_source_frames(target))) == 10


def test_decode_error_names_the_file(tmp_path, small_video):
    path, _ = small_video
    info = probe_source(path)
    bad = tmp_path / "gone.mp4"
    with pytest.raises(DecodeError, match="gone.mp4"):
        list(iter_video_frames(bad, info=info))


def test_passthrough_option_matches_the_ffmpeg_version(monkeypatch):
    from styleinv_data.io import ffmpeg_bin

    monkeypatch.setattr(ffmpeg_bin, "ffmpeg_version", lambda executable=None: (4, 4))
    assert ffmpeg_bin.passthrough_args() == {"vsync": "passthrough"}
    monkeypatch.setattr(ffmpeg_bin, "ffmpeg_version", lambda executable=None: (7, 1))
    assert ffmpeg_bin.passthrough_args() == {"fps_mode": "passthrough"}
    monkeypatch.setattr(ffmpeg_bin, "ffmpeg_version", lambda executable=None: None)
    assert ffmpeg_bin.passthrough_args() == {"fps_mode": "passthrough"}

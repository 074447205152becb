"""Decoding a short video ahead into a memory-mapped scratch file (the FFHQ crop's fast path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from styleinv_data.io.decode import DecodeError, iter_video_frames
from styleinv_data.io.decode_ahead import DecodedAhead
from styleinv_data.io.probe import VideoInfo, probe_source


def test_frames_equal_the_streamed_decode_and_no_scratch_file_is_left(small_video, tmp_path):
    path, _ = small_video
    info = probe_source(path)
    ahead = DecodedAhead(path, info, scratch_dir=str(tmp_path))
    frames = list(ahead.frames())
    streamed = list(iter_video_frames(path, info=info))
    assert len(frames) == len(streamed) == info.num_frames
    for a, b in zip(frames, streamed):
        np.testing.assert_array_equal(a, b)  # the same ffmpeg command, to a file instead of a pipe
    assert not list(tmp_path.iterdir())  # unlinked once mapped
    assert not frames[0].flags.writeable


def test_a_video_ffmpeg_cannot_decode_is_an_error_naming_it(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    info = VideoInfo(path=bad, kind="video", width=48, height=32, num_frames=10, fps=10.0)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    ahead = DecodedAhead(bad, info, scratch_dir=str(scratch))
    with pytest.raises(DecodeError, match="bad.mp4"):
        ahead.array()
    assert not list(scratch.iterdir())


def test_close_before_use_stops_ffmpeg_and_removes_the_file(small_video, tmp_path):
    path, _ = small_video
    ahead = DecodedAhead(path, probe_source(path), scratch_dir=str(tmp_path))
    ahead.close()
    assert ahead._proc.poll() is not None
    assert not list(tmp_path.iterdir())


def test_the_ffhq_strategy_decodes_ahead_only_what_fits_the_budget(small_video, tmp_path, monkeypatch):
    from styleinv_data.pipeline.ffhq_strategy import FfhqStrategy

    monkeypatch.setenv("STYLEINV_TMP", str(tmp_path))
    path, _ = small_video
    info = probe_source(path)  # 48x32x3 x 10 frames = 46 KB
    small = FfhqStrategy({"decode_ahead_mb": 0.04})  # 42 KB: too small
    assert small._start_decode_ahead(Path(path), {"info": info}) is None
    off = FfhqStrategy({"decode_ahead_mb": 0})
    assert off._start_decode_ahead(Path(path), {"info": info}) is None
    fits = FfhqStrategy({})
    ahead = fits._start_decode_ahead(Path(path), {"info": info})
    assert ahead is not None and len(ahead.array()) == 10
    assert fits._start_decode_ahead(Path(path), {"info": info, "start_sec": 0.0}) is None  # spans stream


def test_the_ffhq_strategy_streams_when_the_scratch_space_is_short_or_fails(small_video, tmp_path, monkeypatch):
    """A full /dev/shm (64 MiB in a default Docker container) must not fail a video: it streams."""
    from styleinv_data.io import decode_ahead
    from styleinv_data.pipeline.ffhq_strategy import FfhqStrategy

    path, _ = small_video
    info = probe_source(path)
    monkeypatch.setenv("STYLEINV_TMP", str(tmp_path))
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: usage(10**6, 10**6 - 1000, 1000))
    assert decode_ahead.scratch_dir_for(46080) is None
    strategy = FfhqStrategy({"min_segment": 2})
    assert strategy._start_decode_ahead(Path(path), {"info": info}) is None
    monkeypatch.undo()
    monkeypatch.setenv("STYLEINV_TMP", str(tmp_path))

    def no_space(self):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(DecodedAhead, "array", no_space)
    plan = FfhqStrategy({"min_segment": 2}).plan("grad", Path(path), info=info)
    assert plan.stats["frames"] == 10  # streamed instead (no face in these frames: no segment)
    assert not list(tmp_path.iterdir())


def test_a_model_that_fails_to_load_leaves_no_ffmpeg_and_no_scratch_file(small_video, tmp_path, monkeypatch):
    """Missing landmark weights fail the video; the decode started beside the model load is stopped."""
    from styleinv_data.pipeline import ffhq_strategy
    from styleinv_data.pipeline.ffhq_strategy import FfhqStrategy

    path, _ = small_video
    monkeypatch.setenv("STYLEINV_TMP", str(tmp_path))
    started = []
    real_init = DecodedAhead.__init__

    def recording_init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        started.append(self)

    def no_weights(faces):
        raise ValueError("dlib weights not found: shape_predictor_68_face_landmarks.dat")

    monkeypatch.setattr(DecodedAhead, "__init__", recording_init)
    monkeypatch.setattr(ffhq_strategy, "backends_for", no_weights)
    with pytest.raises(ValueError, match="weights not found"):
        FfhqStrategy({}).plan("grad", Path(path), info=probe_source(path))
    assert len(started) == 1 and started[0]._proc.poll() is not None
    assert not list(tmp_path.iterdir())

"""Sinks: folder / zip shard / mp4, written under a partial name and renamed on commit; real JPEG quality."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from styleinv_data.io import iter_source_frames, probe_source
from styleinv_data.io.writers import FolderSink, Mp4Sink, ThreadedSink, ZipShardSink, encode_image


def _frames(n=5, size=32):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    return [np.roll(base, i, axis=1) for i in range(n)]


def test_jpeg_quality_is_really_applied():
    frame = _frames(1, 64)[0]
    q95, q75 = encode_image(frame, "jpg", 95), encode_image(frame, "jpg", 75)
    assert len(q95) > len(q75) * 1.2  # StyleGAN-V's `q=95` silently produced quality 75
    back = np.asarray(Image.open(io.BytesIO(encode_image(frame, "png"))))
    assert np.array_equal(back, frame)
    with pytest.raises(ValueError, match="unknown image format"):
        encode_image(frame, "gif")


@pytest.mark.parametrize("threaded", [False, True])
def test_folder_sink_commit_and_abort(tmp_path, threaded):
    final, partial = tmp_path / "clip", tmp_path / "_meta" / "partial" / "clip"
    sink = FolderSink(final, partial, "png")
    sink = ThreadedSink(sink) if threaded else sink
    for f in _frames():
        sink.write(f)
    assert not final.exists()  # nothing under the final name before commit
    assert sink.commit() == 5
    assert sorted(p.name for p in final.iterdir()) == [f"{i:06d}.png" for i in range(5)]
    assert not partial.exists()
    again = FolderSink(tmp_path / "other", partial, "jpg")
    again.write(_frames(1)[0])
    again.abort()
    assert not partial.exists() and not (tmp_path / "other").exists()


def test_zip_shard_layout(tmp_path):
    sink = ZipShardSink(tmp_path / "a.zip", tmp_path / "partial" / "a.zip", "vid_1", "jpg", 95)
    for f in _frames(3):
        sink.write(f)
    assert sink.commit() == 3
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        assert z.namelist() == ["vid_1/000000.jpg", "vid_1/000001.jpg", "vid_1/000002.jpg"]
        assert Image.open(io.BytesIO(z.read("vid_1/000001.jpg"))).size == (32, 32)


def test_mp4_sink(tmp_path):
    sink = Mp4Sink(tmp_path / "c.mp4", tmp_path / "partial" / "c.mp4", 32, 25.0)
    for f in _frames(6):
        sink.write(f)
    assert sink.commit() == 6
    info = probe_source(tmp_path / "c.mp4")
    assert (info.width, info.height, info.num_frames) == (32, 32, 6)
    assert info.fps == pytest.approx(25.0)
    assert len(list(iter_source_frames(tmp_path / "c.mp4"))) == 6

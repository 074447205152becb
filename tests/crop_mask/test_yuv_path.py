"""The mask crop's fast decode path (in-process yuv420p planes, RGB converted inside the crop only, gray
mask from the luma plane) writes exactly the files of the RGB pipe path, and keeps its failure rules."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from styleinv_data.io import decode as decode_module
from styleinv_data.io.encode import Mp4Encoder
from styleinv_data.io.source import iter_source_frames
from styleinv_data.io.synthetic import render_moving_box_frames
from styleinv_data.pipeline import mask_strategy
from styleinv_data.pipeline.recipe import build_recipe
from styleinv_data.pipeline.runner import run_batch

from .conftest import moving_clip


@pytest.fixture(scope="module")
def yuv420_dataset(tmp_path_factory) -> Path:
    """The moving-rectangle clip as FaceForensics ships it: H.264 yuv420p video and yuv420p mask (lossy)."""
    root = tmp_path_factory.mktemp("ffs420")
    (root / "original").mkdir()
    (root / "mask").mkdir()
    clip = moving_clip()
    with Mp4Encoder(root / "original" / "clip.mp4", clip.width, clip.height, 25, crf=18) as venc, \
            Mp4Encoder(root / "mask" / "clip.mp4", clip.width, clip.height, 25, crf=18) as menc:
        for frame, mask in render_moving_box_frames(clip):
            venc.write(frame)
            menc.write(mask)
    return root


def _run(root: Path, out: Path, **flags):
    base = {"input.root": str(root), "output.root": str(out), "output.size": 48, "run.progress": False}
    base.update(flags)
    return run_batch(build_recipe("faceforensics", flags=base), echo=lambda s: None)


def _force_pipe_path(monkeypatch) -> None:
    """The path every source took before: RGB24 video and gray mask through ffmpeg pipes."""
    monkeypatch.setattr(mask_strategy.MaskStrategy, "open_render_frames", lambda self: None)
    monkeypatch.setattr(mask_strategy.MaskStrategy, "_mask_frames",
                        lambda self, path, info: iter_source_frames(path, gray=True, threads=1, info=info))


@pytest.mark.parametrize(
    "flags",
    [
        {},  # per-frame boxes: streamed planning, JPEG
        {"output.image_format": "png", "crop.pad_mode": "constant", "crop.pad_value": 90},
        {"crop.box_mode": "smoothed"},  # full planning pass, then render_segments
    ],
)
def test_fast_path_writes_the_same_files_as_the_rgb_pipe(yuv420_dataset, tmp_path, monkeypatch, flags):
    calls: list[str] = []
    real_av = decode_module.iter_video_frames_av

    def spy(path, **kw):
        calls.append(f"{Path(path).parent.name}:{kw['pix_fmt']}")
        return real_av(path, **kw)

    monkeypatch.setattr(mask_strategy, "iter_video_frames_av", spy)
    fast = _run(yuv420_dataset, tmp_path / "fast", **flags)
    assert (fast.done, fast.failed) == (1, 0)
    assert sorted(calls) == ["mask:gray", "original:yuv420p"]  # both decodes took the fast path

    _force_pipe_path(monkeypatch)
    slow = _run(yuv420_dataset, tmp_path / "slow", **flags)
    assert (slow.done, slow.failed) == (1, 0)
    fast_files = sorted((tmp_path / "fast" / "frames" / "clip").iterdir())
    slow_files = sorted((tmp_path / "slow" / "frames" / "clip").iterdir())
    assert len(fast_files) == len(slow_files) == 36
    assert [f.name for f in fast_files] == [f.name for f in slow_files]
    for a, b in zip(fast_files, slow_files):
        assert a.read_bytes() == b.read_bytes(), a.name  # byte for byte: same RGB crops, same encoder
    plan_fast = json.loads((tmp_path / "fast" / "_meta" / "clip.plan.json").read_text())
    plan_slow = json.loads((tmp_path / "slow" / "_meta" / "clip.plan.json").read_text())
    assert plan_fast == plan_slow
    status_fast = json.loads((tmp_path / "fast" / "_meta" / "clip.status.json").read_text())
    status_slow = json.loads((tmp_path / "slow" / "_meta" / "clip.status.json").read_text())
    assert status_fast["counts"] == status_slow["counts"]
    assert status_fast["counts"]["square_outside_image"] >= 10  # the padding is really exercised


@pytest.mark.parametrize("declared, message", [(10, "more frames than the 10 its header declares"),
                                                (50, "decoded only 36 of the 50 frames")])
def test_fast_path_keeps_the_frame_count_rules(yuv420_dataset, tmp_path, monkeypatch, declared, message):
    from styleinv_data.pipeline import runner

    real_probe = runner.probe_source
    monkeypatch.setattr(runner, "probe_source", lambda p: dataclasses.replace(real_probe(p), num_frames=declared))
    summary = _run(yuv420_dataset, tmp_path / "out")
    assert summary.failed == 1
    status = json.loads((tmp_path / "out" / "_meta" / "clip.status.json").read_text())
    assert message in status["reason"]
    assert not (tmp_path / "out" / "clip").exists()


def test_other_sources_keep_the_rgb_pipe(moving_dataset):
    """The lossless yuv444p test clips (and frame folders, odd sizes, full range, ...) are decoded as before."""
    root, _clip = moving_dataset
    recipe = build_recipe("faceforensics", flags={"input.root": str(root), "output.root": str(root / "unused")})
    strategy = mask_strategy.MaskStrategy(dict(mask_strategy.MASK_DEFAULTS), recipe)
    from styleinv_data.io.probe import probe_source

    info = probe_source(root / "original" / "clip.mp4")
    assert info.pix_fmt == "yuv444p"
    strategy._video = (root / "original" / "clip.mp4", info)
    assert strategy.open_render_frames() is None
    masks = strategy._mask_frames(root / "mask" / "clip.mp4", probe_source(root / "mask" / "clip.mp4"))
    first = next(iter(masks))
    assert first.ndim == 2 and first.dtype == np.uint8

"""The single-pass (streamed) per-frame plan equals the two-pass plan, gaps and short masks included."""

from __future__ import annotations

import numpy as np

from styleinv_data.io.encode import write_mp4
from styleinv_data.io.probe import probe_source
from styleinv_data.io.synthetic import MovingBoxClip, linear_path, render_moving_box_frames
from styleinv_data.pipeline.mask_strategy import MaskStrategy
from styleinv_data.pipeline.recipe import build_recipe


def test_streamed_plan_equals_full_plan(tmp_path):
    n = 20
    clip = MovingBoxClip(64, 48, linear_path((2, 4, 20, 30), (40, 10, 62, 40), n))
    pairs = list(render_moving_box_frames(clip))
    masks = [m for _, m in pairs][:16]  # the mask video is 4 frames short
    for i in (0, 1, 7, 8, 9, 15):  # empty masks: at the start, a gap in the middle, the last mask frame
        masks[i] = np.full_like(masks[i], 255)
    write_mp4(tmp_path / "v.mp4", [f for f, _ in pairs], fps=25, crf=0, pix_fmt="yuv444p", preset="ultrafast")
    write_mp4(tmp_path / "m.mp4", masks, fps=25, crf=0, pix_fmt="yuv444p", preset="ultrafast")
    recipe = build_recipe("faceforensics")
    strategy = MaskStrategy(dict(recipe.strategies["mask"]), recipe)
    info = probe_source(tmp_path / "v.mp4")
    inputs = {"info": info, "mask_path": str(tmp_path / "m.mp4"), "previous_plan": None}
    full = strategy.plan("v", tmp_path / "v.mp4", **inputs)
    streamed = list(strategy.plan_stream("v", tmp_path / "v.mp4", **inputs))
    assert [f.frame_index for f in streamed] == list(range(n))
    assert [f.source for f in streamed] == [f.source for f in full.frames]
    assert np.allclose([f.box_xyxy for f in streamed], [f.box_xyxy for f in full.frames])
    assert strategy.streamed_plan.stats == full.stats
    assert full.stats["empty_mask"] == 6 and full.stats["missing_mask"] == 4 and full.stats["interpolated"] == 10
    # the middle gap is interpolated between frames 6 and 10
    mid = np.array(full.frames[8].box_xyxy)
    assert np.allclose(mid, (np.array(full.frames[6].box_xyxy) + np.array(full.frames[10].box_xyxy)) / 2)

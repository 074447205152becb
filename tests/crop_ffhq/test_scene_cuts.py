"""Scene cuts in the FFHQ crop: a clip made of two real shots (the astronaut photo moving smoothly,
then the carphone video, both 640x480) must split at the cut (within 1 frame), record the cut in
the plan and status sidecars, and the crop of the second shot must not drift from the first: it
equals (within 8 output pixels at 256, the fast-motion bound) the crop of the second shot alone."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from styleinv_data.crop.ffhq import ffhq_quad
from styleinv_data.io.synthetic_motion import make_trajectory, render_face_motion
from styleinv_data.pipeline.ffhq_strategy import FfhqOptions, plan_frames

SHOT = 30  # frames per shot; the cut is at frame 30
MAX_CORNER_ERROR_PX = 8.0  # at 256


@pytest.fixture(scope="module")
def shots(carphone_path):
    import av

    first, _ = render_face_motion(make_trajectory("smooth", num_frames=SHOT))
    with av.open(str(carphone_path)) as container:
        second = [cv2.resize(f.to_ndarray(format="rgb24"), (640, 480), interpolation=cv2.INTER_CUBIC)
                  for _, f in zip(range(SHOT), container.decode(video=0))]
    return first, second


def _corner_error_256(plan_a, plan_b, frames) -> float:
    worst = 0.0
    by_index = {f.frame_index: f for f in plan_b.frames}
    for f in plan_a.frames:
        if f.frame_index in frames and f.frame_index - SHOT in by_index:
            qa, qb = np.asarray(f.quad), np.asarray(by_index[f.frame_index - SHOT].quad)
            side = float(np.hypot(*(qb[3] - qb[0])))
            worst = max(worst, float(np.max(np.hypot(*(qa - qb).T))) * 256 / side)
    return worst


def test_the_crop_splits_at_the_cut_and_does_not_drift_across_it(shots):
    first, second = shots
    options = FfhqOptions.from_dict({})
    plan = plan_frames("clip", first + second, options)
    cuts = plan.stats["scene_cuts"]
    assert len(cuts) == 1 and abs(cuts[0] - SHOT) <= 1, cuts
    assert plan.stats["cuts"] == 1 and plan.stats["restarts_at_cuts"] == 1
    assert all(s.stop <= cuts[0] or s.start >= cuts[0] for s in plan.segments), plan.segments
    after = [s for s in plan.segments if s.start >= cuts[0]]
    assert after and [s.out_id for s in plan.segments] == ["clip_s0", "clip_s1"]
    alone = plan_frames("second", second, options)  # the second shot cropped on its own
    written = {i for s in after for i in range(s.start, s.stop)}
    assert len(written) >= SHOT - 2
    assert _corner_error_256(plan, alone, written) <= MAX_CORNER_ERROR_PX


def test_cut_is_recorded_in_the_status_and_can_be_turned_off(shots, tmp_path):
    from styleinv_data.io.encode import write_mp4
    from styleinv_data.pipeline.recipe import build_recipe
    from styleinv_data.pipeline.runner import run_batch

    first, second = shots
    videos = tmp_path / "videos"
    videos.mkdir()
    write_mp4(videos / "cut.mp4", np.stack(first + second), fps=25, crf=16)
    flags = {"input.root": str(videos), "output.root": str(tmp_path / "out"), "output.size": 64,
             "strategies.ffhq.dataset": "videos",
             "run.progress": False}
    summary = run_batch(build_recipe("deeperforensics", flags=flags), echo=lambda s: None)
    assert summary.done == 1, summary.failures
    status = json.loads((tmp_path / "out" / "_meta" / "cut.status.json").read_text())
    assert [o["out_id"] for o in status["outputs"]] == ["cut_s0", "cut_s1"]
    assert len(status["counts"]["scene_cuts"]) == 1 and abs(status["counts"]["scene_cuts"][0] - SHOT) <= 1
    assert status["outputs"][1]["source_start"] >= status["counts"]["scene_cuts"][0]
    off = {**flags, "output.root": str(tmp_path / "off"), "strategies.ffhq.scene_cuts": False}
    run_batch(build_recipe("deeperforensics", flags=off), echo=lambda s: None)
    status_off = json.loads((tmp_path / "off" / "_meta" / "cut.status.json").read_text())
    assert status_off["counts"]["scene_cuts"] == [] and status_off["counts"]["cuts"] == 0


def test_bad_scene_cut_options_are_one_error_before_any_video(tmp_path):
    """The strategy's options are checked once, before the batch: a bad value is a one-line error
    and nothing is written."""
    from click.testing import CliRunner

    from styleinv_data.cli import main

    for folder in ("original", "mask"):
        (tmp_path / "in" / folder).mkdir(parents=True)
    (tmp_path / "in" / "original" / "v0.mp4").write_bytes(b"")
    result = CliRunner().invoke(main, ["crop", str(tmp_path / "in"), str(tmp_path / "out"), "--recipe",
                                       "faceforensics", "--scene-cuts", "--set", "strategies.mask.scene_cut_min_len=0",
                                       "--no-progress"])
    assert result.exit_code != 0 and "min_scene_len >= 1" in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_the_mask_strategy_splits_at_cuts_when_asked(carphone_path, tmp_path):
    """--scene-cuts for the mask strategy (off by default): two shots (carphone, then the astronaut
    clip, at carphone's size) with a mask box each; the crop splits at the cut and the video-union
    square is taken per shot, never across the cut."""
    import av
    from click.testing import CliRunner

    from styleinv_data.cli import main
    from styleinv_data.crop.square import square_from_box
    from styleinv_data.io.encode import write_mp4

    with av.open(str(carphone_path)) as container:
        first = [f.to_ndarray(format="rgb24") for _, f in zip(range(SHOT), container.decode(video=0))]
    second = [cv2.resize(f, (176, 144), interpolation=cv2.INTER_AREA)
              for f in render_face_motion(make_trajectory("smooth", num_frames=SHOT))[0]]
    boxes = [(56, 16, 120, 80)] * SHOT + [(60, 30, 100, 70)] * SHOT
    masks = []
    for x0, y0, x1, y1 in boxes:
        mask = np.full((144, 176), 255, np.uint8)
        mask[y0:y1, x0:x1] = 0
        masks.append(mask)
    for folder in ("original", "mask"):
        (tmp_path / "in" / folder).mkdir(parents=True)
    write_mp4(tmp_path / "in" / "original" / "v.mp4", first + second, fps=25, crf=0, pix_fmt="yuv444p",
              preset="ultrafast")
    write_mp4(tmp_path / "in" / "mask" / "v.mp4", masks, fps=25, crf=0, pix_fmt="yuv444p", preset="ultrafast")
    args = ["crop", str(tmp_path / "in"), "--recipe", "faceforensics", "--size", "32", "--box-mode", "video-union",
            "--no-progress"]
    result = CliRunner().invoke(main, [*args[:2], str(tmp_path / "cuts"), *args[2:], "--scene-cuts"])
    assert result.exit_code == 0, result.output
    status = json.loads((tmp_path / "cuts" / "_meta" / "v.status.json").read_text())
    cut = status["counts"]["scene_cuts"]
    assert len(cut) == 1 and abs(cut[0] - SHOT) <= 1
    assert [o["out_id"] for o in status["outputs"]] == ["v_s0", "v_s1"]
    plan = json.loads((tmp_path / "cuts" / "_meta" / "v.plan.json").read_text())
    squares = {tuple(f["box_xyxy"]) for f in plan["frames"] if f["frame_index"] < cut[0] - 1}
    assert squares == {tuple(square_from_box(boxes[0]))}  # shot 1's union only
    result = CliRunner().invoke(main, [*args[:2], str(tmp_path / "plain"), *args[2:]])
    plain = json.loads((tmp_path / "plain" / "_meta" / "v.status.json").read_text())
    assert [o["out_id"] for o in plain["outputs"]] == ["v"] and plain["counts"]["cuts"] == 0  # off by default

"""Recipes for DeeperForensics, CelebV-HQ and SkyTimelapse, and their source selection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from styleinv_data.cli import main
from styleinv_data.io.encode import write_mp4
from styleinv_data.pipeline.recipe import RecipeError, build_recipe
from styleinv_data.pipeline.runner import discover_tasks
from styleinv_data.sources.celebvhq import load_celebvhq_info, span_to_frames
from styleinv_data.sources.deeperforensics import is_selected


@pytest.mark.parametrize("path, selected", [
    ("M004/light_uniform/happy/camera_front/M004_happy.mp4", True),
    ("W101_light_uniform_camera_front_neutral.mp4", True),
    ("W101/Front-Camera/Uniform-Light/take1.mp4", True),
    ("M004/light_uniform/happy/camera_left/M004_happy.mp4", False),
    ("M004/light_left/happy/camera_front/M004_happy.mp4", False),
    ("M004/light_uniform/happy/camera_frontal_down/x.mp4", False),
    ("M004/uniformity/camera_front/x.mp4", False),
])
def test_deeperforensics_selection_rule(path, selected):
    assert is_selected(Path(path)) is selected


def test_deeperforensics_recipe_discovers_only_front_uniform(tmp_path):
    for rel in ("A/light_uniform/camera_front/a.mp4", "A/light_uniform/camera_down/a.mp4",
                "B/light_right/camera_front/b.mp4", "B/light_uniform/camera_front/b.mp4"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    recipe = build_recipe("deeperforensics", flags={"input.root": str(tmp_path), "output.root": str(tmp_path / "o")})
    tasks = discover_tasks(recipe)
    assert [t.video_id for t in tasks] == ["A__light_uniform__camera_front__a", "B__light_uniform__camera_front__b"]


def test_celebvhq_info_and_time_spans(tmp_path):
    info = {"meta_info": {}, "clips": {
        "abc_1": {"ytb_id": "abc", "duration": {"start_sec": 1.0, "end_sec": 2.0}, "bbox": {}, "attributes": {}},
        "abc_0": {"ytb_id": "abc", "duration": {"start_sec": 0.0, "end_sec": 0.5}, "bbox": {}, "attributes": {}},
    }}
    path = tmp_path / "celebvhq_info.json"
    path.write_text(json.dumps(info))
    clips = load_celebvhq_info(path)
    assert [(c.clip_id, c.ytb_id, c.start_sec, c.end_sec) for c in clips] == [("abc_0", "abc", 0.0, 0.5),
                                                                               ("abc_1", "abc", 1.0, 2.0)]
    assert span_to_frames(1.0, 2.0, 25.0, 100) == (25, 50)
    assert span_to_frames(1.0, 9.0, 25.0, 100) == (25, 100)
    assert span_to_frames(0.99, 1.01, 30.0, None) == (30, 31)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"clips": {"x": {"ytb_id": "x", "duration": {"start_sec": 3, "end_sec": 1}}}}))
    with pytest.raises(RecipeError, match="bad.json: clip 'x' has an empty or negative time span"):
        load_celebvhq_info(bad)
    with pytest.raises(RecipeError, match="missing.json: cannot read CelebV-HQ info"):
        load_celebvhq_info(tmp_path / "missing.json")


def test_celebvhq_clip_is_cut_by_its_span_then_aligned(tmp_path, moving_face_frames):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_mp4(raw / "yt1.mp4", moving_face_frames[:30], fps=25, crf=10, preset="ultrafast")
    info = {"clips": {"yt1_0": {"ytb_id": "yt1", "duration": {"start_sec": 0.4, "end_sec": 1.0}},
                      "gone_0": {"ytb_id": "gone", "duration": {"start_sec": 0.0, "end_sec": 1.0}}}}
    (raw / "celebvhq_info.json").write_text(json.dumps(info))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["crop", str(raw), str(out), "--recipe", "celebvhq", "--size", "64",
                                       "--no-progress", "--set", "strategies.ffhq.min_segment=4"])
    status = json.loads((out / "_meta" / "yt1_0.status.json").read_text())
    assert status["state"] == "done", status
    assert [{k: v for k, v in o.items() if k != "quality"} for o in status["outputs"]] == [{"out_id": "yt1_0", "frames": 15, "source_start": 10, "source_stop": 25}]
    assert len(list((out / "frames" / "yt1_0").glob("*.jpg"))) == 15
    missing = json.loads((out / "_meta" / "gone_0.status.json").read_text())
    assert missing["state"] == "failed" and "gone" in missing["reason"]
    assert result.exit_code in (0, 1)
    # Re-cropping a clip from its saved landmarks keeps the clip's place in the source video.
    CliRunner().invoke(main, ["crop", str(raw), str(out), "--recipe", "celebvhq", "--size", "64", "--no-progress",
                              "--set", "strategies.ffhq.min_segment=4", "--reuse-landmarks", "--overwrite"])
    again = json.loads((out / "_meta" / "yt1_0.status.json").read_text())
    assert again["state"] == "done" and again["counts"]["reused_plan"] is True
    assert again["outputs"] == status["outputs"]


def test_skytimelapse_recipe_resizes_whole_frames(tmp_path):
    from PIL import Image

    folder = tmp_path / "sky" / "clip1"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (40, 60, 3), dtype=np.uint8) for _ in range(3)]
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{i:05d}.png")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["crop", str(tmp_path / "sky"), str(out), "--recipe", "skytimelapse",
                                       "--size", "32", "--image-format", "png", "--no-progress"])
    assert result.exit_code == 0, result.output
    written = sorted((out / "frames" / "clip1").glob("*.png"))
    assert len(written) == 3
    import cv2

    expected = cv2.resize(frames[1], (32, 32), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(np.asarray(Image.open(written[1])), expected)


def test_recipe_options_are_all_known_ffhq_options():
    from styleinv_data.pipeline.ffhq_strategy import FFHQ_DEFAULTS

    for name in ("deeperforensics", "celebvhq"):
        recipe = build_recipe(name)
        assert recipe.strategy == "ffhq"
        assert set(recipe.strategy_options("ffhq")) <= set(FFHQ_DEFAULTS)

"""The strategy registry (a plug-in strategy runs through the whole pipeline) and the CLI surface."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from click.testing import CliRunner

from styleinv_data.cli import main
from styleinv_data.pipeline.recipe import RecipeError, build_recipe
from styleinv_data.pipeline.runner import run_batch
from styleinv_data.pipeline.strategies import available_strategies, get_strategy_spec, resolve_options

PLUGIN = textwrap.dedent('''
    from styleinv_data.crop.plan import CropPlan, FramePlan, Segment
    from styleinv_data.crop.square import render_square
    from styleinv_data.pipeline.strategies import register_strategy

    class CentreSquare:
        name = "centre"
        def __init__(self, options, recipe):
            self.scale = float(options["scale"])
        def plan(self, video_id, video_path, **inputs):
            info = inputs["info"]
            s = min(info.width, info.height) * self.scale
            box = ((info.width - s) / 2, (info.height - s) / 2, (info.width + s) / 2, (info.height + s) / 2)
            frames = [FramePlan(i, "metadata", box_xyxy=box) for i in range(info.num_frames)]
            half = info.num_frames // 2
            return CropPlan(video_id, self.name, frames,
                            [Segment(video_id + "_s0", 0, half), Segment(video_id + "_s1", half, info.num_frames)],
                            params={"scale": self.scale}, stats={"custom": 1}, source_size=(info.width, info.height))
        def render(self, frame_rgb, frame_plan, size):
            return render_square(frame_rgb, frame_plan.box_xyxy, size)

    register_strategy("centre", lambda options, recipe: CentreSquare(options, recipe), defaults={"scale": 1.0})
''')


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    (tmp_path / "my_centre_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_centre_plugin"
    sys.modules.pop("my_centre_plugin", None)


def test_plugin_strategy_runs_end_to_end(plugin_module, good_dataset, tmp_path):
    recipe = build_recipe(None, overrides=[f"plugins=[{plugin_module}]", "strategies.centre.scale=0.5"], flags={
        "strategy": "centre", "input.root": str(good_dataset), "input.video_dir": "original",
        "output.root": str(tmp_path / "out"), "output.size": 16, "run.progress": False})
    summary = run_batch(recipe, echo=lambda s: None)
    assert (summary.done, summary.failed) == (3, 0)
    status = json.loads((tmp_path / "out" / "_meta" / "v0.status.json").read_text())
    assert [o["out_id"] for o in status["outputs"]] == ["v0_s0", "v0_s1"]
    assert status["counts"]["custom"] == 1 and status["params"]["options"] == {"scale": 0.5}
    assert len(list((tmp_path / "out" / "frames" / "v0_s1").iterdir())) == 6
    plan = json.loads((tmp_path / "out" / "_meta" / "v0.plan.json").read_text())
    assert plan["frames"][0]["box_xyxy"] == [20.0, 12.0, 44.0, 36.0]


def test_unknown_strategy_and_option():
    assert {"mask", "box"} <= set(available_strategies())
    with pytest.raises(RecipeError, match="unknown crop strategy 'nope'; available: .*mask"):
        get_strategy_spec("nope")
    recipe = build_recipe(None, overrides=["strategies.mask.colour=1"])
    with pytest.raises(RecipeError, match=r"strategies.mask: unknown option\(s\) colour; allowed: .*polarity"):
        resolve_options(get_strategy_spec("mask"), recipe)


def test_cli_help_and_strategy_flags():
    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0 and "crop" in top.output
    helptext = runner.invoke(main, ["crop", "--help"]).output
    for flag in ("--recipe", "--set", "--box-mode", "--layout", "--jobs", "--backend", "--scheduler", "--overwrite",
                 "--reuse-landmarks", "--polarity", "--threshold", "--mask-dir", "--metadata"):
        assert flag in helptext


def test_cli_flags_reach_the_recipe(good_dataset, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["crop", str(good_dataset), str(out), "--recipe", "faceforensics",
                                       "--polarity", "bright", "--threshold", "7", "--size", "16", "--jobs", "2",
                                       "--limit", "1", "--no-progress"])
    # bright polarity on dark-face masks: the whole frame is "face" -> still done, box = whole frame
    assert result.exit_code == 0, result.output
    status = json.loads((out / "_meta" / "v0.status.json").read_text())
    assert status["params"]["options"]["polarity"] == "bright" and status["params"]["options"]["threshold"] == 7
    recipe_yaml = (out / "_meta" / "recipe.yaml").read_text()
    assert "polarity: bright" in recipe_yaml and "jobs: 2" in recipe_yaml


def test_cli_usage_error_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["crop", str(tmp_path / "nowhere"), str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "input root is not a directory" in result.output

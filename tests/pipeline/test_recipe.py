"""Recipes: YAML defaults, --set overrides, flags, validation with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from styleinv_data.pipeline.recipe import CropRecipe, RecipeError, build_recipe, parse_override, recipe_from_dict

REPO = Path(__file__).resolve().parents[2]


def test_shipped_recipes_load_and_validate():
    ffs = build_recipe(REPO / "pipelines" / "faceforensics.yaml")
    assert (ffs.strategy, ffs.input.video_dir, ffs.output.size, ffs.output.jpeg_quality) == ("mask", "original", 256, 95)
    assert ffs.strategies["mask"]["polarity"] == "dark" and ffs.strategies["mask"]["threshold"] == 5.0
    taichi = build_recipe("taichi")  # by name, from pipelines/
    assert taichi.strategy == "box" and taichi.strategies["box"]["metadata"] == "taichi-metadata.csv"


def test_precedence_defaults_yaml_set_flags(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("output:\n  size: 128\n  layout: zip\ncrop:\n  box_mode: smoothed\n")
    r = build_recipe(path, overrides=["output.size=64", "crop.smooth_sigma=1.5", "strategies.mask.threshold=9"],
                     flags={"output.size": 32, "run.jobs": None})
    assert r.output.size == 32  # flag beats --set beats YAML
    assert r.output.layout == "zip" and r.crop.box_mode == "smoothed" and r.crop.smooth_sigma == 1.5
    assert r.strategies["mask"]["threshold"] == 9
    assert r.run.jobs == 1  # None = flag not given
    assert r.output.jpeg_quality == CropRecipe().output.jpeg_quality


def test_round_trip_yaml(tmp_path):
    r = build_recipe("faceforensics", overrides=["run.jobs=3"])
    path = tmp_path / "resolved.yaml"
    path.write_text(r.to_yaml())
    assert build_recipe(path) == r


@pytest.mark.parametrize(
    "data, message",
    [
        ({"output": {"sise": 3}}, r"unknown key\(s\) output.sise"),
        ({"colour": 1}, r"unknown key\(s\) colour"),
        ({"output": {"layout": "tar"}}, r"output.layout='tar': use one of frames, zip, mp4"),
        ({"crop": {"box_mode": "wobbly"}}, "crop.box_mode"),
        ({"output": {"jpeg_quality": 101}}, "jpeg_quality"),
        ({"run": {"backend": "dask"}}, "needs run.scheduler"),
        ({"output": {"layout": "mp4", "size": 255}}, "even size"),
    ],
)
def test_invalid_values_fail_with_the_key(data, message):
    with pytest.raises(RecipeError, match=message):
        recipe_from_dict(data).validate()


def test_parse_override():
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("x=[1, 2]") == (["x"], [1, 2])
    assert parse_override("s=hello world") == (["s"], "hello world")
    with pytest.raises(RecipeError, match="KEY=VALUE"):
        parse_override("nokey")


def test_missing_recipe_file():
    with pytest.raises(RecipeError, match="nope.yaml: recipe not found"):
        build_recipe("nope.yaml")

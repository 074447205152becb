"""Output layouts (frames / zip / mp4), resume, --overwrite and --reuse-plan."""

from __future__ import annotations

import json
import zipfile

import pytest

from styleinv_data.crop.plan import CropPlan
from styleinv_data.io import probe_source
from styleinv_data.pipeline.recipe import build_recipe
from styleinv_data.pipeline.runner import run_batch


def _run(root, out, *overrides, **flags):
    base = {"input.root": str(root), "output.root": str(out), "output.size": 32, "run.progress": False}
    base.update(flags)
    return run_batch(build_recipe("faceforensics", overrides=list(overrides), flags=base), echo=lambda s: None)


def test_zip_layout_and_resume_rebuilds_the_zip(good_dataset, tmp_path):
    out = tmp_path / "out"
    s = _run(good_dataset, out, **{"output.layout": "zip", "run.limit": 2})
    assert (s.done, s.failed) == (2, 0)
    with zipfile.ZipFile(out / "frames.zip") as z:
        names = [i.filename for i in z.infolist() if not i.is_dir()]
        dirs = [i.filename for i in z.infolist() if i.is_dir()]
    assert len(names) == 24 and names[0] == "frames/v0/000000.jpg" and names[-1] == "frames/v1/000011.jpg"
    assert dirs == ["frames/", "frames/v0/", "frames/v1/"]
    s = _run(good_dataset, out, **{"output.layout": "zip"})
    assert (s.done, s.skipped) == (1, 2)
    with zipfile.ZipFile(out / "frames.zip") as z:
        names = [i.filename for i in z.infolist() if not i.is_dir()]
        assert len(names) == 36 and "frames/v2/000011.jpg" in names
        _check_stylegan_v_zip_contract(z.namelist())
        first = z.read("frames/v1/000003.jpg")
    from styleinv_data.manifest import build_manifest
    from styleinv_data.manifest.storage import FrameStore

    manifest = build_manifest(out)  # our own reader takes the top folder in its stride
    assert [(r.id, r.path, r.frame_count) for r in manifest.records] == \
        [("v0", "frames/v0", 12), ("v1", "frames/v1", 12), ("v2", "frames/v2", 12)]
    record = manifest.records[1]
    assert FrameStore(out, "zip", "frames.zip").read(record.path, record.frame_name(3)) == first


def _check_stylegan_v_zip_contract(objects: list[str]) -> None:
    """StyleGAN-V's VideoFramesFolderDataset on a zip (re-stated from its documented behaviour): the
    sorted members start with the root folder; every other folder sits one level below it; every
    image two levels below, inside the folder listed just before it; frames in sorted order."""
    import posixpath

    def depth(name: str) -> int:
        return len(posixpath.normpath(name).split("/"))

    objects = sorted(objects)
    root_depth, current = depth(objects[0]), objects[1]
    assert objects[0].endswith("/"), "the first member must be the root folder"
    videos: dict[str, list[str]] = {}
    for name in objects[1:]:
        if name.lower().endswith((".jpg", ".jpeg", ".png")):
            assert name.startswith(current) and depth(name) == root_depth + 2, name
            videos.setdefault(current, []).append(name)
        else:
            assert depth(name) == root_depth + 1, f"{name}: a folder that is not a video folder"
            current = name
    assert videos and all(frames == sorted(frames) for frames in videos.values())


def test_mp4_layout(good_dataset, tmp_path):
    out = tmp_path / "out"
    s = _run(good_dataset, out, **{"output.layout": "mp4"})
    assert s.done == 3
    info = probe_source(out / "v1.mp4")
    assert (info.width, info.height, info.num_frames) == (32, 32, 12)
    assert info.fps == pytest.approx(25.0)


def test_resume_skips_done_overwrite_redoes(good_dataset, tmp_path):
    out = tmp_path / "out"
    assert _run(good_dataset, out).done == 3
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "_meta").glob("*.status.json")}
    s = _run(good_dataset, out)
    assert (s.done, s.skipped, s.failed) == (0, 3, 0)
    assert stamps == {p.name: p.stat().st_mtime_ns for p in (out / "_meta").glob("*.status.json")}
    # a status file that is removed (unfinished video) is redone
    (out / "_meta" / "v1.status.json").unlink()
    s = _run(good_dataset, out)
    assert (s.done, s.skipped) == (1, 2)
    # different parameters: still skipped, but reported
    s = _run(good_dataset, out, **{"output.size": 48})
    assert (s.skipped, s.stale_params) == (3, 3)
    s = _run(good_dataset, out, **{"output.size": 48, "run.overwrite": True})
    assert s.done == 3
    status = json.loads((out / "_meta" / "v0.status.json").read_text())
    assert status["params"]["output"]["size"] == 48


def test_reuse_plan_renders_from_the_sidecar(good_dataset, tmp_path):
    out = tmp_path / "out"
    _run(good_dataset, out, **{"run.limit": 1})
    sidecar = out / "_meta" / "v0.plan.json"
    plan = CropPlan.load(sidecar)
    # move every box; a re-render from the plan must use the edited boxes, not the masks
    for f in plan.frames:
        f.box_xyxy = (0.0, 0.0, 16.0, 16.0)
    plan.save(sidecar)
    _run(good_dataset, out, **{"run.limit": 1, "run.overwrite": True, "run.reuse_plan": True})
    reused = CropPlan.load(sidecar)
    assert all(f.box_xyxy == (0.0, 0.0, 16.0, 16.0) for f in reused.frames)
    assert reused.stats.get("reused_plan") is True
    # and without --reuse-plan the masks are read again
    _run(good_dataset, out, **{"run.limit": 1, "run.overwrite": True})
    assert CropPlan.load(sidecar).frames[0].box_xyxy != (0.0, 0.0, 16.0, 16.0)


def test_dataset_json_goes_into_the_zip_where_each_trainer_reads_it(good_dataset, tmp_path):
    from click.testing import CliRunner

    from styleinv_data.cli import main
    from styleinv_data.manifest import build_manifest

    out = tmp_path / "out"
    assert _run(good_dataset, out, **{"output.layout": "zip"}).done == 3
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\nv0,0\nv1,1\nv2,0\n")
    runner = CliRunner()
    result = runner.invoke(main, ["manifest", str(out), "--labels", str(labels), "--dataset-json-in-zip", "stylegan-v"])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out / "frames.zip") as z:
        names = z.namelist()
        labels_v = dict(json.loads(z.read("frames/dataset.json"))["labels"])
    assert "dataset.json" not in names and "frames/dataset.json" in names
    _check_stylegan_v_zip_contract(names)  # still the layout StyleGAN-V requires
    assert labels_v["frames/v1/000005.jpg"] == 1 and len(labels_v) == 36
    result = runner.invoke(main, ["manifest", str(out), "--labels", str(labels), "--dataset-json-in-zip",
                                  "stylegan2-ada"])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out / "frames.zip") as z:
        names = z.namelist()
        labels_a = dict(json.loads(z.read("dataset.json"))["labels"])
    assert "frames/dataset.json" not in names  # replaced, not duplicated
    images = [n for n in names if n.endswith(".jpg")]
    assert all(n in labels_a for n in images)  # StyleGAN2-ADA looks up every image file
    assert [r.frame_count for r in build_manifest(out).records] == [12, 12, 12]  # our reader ignores it
    unlabeled = runner.invoke(main, ["manifest", str(out), "--dataset-json-in-zip", "stylegan-v"])
    assert unlabeled.exit_code != 0 and "needs labels" in unlabeled.output

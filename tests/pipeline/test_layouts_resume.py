"""Output layouts (frames / zip / mp4), resume, --overwrite and --reuse-plan."""

from __future__ import annotations

import json
import posixpath
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


def _check_stylegan_v_zip_contract(objects: list[str]) -> dict[str, list[str]]:
    """StyleGAN-V's VideoFramesFolderDataset on a zip's members or a folder's listing (re-stated
    from its code's rules): the sorted objects start with the root folder; every other non-image
    object (a folder, or its label file) sits one level below it; every image two levels below,
    inside the folder listed just before it; frames in sorted order. Returns {video folder: frames}."""
    def depth(name: str) -> int:
        return len(posixpath.normpath(name).split("/"))

    objects = sorted(objects)
    root_depth, current = depth(objects[0]), objects[1]
    assert all(o.startswith(objects[0].rstrip("/") + "/") for o in objects[1:]), "the first object must be the root"
    videos: dict[str, list[str]] = {}
    for name in objects[1:]:
        if name.lower().endswith((".jpg", ".jpeg", ".png")):
            assert name.startswith(current) and depth(name) == root_depth + 2, name
            videos.setdefault(current, []).append(name)
        else:
            assert depth(name) == root_depth + 1, f"{name}: a folder that is not a video folder"
            current = name
    assert videos and all(frames == sorted(frames) for frames in videos.values())
    return videos


def _stylegan_v_folder_objects(path) -> list[str]:
    """What StyleGAN-V's reader lists for a dataset folder: the folder, its entries and, for each
    entry that is a folder, that folder's entries; as paths relative to the folder's parent."""
    import os

    path = str(path)
    top = [os.path.join(path, x) for x in os.listdir(path)]
    listed = {o for d in top for o in ([d] + [os.path.join(d, x) for x in os.listdir(d)] if os.path.isdir(d) else [d])}
    return sorted(os.path.relpath(o, os.path.dirname(path)) for o in {path} | listed)


def test_frames_layout_is_a_folder_stylegan_v_and_stylegan2_ada_read(good_dataset, tmp_path):
    """OUT/frames is a dataset root as it is: StyleGAN-V's folder rules hold (no sidecar inside it),
    with the labels file the manifest writes there; StyleGAN2-ADA finds a label for every image."""
    from click.testing import CliRunner

    from styleinv_data.cli import main
    from styleinv_data.manifest import build_manifest

    out = tmp_path / "out"
    assert _run(good_dataset, out).done == 3
    assert sorted(p.name for p in out.iterdir()) == ["_meta", "frames"]
    videos = _check_stylegan_v_zip_contract(_stylegan_v_folder_objects(out / "frames"))
    assert {k: len(v) for k, v in videos.items()} == {"frames/v0": 12, "frames/v1": 12, "frames/v2": 12}
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\nv0,0\nv1,1\nv2,0\n")
    result = CliRunner().invoke(main, ["manifest", str(out), "--labels", str(labels)])
    assert result.exit_code == 0, result.output
    assert not (out / "dataset.json").exists()
    objects = _stylegan_v_folder_objects(out / "frames")
    _check_stylegan_v_zip_contract(objects)  # the labels file is allowed where it now sits
    assert [o for o in objects if o.endswith("dataset.json")] == ["frames/dataset.json"]
    table = dict(json.loads((out / "frames" / "dataset.json").read_text())["labels"])
    images = sorted(p.relative_to(out / "frames").as_posix() for p in (out / "frames").rglob("*.jpg"))
    assert len(images) == 36 and all(table.get(i) is not None for i in images)  # StyleGAN2-ADA: every image
    by_video = {posixpath.dirname(k): v for k, v in table.items()}
    assert by_video == {"v0": 0, "v1": 1, "v2": 0}  # StyleGAN-V: a video's folder name finds its label
    # our own tools take OUT/frames for OUT, with the crop's sidecars
    from_out, from_frames = build_manifest(out), build_manifest(out / "frames")
    assert [(r.id, r.path, r.frame_count) for r in from_out.records] == \
        [("v0", "frames/v0", 12), ("v1", "frames/v1", 12), ("v2", "frames/v2", 12)]
    assert [r.to_json() for r in from_frames.records] == [r.to_json() for r in from_out.records]
    assert from_frames.records[0].crop is not None


def test_earlier_frames_layout_reads_and_the_next_run_moves_it(good_dataset, tmp_path):
    """Clips an earlier version wrote straight into OUT/<out_id>/ still read, and the next crop
    run into OUT moves them into OUT/frames/ without redoing them."""
    import os

    from styleinv_data.manifest import build_manifest
    from styleinv_data.manifest.schema import ManifestError

    out = tmp_path / "out"
    assert _run(good_dataset, out, **{"run.limit": 2}).done == 2
    first = (out / "frames" / "v1" / "000003.jpg").read_bytes()
    for clip in ("v0", "v1"):  # the layout of earlier versions
        os.rename(out / "frames" / clip, out / clip)
    (out / "frames").rmdir()
    assert [(r.id, r.path) for r in build_manifest(out).records] == [("v0", "v0"), ("v1", "v1")]
    s = _run(good_dataset, out)
    assert (s.done, s.skipped) == (1, 2)
    assert sorted(p.name for p in out.iterdir()) == ["_meta", "frames"]
    assert (out / "frames" / "v1" / "000003.jpg").read_bytes() == first
    assert [(r.id, r.path) for r in build_manifest(out).records] == \
        [("v0", "frames/v0"), ("v1", "frames/v1"), ("v2", "frames/v2")]
    # a folder holding both is refused with what to do
    os.rename(out / "frames" / "v2", out / "v2")
    with pytest.raises(ManifestError, match="both in frames/ and beside it.*re-run the crop"):
        build_manifest(out)


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

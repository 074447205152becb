"""Manifest building, round-trips and exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from styleinv_data.manifest import (
    BuildConfig,
    ManifestError,
    SplitConfig,
    build_manifest,
    read_manifest,
    verify_manifest,
    write_dataset_json,
    write_manifest,
    write_parquet,
)

REPO = Path(__file__).resolve().parents[2]


def test_build_frames_layout_reads_layout_and_sidecars(frames_dataset):
    m = build_manifest(frames_dataset.root)
    assert m.header.layout == "frames" and m.header.container is None
    assert [r.id for r in m.records] == ["clip_a", "clip_b", "clip_c"]
    assert [r.frame_count for r in m.records] == [5, 9, 3]
    assert m.header.num_frames == 17 and m.header.num_videos == 3
    assert m.header.resolution == [16, 12]
    assert m.header.fps == 25.0
    assert m.header.crop["strategy"] == "ffhq" and m.header.crop["params"] == {"size": 16, "stabilize": 8}
    rec = m.by_id("clip_b")
    assert (rec.width, rec.height, rec.fps, rec.frame_ext, rec.path) == (16, 12, 25.0, ".jpg", "clip_b")
    assert rec.crop.frame_sources == {"detected": 8, "interpolated": 1}
    assert rec.crop.counts["interpolated"] == 1
    assert rec.source.video == "/raw/clip_b.mp4" and rec.source.video_id == "clip_b"
    assert (rec.source.start_frame, rec.source.stop_frame) == (0, 9)
    assert rec.source.stop_sec == pytest.approx(9 / 25.0)
    assert rec.content_hash.startswith("sha256:") and len(rec.content_hash) == 71
    assert {r.split for r in m.records} == {"train"}
    assert m.header.tool["name"] == "styleinv-data" and "numpy" in m.header.packages


def test_manifest_round_trips(frames_dataset, tmp_path):
    m = build_manifest(frames_dataset.root, BuildConfig(split=SplitConfig(fractions={"train": 0.5, "val": 0.5})))
    path = write_manifest(m, tmp_path / "elsewhere" / "m.jsonl")
    assert json.loads(path.read_text().splitlines()[0])["root"] == "../ds"
    back = read_manifest(path)
    assert back.root == frames_dataset.root.resolve()
    assert back.header == m.header
    assert back.records == m.records
    # writing the read manifest again gives byte-identical text
    again = write_manifest(back, tmp_path / "elsewhere" / "m2.jsonl")
    assert again.read_text() == path.read_text()


def test_zip_and_folder_give_the_same_records(frames_dataset, zip_dataset):
    folder = build_manifest(frames_dataset.root)
    zipped = build_manifest(zip_dataset.root)
    assert zipped.header.layout == "zip" and zipped.header.container == "frames.zip"
    assert [r.content_hash for r in zipped.records] == [r.content_hash for r in folder.records]
    assert [r.frame_count for r in zipped.records] == [r.frame_count for r in folder.records]
    verify_manifest(zipped, deep=True)


def test_mp4_layout(tmp_path, make_ds):
    ds = make_ds(tmp_path / "mp4", {"v1": 6, "v2": 4}, size=(16, 16), layout="mp4", with_meta=False, fps=30.0)
    m = build_manifest(ds.root)
    assert m.header.layout == "mp4"
    assert [(r.id, r.path, r.frame_count, r.width, r.height, r.frame_ext) for r in m.records] == [
        ("v1", "v1.mp4", 6, 16, 16, None), ("v2", "v2.mp4", 4, 16, 16, None)]
    assert m.records[0].fps == pytest.approx(30.0)
    assert m.records[0].crop is None
    verify_manifest(m, deep=True)


def test_split_clips_map_to_their_source_video(tmp_path, make_ds, meta_writer):
    root = tmp_path / "split"
    make_ds(root, {"vid_s0": 4, "vid_s1": 3}, with_meta=False)
    meta_writer(root, "vid", [("vid_s0", 0, 4), ("vid_s1", 10, 13)], fps=10.0,
               sources=["detected"] * 10 + ["interpolated", "tracked", "detected"])
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\nvid,happy\n")
    m = build_manifest(root, BuildConfig(labels_path=labels))
    s1 = m.by_id("vid_s1")
    assert (s1.source.video_id, s1.source.start_frame, s1.source.stop_frame) == ("vid", 10, 13)
    assert (s1.source.start_sec, s1.source.stop_sec) == (1.0, 1.3)
    assert s1.crop.frame_sources == {"detected": 1, "interpolated": 1, "tracked": 1}
    assert [r.label_name for r in m.records] == ["happy", "happy"]  # label looked up by the source id


def test_failed_crops_are_listed_not_recorded(frames_dataset, meta_writer):
    meta_writer(frames_dataset.root, "broken", [], state="failed")
    m = build_manifest(frames_dataset.root)
    assert m.header.skipped == [{"id": "broken", "reason": "no face found"}]
    assert len(m.records) == 3


def test_labels_parquet_and_dataset_json(frames_dataset, tmp_path):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"clip_a": "sad", "clip_b": "happy", "clip_c": "sad"}))
    m = build_manifest(frames_dataset.root, BuildConfig(labels_path=labels))
    assert m.header.label_names == ["happy", "sad"]
    assert [r.label for r in m.records] == [1, 0, 1]
    dj = write_dataset_json(m)
    labels_written = json.loads(dj.read_text())["labels"]
    assert labels_written[:2] == [["clip_a/000000.jpg", 1], ["clip_a/000001.jpg", 1]]  # one entry per frame file
    assert len(labels_written) == 17
    _check_stylegan2_ada_label_contract(frames_dataset.root, labels_written)
    _check_stylegan_v_label_contract(frames_dataset.root, labels_written)
    assert {tuple(e) for e in labels_written if e[0].startswith("clip_b/")} == \
        {(f"clip_b/{i:06d}.jpg", 0) for i in range(9)}

    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(write_parquet(m, tmp_path / "m.parquet"))
    assert table.column("id").to_pylist() == ["clip_a", "clip_b", "clip_c"]
    assert table.column("frame_count").to_pylist() == [5, 9, 3]
    assert table.column("label").to_pylist() == [1, 0, 1]
    header = json.loads(table.schema.metadata[b"styleinv_manifest_header"])
    assert header["num_frames"] == 17


def _image_files(root):
    """Every image file under ``root`` as the readers list it (relative POSIX paths, sorted)."""
    exts = {".jpg", ".jpeg", ".png"}
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix.lower() in exts
                  and not p.relative_to(root).as_posix().startswith("_meta/"))


def _check_stylegan2_ada_label_contract(root, labels):
    """StyleGAN2-ADA's ImageFolderDataset: ``dict(labels)[path]`` for every image file it lists."""
    table = dict((path, label) for path, label in labels)
    missing = [f for f in _image_files(root) if f not in table]
    assert not missing, f"StyleGAN2-ADA would fail with KeyError {missing[:1]}"


def _check_stylegan_v_label_contract(root, labels):
    """StyleGAN-V's VideoFramesFolderDataset: each entry's folder is its video; a video's entries
    agree; every video folder's name finds a label."""
    import posixpath

    per_video: dict = {}
    for path, label in labels:
        folder = posixpath.dirname(path)
        assert per_video.setdefault(folder, label) == label, f"frames of {folder} disagree"
    videos = {posixpath.dirname(f) for f in _image_files(root)}
    by_name = {posixpath.basename(k): v for k, v in per_video.items()}
    assert all(posixpath.basename(v) in by_name for v in videos), "StyleGAN-V would fail with KeyError"


def test_dataset_json_refuses_partial_labels(frames_dataset, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\nclip_a,1\n")
    m = build_manifest(frames_dataset.root, BuildConfig(labels_path=labels))
    assert [r.label for r in m.records] == [1, None, None]
    with pytest.raises(ManifestError, match="dataset.json needs a label for every video"):
        write_dataset_json(m)
    with pytest.raises(ManifestError, match="no label for video 'clip_b'"):
        build_manifest(frames_dataset.root, BuildConfig(labels_path=labels, require_labels=True))


def test_cli_writes_manifest_parquet_and_dataset_json(frames_dataset, tmp_path):
    from styleinv_data.commands.manifest import manifest as manifest_cmd

    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\nclip_a,0\nclip_b,2\nclip_c,1\n")
    result = CliRunner().invoke(manifest_cmd, [str(frames_dataset.root), "--labels", str(labels),
                                               "--split", "train=0.7,val=0.3", "--parquet", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "3 videos, 17 frames, 16x12, layout frames" in result.output
    m = read_manifest(frames_dataset.root / "manifest.jsonl")
    assert m.header.label_names == ["0", "1", "2"] and [r.label for r in m.records] == [0, 2, 1]
    assert m.header.split_method == {"kind": "hash", "fractions": {"train": 0.7, "val": 0.3}, "seed": 0, "key": "id"}
    assert (frames_dataset.root / "manifest.parquet").is_file()
    assert (frames_dataset.root / "dataset.json").is_file()
    # a second build over the same root ignores the files the first one wrote
    again = CliRunner().invoke(manifest_cmd, [str(frames_dataset.root), "--no-hash"])
    assert again.exit_code == 0, again.output


def test_cli_reports_errors_in_one_line(tmp_path):
    from styleinv_data.commands.manifest import manifest as manifest_cmd

    result = CliRunner().invoke(manifest_cmd, [str(tmp_path / "nope")])
    assert result.exit_code != 0
    assert "nope: no such dataset folder or zip" in result.output
    assert "Traceback" not in result.output


def test_packaged_schema_is_the_repository_schema():
    packaged = REPO / "styleinv_data" / "manifest" / "manifest.schema.json"
    assert (REPO / "manifests" / "schema.json").read_bytes() == packaged.read_bytes()


def test_bundled_demo_manifest_validates():
    demos = sorted((REPO / "manifests").glob("*.jsonl"))
    if not demos:
        pytest.skip("no demo manifest under manifests/ yet")
    for path in demos:
        m = read_manifest(path)
        assert m.header.num_videos == len(m.records) >= 1


def test_clip_list_comes_from_the_status_files(frames_dataset, make_ds):
    # a folder left from an earlier run (no done status) is not a clip of this dataset
    make_ds(frames_dataset.root, {"stale_clip": 2}, with_meta=False)
    (frames_dataset.root / "stale_clip" / "junk.txt").write_text("never read")
    m = build_manifest(frames_dataset.root)
    assert [r.id for r in m.records] == ["clip_a", "clip_b", "clip_c"]
    assert m.header.skipped == [{"id": "stale_clip", "reason": "on disk but not a done output in "
                                 "_meta/*.status.json (stale or unfinished); ignored"}]


def test_without_status_files_the_listing_is_the_clip_list(tmp_path, make_ds):
    ds = make_ds(tmp_path / "plain", {"x": 3, "y": 4}, with_meta=False)
    m = build_manifest(ds.root)
    assert [r.id for r in m.records] == ["x", "y"] and m.header.crop is None and m.header.skipped == []

"""Every broken input gives a clear error naming the file / record / field."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from styleinv_data.datasets import ClipDataset, read_frames
from styleinv_data.manifest import ManifestError, build_manifest, read_manifest, verify_manifest, write_manifest


@pytest.fixture
def manifest_path(frames_dataset) -> Path:
    return write_manifest(build_manifest(frames_dataset.root), frames_dataset.root / "manifest.jsonl")


def _edit_line(path: Path, line_no: int, edit) -> None:
    lines = path.read_text().splitlines()
    obj = json.loads(lines[line_no - 1])
    edit(obj)
    lines[line_no - 1] = json.dumps(obj)
    path.write_text("\n".join(lines) + "\n")


def test_corrupted_json_line_names_the_line(manifest_path):
    text = manifest_path.read_text().splitlines()
    text[2] = text[2][: len(text[2]) // 2]  # truncated record
    manifest_path.write_text("\n".join(text) + "\n")
    with pytest.raises(ManifestError, match=r"manifest.jsonl line 3: not valid JSON .*corrupted"):
        read_manifest(manifest_path)


def test_schema_violation_names_record_and_field(manifest_path):
    _edit_line(manifest_path, 3, lambda o: o.update(frame_count=-4))
    with pytest.raises(ManifestError, match=r"line 3 \(record 'clip_b'\): field frame_count: -4 is less than"):
        read_manifest(manifest_path)


def test_missing_field_is_named(manifest_path):
    _edit_line(manifest_path, 2, lambda o: o.pop("width"))
    with pytest.raises(ManifestError, match=r"line 2 \(record 'clip_a'\): field width: 'width' is a required"):
        read_manifest(manifest_path)


def test_nested_field_is_named(manifest_path):
    _edit_line(manifest_path, 4, lambda o: o["source"].update(start_frame="zero"))
    with pytest.raises(ManifestError, match=r"record 'clip_c'\): field source.start_frame: 'zero' is not"):
        read_manifest(manifest_path)


def test_truncated_manifest_is_detected(manifest_path):
    lines = manifest_path.read_text().splitlines()
    manifest_path.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(ManifestError, match=r"num_videos: 3 but the file has 2 records"):
        read_manifest(manifest_path)


def test_header_must_come_first(manifest_path):
    lines = manifest_path.read_text().splitlines()
    manifest_path.write_text("\n".join(lines[1:] + lines[:1]) + "\n")
    with pytest.raises(ManifestError, match="first line must be the header"):
        read_manifest(manifest_path)


@pytest.mark.parametrize("bad_path", ["../outside", "/etc/passwd", "clip_a/../../x", "C:\\frames"])
def test_path_escaping_the_root_is_refused(manifest_path, bad_path):
    _edit_line(manifest_path, 2, lambda o: o.update(path=bad_path))
    with pytest.raises(ManifestError, match=r"record 'clip_a'\): field path: .*(relative|escapes)"):
        read_manifest(manifest_path)


def test_path_escaping_through_a_symlink_is_refused(frames_dataset, tmp_path):
    outside = tmp_path / "outside_frames"
    (frames_dataset.root / "clip_c").rename(outside)
    os.symlink(outside, frames_dataset.root / "clip_c")
    m = build_manifest(frames_dataset.root)  # lexically fine
    with pytest.raises(ManifestError, match=r"record 'clip_c' .*outside the dataset root"):
        verify_manifest(m)


def test_write_refuses_an_escaping_path(frames_dataset, tmp_path):
    m = build_manifest(frames_dataset.root)
    m.records[1].path = "../../somewhere"
    with pytest.raises(ManifestError, match=r"record 'clip_b'\): field path: '../../somewhere' escapes"):
        write_manifest(m, tmp_path / "m.jsonl")


def test_missing_frame_at_build_names_the_file(frames_dataset):
    (frames_dataset.root / "clip_b" / "000004.jpg").unlink()
    with pytest.raises(ManifestError, match=r"clip_b/000004.jpg: missing frame"):
        build_manifest(frames_dataset.root)


def test_missing_frame_at_read_names_the_file(manifest_path, frames_dataset):
    m = read_manifest(manifest_path)
    (frames_dataset.root / "clip_a" / "000002.jpg").unlink()
    with pytest.raises(ManifestError, match=r"clip_a/000002.jpg: missing frame.*rebuild"):
        read_frames(m, "clip_a", [0, 2])
    with pytest.raises(ManifestError, match=r"record 'clip_a' .*frame_count is 5 but the dataset has 4"):
        ClipDataset(m)  # datasets verify the manifest against the files on construction


def test_manifest_dataset_mismatch(manifest_path, frames_dataset):
    m = read_manifest(manifest_path)
    from PIL import Image

    Image.new("RGB", (16, 12)).save(frames_dataset.root / "clip_c" / "000003.jpg")  # one frame more
    with pytest.raises(ManifestError, match=r"record 'clip_c' .*frame_count is 3 but the dataset has 4.*rebuild"):
        verify_manifest(m)


def test_changed_content_is_caught_by_deep_verify(manifest_path, frames_dataset):
    m = read_manifest(manifest_path)
    from PIL import Image

    Image.new("RGB", (16, 12), (9, 9, 9)).save(frames_dataset.root / "clip_c" / "000001.jpg")
    verify_manifest(m)  # counts still match
    with pytest.raises(ManifestError, match=r"record 'clip_c' .*content_hash differs"):
        verify_manifest(m, deep=True)


def test_missing_video_folder(manifest_path, frames_dataset):
    m = read_manifest(manifest_path)
    import shutil

    shutil.rmtree(frames_dataset.root / "clip_b")
    with pytest.raises(ManifestError, match=r"record 'clip_b' .*is missing"):
        verify_manifest(m)


def test_status_and_disk_disagree(frames_dataset, meta_writer):
    meta_writer(frames_dataset.root, "clip_a", [("clip_a", 0, 7)])  # says 7 frames, disk has 5
    with pytest.raises(ManifestError, match=r"clip_a: has 5 frames but _meta/clip_a.status.json records 7"):
        build_manifest(frames_dataset.root)


def test_status_lists_an_output_that_is_missing(frames_dataset, meta_writer):
    meta_writer(frames_dataset.root, "ghost", [("ghost", 0, 4)])
    with pytest.raises(ManifestError, match=r"ghost.status.json: output 'ghost' is listed as done but missing"):
        build_manifest(frames_dataset.root)


def test_corrupt_sidecar(frames_dataset):
    (frames_dataset.root / "_meta" / "clip_a.status.json").write_text("{not json")
    with pytest.raises(ManifestError, match=r"clip_a.status.json: corrupt crop sidecar"):
        build_manifest(frames_dataset.root)


def test_frame_size_change_inside_a_video(frames_dataset):
    from PIL import Image

    Image.new("RGB", (20, 12)).save(frames_dataset.root / "clip_b" / "000003.jpg")
    with pytest.raises(ManifestError, match=r"clip_b/000003.jpg: frame size 20x12 differs from frame 0 \(16x12\)"):
        build_manifest(frames_dataset.root)


def test_bad_layouts(tmp_path, frames_dataset):
    with pytest.raises(ManifestError, match="no videos found"):
        build_manifest(tmp_path.joinpath("empty_root").mkdir() or tmp_path / "empty_root")
    (frames_dataset.root / "extra.mp4").write_bytes(b"")
    with pytest.raises(ManifestError, match="mixes dataset layouts"):
        build_manifest(frames_dataset.root)
    (frames_dataset.root / "extra.mp4").unlink()
    (frames_dataset.root / "clip_a" / "notes.txt").write_text("x")
    with pytest.raises(ManifestError, match=r"clip_a/notes.txt: not a frame file name"):
        build_manifest(frames_dataset.root)


def test_corrupt_zip(tmp_path):
    root = tmp_path / "z"
    root.mkdir()
    (root / "frames.zip").write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(ManifestError, match=r"frames.zip: not a readable zip"):
        build_manifest(root)


def test_zip_member_missing_at_read(zip_dataset, tmp_path):
    m = build_manifest(zip_dataset.root)
    # rewrite the zip without one frame
    src = zip_dataset.root / "frames.zip"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp_path / "new.zip", "w") as zout:
        for info in zin.infolist():
            if info.filename != "clip_b/000003.jpg":
                zout.writestr(info, zin.read(info))
    (tmp_path / "new.zip").replace(src)
    with pytest.raises(ManifestError, match=r"frames.zip:clip_b/000003.jpg: missing frame"):
        read_frames(m, "clip_b", [3])


def test_corrupt_jpeg_names_the_file(manifest_path, frames_dataset):
    m = read_manifest(manifest_path)
    (frames_dataset.root / "clip_a" / "000001.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    with pytest.raises(ManifestError, match=r"clip_a/000001.jpg: cannot decode the image"):
        read_frames(m, "clip_a", [1])


def _flip_a_byte_inside(zip_path: Path, member: str) -> None:
    """Flip one byte in the middle of a stored member's data (its local header and CRC untouched)."""
    with zipfile.ZipFile(zip_path) as zf:
        info = zf.getinfo(member)
    data = bytearray(zip_path.read_bytes())
    name_len, extra_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.file_size // 2] ^= 0x01
    zip_path.write_bytes(bytes(data))


def test_flipped_byte_in_a_zip_member_is_refused_naming_it(zip_dataset, tmp_path):
    from click.testing import CliRunner

    from styleinv_data.cli import main

    root = zip_dataset.root
    manifest = build_manifest(root)
    manifest_path = write_manifest(manifest, tmp_path / "m.jsonl")
    code = CliRunner().invoke(main, ["manifest", "--verify", str(manifest_path)])
    assert code.exit_code == 0 and "OK (3 videos, 17 frames" in code.output
    _flip_a_byte_inside(root / "frames.zip", "clip_b/000004.jpg")
    # the build reads every byte to hash it: it refuses, naming the member
    with pytest.raises(ManifestError, match=r"frames\.zip:clip_b/000004\.jpg: corrupt zip member \(CRC-32"):
        build_manifest(root)
    # the fast read path of training refuses it too
    with pytest.raises(ManifestError, match=r"clip_b/000004\.jpg: corrupt zip member"):
        read_frames(read_manifest(manifest_path), "clip_b", [4])
    assert read_frames(read_manifest(manifest_path), "clip_b", [3]).shape[0] == 1  # the others still read
    # and --verify re-checks an existing manifest: one line naming the member, exit 1
    result = CliRunner().invoke(main, ["manifest", "--verify", str(manifest_path)])
    assert result.exit_code == 1
    assert "clip_b/000004.jpg: corrupt zip member" in result.output and len(result.output.strip().splitlines()) == 1


def test_failed_status_with_frames_on_disk_is_named(frames_dataset, meta_writer, tmp_path):
    """A status that says failed while the video's frames are on disk: the manifest leaves the video
    out and says so, naming it (not dropped silently, not included)."""
    from click.testing import CliRunner

    from styleinv_data.cli import main

    meta_writer(frames_dataset.root, "clip_b", [], state="failed")
    result = CliRunner().invoke(main, ["manifest", str(frames_dataset.root), "-o", str(tmp_path / "m.jsonl"),
                                       "--no-dataset-json"])
    assert result.exit_code == 0, result.output
    assert "2 videos" in result.output and "1 skipped" in result.output
    line = next(l for l in result.output.splitlines() if l.startswith("skipped clip_b:"))
    assert "crop failed (no face found) but frames of it are on disk: not included" in line
    header = read_manifest(tmp_path / "m.jsonl").header
    assert [entry["id"] for entry in header.skipped] == ["clip_b"]  # listed once
    assert {r.id for r in read_manifest(tmp_path / "m.jsonl").records} == {"clip_a", "clip_c"}

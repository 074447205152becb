"""The datasets users already have: StyleGAN-V's zips and folders, frames named as in the wild.

StyleGAN-V's SkyTimelapse release is a zip named anything, holding ``sky_timelapse/<video>/<frame>``
with frames named ``frame1.jpg``...; other sets number frames from 1 with padding, or use
``.jpeg`` / ``.png``. The manifest must read them as they are (no unpacking, no renaming) and the
readers must serve exactly their frames.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from styleinv_data.datasets.video_reader import VideoFrameReader
from styleinv_data.manifest import build_manifest
from styleinv_data.manifest.io import read_manifest, write_manifest
from styleinv_data.manifest.schema import ManifestError

SIZE = 16
# video id -> frame file names, in frame order (natural numeric order, not string order)
NAMINGS = {
    "sgv_unpadded": [f"frame{i}.jpg" for i in range(1, 13)],  # StyleGAN-V's README: frame1.jpg .. frame12.jpg
    "one_based": [f"{i:06d}.jpg" for i in range(1, 6)],  # 1-based, 6 digits
    "png_2digit": [f"{i:02d}.png" for i in range(0, 7)],  # 0-based, other padding, PNG
    "jpeg_ext": [f"img_{i:04d}.jpeg" for i in range(3, 8)],  # prefix, starts at 3, .jpeg
}


def _frame(video: int, index: int) -> np.ndarray:
    """A distinct smooth image per (video, frame): JPEG keeps it recognisable."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    img = np.stack([(xx * 8 + index * 20) % 256, (yy * 8 + video * 60) % 256, np.full_like(xx, index * 15)], 2)
    return img.astype(np.uint8)


def _encode(img: np.ndarray, name: str) -> bytes:
    buf = io.BytesIO()
    fmt = "PNG" if name.endswith(".png") else "JPEG"
    Image.fromarray(img).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _files() -> dict[str, bytes]:
    """relative path -> bytes of every frame of every video."""
    out = {}
    for v, (vid, names) in enumerate(sorted(NAMINGS.items())):
        for i, name in enumerate(names):
            out[f"{vid}/{name}"] = _encode(_frame(v, i), name)
    return out


def _write_zip(path: Path, top: str, compression: int) -> Path:
    """As `zip -r` writes it: directory entries, deflated members, under a top-level folder."""
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        if top:
            zf.writestr(f"{top}/", b"")
        for vid in sorted(NAMINGS):
            zf.writestr(f"{top + '/' if top else ''}{vid}/", b"")
        for rel, data in _files().items():
            zf.writestr(f"{top + '/' if top else ''}{rel}", data)
        zf.writestr("__MACOSX/._junk", b"\x00")
    return path


def _check_reads(manifest) -> None:
    reader = VideoFrameReader(manifest)
    files = _files()
    assert sorted(r.id for r in manifest.records) == sorted(NAMINGS)
    for record in manifest.records:
        names = NAMINGS[record.id]
        assert record.frame_count == len(names)
        assert [record.frame_name(i) for i in range(record.frame_count)] == names
        frames = reader.read_frames(record, list(range(record.frame_count))).permute(0, 2, 3, 1).numpy()
        for i, name in enumerate(names):  # exactly the stored file, decoded
            expected = np.asarray(Image.open(io.BytesIO(files[f"{record.id}/{name}"])).convert("RGB"))
            np.testing.assert_array_equal(frames[i], expected)


@pytest.mark.parametrize("top", ["sky_timelapse", ""])
@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_a_stylegan_v_zip_named_anything_is_read_without_unpacking(tmp_path, top, compression):
    zip_path = _write_zip(tmp_path / "sky_timelapse_256.zip", top, compression)
    manifest = build_manifest(zip_path)
    assert manifest.header.layout == "zip" and manifest.header.container == "sky_timelapse_256.zip"
    assert manifest.header.dataset_name == "sky_timelapse_256"
    by_id = {r.id: r for r in manifest.records}
    assert by_id["one_based"].path == (f"{top}/one_based" if top else "one_based")
    assert by_id["sgv_unpadded"].frame_naming.prefix == "frame" and by_id["sgv_unpadded"].frame_naming.start == 1
    _check_reads(manifest)
    # written and read back (schema-validated), then read again through the saved manifest
    out = write_manifest(manifest, tmp_path / "sky.jsonl")
    _check_reads(read_manifest(out))


def test_the_same_dataset_as_a_folder(tmp_path):
    root = tmp_path / "sky_timelapse"
    for rel, data in _files().items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "one_based" / ".DS_Store").write_bytes(b"junk")
    manifest = build_manifest(root)
    assert manifest.header.layout == "frames"
    _check_reads(manifest)


def test_the_manifest_command_takes_a_zip_and_writes_beside_it(tmp_path):
    from styleinv_data.cli import main

    zip_path = _write_zip(tmp_path / "sky_timelapse_256.zip", "sky_timelapse", zipfile.ZIP_DEFLATED)
    result = CliRunner().invoke(main, ["manifest", str(zip_path), "-o", str(tmp_path / "sky.jsonl")])
    assert result.exit_code == 0, result.output
    assert len(read_manifest(tmp_path / "sky.jsonl").records) == len(NAMINGS)
    result = CliRunner().invoke(main, ["manifest", str(zip_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sky_timelapse_256.jsonl").is_file()


def test_a_gap_in_the_numbering_names_the_video_and_the_missing_file(tmp_path):
    root = tmp_path / "data"
    for i in (1, 2, 4, 5):  # frame3.jpg is missing
        (root / "clip7").mkdir(parents=True, exist_ok=True)
        (root / "clip7" / f"frame{i}.jpg").write_bytes(_encode(_frame(0, i), "x.jpg"))
    with pytest.raises(ManifestError, match=r"clip7/frame3\.jpg: missing frame 2 of video 'clip7'"):
        build_manifest(root)


def test_mixed_paddings_and_prefixes_are_refused_with_the_video_named(tmp_path):
    root = tmp_path / "data"
    (root / "v").mkdir(parents=True)
    for name in ("001.jpg", "2.jpg"):
        (root / "v" / name).write_bytes(_encode(_frame(0, 0), name))
    with pytest.raises(ManifestError, match="mixes zero paddings"):
        build_manifest(root)
    for name in list((root / "v").iterdir()):
        name.unlink()
    for name in ("a1.jpg", "b2.jpg"):
        (root / "v" / name).write_bytes(_encode(_frame(0, 0), name))
    with pytest.raises(ManifestError, match="different prefixes"):
        build_manifest(root)


def test_the_crops_own_naming_keeps_its_records_unchanged(tmp_path):
    """000000.jpg .. frames (our crop output) get no frame_naming field: old readers read them."""
    root = tmp_path / "crop"
    (root / "a").mkdir(parents=True)
    for i in range(3):
        (root / "a" / f"{i:06d}.jpg").write_bytes(_encode(_frame(0, i), "x.jpg"))
    manifest = build_manifest(root)
    assert manifest.records[0].frame_naming is None
    assert "frame_naming" not in manifest.records[0].to_json()

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

manifest_api = pytest.importorskip("styleinv_data.manifest", reason="the manifest package (issue 4) is not installed")

from styleinv_model.metrics.cli import main  # noqa: E402
from styleinv_model.metrics.manifest_source import ManifestVideoSource  # noqa: E402
from styleinv_model.metrics.sampling import plan_clips  # noqa: E402


@pytest.fixture()
def dataset(tmp_path: Path, carphone_frames: np.ndarray) -> tuple[Path, Path]:
    root = tmp_path / "ds"
    for v, (start, count) in enumerate([(0, 20), (40, 12), (80, 5)]):
        folder = root / f"vid{v}"
        folder.mkdir(parents=True)
        for i in range(count):
            Image.fromarray(carphone_frames[start + i]).save(folder / f"{i:06d}.png")
    manifest = manifest_api.build_manifest(root, manifest_api.BuildConfig(hash_content=False, workers=1))
    path = manifest_api.write_manifest(manifest, tmp_path / "manifest.jsonl")
    return root, Path(path)


def test_manifest_source_reads_the_records(dataset: tuple[Path, Path], carphone_frames: np.ndarray) -> None:
    _, path = dataset
    source = ManifestVideoSource.open(path)
    assert len(source) == 3 and [source.frame_count(i) for i in range(3)] == [20, 12, 5]
    frames = source.read_frames(1, [3, 0])
    np.testing.assert_array_equal(frames[3], carphone_frames[43])
    plan = plan_clips(source.frame_counts, 8, 10, 1, "class_aware", seed=0)
    assert plan.skipped_short_videos == 1 and {c.video_index for c in plan.clips} == {0, 1}
    assert source.describe()["kind"] == "manifest"
    fingerprint = source.fingerprint()
    path.write_text(path.read_text() + "\n")
    assert ManifestVideoSource.open(path).fingerprint() != fingerprint


def test_cli_compares_a_folder_with_a_manifest(dataset: tuple[Path, Path], tmp_path: Path, inception_extractor) -> None:
    root, path = dataset
    out = tmp_path / "fid.json"
    result = CliRunner().invoke(main, ["compare", str(root), "--manifest", str(path), "--metric", "fid",
                                       "--num-frames", "6", "--device", "cpu", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())["results"][0]
    assert record["real"]["kind"] == "manifest" and record["real"]["samples"] == 6
    assert record["protocol"]["num_images"] == 6 and record["value"] > 0
    bad = CliRunner().invoke(main, ["compare", str(root), "--manifest", str(tmp_path / "none.jsonl"), "--quiet"])
    assert bad.exit_code != 0 and "none.jsonl" in bad.output

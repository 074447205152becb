"""Quality scores reach the manifest, and ``styleinv-data filter`` removes a planted blurry video, a
planted tiny-face video and a planted duplicate, each for its own reason (mask crops of the real
carphone face, 64x64)."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from styleinv_data.cli import main
from styleinv_data.io.encode import write_mp4

FRAMES = 16


def _write(root, video_id, frames, box):
    (root / "original").mkdir(parents=True, exist_ok=True)
    (root / "mask").mkdir(parents=True, exist_ok=True)
    x0, y0, x1, y1 = box
    mask = np.full(frames[0].shape[:2], 255, np.uint8)
    mask[y0:y1, x0:x1] = 0  # the face is the dark part
    write_mp4(root / "original" / f"{video_id}.mp4", frames, fps=25, crf=0, pix_fmt="yuv444p", preset="ultrafast")
    write_mp4(root / "mask" / f"{video_id}.mp4", [mask] * len(frames), fps=25, crf=0, pix_fmt="yuv444p",
              preset="ultrafast")


@pytest.fixture(scope="module")
def planted(tmp_path_factory, carphone_path):
    import av

    with av.open(str(carphone_path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    root = tmp_path_factory.mktemp("planted")
    face = (56, 16, 120, 80)  # the carphone face, 64 px
    _write(root, "sharp", frames[:FRAMES], face)
    _write(root, "sharp_copy", frames[:FRAMES], face)  # the same clip again
    _write(root, "other", frames[60:60 + FRAMES], (50, 14, 116, 80))
    _write(root, "blurry", [cv2.GaussianBlur(f, (0, 0), 3.0) for f in frames[30:30 + FRAMES]], face)
    _write(root, "tiny", frames[90:90 + FRAMES], (80, 40, 92, 52))  # a 12 px face
    out = root / "out"
    runner = CliRunner()
    result = runner.invoke(main, ["crop", str(root), str(out), "--recipe", "faceforensics", "--size", "64",
                                  "--no-progress"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["manifest", str(out), "-o", str(root / "m.jsonl")])
    assert result.exit_code == 0, result.output
    return root, out


def test_scores_are_in_the_status_and_the_manifest(planted):
    root, out = planted
    status = json.loads((out / "_meta" / "sharp.status.json").read_text())
    quality = status["outputs"][0]["quality"]
    assert quality["face_px_min"] == pytest.approx(64, abs=1) and quality["upscale_max"] == pytest.approx(1.0, abs=0.02)
    assert quality["jitter_px"] == 0.0 and quality["padded"] == 0 and quality["interpolated"] == 0
    assert len(quality["phash"]) == 16 and quality["sharpness"] > 0
    records = {json.loads(line)["id"]: json.loads(line) for line in (root / "m.jsonl").read_text().splitlines()[1:]}
    scores = {k: r["crop"]["quality"] for k, r in records.items()}
    assert scores["sharp"]["phash"] == scores["sharp_copy"]["phash"]
    assert scores["blurry"]["sharpness"] < 0.3 * scores["sharp"]["sharpness"]
    assert scores["tiny"]["face_px_min"] == pytest.approx(12, abs=1) and scores["tiny"]["upscale_max"] > 5
    assert scores["sharp"]["dropped_fraction"] == 0.0 and scores["sharp"]["segments"] == 1
    assert scores["sharp"]["cuts"] == 0


def test_filter_removes_each_planted_clip_for_its_reason(planted):
    root, _ = planted
    records = [json.loads(line) for line in (root / "m.jsonl").read_text().splitlines()[1:]]
    scores = {r["id"]: r["crop"]["quality"] for r in records}
    threshold = float(np.sqrt(scores["blurry"]["sharpness"] * scores["sharp"]["sharpness"]))
    runner = CliRunner()
    args = ["filter", str(root / "m.jsonl"), "--min-face", "32", "--min-sharpness", f"{threshold:.3f}", "--dedup"]
    dry = runner.invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "5 clips: 2 kept, 3 removed" in dry.output and not (root / "clean.jsonl").exists()
    result = runner.invoke(main, [*args, "-o", str(root / "clean.jsonl")])
    assert result.exit_code == 0, result.output
    with (root / "clean.removed.csv").open() as handle:
        removed = {row["id"]: row["reason"] for row in csv.DictReader(handle)}
    assert set(removed) == {"tiny", "blurry", "sharp_copy"}
    assert removed["tiny"].startswith("face 12 px < 32")
    assert removed["blurry"].startswith("sharpness ")
    assert removed["sharp_copy"] == "near-duplicate of sharp (phash distance 0)"
    kept = [json.loads(line)["id"] for line in (root / "clean.jsonl").read_text().splitlines()[1:]]
    assert kept == ["other", "sharp"]
    header = json.loads((root / "clean.jsonl").read_text().splitlines()[0])
    assert header["num_videos"] == 2 and any(s["reason"].startswith("filtered: near-duplicate") for s in header["skipped"])


def test_a_duplicate_pair_never_straddles_train_and_another_split(planted):
    """Of a duplicate pair, the clip kept is the one in train, whatever the ids' order."""
    from styleinv_data.manifest import read_manifest
    from styleinv_data.manifest.filtering import FilterRules, filter_records

    root, _ = planted
    manifest = read_manifest(root / "m.jsonl")
    for record in manifest.records:
        record.split = {"sharp": "val", "sharp_copy": "train"}.get(record.id, "train")
    result = filter_records(manifest, FilterRules(dedup=True))
    assert [(r.id, why) for r, why in result.removed] == [("sharp", "near-duplicate of sharp_copy (phash distance 0)")]
    assert {r.split for r in result.kept if r.id in ("sharp", "sharp_copy")} == {"train"}

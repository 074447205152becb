"""`styleinv-data crop --strategy ffhq` end to end: outputs, sidecar provenance, --reuse-landmarks, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from styleinv_data.cli import main
from styleinv_data.crop.plan import CropPlan
from styleinv_data.io.encode import write_mp4

SIZE = 64


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, moving_face_frames) -> Path:
    root = tmp_path_factory.mktemp("faces")
    frames = moving_face_frames[:20]
    write_mp4(root / "face.mp4", frames, fps=25, crf=10, preset="ultrafast")
    rng = np.random.default_rng(0)
    noise = [np.clip(rng.normal(110, 25, (96, 128, 3)), 0, 255).astype(np.uint8) for _ in range(8)]
    write_mp4(root / "noface.mp4", noise, fps=25, crf=10, preset="ultrafast")
    return root


def crop(*args: str):
    result = CliRunner().invoke(main, ["crop", *args, "--no-progress"], catch_exceptions=False)
    return result


@pytest.fixture(scope="module")
def cropped_run(dataset, tmp_path_factory) -> tuple[Path, str]:
    """(OUT, console output) of the FFHQ crop of the module's two videos."""
    out = tmp_path_factory.mktemp("out")
    result = crop(str(dataset), str(out), "--strategy", "ffhq", "--size", str(SIZE), "--set",
                  "strategies.ffhq.min_segment=4")
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture(scope="module")
def cropped(cropped_run) -> Path:
    return cropped_run[0]


def test_face_video_is_cropped_with_a_provenance_sidecar(cropped):
    status = json.loads((cropped / "_meta" / "face.status.json").read_text())
    assert status["state"] == "done", status
    assert [{k: v for k, v in o.items() if k != "quality"} for o in status["outputs"]] == [{"out_id": "face", "frames": 20, "source_start": 0, "source_stop": 20}]
    images = sorted((cropped / "frames" / "face").glob("*.jpg"))
    assert len(images) == 20
    sidecar = json.loads((cropped / "_meta" / "face.plan.json").read_text())
    frame = sidecar["frames"][3]
    assert np.asarray(frame["quad"]).shape == (4, 2)
    assert np.asarray(frame["landmarks"]).shape == (68, 2)
    assert np.asarray(frame["face_box_xyxy"]).shape == (4,)
    assert sidecar["params"]["stabilize"]["num_boxes"] == 8


def test_video_without_face_is_done_with_no_output_and_a_reason(cropped_run):
    cropped, console = cropped_run
    status = json.loads((cropped / "_meta" / "noface.status.json").read_text())
    assert status["state"] == "done"
    assert status["outputs"] == []
    assert status["counts"]["reason"] == "no face found in any frame"
    assert not (cropped / "noface").exists()
    # the console summary says so, naming the video (not only "2 done ... N frames")
    assert "note: 1 video(s) finished without writing a frame" in console
    assert "no output: noface: no face found in any frame" in console.splitlines()


def test_reuse_landmarks_recrops_without_detectors(cropped, dataset, monkeypatch):
    from styleinv_data.pipeline import ffhq_strategy

    before = CropPlan.load(cropped / "_meta" / "face.plan.json")

    def no_detectors(*args, **kwargs):
        raise AssertionError("detectors must not run with --reuse-landmarks")

    monkeypatch.setattr(ffhq_strategy, "plan_frames", no_detectors)
    result = crop(str(dataset), str(cropped), "--strategy", "ffhq", "--size", str(SIZE), "--reuse-landmarks",
                  "--overwrite", "--smooth", "local_quadratic", "--set", "strategies.ffhq.min_segment=4")
    assert result.exit_code == 0, result.output
    after = CropPlan.load(cropped / "_meta" / "face.plan.json")
    assert after.stats["reused_plan"] is True
    assert [f.source for f in after.frames] == ["reused"] * 20
    for a, b in zip(before.frames, after.frames):
        np.testing.assert_array_equal(a.landmarks, b.landmarks)
    moved = [np.abs(a.quad - b.quad).max() for a, b in zip(before.frames, after.frames)]
    assert max(moved) > 0  # the new smoothing was applied to the saved landmarks
    sidecar = json.loads((cropped / "_meta" / "face.plan.json").read_text())
    assert sidecar["frames"][0]["face_box_xyxy"] is not None  # the boxes survive a reuse
    # ... and so do the per-frame confidences
    first = json.loads(json.dumps(before.to_json()))["frames"][0]
    assert 0.0 < sidecar["frames"][0]["confidence"] <= 1.0
    assert sidecar["stats"]["confidence_min"] is not None
    assert first["frame_index"] == sidecar["frames"][0]["frame_index"]
    assert len(sorted((cropped / "frames" / "face").glob("*.jpg"))) == 20


def test_missing_optional_weights_fail_the_video_with_the_file_named(dataset, tmp_path, monkeypatch):
    monkeypatch.delenv("STYLEINV_FAN_WEIGHTS", raising=False)
    result = crop(str(dataset), str(tmp_path / "out"), "--strategy", "ffhq", "--landmarker", "fan",
                  "--fan-weights", str(tmp_path / "missing_fan.pth"))
    status = json.loads((tmp_path / "out" / "_meta" / "face.status.json").read_text())
    assert status["state"] == "failed"
    assert "missing_fan.pth" in status["reason"] and "2DFAN4" in status["reason"]
    # the summary counts the failure and the exit code says a video failed (documented: 1)
    assert result.exit_code == 1, result.output
    assert "0 done, 0 skipped, 2 failed" in result.output
    failures = [line for line in result.output.splitlines() if line.startswith("failed: ")]
    assert len(failures) == 2 and all("missing_fan.pth" in line for line in failures), result.output


def test_bad_option_values_are_one_line_errors():
    from styleinv_data.pipeline.ffhq_strategy import FfhqOptions

    with pytest.raises(ValueError, match="strategies.ffhq: .*smooth method 'wobble'"):
        FfhqOptions.from_dict({"smooth": "wobble"})
    with pytest.raises(ValueError, match="unknown option"):
        FfhqOptions.from_dict({"jiter_runs": 3})
    with pytest.raises(ValueError, match="num_boxes"):
        FfhqOptions.from_dict({"jitter_runs": 0})

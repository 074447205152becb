from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from styleinv_model.metrics.cli import main


@pytest.fixture()
def folders(tmp_path: Path, carphone_path: Path, carphone_frames: np.ndarray) -> tuple[Path, Path]:
    real, fake = tmp_path / "real", tmp_path / "fake"
    real.mkdir()
    shutil.copy(carphone_path, real / "carphone.mp4")
    for v in range(2):
        folder = fake / f"video{v}"
        folder.mkdir(parents=True)
        for i in range(16):
            Image.fromarray(carphone_frames[119 - 40 * v - i]).save(folder / f"{i:06d}.png")  # played backwards
    return real, fake


def test_compare_writes_reproducible_json_and_reuses_real_stats(
    folders: tuple[Path, Path], tmp_path: Path, i3d_extractor, metrics_cache: Path
) -> None:
    real, fake = folders
    runner = CliRunner()
    args = ["compare", str(fake), "--real-dir", str(real), "--metric", "fvd16", "--num-videos", "2",
            "--device", "cpu", "--quiet"]
    first = runner.invoke(main, [*args, "--out", str(tmp_path / "a.json")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, [*args, "--out", str(tmp_path / "b.json")])
    assert second.exit_code == 0, second.output
    a, b = (json.loads((tmp_path / name).read_text())["results"][0] for name in ("a.json", "b.json"))
    assert a["metric"] == "fvd16" and a["value"] > 0
    assert a["value"] == pytest.approx(b["value"], rel=1e-9)
    protocol = a["protocol"]
    assert (protocol["num_videos"], protocol["num_frames"], protocol["frame_stride"]) == (2, 16, 1)
    assert protocol["resolution"] == 224 and protocol["features"] == "logits"
    assert protocol["weights_sha256"] == i3d_extractor.weights.sha256
    assert a["real"]["sampling"] == "class_aware" and a["fake"]["sampling"] == "first"
    assert a["real"]["stats_from_cache"] is False and b["real"]["stats_from_cache"] is True
    assert Path(b["real"]["stats_cache"]).is_file()
    assert f"fvd16: {a['value']:.4f}" in first.output


def test_convert_reports_hashes(tmp_path: Path, i3d_extractor) -> None:
    result = CliRunner().invoke(main, ["convert", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"weights_sha256={i3d_extractor.weights.sha256}" in result.output
    assert (tmp_path / "fid_inception_v3.safetensors").is_file()


def test_bad_input_is_a_one_line_error(tmp_path: Path, folders: tuple[Path, Path]) -> None:
    real, fake = folders
    runner = CliRunner()
    missing = runner.invoke(main, ["compare", str(tmp_path / "nothing"), "--real-dir", str(real)])
    assert missing.exit_code != 0 and "nothing: not a directory" in missing.output
    both = runner.invoke(main, ["compare", str(fake)])
    assert both.exit_code != 0 and "exactly one of --real-dir" in both.output
    too_many = runner.invoke(main, ["compare", str(fake), "--real-dir", str(real), "--num-videos", "5", "--quiet"])
    assert too_many.exit_code != 0 and "lower --num-videos" in too_many.output


def test_malicious_weights_pickle_is_a_one_line_error_naming_it(tmp_path: Path, folders: tuple[Path, Path]) -> None:
    import pickle

    class Exploit:
        def __reduce__(self):
            return (print, ("this must never run",))

    evil = tmp_path / "evil_i3d.pkl"
    evil.write_bytes(pickle.dumps({"params": Exploit()}))
    real, fake = folders
    result = CliRunner().invoke(main, ["compare", str(fake), "--real-dir", str(real), "--metric", "fvd16",
                                       "--i3d-weights", str(evil), "--quiet"])
    assert result.exit_code == 1, result.output
    assert f"{evil}: refusing to load global builtins.print" in result.output
    assert "this must never run" not in result.output and "Traceback" not in result.output


def test_stylegan_v_protocol_and_the_few_videos_warning(folders: tuple[Path, Path], tmp_path: Path, i3d_extractor,
                                                        metrics_cache: Path) -> None:
    """--protocol stylegan-v records what it did; clips cut from fewer distinct real videos than the
    protocol asks for give a warning in the output and the JSON (8 clips of one real video)."""
    real, fake = folders
    runner = CliRunner()
    base = ["compare", str(fake), "--real-dir", str(real), "--metric", "fvd16", "--device", "cpu", "--quiet"]
    default = runner.invoke(main, [*base, "--num-videos", "2", "--out", str(tmp_path / "d.json")])
    assert default.exit_code == 0, default.output
    assert "warning: fvd16: the real side has 1 distinct videos (2 clips) where the protocol asks for 2" in \
        default.output
    d = json.loads((tmp_path / "d.json").read_text())["results"][0]
    assert d["real"]["distinct_videos"] == 1 and d["warnings"] and d["protocol"]["covariance"] == "unbiased"
    shutil.copy(real / "carphone.mp4", real / "carphone_copy.mp4")
    sgv = runner.invoke(main, [*base, "--num-videos", "3", "--protocol", "stylegan-v", "--out", str(tmp_path / "s.json")])
    assert sgv.exit_code == 0, sgv.output
    s = json.loads((tmp_path / "s.json").read_text())["results"][0]
    assert s["metric"] == "fvd16@stylegan-v" and s["protocol"]["covariance"] == "biased"
    assert s["real"]["sampling"] == "dataset_order" and s["real"]["samples"] == 2  # two videos: two clips, not 3
    assert s["fake"]["sampling"] == "first_available" and s["fake"]["samples"] == 2
    assert len(s["warnings"]) == 2 and "warning: fvd16@stylegan-v: the real side has 2 distinct videos" in sgv.output
    fid = runner.invoke(main, ["compare", str(fake), "--real-dir", str(real), "--metric", "fid", "--num-frames", "20",
                               "--protocol", "stylegan-v", "--device", "cpu", "--quiet", "--out", str(tmp_path / "f.json")])
    assert fid.exit_code == 0, fid.output
    f = json.loads((tmp_path / "f.json").read_text())["results"][0]
    assert f["metric"] == "fid@stylegan-v" and f["real"]["sampling"] == "all_frames" and f["real"]["samples"] == 240
    assert f["fake"]["sampling"] == "video_major" and f["fake"]["samples"] == 20 and not f["warnings"]

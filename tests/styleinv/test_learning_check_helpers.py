"""Helpers of benchmarks/train_learning_check.py that run without training (the benchmark
itself is too slow for the test suite, so its pieces are checked here and cannot rot unseen)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from styleinv_model.generate import to_uint8

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_learning_check.py"


def _load_check():
    spec = importlib.util.spec_from_file_location("train_learning_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_static_videos_repeat_g_of_w0_for_the_seeded_z(tiny_model):
    check = _load_check()
    videos = check.static_videos(tiny_model, count=3, frames=5, seed=7, batch=2)
    assert len(videos) == 3
    for video in videos:
        assert video.dtype == np.uint8 and video.shape[0] == 5 and video.shape[-1] == 3
        assert all(np.array_equal(video[0], frame) for frame in video[1:])  # a still video
    # videos 0-1 come from seed 7, video 2 from seed 9 (one generator per batch, as generate_videos)
    with torch.no_grad():
        z = torch.randn(1, tiny_model.z_dim, generator=torch.Generator().manual_seed(9))
        expected = to_uint8(tiny_model.synthesize(tiny_model.initial_latents(z), noise_mode="const"))[0]
    assert np.array_equal(videos[2][0], expected)
    assert not np.array_equal(videos[0][0], videos[1][0])  # different z, different frames


@pytest.mark.parametrize("photos", ["0", "22"])
def test_photos_out_of_range_is_a_usage_error(photos, tmp_path, capsys):
    check = _load_check()
    with pytest.raises(SystemExit) as stop:
        check.main(["--photos", photos, "--workdir", str(tmp_path / "work")])
    assert stop.value.code == 2
    assert "--photos must be between 1 and 21" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()  # nothing written

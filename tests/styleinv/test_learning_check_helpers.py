"""Helpers of benchmarks/train_learning_check.py that run without training (the benchmark
itself is too slow for the test suite, so its pieces are checked here and cannot rot unseen)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch


SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_learning_check.py"


def _load_check():
    spec = importlib.util.spec_from_file_location("train_learning_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _uint8_hwc(images: torch.Tensor) -> np.ndarray:
    """[N, 3, H, W] in [-1, 1] -> [N, H, W, 3] uint8 by StyleGAN's rule x * 127.5 + 128, clipped."""
    return np.clip(images.numpy().astype(np.float32) * 127.5 + 128, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def test_static_videos_repeat_g_of_w0_for_the_seeded_z(tiny_model):
    check = _load_check()
    videos = check.static_videos(tiny_model, count=3, frames=5, seed=7, batch=2)
    assert len(videos) == 3
    for video in videos:
        assert video.dtype == np.uint8 and video.shape[0] == 5 and video.shape[-1] == 3
        assert all(np.array_equal(video[0], frame) for frame in video[1:])  # a still video
    # videos 0-1 come from seed 7, video 2 from seed 9 (one generator per batch, as generate_videos).
    # The expected frame is built from the StyleGAN2 API itself (mapping, w broadcast to every
    # layer, stored noise) and converted here, not through the helpers the script uses.
    G = tiny_model.image_generator
    with torch.no_grad():
        z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(9))
        w0 = G.mapping(z, None)[:, :1].repeat(1, G.num_ws, 1)
        expected = _uint8_hwc(G.synthesis(w0, noise_mode="const"))[0]
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


def test_w_path_videos_render_per_frame_inversions_and_hold_frame_zero():
    from styleinv_model.styleinv.encoder import EncoderConfig, InversionEncoder
    from styleinv_model.stylegan2 import Generator, GeneratorConfig

    check = _load_check()
    res = 16
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(img_resolution=res, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256,
                                  channel_max=16)).eval()
    G.mapping.w_avg.normal_()  # a non-zero average, so forgetting to add it changes the frames
    encoder = InversionEncoder(EncoderConfig(stage_channels=(8, 8, 8, 8), stage_units=(1, 1, 1, 1), se_reduction=4,
                                             style_dim=16, w_dim=G.w_dim, input_resolution=res)).eval()
    rng = np.random.default_rng(0)
    clips = [rng.integers(0, 256, size=(4, res, res, 3), dtype=np.uint8) for _ in range(2)]
    moving, held = check.w_path_videos(clips, G, encoder)
    assert len(moving) == len(held) == 2
    for clip, video, still in zip(clips, moving, held):
        assert video.dtype == np.uint8 and video.shape == clip.shape and still.shape == clip.shape
        with torch.no_grad():  # the expected frames from G's own API and our own conversion
            x = torch.from_numpy(clip).permute(0, 3, 1, 2).float() / 127.5 - 1.0
            w = (encoder(x) + G.mapping.w_avg).unsqueeze(1).repeat(1, G.num_ws, 1)
            expected = _uint8_hwc(G.synthesis(w, noise_mode="const"))
        assert np.array_equal(video, expected)
        assert all(np.array_equal(still[0], frame) for frame in still[1:])
        assert np.array_equal(still[0], video[0])
        assert not np.array_equal(video[0], video[-1])  # different real frames, different inversions

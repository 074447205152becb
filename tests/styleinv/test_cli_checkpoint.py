"""Checkpoint round trip with the real StyleGAN2 generator, and the `styleinv-generate` CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from styleinv_model.generate import ExplicitTimestamps, iter_frames, prepare_videos
from styleinv_model.generate_cli import main, parse_seeds
from styleinv_model.styleinv.checkpoint import load_styleinv, save_styleinv
from styleinv_model.styleinv.generator import StyleInVGenerator
from styleinv_model.styleinv.motion_noise import SeededMotionNoise

stylegan2 = pytest.importorskip("styleinv_model.stylegan2", reason="the StyleGAN2 core (issue 5) is not installed")


def _real_model(tiny_config_factory) -> StyleInVGenerator:
    torch.manual_seed(1)
    image_generator = stylegan2.build_generator(
        "auto", resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=16, mapping_layers=2
    )
    return StyleInVGenerator(image_generator, tiny_config_factory()).eval()


def _video_frames(path: Path) -> tuple[int, float, tuple[int, int]]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        return len(frames), float(stream.average_rate), frames[0].shape[:2]


def test_checkpoint_round_trip_reproduces_frames(tmp_path, tiny_config_factory) -> None:
    model = _real_model(tiny_config_factory)
    path = save_styleinv(tmp_path / "styleinv.safetensors", model)
    loaded = load_styleinv(path)
    timestamps = ExplicitTimestamps((0.0, 2.5, 9.0))
    outputs = []
    for net in (model, loaded):
        context = prepare_videos(net, [4], noise_mode="video")
        motion = SeededMotionNoise([4], net.temporal_style.config.motion_dim)
        outputs.append(torch.cat([f for _, f in iter_frames(net, context, motion, timestamps)], dim=1))
    assert outputs[0].shape == (1, 3, 3, 16, 16)
    assert torch.equal(outputs[0], outputs[1])


def test_loading_an_image_generator_checkpoint_as_styleinv_fails_clearly(tmp_path) -> None:
    from styleinv_model.checkpoints.safetensors_io import save_checkpoint

    G = stylegan2.build_generator("auto", resolution=16, z_dim=8, w_dim=8, channel_max=8, mapping_layers=1)
    path = save_checkpoint(tmp_path / "G.safetensors", {"G_ema": G}, config={})
    with pytest.raises(ValueError, match="holds no trained StyleInV networks"):
        load_styleinv(path)
    # but image-only mode takes it
    result = CliRunner().invoke(main, ["--checkpoint", str(path), "--out", str(tmp_path / "img"), "--seeds", "1-2",
                                       "--image-only", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert np.asarray(Image.open(tmp_path / "img" / "seed0002.png")).shape == (16, 16, 3)
    result = CliRunner().invoke(main, ["--checkpoint", str(path), "--out", str(tmp_path / "vid"), "--device", "cpu"])
    assert result.exit_code != 0 and "--image-only" in result.output


def test_cli_writes_videos_grid_and_doubles_the_frame_rate(tmp_path, tiny_config_factory) -> None:
    path = save_styleinv(tmp_path / "styleinv.safetensors", _real_model(tiny_config_factory))
    runner = CliRunner()
    out = tmp_path / "videos"
    result = runner.invoke(main, ["--checkpoint", str(path), "--out", str(out), "--seeds", "0,3", "--frames", "12",
                                  "--step", "0.5", "--fps", "25", "--chunk-frames", "5", "--grid-columns", "4",
                                  "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["grid.png", "seed0000.mp4", "seed0003.mp4"]
    count, fps, size = _video_frames(out / "seed0003.mp4")
    assert (count, size) == (12, (16, 16))
    assert fps == pytest.approx(50.0)  # --step 0.5 doubles the frame rate and keeps the duration
    grid = np.asarray(Image.open(out / "grid.png"))
    # 4 tiles of 16 px upscaled x8 so a row is 512 px wide, plus a left margin for the seed labels
    assert grid.shape[0] == 2 * 128 and grid.shape[1] > 4 * 128

    images = tmp_path / "images"
    result = runner.invoke(main, ["--checkpoint", str(path), "--out", str(images), "--num-videos", "3",
                                  "--image-only", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in images.iterdir()) == ["grid.png", "seed0000.png", "seed0001.png", "seed0002.png"]


def test_cli_errors_are_one_line_and_name_the_fix(tmp_path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "no trained checkpoint given" in result.output and "--random-init" in result.output
    result = runner.invoke(main, ["--out", str(tmp_path / "o"), "--checkpoint", str(tmp_path / "missing.safetensors")])
    assert result.exit_code != 0 and "does not exist" in result.output
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint")
    result = runner.invoke(main, ["--out", str(tmp_path / "o"), "--checkpoint", str(garbage)])
    assert result.exit_code != 0 and "not a readable safetensors file" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(main, ["--out", str(tmp_path / "o"), "--random-init", "--frames", "3", "--seconds", "1"])
    assert result.exit_code != 0 and "either --frames or --seconds" in result.output


def test_parse_seeds() -> None:
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    with pytest.raises(Exception, match="cannot read seeds"):
        parse_seeds("a-b")


def test_cli_random_init_is_labelled_and_runs(tmp_path) -> None:
    out = tmp_path / "smoke"
    result = CliRunner().invoke(main, ["--random-init", "--resolution", "32", "--preset", "auto", "--out", str(out),
                                       "--frames", "2", "--seeds", "5", "--grid-columns", "0", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "untrained random weights" in result.output
    assert [p.name for p in out.iterdir()] == ["seed0005.mp4"]
    assert _video_frames(out / "seed0005.mp4")[:1] == (2,)


def test_integer_frames_agree_with_the_real_image_generator(tiny_config_factory) -> None:
    model = _real_model(tiny_config_factory)

    def stream(timestamps, chunk_frames: int) -> torch.Tensor:
        context = prepare_videos(model, [3, 11], noise_mode="video")
        motion = SeededMotionNoise([3, 11], model.temporal_style.config.motion_dim)
        return torch.cat([f for _, f in iter_frames(model, context, motion, timestamps, chunk_frames=chunk_frames)], 1)

    from styleinv_model.generate import Timeline

    whole = stream(Timeline(24), 24)
    assert (stream(Timeline(24), 5) - whole).abs().max() <= 1e-5
    assert (stream(Timeline(48, step=0.5), 7)[:, ::2] - whole).abs().max() <= 1e-5
    alone = torch.cat([stream(ExplicitTimestamps((float(k),)), 1) for k in (0, 9, 23)], dim=1)
    assert (alone - whole[:, [0, 9, 23]]).abs().max() <= 1e-5
    assert (whole[:, 1:] - whole[:, :1]).abs().max() > 1e-3  # the frames do move


def test_cli_refuses_a_damaged_checkpoint_and_an_unwritable_out(tmp_path, tiny_config_factory) -> None:
    """Two one-line errors that were tracebacks: a checkpoint whose tensor shapes do not fit its stored
    configuration (names the file and the network), and an --out folder that cannot be written."""
    import os

    from safetensors.torch import load_file, save_file

    model = _real_model(tiny_config_factory)
    good = save_styleinv(tmp_path / "good.safetensors", model)
    tensors = load_file(str(good))
    key = next(k for k in tensors if k.startswith("encoder.") and k.endswith("output_fc.weight"))
    tensors[key] = tensors[key][:, :-1].contiguous()  # one input column short
    from safetensors import safe_open

    with safe_open(str(good), "pt") as handle:
        metadata = handle.metadata()
    damaged = tmp_path / "damaged.safetensors"
    save_file(tensors, str(damaged), metadata=metadata)
    runner = CliRunner()
    result = runner.invoke(main, ["--checkpoint", str(damaged), "--out", str(tmp_path / "v"), "--seeds", "0",
                                  "--frames", "2", "--device", "cpu"])
    assert result.exit_code == 1, result.output
    assert f"{damaged}: network 'encoder' does not fit the configuration stored with it" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1

    locked = tmp_path / "read_only"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores the mode bits: make the target a file instead
            os.chmod(locked, 0o700)
            locked.rmdir()
            locked.write_text("not a folder")
        result = runner.invoke(main, ["--checkpoint", str(good), "--out", str(locked / "videos"), "--seeds", "0",
                                      "--frames", "2", "--device", "cpu"])
    finally:
        if locked.is_dir():
            os.chmod(locked, 0o700)
    assert result.exit_code == 1, result.output
    assert "cannot write" in result.output and "choose a writable --out" in result.output
    assert "Traceback" not in result.output


def test_cli_writes_png_frame_folders_gifs_and_a_labelled_upscaled_grid(tmp_path, tiny_config_factory) -> None:
    from styleinv_model.generate import Timeline, iter_uint8_frames

    model = _real_model(tiny_config_factory)
    path = save_styleinv(tmp_path / "styleinv.safetensors", model)
    runner = CliRunner()
    frames_out = tmp_path / "frames"
    result = runner.invoke(main, ["--checkpoint", str(path), "--out", str(frames_out), "--seeds", "0,3", "--frames", "6",
                                  "--as-frames", "--grid-columns", "3", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in frames_out.iterdir()) == ["grid.png", "seed0000", "seed0003"]
    pngs = sorted((frames_out / "seed0003").iterdir())
    assert [p.name for p in pngs] == [f"{i:06d}.png" for i in range(6)]
    expected = np.concatenate([px for _, px in iter_uint8_frames(load_styleinv(path), [0, 3], Timeline(6))], axis=1)
    for i, png in enumerate(pngs):  # lossless: exactly the generator's uint8 frames
        np.testing.assert_array_equal(np.asarray(Image.open(png)), expected[1, i])
    grid = np.asarray(Image.open(frames_out / "grid.png"))
    tile = 16 * 11  # ceil(512 / (3 * 16)) = 11
    margin = grid.shape[1] - 3 * tile
    assert grid.shape[0] == 2 * tile and margin > 0
    np.testing.assert_array_equal(grid[tile:, margin:margin + tile], expected[1, 0].repeat(11, 0).repeat(11, 1))
    assert (grid[:, :margin] < 128).any()  # the seed labels are drawn in the margin
    assert not list(frames_out.glob(".*"))  # no partial outputs left

    again = runner.invoke(main, ["--checkpoint", str(path), "--out", str(frames_out), "--seeds", "3", "--frames", "4",
                                 "--format", "frames", "--device", "cpu"])
    assert again.exit_code == 0, again.output
    assert len(list((frames_out / "seed0003").iterdir())) == 4  # a rerun replaces the folder

    gif_out = tmp_path / "gif"
    result = runner.invoke(main, ["--checkpoint", str(path), "--out", str(gif_out), "--seeds", "1", "--frames", "5",
                                  "--format", "gif", "--fps", "20", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    with Image.open(gif_out / "seed0001.gif") as gif:
        assert gif.n_frames == 5 and gif.info["duration"] == 50 and gif.info.get("loop") == 0
    bad = runner.invoke(main, ["--random-init", "--resolution", "32", "--preset", "auto", "--out", str(tmp_path / "x"),
                               "--as-frames", "--format", "gif"])
    assert bad.exit_code != 0 and "exclude each other" in bad.output

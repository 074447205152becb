"""Generator wrapper and streaming generation: chunking, interpolation, seeds, constant noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from styleinv_model.generate import (
    ExplicitTimestamps,
    Timeline,
    grid_frame_indices,
    iter_frames,
    prepare_videos,
)
from styleinv_model.styleinv.motion_noise import SeededMotionNoise


def _stream(model, seeds, timestamps, chunk_frames, noise_mode="const") -> torch.Tensor:
    context = prepare_videos(model, seeds, noise_mode=noise_mode)
    motion = SeededMotionNoise(seeds, model.temporal_style.config.motion_dim)
    chunks = [frames for _, frames in iter_frames(model, context, motion, timestamps, chunk_frames=chunk_frames)]
    return torch.cat(chunks, dim=1)


def test_integer_frames_agree_alone_in_chunks_and_interleaved(tiny_model) -> None:
    seeds = [3, 11]
    n = 40  # 10 anchors at distance 4
    whole = _stream(tiny_model, seeds, Timeline(n), chunk_frames=n)
    chunked = _stream(tiny_model, seeds, Timeline(n), chunk_frames=7)
    interleaved = _stream(tiny_model, seeds, Timeline(2 * n, step=0.5), chunk_frames=9)
    alone = torch.cat([_stream(tiny_model, seeds, ExplicitTimestamps((float(k),)), 1) for k in (0, 13, 39)], dim=1)
    assert whole.shape == (2, n, 3, 16, 16)
    assert (chunked - whole).abs().max() <= 1e-5
    assert (interleaved[:, ::2] - whole).abs().max() <= 1e-5
    assert (alone - whole[:, [0, 13, 39]]).abs().max() <= 1e-5
    # the in-between frames are new frames, not copies
    assert (interleaved[:, 1::2] - whole).abs().amax(dim=(2, 3, 4)).min() > 1e-5
    # and the full-sequence forward (training path) gives the same frames from the same noise
    context = prepare_videos(tiny_model, seeds)
    noise = SeededMotionNoise(seeds, tiny_model.temporal_style.config.motion_dim).window(0, n // 4 + 2)
    with torch.no_grad():
        forward = tiny_model(context.w0, torch.arange(n, dtype=torch.float32).repeat(2, 1), noise)
    assert (forward - whole).abs().max() <= 1e-5


def test_same_seed_same_video_and_seeds_are_independent(tiny_model, model_factory) -> None:
    a = _stream(tiny_model, [5, 6], Timeline(12), chunk_frames=5)
    b = _stream(model_factory(), [5, 6], Timeline(12), chunk_frames=5)
    single = _stream(tiny_model, [6], Timeline(12), chunk_frames=12)
    assert torch.equal(a, b)
    assert (a[1:] - single).abs().max() <= 1e-5  # a video does not depend on its batch neighbours
    assert (a[0] - a[1]).abs().max() > 1e-2


def test_motion_changes_frames_but_not_the_first(tiny_model) -> None:
    context = prepare_videos(tiny_model, [1, 1])
    t = torch.arange(9, dtype=torch.float32).repeat(2, 1)
    noise = torch.randn(2, 5, tiny_model.temporal_style.config.motion_dim)
    noise[1] *= -2.0
    with torch.no_grad():
        frames = tiny_model(context.w0, t, noise)
    assert torch.equal(frames[0, 0], frames[1, 0])  # t = 0 ignores the motion noise
    assert (frames[0, 1:] - frames[1, 1:]).abs().amax(dim=(1, 2, 3)).min() > 1e-6
    assert (frames[0, 1:] - frames[0, :1]).abs().max() > 1e-4  # the video moves


@pytest.mark.parametrize("noise_mode", ["const", "video"])
def test_image_noise_is_constant_over_a_video(noise_mode, model_factory, assert_float32_close) -> None:
    model = model_factory()
    with torch.no_grad():  # delta w = 0: every frame is G(w0) with the video's noise buffer
        model.encoder.output_fc.weight.zero_()
        model.encoder.output_fc.bias.zero_()
    frames = _stream(model, [2, 9], Timeline(6), chunk_frames=4, noise_mode=noise_mode)
    first = prepare_videos(model, [2, 9], noise_mode=noise_mode).first_frame
    # The frames come from synthesis batches of 2x4 and 2x2 frames, G(w0) from a batch of 2: the
    # same arithmetic in kernels of other shapes, so float32 rounding may differ (measured 1.5e-7 on
    # an AMD EPYC at values of scale ~1, i.e. ~1 eps). Bound: 16 eps of the images' scale; a frame
    # with other noise differs by > 1e-3 (checked below).
    assert_float32_close(frames, first.unsqueeze(1).expand_as(frames), ulps=16, what="frames vs G(w0)")
    without = _stream(model, [2, 9], Timeline(2), chunk_frames=2, noise_mode="none")
    assert (frames[:, :2] - without).abs().max() > 1e-3  # the noise is really there


def test_video_noise_differs_between_videos_and_repeats_per_seed(tiny_model) -> None:
    model = tiny_model
    a = prepare_videos(model, [4, 8], noise_mode="video").noise["layer0"]
    b = prepare_videos(model, [8], noise_mode="video").noise["layer0"]
    assert torch.equal(a[1], b[0]) and not torch.equal(a[0], a[1])


def test_hour_long_timestamps_stream_from_a_late_start(tiny_model) -> None:
    start = 30.0 * 3600  # frame index one hour into a 30 fps video
    late = _stream(tiny_model, [7], Timeline(6, start=start), chunk_frames=4)
    again = _stream(tiny_model, [7], ExplicitTimestamps(tuple(start + k for k in range(6))), chunk_frames=6)
    assert torch.isfinite(late).all()
    assert (late - again).abs().max() <= 1e-5


def test_motion_noise_windows_are_consistent() -> None:
    source = SeededMotionNoise([1, 2], dim=8, block_anchors=16)
    full = source.window(0, 100)
    assert torch.equal(SeededMotionNoise([1, 2], dim=8, block_anchors=16).window(37, 70), full[:, 37:70])
    assert torch.equal(SeededMotionNoise([2], dim=8, block_anchors=16).window(5, 9), full[1:, 5:9])


def test_timelines() -> None:
    assert np.array_equal(Timeline(5, start=1.0, step=0.5).values(0, 10), [1.0, 1.5, 2.0, 2.5, 3.0])
    assert Timeline.from_seconds(2.0, fps=30.0).num_frames == 60
    assert Timeline.from_seconds(2.0, fps=30.0, step=0.5).num_frames == 120
    assert grid_frame_indices(100, 5) == [0, 25, 50, 74, 99]
    assert grid_frame_indices(3, 8) == [0, 1, 2]
    with pytest.raises(ValueError, match="step > 0"):
        Timeline(5, step=0.0)
    with pytest.raises(ValueError, match=">= 0"):
        ExplicitTimestamps((1.0, -2.0))


def test_frames_from_z_equal_frames_from_its_w0(tiny_model) -> None:
    z = torch.randn(2, tiny_model.z_dim)
    t = torch.tensor([[0.0, 1.5, 6.0]] * 2)
    noise = torch.randn(2, 4, tiny_model.temporal_style.config.motion_dim)
    with torch.no_grad():
        from_z = tiny_model.frames_from_z(z, t, noise, truncation_psi=0.5)
        from_w0 = tiny_model(tiny_model.initial_latents(z, 0.5), t, noise)
        untruncated = tiny_model.frames_from_z(z, t, noise)
    assert torch.equal(from_z, from_w0)
    assert (from_z - untruncated).abs().max() > 1e-4


def test_generate_videos_streams_to_sinks_and_cleans_up_on_error(tiny_model, tmp_path) -> None:
    from styleinv_model.generate import VideoGenerationConfig, generate_videos

    written: dict[str, list[np.ndarray]] = {}

    class ListSink:
        def __init__(self, path, size, fps) -> None:
            self.path = path
            written[path.name] = []
            path.write_bytes(b"")

        def write(self, frame) -> None:
            if len(written[self.path.name]) >= 5 and fail["now"]:
                raise RuntimeError("disk full")
            written[self.path.name].append(frame)

        def close(self) -> None:
            pass

        def abort(self) -> None:
            pass

    fail = {"now": False}
    config = VideoGenerationConfig(seeds=[1, 2, 3], timestamps=Timeline(7), chunk_frames=3, videos_per_batch=2,
                                   grid_columns=3, grid_row_px=0)  # no upscaling: tiles at their own size
    result = generate_videos(tiny_model, config, tmp_path / "ok", sink_factory=ListSink)
    assert [p.name for p in result.videos] == ["seed0001.mp4", "seed0002.mp4", "seed0003.mp4"]
    assert all(p.exists() for p in result.videos)
    assert {len(frames) for frames in written.values()} == {7}
    grid = np.asarray(Image.open(result.grid))
    margin = grid.shape[1] - 3 * 16  # the seed labels' column
    assert grid.shape[0] == 3 * 16 and margin > 0
    # the grid's last column is the video's last frame
    assert np.array_equal(grid[16:32, margin + 32:margin + 48], written[".seed0002.partial.mp4"][6])

    fail["now"] = True
    with pytest.raises(RuntimeError, match="disk full"):
        generate_videos(tiny_model, config, tmp_path / "bad", sink_factory=ListSink)
    assert list((tmp_path / "bad").iterdir()) == []

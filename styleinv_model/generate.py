"""Streaming video generation with StyleInV: arbitrarily long videos and temporal interpolation.

Timestamps are in frames of the training data (t = 0, 1, 2, ... at the data's frame rate ``fps``).
A :class:`Timeline` yields them lazily (``start + step * i``; ``step = 0.5`` doubles the frame rate),
so a one-hour video never holds its timestamps, motion noise or frames in memory: frames are
generated ``chunk_frames`` at a time and streamed to one mp4 per video.

Every random quantity of a video derives from its seed alone (z, motion noise blocks, the image
generator's per-video noise), so the same seed gives the same video, in one piece or in chunks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from torch import nn

from styleinv_model.styleinv.generator import (
    NOISE_MODES,
    StyleInVGenerator,
    VideoContext,
    initial_latents,
    synthesize,
)
from styleinv_model.styleinv.motion_noise import SeededMotionNoise, derived_seed

_Z_TAG = 0x5A
_IMAGE_NOISE_TAG = 0x4E


# ----------------------------------------------------------------------------- timestamps
class Timestamps(Protocol):
    num_frames: int

    def values(self, begin: int, end: int) -> np.ndarray: ...


@dataclass(frozen=True)
class Timeline:
    """Evenly spaced timestamps ``start + step * i`` for ``i < num_frames`` (float64, lazily)."""

    num_frames: int
    start: float = 0.0
    step: float = 1.0

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise ValueError(f"a video needs at least one frame, got num_frames={self.num_frames}")
        if self.start < 0 or self.step <= 0:
            raise ValueError(f"need start >= 0 and step > 0, got start={self.start}, step={self.step}")

    @classmethod
    def from_seconds(cls, seconds: float, fps: float, *, start: float = 0.0, step: float = 1.0) -> "Timeline":
        """Timestamps covering ``seconds`` of video at the data's frame rate ``fps``."""
        if seconds <= 0 or fps <= 0:
            raise ValueError(f"need seconds > 0 and fps > 0, got {seconds}, {fps}")
        return cls(num_frames=max(1, int(round(seconds * fps / step))), start=start, step=step)

    def values(self, begin: int, end: int) -> np.ndarray:
        return self.start + self.step * np.arange(begin, min(end, self.num_frames), dtype=np.float64)

    @property
    def last(self) -> float:
        return self.start + self.step * (self.num_frames - 1)


@dataclass(frozen=True)
class ExplicitTimestamps:
    """Any list of timestamps (>= 0, any order, fractional allowed)."""

    timestamps: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.timestamps:
            raise ValueError("no timestamps given")
        if min(self.timestamps) < 0 or not all(math.isfinite(t) for t in self.timestamps):
            raise ValueError("timestamps must be finite and >= 0")

    @property
    def num_frames(self) -> int:
        return len(self.timestamps)

    def values(self, begin: int, end: int) -> np.ndarray:
        return np.asarray(self.timestamps[begin:end], dtype=np.float64)


# ----------------------------------------------------------------------------- per-seed inputs
def seeded_z(seeds: Sequence[int], z_dim: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """z [B, z_dim], one independent standard normal draw per seed."""
    rows = [torch.randn(z_dim, generator=torch.Generator().manual_seed(derived_seed(s, _Z_TAG))) for s in seeds]
    return torch.stack(rows).to(device)


def _concat_buffers(buffers: list[Any]) -> Any:
    first = buffers[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(buffers, dim=0)
    if isinstance(first, dict):
        return {key: _concat_buffers([b[key] for b in buffers]) for key in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_concat_buffers([b[i] for b in buffers]) for i in range(len(first)))
    raise TypeError(f"unsupported noise buffer type {type(first).__name__}")


def seeded_video_noise(image_generator: nn.Module, seeds: Sequence[int], device: torch.device | str) -> Any:
    """The image generator's per-video noise buffers, one per seed, stacked along the batch."""
    buffers = []
    for seed in seeds:
        gen = torch.Generator(device=device).manual_seed(derived_seed(seed, _IMAGE_NOISE_TAG))
        buffers.append(image_generator.synthesis.make_noise(1, generator=gen))
    return _concat_buffers(buffers)


# ----------------------------------------------------------------------------- streaming core
def prepare_videos(
    model: StyleInVGenerator,
    seeds: Sequence[int],
    *,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    device: torch.device | str = "cpu",
) -> VideoContext:
    """Per-video context (w0, G(w0), encoder stem, noise) for the given seeds."""
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
    w0 = model.initial_latents(seeded_z(seeds, model.z_dim, device), truncation_psi)
    noise = seeded_video_noise(model.image_generator, seeds, device) if noise_mode == "video" else None
    return model.prepare(w0, noise_mode=noise_mode, noise=noise)


def anchor_window(model: StyleInVGenerator, t: torch.Tensor) -> tuple[int, int, int]:
    """(window_start, first, stop): noise window and exact-code range needed for timestamps t."""
    style = model.temporal_style
    first = int(style.anchor_index(t).min())
    stop = int(style.anchor_index(t).max()) + 2
    window_start = max(0, first - style.receptive_context)
    return window_start, first, stop


@torch.no_grad()
def iter_frames(
    model: StyleInVGenerator,
    context: VideoContext,
    motion: SeededMotionNoise,
    timestamps: Timestamps,
    *,
    chunk_frames: int = 16,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(first_frame_index, frames [B, T_chunk, 3, R, R])`` for the videos of ``context``."""
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    device = context.w0.device
    batch = context.w0.shape[0]
    style = model.temporal_style
    for begin in range(0, timestamps.num_frames, chunk_frames):
        values = timestamps.values(begin, begin + chunk_frames)
        t = torch.from_numpy(values).to(device=device, dtype=context.w0.dtype).unsqueeze(0).expand(batch, -1)
        window_start, first, stop = anchor_window(model, t)
        noise = motion.window(window_start, stop, device).to(context.w0.dtype)
        codes = style.anchor_codes_range(noise, window_start, first)
        w_t = model.latents(context, t, codes, first)
        yield begin, model.frames_from_latents(context, w_t)


def iter_uint8_frames(
    model: StyleInVGenerator,
    seeds: Sequence[int],
    timestamps: Timestamps,
    *,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    chunk_frames: int = 16,
    device: torch.device | str = "cpu",
) -> Iterator[tuple[int, np.ndarray]]:
    """``(index of the chunk's first frame, uint8 frames [B, T, H, W, 3])`` for the videos of ``seeds``,
    chunk by chunk (what every writer of generated videos consumes). The values are clamped to the
    image range by :func:`to_uint8`."""
    with torch.no_grad():
        context = prepare_videos(model, seeds, truncation_psi=truncation_psi, noise_mode=noise_mode, device=device)
        motion = SeededMotionNoise(seeds, model.temporal_style.config.motion_dim)
        for begin, frames in iter_frames(model, context, motion, timestamps, chunk_frames=chunk_frames):
            yield begin, to_uint8(frames)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[..., 3, H, W] in [-1, 1] -> [..., H, W, 3] uint8 (StyleGAN's conversion)."""
    x = (images.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return x.movedim(-3, -1).cpu().numpy()


def save_grid(path: Path, tiles: np.ndarray, labels: Sequence[str] | None = None, min_row_px: int = 0) -> Path:
    """Save tiles [rows, cols, H, W, 3] uint8 as one PNG (see :func:`~styleinv_model.video_outputs.labelled_grid`
    for the labels and the upscaling)."""
    from PIL import Image

    from styleinv_model.video_outputs import labelled_grid

    grid = labelled_grid(tiles, labels, min_row_px)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    Image.fromarray(grid).save(tmp)
    tmp.replace(path)
    return path


# ----------------------------------------------------------------------------- video writing
@dataclass
class VideoGenerationConfig:
    seeds: Sequence[int]
    timestamps: Timestamps
    out_fps: float = 30.0
    truncation_psi: float = 1.0
    noise_mode: str = "const"
    chunk_frames: int = 16  # frames per video per forward pass
    videos_per_batch: int = 4
    grid_columns: int = 8
    device: str = "cpu"
    crf: int = 18
    output_format: str = "mp4"  # mp4 | frames (a PNG folder per video) | gif
    grid_row_px: int = 512  # the grid is upscaled until a row is at least this wide; rows labelled by seed

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("no seeds given")
        if self.out_fps <= 0:
            raise ValueError(f"out_fps must be > 0, got {self.out_fps}")
        if self.noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {self.noise_mode!r}")
        if self.videos_per_batch < 1 or self.chunk_frames < 1 or self.grid_columns < 0:
            raise ValueError("videos_per_batch and chunk_frames must be >= 1, grid_columns >= 0")
        from styleinv_model.video_outputs import OUTPUT_FORMATS

        if self.output_format not in OUTPUT_FORMATS:
            raise ValueError(f"output format {self.output_format!r}: use one of {', '.join(OUTPUT_FORMATS)}")


@dataclass
class GenerationResult:
    videos: list[Path] = field(default_factory=list)
    grid: Path | None = None
    frames_per_video: int = 0
    elapsed_s: float = 0.0


def grid_frame_indices(num_frames: int, columns: int) -> list[int]:
    """Evenly spaced frame indices (first and last included) for the preview grid."""
    if columns <= 0:
        return []
    if num_frames <= columns:
        return list(range(num_frames))
    return sorted({int(round(i * (num_frames - 1) / (columns - 1))) for i in range(columns)}) if columns > 1 else [0]


def generate_videos(
    model: StyleInVGenerator,
    config: VideoGenerationConfig,
    out_dir: Path | str,
    *,
    sink_factory: Any = None,
    progress: Any = None,
) -> GenerationResult:
    """Generate one video per seed plus ``grid.png`` (seed-labelled rows) under ``out_dir``.

    ``config.output_format``: ``seed{SEED:04d}.mp4``, a ``seed{SEED:04d}/`` folder of PNG frames, or
    ``seed{SEED:04d}.gif`` (:mod:`styleinv_model.video_outputs`). Each is written under a partial
    name (``.seed{SEED:04d}.partial.mp4``, ...) and renamed when complete; on an error the partial
    outputs are removed.

    ``sink_factory(path, size, fps)`` may replace the writer (tests, benchmarks).
    ``progress(new_frames)`` is called after every chunk with the number of frames just written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(config.device)
    model = model.to(device).eval()
    seeds = [int(s) for s in config.seeds]
    columns = grid_frame_indices(config.timestamps.num_frames, config.grid_columns)
    column_of = {index: c for c, index in enumerate(columns)}
    size = model.resolution
    tiles = np.zeros((len(seeds), len(columns), size, size, 3), dtype=np.uint8)
    result = GenerationResult(frames_per_video=config.timestamps.num_frames)
    started = time.perf_counter()
    from styleinv_model.video_outputs import open_sink as open_output, output_path, partial_path, publish, remove_output

    open_sink = sink_factory or (lambda path, size_, fps: open_output(config.output_format, path, size_, fps,
                                                                      config.crf))

    for batch_start in range(0, len(seeds), config.videos_per_batch):
        batch_seeds = seeds[batch_start : batch_start + config.videos_per_batch]
        paths = [output_path(out, seed, config.output_format) for seed in batch_seeds]
        partial = [partial_path(path) for path in paths]  # renamed when complete
        sinks = []
        try:
            for path in partial:
                sinks.append(open_sink(path, size, config.out_fps))
        except BaseException:
            for sink in sinks:
                sink.abort()
            raise
        try:
            for begin, pixels in iter_uint8_frames(model, batch_seeds, config.timestamps,
                                                   truncation_psi=config.truncation_psi, noise_mode=config.noise_mode,
                                                   chunk_frames=config.chunk_frames, device=device):
                for v, sink in enumerate(sinks):
                    for k in range(pixels.shape[1]):
                        sink.write(pixels[v, k])
                for k in range(pixels.shape[1]):
                    column = column_of.get(begin + k)
                    if column is not None:
                        tiles[batch_start : batch_start + len(batch_seeds), column] = pixels[:, k]
                if progress is not None:
                    progress(pixels.shape[0] * pixels.shape[1])
        except BaseException:
            for sink, path in zip(sinks, partial):
                sink.abort()
                if path.exists():
                    remove_output(path)
            raise
        for sink, tmp_path, path in zip(sinks, partial, paths):
            sink.close()
            if tmp_path.exists():
                publish(tmp_path, path)
        result.videos.extend(paths)
    if columns:
        result.grid = save_grid(out / "grid.png", tiles, [f"seed {seed}" for seed in seeds], config.grid_row_px)
    result.elapsed_s = time.perf_counter() - started
    return result


@torch.no_grad()
def generate_images(
    image_generator: nn.Module,
    seeds: Sequence[int],
    out_dir: Path | str,
    *,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    device: str = "cpu",
    batch_size: int = 16,
) -> GenerationResult:
    """Image-only mode: G(w0) per seed as ``seed{SEED:04d}.png`` plus ``grid.png``.

    ``image_generator`` is a stylegan2 Generator, or a StyleInVGenerator (its image generator is used).
    The image of a seed equals frame 0's G(w0) of that seed's video.
    """
    from PIL import Image

    if isinstance(image_generator, StyleInVGenerator):
        image_generator = image_generator.image_generator
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    generator = image_generator.to(torch.device(device)).eval()
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("no seeds given")
    started = time.perf_counter()
    result = GenerationResult(frames_per_video=1)
    images: list[np.ndarray] = []
    for begin in range(0, len(seeds), batch_size):
        batch = seeds[begin : begin + batch_size]
        w0 = initial_latents(generator, seeded_z(batch, int(generator.z_dim), device), truncation_psi)
        noise = seeded_video_noise(generator, batch, device) if noise_mode == "video" else None
        pixels = to_uint8(synthesize(generator, w0, noise_mode=noise_mode, noise=noise))
        for seed, pixel in zip(batch, pixels):
            path = out / f"seed{seed:04d}.png"
            Image.fromarray(pixel).save(path)
            result.videos.append(path)
            images.append(pixel)
    columns = min(8, len(images))
    rows = math.ceil(len(images) / columns)
    tiles = np.zeros((rows, columns, *images[0].shape), dtype=np.uint8)
    for i, image in enumerate(images):
        tiles[i // columns, i % columns] = image
    labels = [", ".join(f"{seed}" for seed in seeds[r * columns:(r + 1) * columns]) for r in range(rows)]
    result.grid = save_grid(out / "grid.png", tiles, [f"seeds {label}" for label in labels], 512)
    result.elapsed_s = time.perf_counter() - started
    return result

"""Snapshot grids for training runs: a PNG of tiled images and an H.264 mp4 of tiled videos.

Inputs are float tensors in [-1, 1]; pixels become ``round((x + 1) * 127.5)`` clamped to [0, 255]
(NaN -> 0). ``grid`` is ``(columns, rows)`` as in StyleGAN2-ADA's ``grid_size``; by default it is
near-square (``columns = ceil(sqrt(N))``). Cells past the last item stay black. Tiles are laid
out row-major: item ``i`` goes to row ``i // columns``, column ``i % columns``. Videos are encoded
with the project's ``Mp4Encoder`` (libx264, yuv420p), so the tiled frame is padded with black on
the right/bottom to even sizes. Both writers go through a temporary file and ``os.replace``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from styleinv_data.io.encode import Mp4Encoder
from styleinv_model.atomic import atomic_write


def default_grid(n: int) -> tuple[int, int]:
    """Near-square ``(columns, rows)`` holding ``n`` items."""
    if n < 1:
        raise ValueError(f"need at least one item for a grid, got {n}")
    cols = math.ceil(math.sqrt(n))
    return cols, math.ceil(n / cols)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 via ``round((x + 1) * 127.5)``, clamped; NaN -> 0."""
    x = torch.nan_to_num(x.detach().to("cpu", torch.float32), nan=-1.0)
    return ((x + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)


def _resolve_grid(n: int, grid: tuple[int, int] | None, what: str) -> tuple[int, int]:
    if grid is None:
        return default_grid(n)
    cols, rows = (int(g) for g in grid)
    if cols < 1 or rows < 1 or cols * rows < n:
        raise ValueError(f"{what}: grid (columns, rows)={grid} cannot hold {n} items; "
                         "pass a larger grid or None for a near-square one")
    return cols, rows


def tile(items: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """``[N, ..., C, H, W]`` -> ``[..., rows*H, cols*W, C]`` (row-major, empty cells zero)."""
    cols, rows = grid
    n, lead, (c, h, w) = items.shape[0], items.shape[1:-3], items.shape[-3:]
    full = items.new_zeros((cols * rows, *lead, c, h, w))
    full[:n] = items
    full = full.reshape(rows, cols, *lead, c, h, w)
    k = len(lead)
    # rows, cols, lead..., c, h, w -> lead..., rows, h, cols, w, c
    perm = [*range(2, 2 + k), 0, 3 + k, 1, 4 + k, 2 + k]
    return full.permute(*perm).reshape(*lead, rows * h, cols * w, c)


def save_image_grid(images: torch.Tensor, path: Path, grid: tuple[int, int] | None = None) -> Path:
    """Tile ``[N, 3, H, W]`` images in [-1, 1] into one RGB PNG at ``path``."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{path}: expected images of shape [N, 3, H, W], got {tuple(images.shape)}")
    cells = _resolve_grid(images.shape[0], grid, str(path))
    canvas = tile(to_uint8(images), cells).numpy()
    return atomic_write(path, lambda tmp: Image.fromarray(np.ascontiguousarray(canvas)).save(tmp, format="PNG"),
                        suffix=".tmp.png")


def save_video_grid(videos: torch.Tensor, path: Path, fps: float = 25, grid: tuple[int, int] | None = None,
                    *, crf: int = 18) -> Path:
    """Tile ``[B, T, 3, H, W]`` videos in [-1, 1] frame by frame into an H.264 mp4 at ``path``."""
    if videos.ndim != 5 or videos.shape[2] != 3:
        raise ValueError(f"{path}: expected videos of shape [B, T, 3, H, W], got {tuple(videos.shape)}")
    if videos.shape[1] < 1:
        raise ValueError(f"{path}: videos have no frames")
    cells = _resolve_grid(videos.shape[0], grid, str(path))
    frames = tile(to_uint8(videos), cells)  # [T, rows*H, cols*W, 3]
    t, gh, gw, _ = frames.shape
    ph, pw = gh + gh % 2, gw + gw % 2
    if (ph, pw) != (gh, gw):
        padded = frames.new_zeros((t, ph, pw, 3))
        padded[:, :gh, :gw] = frames
        frames = padded
    frames_np = frames.numpy()
    def write(tmp: Path) -> None:
        with Mp4Encoder(tmp, pw, ph, float(fps), crf=crf, container_format="mp4") as enc:
            for frame in frames_np:
                enc.write(np.ascontiguousarray(frame))

    return atomic_write(path, write, suffix=".tmp.mp4")

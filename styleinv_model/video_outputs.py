"""Where generated videos go: mp4 files, PNG frame folders, GIFs; and the labelled preview grid.

Every output is written under a partial name (``.seed0000.partial.mp4``, ``.seed0000.partial/``,
``.seed0000.partial.gif``) and renamed when complete; :meth:`abort` removes it. The layouts:

* ``mp4``: ``seed0000.mp4`` (H.264, yuv420p, CRF 18);
* ``frames``: ``seed0000/000000.png ...`` (lossless frames, one folder per video, as StyleGAN-V's
  ``generate.py`` writes them);
* ``gif``: ``seed0000.gif`` (looping; GIF stores delays in 1/100 s, so the frame rate is rounded to
  that; each frame gets its own adaptive 256-colour palette). A GIF holds the whole video in
  memory while it is written: meant for previews, not hour-long videos.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

OUTPUT_FORMATS = ("mp4", "frames", "gif")
_SUFFIX = {"mp4": ".mp4", "frames": "", "gif": ".gif"}


class FrameSink(Protocol):
    def write(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


def output_path(out_dir: Path, seed: int, output_format: str) -> Path:
    """The final path of one seed's video in ``output_format``."""
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output format {output_format!r}: use one of {', '.join(OUTPUT_FORMATS)}")
    return Path(out_dir) / f"seed{seed:04d}{_SUFFIX[output_format]}"


def partial_path(path: Path) -> Path:
    """Where ``path`` is written until it is complete (a dot name beside it)."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def remove_output(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def publish(partial: Path, final: Path) -> None:
    """Rename a complete output into place, replacing an older one of the same name."""
    if final.exists() or final.is_symlink():
        remove_output(final)
    partial.replace(final)


class PngFolderSink:
    """``NNNNNN.png`` frames in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        if self.folder.exists():
            remove_output(self.folder)
        self.folder.mkdir(parents=True)
        self.count = 0

    def write(self, frame: np.ndarray) -> None:
        from PIL import Image  # noqa: PLC0415

        Image.fromarray(np.ascontiguousarray(frame)).save(self.folder / f"{self.count:06d}.png", compress_level=1)
        self.count += 1

    def close(self) -> None:
        pass

    def abort(self) -> None:
        remove_output(self.folder)


class GifSink:
    """A looping GIF written when the video is complete."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = Path(path)
        self.duration_ms = max(10, int(round(100.0 / fps)) * 10)  # GIF delays are in 1/100 s
        self.frames: list[np.ndarray] = []

    def write(self, frame: np.ndarray) -> None:
        self.frames.append(np.array(frame, dtype=np.uint8, copy=True))

    def close(self) -> None:
        from PIL import Image  # noqa: PLC0415

        if not self.frames:
            raise ValueError(f"{self.path}: no frames to write")
        images = [Image.fromarray(f).quantize(colors=256, method=Image.Quantize.MEDIANCUT) for f in self.frames]
        images[0].save(self.path, format="GIF", save_all=True, append_images=images[1:], loop=0,
                       duration=self.duration_ms, disposal=1, optimize=False)
        self.frames = []

    def abort(self) -> None:
        self.frames = []
        self.path.unlink(missing_ok=True)


def open_sink(output_format: str, path: Path, size: int, fps: float, crf: int = 18) -> FrameSink:
    """A sink writing one video in ``output_format`` to ``path`` (a partial path)."""
    if output_format == "mp4":
        from styleinv_data.io.encode import Mp4Encoder  # noqa: PLC0415

        return Mp4Encoder(path, size, size, fps, crf=crf)
    if output_format == "frames":
        return PngFolderSink(path)
    if output_format == "gif":
        return GifSink(path, fps)
    raise ValueError(f"output format {output_format!r}: use one of {', '.join(OUTPUT_FORMATS)}")


def labelled_grid(tiles: np.ndarray, labels: Sequence[str] | None = None, min_row_px: int = 512) -> np.ndarray:
    """Tiles ``[rows, cols, H, W, 3]`` as one image: upscaled (nearest, integer factor) until a row
    of tiles is at least ``min_row_px`` wide, with ``labels[r]`` (e.g. ``"seed 7"``) in a margin
    left of row ``r``."""
    rows, cols, height, width, _ = tiles.shape
    factor = max(1, math.ceil(min_row_px / max(cols * width, 1)))
    if factor > 1:
        tiles = tiles.repeat(factor, axis=2).repeat(factor, axis=3)
        height, width = height * factor, width * factor
    grid = tiles.transpose(0, 2, 1, 3, 4).reshape(rows * height, cols * width, 3)
    if not labels:
        return grid
    from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415

    font_px = int(np.clip(height // 8, 12, 48))
    try:
        font = ImageFont.load_default(size=font_px)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    margin = 12 + max(int(probe.textlength(str(label), font=font)) for label in labels)
    canvas = Image.new("RGB", (margin + grid.shape[1], grid.shape[0]), (255, 255, 255))
    canvas.paste(Image.fromarray(grid), (margin, 0))
    draw = ImageDraw.Draw(canvas)
    for r, label in enumerate(labels):
        draw.text((6, r * height + height // 2), str(label), fill=(0, 0, 0), font=font, anchor="lm")
    return np.asarray(canvas)

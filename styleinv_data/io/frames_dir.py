"""Folders of frame images (jpg/png) as a video: natural ordering, reading to RGB8 or gray8."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from styleinv_data.io.color import to_gray8, to_rgb8

FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png")
_DIGITS = re.compile(r"(\d+)")


def _natural_key(path: Path) -> tuple:
    return tuple(int(tok) if tok.isdigit() else tok for tok in _DIGITS.split(path.name))


def list_frame_files(folder: Path) -> list[Path]:
    """Frame images of a folder in natural order (``2.png`` before ``10.png``)."""
    files = [p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in FRAME_EXTENSIONS]
    return sorted(files, key=_natural_key)


def read_image(path: Path) -> np.ndarray:
    """Decode an image file as stored (gray / RGB / RGBA, 8 or 16 bit), channels in RGB order."""
    data = np.fromfile(str(path), dtype=np.uint8)  # works for any path encoding
    if data.size == 0:
        raise ValueError(f"{path}: empty image file (0 bytes); re-copy or remove it")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"{path}: not a readable image; re-copy or remove it")
    if image.ndim == 3 and image.shape[2] == 3:
        image = image[:, :, ::-1]
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, [2, 1, 0, 3]]
    return image


def iter_folder_frames(folder: Path, gray: bool = False) -> Iterator[np.ndarray]:
    """Stream the frames of a folder as RGB8 ``(H, W, 3)`` (or gray8 ``(H, W)``), one file at a time."""
    for path in list_frame_files(folder):
        image = read_image(path)
        yield to_gray8(image) if gray else to_rgb8(image)

"""A small dataset of real faces moving smoothly, written in the crop output layout with its
manifest: for training tests, the training learning check and demos (no downloads).

Faces come from the photos that ship with scikit-image (the astronaut, and the LFW subset), each
video pans, zooms and tilts one face along a smooth random trajectory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class MovingFacesConfig:
    num_videos: int = 12
    frames: int = 32
    size: int = 32
    seed: int = 0
    amplitude: float = 0.12  # translation amplitude, fraction of the size
    zoom: float = 0.10  # relative zoom amplitude
    tilt_degrees: float = 8.0
    period_frames: tuple[float, float] = (12.0, 40.0)  # range of the motion periods
    photos: int | None = None  # use only the first N face photos (identities); None: all 21

    def __post_init__(self) -> None:
        if self.photos is not None and not 1 <= self.photos <= PHOTO_COUNT:
            raise ValueError(f"photos must be between 1 and {PHOTO_COUNT} (got {self.photos})")


PHOTO_COUNT = 21  # the astronaut and 20 LFW faces


def real_faces() -> list[np.ndarray]:
    """Square RGB face photos (uint8 HxWx3) from scikit-image's bundled data: the astronaut (colour)
    first, then 20 grey LFW faces."""
    from skimage import data

    faces = []
    astronaut = data.astronaut()
    faces.append(np.ascontiguousarray(astronaut[10:250, 130:370]))  # her face, square crop
    lfw = data.lfw_subset()  # 200 grey 25x25 images in [0, 1]
    for index in range(0, 100, 5):  # the first 100 images are faces, the rest are not
        grey = (lfw[index] * 255).round().astype(np.uint8)
        faces.append(np.repeat(grey[..., None], 3, axis=2))
    return faces


def _render(face: Image.Image, size: int, dx: float, dy: float, scale: float, angle: float) -> np.ndarray:
    """The face photo scaled, rotated and shifted (fractions of the size) into a size x size frame."""
    w, h = face.size
    c = math.cos(math.radians(angle)) / scale
    s = math.sin(math.radians(angle)) / scale
    # output pixel (x, y) -> input pixel: centre, rotate/scale, shift
    k = w / size
    ox, oy = size / 2 + dx * size, size / 2 + dy * size
    a, b = c * k, s * k
    d, e = -s * k, c * k
    cx, cy = w / 2, h / 2
    coeffs = (a, b, cx - a * ox - b * oy, d, e, cy - d * ox - e * oy)
    out = face.transform((size, size), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BICUBIC,
                         fillcolor=(0, 0, 0))
    return np.asarray(out)


def write_moving_faces(root: Path, config: MovingFacesConfig = MovingFacesConfig(), manifest: bool = True) -> Path:
    """Write ``root/<video_id>/<frame:06d>.png`` for every video (+ ``root/manifest.jsonl``).

    Returns the manifest path (or the root when ``manifest`` is False)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config.seed)
    faces = real_faces()[:config.photos]
    for v in range(config.num_videos):
        photo = faces[int(rng.integers(len(faces)))]
        face = Image.fromarray(photo).resize((config.size * 4, config.size * 4), Image.Resampling.LANCZOS)
        periods = rng.uniform(*config.period_frames, size=4)
        phases = rng.uniform(0, 2 * math.pi, size=4)
        folder = root / f"face_{v:03d}"
        folder.mkdir(exist_ok=True)
        for t in range(config.frames):
            wave = np.sin(2 * math.pi * t / periods + phases)
            frame = _render(face, config.size, dx=config.amplitude * wave[0], dy=config.amplitude * wave[1],
                            scale=1.0 + config.zoom * wave[2], angle=config.tilt_degrees * wave[3])
            tmp = folder / f".{t:06d}.png.partial"
            Image.fromarray(frame).save(tmp, format="PNG")
            tmp.replace(folder / f"{t:06d}.png")
    if not manifest:
        return root
    from styleinv_data.manifest import BuildConfig, build_manifest, write_manifest

    built = build_manifest(root, BuildConfig(dataset_name="moving_faces", fps=25.0))
    return write_manifest(built, root / "manifest.jsonl")

"""Training data streams: manifest frames (stages 1 and 2), sparse clips (stage 3), image folders
(style-transfer finetune).

Every stream is a deterministic function of (seed, step): the sampler's global stream is split
``rank::world_size`` between ranks, and a resumed run skips the samples its finished steps used
(sample keys only, nothing is decoded), so a resumed run sees exactly the batches the
uninterrupted run would have seen.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from styleinv_data.datasets import ClipDataset, FrameDataset, ThreadedLoader, mirror_decision
from styleinv_data.manifest import read_manifest
from styleinv_data.sampling import ClassAwareFrameSampler, SparseClipConfig, SparseClipSampler
from styleinv_model.train.distributed import DistInfo

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def to_float_images(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 [..., 3, H, W] -> float32 in [-1, 1] on `device`."""
    return batch.to(device, non_blocking=True).to(torch.float32).div_(127.5).sub_(1.0)


def local_batch_size(global_batch: int, info: DistInfo, what: str = "batch_size") -> int:
    if global_batch % info.world_size:
        raise ValueError(f"{what} {global_batch} is not divisible by the {info.world_size} processes: "
                         f"choose a multiple of {info.world_size}")
    return global_batch // info.world_size


def _check_resolution(manifest: Any, path: Path, resolution: int) -> None:
    bad = [r for r in manifest.records if (r.width, r.height) != (resolution, resolution)]
    if bad:
        r = bad[0]
        raise ValueError(f"{path}: video {r.id!r} is {r.width}x{r.height} but training runs at {resolution}x{resolution}: "
                         f"crop the dataset with `styleinv-data crop --size {resolution}` or set the resolution")


@dataclass
class _ManifestStream:
    """A manifest's videos (its ``split`` when the manifest has one), checked against the training
    resolution, and this rank's share of a sampler's stream."""

    manifest_path: Path
    resolution: int
    global_batch: int
    info: DistInfo
    seed: int = 0
    mirror: bool = True
    split: str | None = "train"
    threads: int = 2

    def _open(self, dataset_class: type, **kwargs: Any) -> Any:
        manifest = read_manifest(self.manifest_path)
        if not manifest.records:
            skipped = f" ({len(manifest.header.skipped)} skipped: see its header)" if manifest.header.skipped else ""
            raise ValueError(f"{self.manifest_path}: the manifest holds no videos{skipped}; crop the dataset "
                             "(styleinv-data crop) and rebuild the manifest (styleinv-data manifest) before training")
        if self.split is not None and not any(r.split == self.split for r in manifest.records):
            self.split = None  # a manifest without that split: use every video
        dataset = dataset_class(manifest, split=self.split, mirror=self.mirror, seed=self.seed, **kwargs)
        _check_resolution(dataset.manifest, self.manifest_path, self.resolution)
        self.local_batch = local_batch_size(self.global_batch, self.info)
        return dataset

    def _loader(self, start_step: int) -> ThreadedLoader:
        keys = itertools.islice(iter(self.sampler), start_step * self.local_batch, None)
        return ThreadedLoader(self.dataset, keys, self.local_batch, num_threads=self.threads)


@dataclass
class FrameStream(_ManifestStream):
    """Batches of single frames of a manifest (class-aware: a video uniformly, then a frame)."""

    def __post_init__(self) -> None:
        self.dataset = self._open(FrameDataset)
        self.sampler = ClassAwareFrameSampler(self.dataset.frame_counts, seed=self.seed, rank=self.info.rank,
                                              world_size=self.info.world_size)

    @property
    def num_videos(self) -> int:
        return len(self.dataset.records)

    def batches(self, start_step: int = 0) -> Iterator[torch.Tensor]:
        return iter(self._loader(start_step))


@dataclass
class ClipStream(_ManifestStream):
    """Stage-3 batches: 4 frames per video from the sparse sampler, with their timestamps (frames,
    relative to the clip's first frame)."""

    nframes: int = 128
    max_dist: int = 32

    def __post_init__(self) -> None:
        self.dataset = self._open(ClipDataset, return_meta=True)
        self.sampler = SparseClipSampler(self.dataset.frame_counts, SparseClipConfig(self.nframes, self.max_dist),
                                         seed=self.seed, rank=self.info.rank, world_size=self.info.world_size)

    def batches(self, start_step: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for item in self._loader(start_step):
            indices = item["frame_indices"].to(torch.float32)
            yield item["frames"], indices - indices[:, :1]


class ImageFolderDataset:
    """A folder of images (the finetune's stylised set), all ``resolution`` square, read as uint8 RGB
    (images with transparency are flattened onto white)."""

    def __init__(self, root: Path, resolution: int, mirror: bool = True, seed: int = 0) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"image folder {root} does not exist: set finetune.images to a folder of "
                                    f"{resolution}x{resolution} aligned images")
        self.files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise ValueError(f"{root} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        self.resolution, self.mirror, self.seed = resolution, mirror, seed

    @property
    def frame_counts(self) -> list[int]:
        return [1] * len(self.files)

    def _load(self, index: int) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        path = self.files[index]
        try:
            with Image.open(path) as image:
                if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                    # flatten onto white: transparent pixels' stored colours are arbitrary
                    rgba = image.convert("RGBA")
                    image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
                array = np.array(image.convert("RGB"))
        except (OSError, UnidentifiedImageError) as error:
            raise ValueError(f"{path}: unreadable image ({error}); remove or replace it") from error
        if array.shape[:2] != (self.resolution, self.resolution):
            raise ValueError(f"{path} is {array.shape[1]}x{array.shape[0]}, expected "
                             f"{self.resolution}x{self.resolution}: resize or re-align the image set")
        return array

    def __getitem__(self, keys: Sequence[Any]) -> torch.Tensor:
        out = []
        for key in keys:
            index = int(key[0]) if isinstance(key, tuple) else int(key)
            array = self._load(index)
            if self.mirror and mirror_decision(self.seed, index, (0,)):
                array = array[:, ::-1]
            out.append(torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1))
        return torch.stack(out)


@dataclass
class ImageFolderStream:
    root: Path
    resolution: int
    global_batch: int
    info: DistInfo
    seed: int = 0
    mirror: bool = True
    threads: int = 2

    def __post_init__(self) -> None:
        self.dataset = ImageFolderDataset(self.root, self.resolution, self.mirror, self.seed)
        self.local_batch = local_batch_size(self.global_batch, self.info)
        self.sampler = ClassAwareFrameSampler(self.dataset.frame_counts, seed=self.seed, rank=self.info.rank,
                                              world_size=self.info.world_size)

    def batches(self, start_step: int = 0) -> Iterator[torch.Tensor]:
        keys = itertools.islice(iter(self.sampler), start_step * self.local_batch, None)
        return iter(ThreadedLoader(self.dataset, keys, self.local_batch, num_threads=self.threads, reuse_buffers=False))


def step_generator(seed: int, step: int, stream: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator that depends only on (seed, step, stream): latents, noise and augmentation
    draws of a step are the same whatever the rank count and whether the run was resumed."""
    mixed = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(step), int(stream)]).generate_state(2, np.uint64)
    generator = torch.Generator(device=device)
    generator.manual_seed(int(mixed[0] >> np.uint64(1)))
    return generator

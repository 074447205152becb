"""Metrics during training (rank 0): FID of the EMA image generator (stages 1 and finetune) and
FVD16 of the EMA StyleInV network (stage 3) against the training manifest, through
:mod:`styleinv_model.metrics`. When the metric weights are not installed the metric is skipped
with a one-line notice (once), never a crash. Real-side statistics are cached by the metrics
module's stats cache, so only the generated side is recomputed each time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from styleinv_model.generate import to_uint8

_NOTICES: set[str] = set()


def _notice(key: str, text: str) -> None:
    if key not in _NOTICES:
        _NOTICES.add(key)
        print(text)


@torch.no_grad()
def generate_videos(model: Any, count: int, frames: int, seed: int, device: torch.device, batch: int = 8) -> list[np.ndarray]:
    """`count` videos [frames, H, W, 3] uint8 from a StyleInV generator, seeds seed .. seed + count − 1."""
    videos = []
    for start in range(0, count, batch):
        n = min(batch, count - start)
        g = torch.Generator().manual_seed(seed + start)
        z = torch.randn(n, model.z_dim, generator=g).to(device)
        t = torch.arange(frames, dtype=torch.float32).expand(n, -1).to(device)
        motion = model.temporal_style.sample_motion_noise(n, float(frames), generator=g).to(device)
        videos.extend(to_uint8(model.frames_from_z(z, t, motion, noise_mode="const")))
    return videos


@torch.no_grad()
def generate_images(generator: Any, count: int, seed: int, device: torch.device, batch: int = 16) -> list[np.ndarray]:
    """`count` one-frame videos [1, H, W, 3] uint8 from an image generator."""
    out = []
    for start in range(0, count, batch):
        n = min(batch, count - start)
        z = torch.randn(n, generator.z_dim, generator=torch.Generator().manual_seed(seed + start)).to(device)
        out.extend(frame[None] for frame in to_uint8(generator(z, noise_mode="const")))
    return out


def _evaluate(stage: Any, metric: str, fake_videos: list[np.ndarray]) -> dict[str, float]:
    from styleinv_model.metrics.evaluate import SideSpec, compute_fid, compute_fvd
    from styleinv_model.metrics.manifest_source import ManifestVideoSource
    from styleinv_model.metrics.networks import I3DExtractor, InceptionExtractor
    from styleinv_model.metrics.protocols import resolve_protocol
    from styleinv_model.metrics.sources import ArrayVideoSource
    from styleinv_model.metrics.stats_cache import StatsCache

    count = len(fake_videos)
    protocol = resolve_protocol(metric, count)
    device = str(stage.device)
    try:
        extractor = (I3DExtractor.load(device=device) if metric.startswith("fvd") else InceptionExtractor.load(device=device))
    except FileNotFoundError as error:
        _notice(metric, f"{metric} during training is off: {str(error).splitlines()[0]}")
        return {}
    real = SideSpec(ManifestVideoSource.open(stage.manifest), "class_aware", seed=0, cacheable=True, label="real")
    fake = SideSpec(ArrayVideoSource(fake_videos, name="training"), "first", seed=0, label="fake")
    compute = compute_fvd if metric.startswith("fvd") else compute_fid
    result = compute(fake, real, protocol, extractor, cache=StatsCache())
    return {f"metric_{metric}": float(result.value)}


def periodic_fid(stage: Any, step: int) -> dict[str, float]:
    if stage.manifest is None:  # the finetune trains on an image folder, not a manifest
        _notice("fid-folder", "FID during the finetune is off: it needs a manifest of the target set")
        return {}
    count = int(stage.config.run.metrics_num_samples)
    return _evaluate(stage, "fid", generate_images(stage.G_ema, count, 0, stage.device))


def periodic_fvd(stage: Any, step: int) -> dict[str, float]:
    count = int(stage.config.run.metrics_num_samples)
    return _evaluate(stage, "fvd16", generate_videos(stage.ema_model(), count, 16, 0, stage.device))

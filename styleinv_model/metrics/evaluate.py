"""FVD and FID between two sources, with the protocol recorded next to every number."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .features import extract_features
from .frechet import GaussianStats, frechet_distance_stats
from .networks import I3DExtractor, InceptionExtractor
from .protocols import ImageProtocol, VideoProtocol
from .sampling import ClipPlan, Sampling, plan_clips, plan_frames
from .sources import VideoSource
from .stats_cache import StatsCache


@dataclass
class SideSpec:
    """One side of a comparison: the source, how to sample it, and whether its statistics may be cached."""

    source: VideoSource
    sampling: Sampling
    seed: int = 0
    cacheable: bool = False
    label: str = "source"


@dataclass
class MetricResult:
    metric: str
    value: float
    protocol: dict[str, Any]
    sides: dict[str, dict[str, Any]] = field(default_factory=dict)
    elapsed_s: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "protocol": self.protocol, **self.sides,
                "warnings": list(self.warnings), "elapsed_s": round(self.elapsed_s, 3)}


def _plan(side: SideSpec, protocol: VideoProtocol | ImageProtocol) -> ClipPlan:
    counts = [side.source.frame_count(i) for i in range(len(side.source))]
    if isinstance(protocol, VideoProtocol):
        return plan_clips(counts, protocol.num_videos, protocol.num_frames, protocol.frame_stride,
                          side.sampling, side.seed, side.label)
    return plan_frames(counts, protocol.num_images, side.sampling, side.seed, side.label)


def side_statistics(
    side: SideSpec,
    protocol: VideoProtocol | ImageProtocol,
    feature_fn: Callable,
    weights_sha256: str,
    batch_size: int,
    cache: StatsCache | None,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[GaussianStats, dict[str, Any]]:
    """Gaussian statistics of one side (from the cache when allowed) and a description of what was read."""
    plan = _plan(side, protocol)
    info: dict[str, Any] = {**side.source.describe(), "sampling": side.sampling, "seed": side.seed,
                            "samples": len(plan.clips), "distinct_videos": len({c.video_index for c in plan.clips}),
                            "skipped_short_videos": plan.skipped_short_videos}
    key = {"protocol": protocol.to_dict(), "sampling": side.sampling, "seed": side.seed,
           "fingerprint": side.source.fingerprint(), "weights_sha256": weights_sha256}
    if cache is not None and side.cacheable:
        cached = cache.load(protocol.name, key)
        info["stats_cache"] = str(cache.path_for(protocol.name, key))
        if cached is not None:
            info["stats_from_cache"] = True
            return cached, info
    side_progress = (lambda done, total: progress(side.label, done, total)) if progress else None
    stats = GaussianStats.from_features(extract_features(side.source, plan, feature_fn, batch_size, side_progress),
                                        protocol.covariance)
    if cache is not None and side.cacheable:
        cache.save(protocol.name, key, stats)
    info["stats_from_cache"] = False
    return stats, info


def _trained_weights(extractor: I3DExtractor | InceptionExtractor) -> Any:
    """The extractor's loaded weights; a random-weights extractor (timing only) gives no metric."""
    if extractor.weights is None:
        raise ValueError("this feature extractor has random weights (built for timing): its features give no "
                         "metric; load the real weights with I3DExtractor.load / InceptionExtractor.load")
    return extractor.weights


def compute_fvd(
    fake: SideSpec, real: SideSpec, protocol: VideoProtocol, extractor: I3DExtractor,
    batch_size: int = 4, cache: StatsCache | None = None, progress: Callable[[str, int, int], None] | None = None,
) -> MetricResult:
    start = time.perf_counter()
    if extractor.features != protocol.features:
        raise ValueError(f"extractor gives '{extractor.features}' features, protocol wants '{protocol.features}'")
    weights = _trained_weights(extractor)
    fn = lambda batch: extractor(batch, protocol.resolution)  # noqa: E731
    fake_stats, fake_info = side_statistics(fake, protocol, fn, weights.sha256, batch_size, cache, progress)
    real_stats, real_info = side_statistics(real, protocol, fn, weights.sha256, batch_size, cache, progress)
    proto = {**protocol.to_dict(), "weights_sha256": weights.sha256, "weights_file": str(weights.path)}
    warnings = [f"{protocol.name}: the {side} side has {info['distinct_videos']} distinct videos "
                f"({info['samples']} clips) where the protocol asks for {protocol.num_videos}; the number is not "
                "comparable with published ones" for side, info in (("real", real_info), ("fake", fake_info))
                if info["distinct_videos"] < protocol.num_videos]
    return MetricResult(protocol.name, frechet_distance_stats(fake_stats, real_stats), proto,
                        {"fake": fake_info, "real": real_info}, time.perf_counter() - start, warnings)


def compute_fid(
    fake: SideSpec, real: SideSpec, protocol: ImageProtocol, extractor: InceptionExtractor,
    batch_size: int = 16, cache: StatsCache | None = None, progress: Callable[[str, int, int], None] | None = None,
) -> MetricResult:
    start = time.perf_counter()
    weights = _trained_weights(extractor)
    fake_stats, fake_info = side_statistics(fake, protocol, extractor, weights.sha256, batch_size, cache, progress)
    real_stats, real_info = side_statistics(real, protocol, extractor, weights.sha256, batch_size, cache, progress)
    proto = {**protocol.to_dict(), "weights_sha256": weights.sha256, "weights_file": str(weights.path)}
    warnings = [f"{protocol.name}: the {side} side has {info['samples']} frames where the protocol asks for "
                f"{protocol.num_images}; the number is not comparable with published ones"
                for side, info in (("real", real_info), ("fake", fake_info))
                if info["samples"] < protocol.num_images and info["sampling"] != "all_frames"]
    return MetricResult(protocol.name, frechet_distance_stats(fake_stats, real_stats), proto,
                        {"fake": fake_info, "real": real_info}, time.perf_counter() - start, warnings)

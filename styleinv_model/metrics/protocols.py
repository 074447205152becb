"""Named metric protocols: everything that changes a number is a field, and goes into the result JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

FeatureKind = Literal["logits", "pool"]


@dataclass(frozen=True)
class VideoProtocol:
    """FVD: ``num_videos`` clips of ``num_frames`` frames taken every ``frame_stride`` source frames."""

    name: str
    num_videos: int = 2048
    num_frames: int = 16
    frame_stride: int = 1
    resolution: int = 224  # I3D input side; frames are resized with `resize`
    resize: str = "tf1_bilinear"
    features: FeatureKind = "logits"  # 400-d Kinetics logits (the original FVD); "pool": 1024-d pre-logits
    network: str = "i3d_kinetics400"
    covariance: str = "unbiased"  # "biased" (divided by N): StyleGAN-V's metric code

    @property
    def span(self) -> int:
        """Source frames one clip covers."""
        return (self.num_frames - 1) * self.frame_stride + 1

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "video", **asdict(self), "span": self.span}


@dataclass(frozen=True)
class ImageProtocol:
    """FID: ``num_images`` frames, Inception pool features at 299²."""

    name: str = "fid"
    num_images: int = 50_000
    resolution: int = 299
    resize: str = "tf1_bilinear"
    network: str = "fid_inception_v3"
    covariance: str = "unbiased"  # "biased" (divided by N): StyleGAN-V's metric code

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "image", **asdict(self)}


VIDEO_PROTOCOLS: dict[str, VideoProtocol] = {
    "fvd16": VideoProtocol("fvd16", num_frames=16, frame_stride=1),
    "fvd128": VideoProtocol("fvd128", num_frames=128, frame_stride=1),
    "fvd128_s8": VideoProtocol("fvd128_s8", num_frames=16, frame_stride=8),  # 128 frames, every 8th
}
IMAGE_PROTOCOLS: dict[str, ImageProtocol] = {"fid": ImageProtocol()}
METRIC_NAMES: tuple[str, ...] = (*VIDEO_PROTOCOLS, *IMAGE_PROTOCOLS)


def resolve_protocol(name: str, count: int | None = None) -> VideoProtocol | ImageProtocol:
    """The named protocol, with the sample count overridden when ``count`` is given."""
    if name in VIDEO_PROTOCOLS:
        base = VIDEO_PROTOCOLS[name]
        return replace(base, num_videos=count) if count else base
    if name in IMAGE_PROTOCOLS:
        base_image = IMAGE_PROTOCOLS[name]
        return replace(base_image, num_images=count) if count else base_image
    raise ValueError(f"unknown metric '{name}'; choose one of {', '.join(METRIC_NAMES)}")


# How each side is sampled and the covariance normalised, per named protocol. "default" is ours
# (docs/metrics.md says why); "stylegan-v" samples as StyleGAN-V's src/metrics do, so numbers can
# be compared with the ones published with it (and with StyleInV, which uses its metric code).
PROTOCOL_FAMILIES = ("default", "stylegan-v")


@dataclass(frozen=True)
class SamplingPlan:
    """The sampling of the two sides and the covariance of one metric under a protocol family."""

    real: str
    fake: str
    covariance: str


def sampling_plan(family: str, kind: str, real: str = "class_aware", fake: str = "first") -> SamplingPlan:
    """``kind``: "video" (FVD) or "image" (FID). Under "default" the given samplings stay."""
    if family == "default":
        return SamplingPlan(real, fake, "unbiased")
    if family == "stylegan-v":
        if kind == "video":  # the first min(#videos, N) long-enough videos, one clip each; fakes from frame 0
            return SamplingPlan("dataset_order", "first_available", "biased")
        return SamplingPlan("all_frames", "video_major", "biased")  # fid50k_full: every real frame
    raise ValueError(f"unknown protocol {family!r}: use one of {', '.join(PROTOCOL_FAMILIES)}")

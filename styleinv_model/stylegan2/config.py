"""Configuration dataclasses of the generator and the discriminator (JSON-serialisable)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

MIN_RESOLUTION = 4
MAX_RESOLUTION = 2048


def check_resolution(resolution: int) -> int:
    """Return `resolution` if it is a power of two in [4, 2048], else raise a one-line error."""
    if not isinstance(resolution, int) or resolution < MIN_RESOLUTION or resolution > MAX_RESOLUTION \
            or resolution & (resolution - 1):
        raise ValueError(f"resolution must be a power of two between {MIN_RESOLUTION} and {MAX_RESOLUTION} "
                         f"(32 to 1024 are the supported training sizes), got {resolution!r}")
    return resolution


@dataclass
class GeneratorConfig:
    """Everything needed to rebuild a Generator (the names follow StyleGAN2-ADA's)."""

    img_resolution: int
    z_dim: int = 512
    w_dim: int = 512
    c_dim: int = 0
    img_channels: int = 3
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01
    w_avg_beta: float = 0.995
    channel_base: int = 16384
    channel_max: int = 512
    num_fp16_res: int = 4
    conv_clamp: float | None = 256
    use_noise: bool = True

    def __post_init__(self) -> None:
        check_resolution(self.img_resolution)
        for name in ("z_dim", "w_dim", "img_channels", "mapping_layers", "channel_base", "channel_max"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"GeneratorConfig.{name} must be >= 1, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "GeneratorConfig":
        return cls(**_known_fields(cls, values, "generator"))

    @classmethod
    def from_official_kwargs(cls, kwargs: dict[str, Any]) -> "GeneratorConfig":
        """From StyleGAN2-ADA's `Generator(**G_kwargs)` constructor arguments."""
        mapping = dict(kwargs.get("mapping_kwargs", {}))
        synthesis = dict(kwargs.get("synthesis_kwargs", {}))
        return cls(
            img_resolution=int(kwargs["img_resolution"]), z_dim=int(kwargs["z_dim"]),
            w_dim=int(kwargs["w_dim"]), c_dim=int(kwargs.get("c_dim", 0)),
            img_channels=int(kwargs.get("img_channels", 3)),
            mapping_layers=int(mapping.get("num_layers", 8)),
            mapping_lr_multiplier=float(mapping.get("lr_multiplier", 0.01)),
            w_avg_beta=float(mapping.get("w_avg_beta", 0.995)),
            channel_base=int(synthesis.get("channel_base", 32768)),
            channel_max=int(synthesis.get("channel_max", 512)),
            num_fp16_res=int(synthesis.get("num_fp16_res", 0)),
            conv_clamp=synthesis.get("conv_clamp"),
            use_noise=bool(synthesis.get("use_noise", True)),
        )


@dataclass
class DiscriminatorConfig:
    """Everything needed to rebuild a Discriminator (residual architecture)."""

    img_resolution: int
    c_dim: int = 0
    img_channels: int = 3
    channel_base: int = 16384
    channel_max: int = 512
    num_fp16_res: int = 4
    conv_clamp: float | None = 256
    mbstd_group_size: int = 4
    mbstd_num_channels: int = 1
    cmap_dim: int | None = None

    def __post_init__(self) -> None:
        check_resolution(self.img_resolution)
        if self.img_resolution < 8:
            raise ValueError(f"the discriminator needs img_resolution >= 8, got {self.img_resolution}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DiscriminatorConfig":
        return cls(**_known_fields(cls, values, "discriminator"))

    @classmethod
    def from_official_kwargs(cls, kwargs: dict[str, Any]) -> "DiscriminatorConfig":
        """From StyleGAN2-ADA's `Discriminator(**D_kwargs)` constructor arguments."""
        architecture = kwargs.get("architecture", "resnet")
        if architecture != "resnet":
            raise ValueError(f"only the residual discriminator is supported, the pickle has architecture={architecture!r}")
        epilogue = dict(kwargs.get("epilogue_kwargs", {}))
        return cls(
            img_resolution=int(kwargs["img_resolution"]), c_dim=int(kwargs.get("c_dim", 0)),
            img_channels=int(kwargs.get("img_channels", 3)),
            channel_base=int(kwargs.get("channel_base", 32768)),
            channel_max=int(kwargs.get("channel_max", 512)),
            num_fp16_res=int(kwargs.get("num_fp16_res", 0)),
            conv_clamp=kwargs.get("conv_clamp"),
            mbstd_group_size=int(epilogue.get("mbstd_group_size", 4)),
            mbstd_num_channels=int(epilogue.get("mbstd_num_channels", 1)),
            cmap_dim=kwargs.get("cmap_dim"),
        )


def _known_fields(cls: type, values: dict[str, Any], what: str) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown {what} option(s) {unknown}: valid options are {sorted(names)}")
    return dict(values)

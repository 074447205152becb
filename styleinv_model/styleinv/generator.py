"""StyleInV generator: a frozen image generator G plus the temporal style and modulated encoder.

``frames = model(w0, t)``: for each video, w_t = w0 + delta_w_t with
``delta_w_t = E(G(w0), s_t)`` and ``s_t = TemporalStyle(w0, t, motion noise)``; frame_t = G(w_t),
with w_t broadcast to all ``G.num_ws`` layers and the image generator's noise held constant across
the frames of a video (a per-video buffer, never redrawn per frame).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from styleinv_model.styleinv.encoder import EncoderConfig, ModulatedInversionEncoder
from styleinv_model.styleinv.temporal_style import TemporalStyle, TemporalStyleConfig
from styleinv_model.styleinv.video_discriminator import VideoDiscriminatorConfig

NoiseMode = Literal["const", "video", "none"]
NOISE_MODES: tuple[str, ...] = ("const", "video", "none")


@dataclass(frozen=True)
class StyleInVConfig:
    """Everything needed to rebuild the StyleInV networks (the image generator is stored apart)."""

    temporal: TemporalStyleConfig = field(default_factory=TemporalStyleConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    discriminator: VideoDiscriminatorConfig | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StyleInVConfig":
        def tuples(values: dict[str, Any]) -> dict[str, Any]:
            return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}

        try:
            disc = data.get("discriminator")
            return cls(
                temporal=TemporalStyleConfig(**tuples(data.get("temporal", {}))),
                encoder=EncoderConfig(**tuples(data.get("encoder", {}))),
                discriminator=None if disc is None else VideoDiscriminatorConfig(**tuples(disc)),
            )
        except TypeError as error:
            raise ValueError(f"invalid StyleInV config ({error})") from error

    @classmethod
    def faces(cls, resolution: int = 256) -> "StyleInVConfig":
        """The faces preset: anchors every 16 frames, periods 16 -> 128 frames."""
        return cls(discriminator=VideoDiscriminatorConfig(resolution=resolution, max_time_gap=128))

    @classmethod
    def sky_taichi(cls, resolution: int = 256) -> "StyleInVConfig":
        """SkyTimelapse / TaiChi preset: anchors every 128 frames, periods 32 -> 1024 frames."""
        temporal = TemporalStyleConfig(motion_z_distance=128, min_period=32.0, max_period=1024.0)
        return cls(temporal=temporal, discriminator=VideoDiscriminatorConfig(resolution=resolution, max_time_gap=128))


def repeat_per_frame(noise: Any, repeats: int) -> Any:
    """Repeat a per-video noise buffer (tensor, or list/tuple/dict of batch-first tensors) per frame."""
    if noise is None or repeats == 1:
        return noise
    if isinstance(noise, torch.Tensor):
        return noise.repeat_interleave(repeats, dim=0)
    if isinstance(noise, dict):
        return {key: repeat_per_frame(value, repeats) for key, value in noise.items()}
    if isinstance(noise, (list, tuple)):
        return type(noise)(repeat_per_frame(value, repeats) for value in noise)
    raise TypeError(f"unsupported noise buffer type {type(noise).__name__}")


def select_videos(noise: Any, index: torch.Tensor | slice) -> Any:
    """Rows of a per-video noise buffer (same structure as :func:`repeat_per_frame`)."""
    if noise is None:
        return None
    if isinstance(noise, torch.Tensor):
        return noise[index]
    if isinstance(noise, dict):
        return {key: select_videos(value, index) for key, value in noise.items()}
    if isinstance(noise, (list, tuple)):
        return type(noise)(select_videos(value, index) for value in noise)
    raise TypeError(f"unsupported noise buffer type {type(noise).__name__}")


def initial_latents(image_generator: nn.Module, z: torch.Tensor, truncation_psi: float = 1.0) -> torch.Tensor:
    """w0 [B, w_dim]: G's mapping of z, truncated towards its tracked w_avg (StyleInV works in W)."""
    return image_generator.mapping(z, None, truncation_psi=truncation_psi)[:, 0]


def synthesize(image_generator: nn.Module, w: torch.Tensor, *, noise_mode: str = "const", noise: Any = None) -> torch.Tensor:
    """G's synthesis of single W codes [N, w_dim] broadcast to all ``num_ws`` layers.

    ``noise_mode``: "const" (G's stored noise, the same for every video), "video" (the per-video
    buffer ``noise`` from ``G.synthesis.make_noise``, one row per image) or "none".
    """
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
    ws = w.unsqueeze(1).expand(-1, int(image_generator.num_ws), -1)
    if noise_mode == "video":
        if noise is None:
            raise ValueError("noise_mode 'video' needs a per-video noise buffer (G.synthesis.make_noise)")
        return image_generator.synthesis(ws, noise_mode="const", noise=noise)
    return image_generator.synthesis(ws, noise_mode=noise_mode)


@dataclass
class VideoContext:
    """Per-video state reused by every frame: w0, its frame G(w0), encoder stem, noise buffer."""

    w0: torch.Tensor  # [B, w_dim]
    first_frame: torch.Tensor  # [B, 3, R, R], G(w0)
    stem: torch.Tensor  # [B, C, h, w] encoder features of G(w0) before the first AdaIN block
    noise_mode: str
    noise: Any = None  # per-video buffer (noise_mode "video"), else None


class StyleInVGenerator(nn.Module):
    """Video generator over a pretrained image generator ``G`` (kept frozen)."""

    def __init__(self, image_generator: nn.Module, config: StyleInVConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or StyleInVConfig()
        for attr in ("mapping", "synthesis", "w_dim", "num_ws", "img_resolution"):
            if not hasattr(image_generator, attr):
                raise TypeError(f"image generator lacks {attr!r}: pass a styleinv_model.stylegan2 Generator")
        if image_generator.w_dim != config.temporal.w_dim or image_generator.w_dim != config.encoder.w_dim:
            raise ValueError(
                f"image generator w_dim {image_generator.w_dim} differs from the StyleInV config "
                f"({config.temporal.w_dim}, {config.encoder.w_dim})"
            )
        self.image_generator = image_generator.requires_grad_(False)
        self.temporal_style = TemporalStyle(config.temporal)
        self.encoder = ModulatedInversionEncoder(config.encoder)

    # ------------------------------------------------------------------ image generator helpers
    @property
    def w_dim(self) -> int:
        return int(self.image_generator.w_dim)

    @property
    def z_dim(self) -> int:
        return int(self.image_generator.z_dim)

    @property
    def resolution(self) -> int:
        return int(self.image_generator.img_resolution)

    def initial_latents(self, z: torch.Tensor, truncation_psi: float = 1.0) -> torch.Tensor:
        """w0 [B, w_dim] from z [B, z_dim] through G's mapping (truncation towards its w_avg)."""
        return initial_latents(self.image_generator, z, truncation_psi)

    def synthesize(self, w: torch.Tensor, *, noise_mode: str = "const", noise: Any = None) -> torch.Tensor:
        """Images [N, 3, R, R] for single W codes [N, w_dim], broadcast to all G.num_ws layers."""
        return synthesize(self.image_generator, w, noise_mode=noise_mode, noise=noise)

    def make_video_noise(self, batch: int, generator: torch.Generator | None = None) -> Any:
        """A fresh per-video noise buffer from the image generator (constant over a video's frames)."""
        return self.image_generator.synthesis.make_noise(batch, generator=generator)

    # ------------------------------------------------------------------ per-video context
    def prepare(self, w0: torch.Tensor, *, noise_mode: str = "const", noise: Any = None) -> VideoContext:
        """Compute what every frame of the videos shares: G(w0) and the encoder stem."""
        first = self.synthesize(w0, noise_mode=noise_mode, noise=noise)
        stem = self.encoder.encode_stem(first)
        return VideoContext(w0=w0, first_frame=first, stem=stem, noise_mode=noise_mode, noise=noise)

    def latents_from_styles(self, context: VideoContext, styles: torch.Tensor) -> torch.Tensor:
        """w_t [B, T, w_dim] = w0 + E(G(w0), s_t) for styles [B, T, style_dim]."""
        batch, frames = styles.shape[:2]
        stem = context.stem.repeat_interleave(frames, dim=0)
        delta = self.encoder.forward_from_stem(stem, styles.reshape(batch * frames, -1))
        return context.w0.unsqueeze(1) + delta.reshape(batch, frames, -1).to(context.w0.dtype)

    def frames_from_latents(self, context: VideoContext, w_t: torch.Tensor) -> torch.Tensor:
        """Frames [B, T, 3, R, R] for latents w_t [B, T, w_dim], with the videos' constant noise."""
        batch, frames = w_t.shape[:2]
        noise = repeat_per_frame(context.noise, frames)
        images = self.synthesize(w_t.reshape(batch * frames, -1), noise_mode=context.noise_mode, noise=noise)
        return images.reshape(batch, frames, *images.shape[1:])

    def latents(
        self,
        context: VideoContext,
        t: torch.Tensor,
        anchor_codes: torch.Tensor,
        codes_offset: int = 0,
    ) -> torch.Tensor:
        """w_t [B, T, w_dim] for timestamps t [B, T] given precomputed anchor codes."""
        v = self.temporal_style.time_codes(t.to(context.w0.dtype), anchor_codes, codes_offset)
        styles = self.temporal_style.styles_from_codes(context.w0, v)
        return self.latents_from_styles(context, styles)

    def forward(
        self,
        w0: torch.Tensor,
        t: torch.Tensor,
        motion_noise: torch.Tensor | None = None,
        *,
        noise_mode: str = "const",
        noise: Any = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Frames [B, T, 3, R, R] for w0 [B, w_dim] and real-valued timestamps t [B, T] (frames)."""
        if w0.ndim != 2 or t.ndim != 2 or t.shape[0] != w0.shape[0]:
            raise ValueError(f"need w0 [B, w_dim] and t [B, T], got {tuple(w0.shape)} and {tuple(t.shape)}")
        if motion_noise is None:
            motion_noise = self.temporal_style.sample_motion_noise(
                w0.shape[0], float(t.max()), generator=generator, device=w0.device
            )
        context = self.prepare(w0, noise_mode=noise_mode, noise=noise)
        codes = self.temporal_style.anchor_codes(motion_noise.to(w0.dtype), 0)
        return self.frames_from_latents(context, self.latents(context, t, codes, 0))

    def frames_from_z(
        self,
        z: torch.Tensor,
        t: torch.Tensor,
        motion_noise: torch.Tensor | None = None,
        *,
        truncation_psi: float = 1.0,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Like :meth:`forward`, starting from z [B, z_dim] (w0 = G.mapping(z), truncated)."""
        return self(self.initial_latents(z, truncation_psi), t, motion_noise, **kwargs)

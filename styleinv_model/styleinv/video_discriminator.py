"""Video discriminator (StyleGAN-V's design) over the sparse frames of a video.

Each frame goes through a ResNet-style 2D trunk (the StyleGAN2 layers of ``styleinv_model.stylegan2``:
equalised lr, [1, 3, 3, 1] FIR down-sampling, fp16 at the highest resolutions on CUDA); at ``concat_resolution`` (16) the channels are
divided by ``frames_channel_divisor`` (2) and the features of the video's frames are concatenated
along channels; the rest of the trunk sees the whole video. The time gaps between consecutive
frames are embedded (a learned table indexed by the rounded gap + fixed Fourier features), mapped by
an MLP to ``cmap`` and enter the epilogue by projection: logit = <features, cmap> / sqrt(cmap_dim).

Two layouts (``VideoDiscriminatorConfig.layout``):

* ``stylegan-v`` (default; the layout every published StyleInV config selects): all F frames are
  concatenated at ``concat_resolution`` and the F-1 gaps embedded;
* ``ffc`` (first-frame conditioned; the authors' ``DiscriminatorFFC``): frames 1..F-1 are
  concatenated, frame 0 (G(w0) or the real first frame) continues through a branch of its own
  (blocks from ``concat_resolution`` down, then an epilogue that returns a vector); only the F-2
  gaps between frames 1..F-1 are embedded (the gap from frame 0 never enters); the final
  projection vector is [mapped gap embedding, frame-0 vector].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from styleinv_model.stylegan2.discriminator import DiscriminatorEpilogue
from styleinv_model.stylegan2.layers import Conv2dLayer
from styleinv_model.stylegan2.mapping import MappingNetwork
from styleinv_model.stylegan2.synthesis import fp16_resolution_threshold

LAYOUTS = ("stylegan-v", "ffc")


@dataclass(frozen=True)
class VideoDiscriminatorConfig:
    resolution: int = 256
    num_frames: int = 4  # frames per video shown to D (the first one is G(w0))
    channel_base: int = 16384  # channels at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 512
    concat_resolution: int = 16
    frames_channel_divisor: int = 2
    max_time_gap: int = 128  # size of the learned gap table (clip length in frames)
    time_table_dim: int = 256
    mapping_layers: int = 8
    mbstd_group_size: int = 4
    mbstd_channels: int = 1
    num_fp16_res: int = 4  # blocks at the highest resolutions run in float16 on CUDA
    conv_clamp: float | None = 256
    layout: str = "stylegan-v"  # or "ffc": frame 0 through a branch of its own (see the module doc)

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"discriminator layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        if self.layout == "ffc" and self.num_frames < 3:
            raise ValueError(f"the ffc layout needs >= 3 frames per video (frame 0 plus two), got {self.num_frames}")
        log2 = math.log2(self.resolution)
        if self.resolution < 8 or log2 != int(log2):
            raise ValueError(f"resolution must be a power of two >= 8, got {self.resolution}")
        if not 4 < self.concat_resolution < self.resolution:
            raise ValueError(
                f"concat_resolution must lie strictly between 4 and the resolution {self.resolution}, "
                f"got {self.concat_resolution}"
            )
        if self.num_frames < 2:
            raise ValueError(f"a video discriminator needs >= 2 frames, got {self.num_frames}")

    def channels(self, resolution: int) -> int:
        return min(self.channel_base // resolution, self.channel_max)

    @property
    def concatenated_frames(self) -> int:
        """Frames stacked on channels at the concat resolution (all but frame 0 in the ffc layout)."""
        return self.num_frames - 1 if self.layout == "ffc" else self.num_frames


class DiscriminatorBlock(nn.Module):
    """Residual block: [fromRGB] -> conv3x3 -> conv3x3 with 2x FIR down-sampling, plus a 1x1 down skip.

    Unlike the image discriminator's block, conv0 takes ``in_channels`` so the block after the frame
    concatenation can read the concatenated features.
    """

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, *, from_rgb: bool,
                 use_fp16: bool, conv_clamp: float | None) -> None:
        super().__init__()
        self.use_fp16 = use_fp16
        self.from_rgb = Conv2dLayer(3, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp) if from_rgb else None
        conv_in = tmp_channels if from_rgb else in_channels
        self.conv0 = Conv2dLayer(conv_in, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(conv_in, out_channels, 1, bias=False, down=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = torch.float16 if self.use_fp16 and x.device.type == "cuda" else torch.float32
        x = x.to(dtype)
        if self.from_rgb is not None:
            x = self.from_rgb(x)
        skip = self.skip(x, gain=math.sqrt(0.5))
        return skip + self.conv1(self.conv0(x), gain=math.sqrt(0.5))


class TimeGapEmbedding(nn.Module):
    """Embeds the F-1 gaps between the F timestamps of a video: [B, F] -> [B, (F-1) * dim]."""

    def __init__(self, config: VideoDiscriminatorConfig) -> None:
        super().__init__()
        self.max_time_gap = config.max_time_gap
        self.table = nn.Embedding(config.max_time_gap, config.time_table_dim)
        resolution = 2 ** math.ceil(math.log2(max(config.max_time_gap, 2)))
        count = int(math.log2(resolution))
        coefs = (2.0 ** torch.arange(count, dtype=torch.float32)) * math.pi / resolution
        self.register_buffer("fourier_coefs", coefs, persistent=False)
        self.dim_per_gap = config.time_table_dim + 2 * count

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        gaps = (t[:, 1:] - t[:, :-1]).float()
        if bool((gaps < 0).any()):
            raise ValueError("the timestamps of each video must be non-decreasing")
        index = gaps.round().long().clamp(0, self.max_time_gap - 1)
        angles = gaps.unsqueeze(-1) * self.fourier_coefs
        embedding = torch.cat([self.table(index), angles.sin(), angles.cos()], dim=-1)
        return embedding.flatten(1)


class VideoDiscriminator(nn.Module):
    """D(frames [B, F, 3, R, R], timestamps [B, F]) -> logits [B]."""

    def __init__(self, config: VideoDiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or VideoDiscriminatorConfig()
        block_resolutions = [2**i for i in range(int(math.log2(config.resolution)), 2, -1)]
        self.block_resolutions = block_resolutions
        fp16_resolution = fp16_resolution_threshold(config.resolution, config.num_fp16_res)
        blocks, first_frame_blocks = {}, {}
        per_frame = config.channels(config.concat_resolution) // config.frames_channel_divisor
        for res in block_resolutions:
            tmp = config.channels(res)
            out = config.channels(res // 2)
            in_channels = tmp
            if res // 2 == config.concat_resolution:
                out //= config.frames_channel_divisor
            if res == config.concat_resolution:
                in_channels = per_frame * config.concatenated_frames
            blocks[f"b{res}"] = DiscriminatorBlock(in_channels, tmp, out, from_rgb=res == config.resolution,
                                                   use_fp16=res >= fp16_resolution, conv_clamp=config.conv_clamp)
            if config.layout == "ffc" and res <= config.concat_resolution:
                first_in = per_frame if res == config.concat_resolution else in_channels
                first_frame_blocks[f"b{res}"] = DiscriminatorBlock(
                    first_in, tmp, out, from_rgb=False, use_fp16=res >= fp16_resolution, conv_clamp=config.conv_clamp)
        self.blocks = nn.ModuleDict(blocks)

        channels4 = config.channels(4)
        epilogue = dict(resolution=4, mbstd_group_size=config.mbstd_group_size,
                        mbstd_num_channels=config.mbstd_channels, conv_clamp=config.conv_clamp)
        self.time_embedding = TimeGapEmbedding(config)
        gaps = config.concatenated_frames - 1
        self.mapping = MappingNetwork(z_dim=0, c_dim=self.time_embedding.dim_per_gap * gaps,
                                      w_dim=channels4, num_ws=None, num_layers=config.mapping_layers,
                                      w_avg_beta=None)
        if config.layout == "ffc":
            self.first_frame_blocks = nn.ModuleDict(first_frame_blocks)
            self.first_frame_epilogue = DiscriminatorEpilogue(channels4, channels4, **epilogue)
        self.cmap_dim = channels4 * (2 if config.layout == "ffc" else 1)
        self.epilogue = DiscriminatorEpilogue(channels4, self.cmap_dim, **epilogue)

    def time_condition(self, t: torch.Tensor) -> torch.Tensor:
        """The mapped gap embedding [B, channels(4)] from the timestamps [B, F] of each video (in
        the ffc layout, of frames 1..F-1 only)."""
        if self.config.layout == "ffc":
            t = t[:, 1:]
        return self.mapping(None, self.time_embedding(t))

    def forward(self, frames: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        config = self.config
        expected = (config.num_frames, 3, config.resolution, config.resolution)
        if frames.ndim != 5 or tuple(frames.shape[1:]) != expected:
            raise ValueError(f"frames must be [B, {', '.join(map(str, expected))}], got {tuple(frames.shape)}")
        if tuple(t.shape) != tuple(frames.shape[:2]):
            raise ValueError(f"timestamps must be [B, {config.num_frames}], got {tuple(t.shape)}")
        batch = frames.shape[0]
        x = frames.reshape(batch * config.num_frames, *expected[1:]).float()
        first = None
        for res in self.block_resolutions:
            if res == config.concat_resolution:
                x = x.reshape(batch, config.num_frames, *x.shape[1:])
                if config.layout == "ffc":
                    first, x = x[:, 0], x[:, 1:]
                x = x.reshape(batch, -1, *x.shape[3:])
            x = self.blocks[f"b{res}"](x)
            if first is not None:
                first = self.first_frame_blocks[f"b{res}"](first)
        cmap = self.time_condition(t)
        if first is not None:
            cmap = torch.cat([cmap, self.first_frame_epilogue(first, None, return_vector=True)], dim=1)
        return self.epilogue(x, cmap).squeeze(1)

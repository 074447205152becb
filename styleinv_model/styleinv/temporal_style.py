"""Temporal style (FFA-APE): (w0, real-valued timestamps, motion noise) -> temporal styles s_t.

Timestamps are in frames (t = 0, 1, 2, ... for a video at its native frame rate; fractional t
interpolates). The authors normalise t by (clip - 1) before the networks and multiply it back
inside, so frame units are what the layers see.

Pipeline (REFERENCE.md section 1, item 3):

1. motion noise anchors u_k (512) sit at t = k * motion_z_distance; anchor 0 is a learned
   constant, so the style at t = 0 never depends on the noise;
2. two left-sided 1D convolutions (6 effective taps, leaky ReLU, equalised lr, lr x 0.01) turn
   the anchor sequence into anchor codes; output k only sees anchors k-10 .. k;
3. StyleGAN-V's aligned time encoding gives the time code v_t between the two anchors around t;
4. [v_t, w0] -> two fully connected layers (leaky ReLU, lr x 0.01) -> s_t.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from styleinv_model.styleinv.layers import EqualizedLinear, LeftSidedConv1d


@dataclass(frozen=True)
class TemporalStyleConfig:
    """Hyper-parameters of FFA-APE; defaults are the faces configuration."""

    w_dim: int = 512  # size of w0
    motion_dim: int = 512  # size of one motion noise anchor u_k
    anchor_code_dim: int | None = None  # size of an anchor code (the last conv's output); None: motion_dim
    num_frequencies: int = 256  # time code size is 2 * num_frequencies (sin and cos)
    style_dim: int = 512  # size of s_t
    motion_z_distance: int = 16  # frames between two motion anchors (128 for Sky/TaiChi)
    min_period: float = 16.0  # shortest sinusoid period in frames
    max_period: float = 128.0  # longest period in frames (clip length; 1024 for Sky/TaiChi)
    conv_taps: int = 6  # effective taps of each left-sided conv
    conv_gain_taps: int = 11  # taps counted by the equalised-lr gain (authors: kernel 11, 5 masked)
    num_conv_layers: int = 2
    num_fuse_layers: int = 2
    lr_multiplier: float = 0.01
    w0_first: bool = False  # fusion input [w0, v_t] (the authors' order) instead of [v_t, w0]
    # "float64": sinusoid phases in float64 (exact to ~1e-9 at an hour of video); "float32": the
    # authors' float32 order of operations, which their weights were trained with (same outputs
    # as their code; at t ~ 1e5 frames the phase then carries rounding of ~1e-2)
    phase_precision: str = "float64"

    @property
    def code_dim(self) -> int:
        return 2 * self.num_frequencies

    @property
    def anchor_dim(self) -> int:
        """Width of the anchor codes the time encoder reads."""
        return self.motion_dim if self.anchor_code_dim is None else self.anchor_code_dim

    def __post_init__(self) -> None:
        if self.motion_z_distance < 1:
            raise ValueError(f"motion_z_distance must be >= 1, got {self.motion_z_distance}")
        if not 0 < self.min_period <= self.max_period:
            raise ValueError(f"need 0 < min_period <= max_period, got {self.min_period}, {self.max_period}")
        if self.num_conv_layers < 1 or self.num_fuse_layers < 1:
            raise ValueError("num_conv_layers and num_fuse_layers must be >= 1")
        if self.phase_precision not in ("float64", "float32"):
            raise ValueError(f"phase_precision must be 'float64' or 'float32', got {self.phase_precision!r}")


def log_spaced_frequencies(num_frequencies: int, min_period: float, max_period: float) -> torch.Tensor:
    """Angular frequencies 2*pi/period with periods spaced evenly in log2, ascending frequency."""
    periods = 2.0 ** np.linspace(math.log2(min_period), math.log2(max_period), num_frequencies)
    freqs = (2.0 * math.pi / periods)[::-1].copy()
    return torch.from_numpy(freqs.astype(np.float64))


class AlignedTimeEncoder(nn.Module):
    """StyleGAN-V's aligned time encoding between two anchor codes.

    For t between anchors t_l and t_r (alpha = (t - t_l) / (t_r - t_l)) with anchor codes u_l, u_r:
    ``v_t = PE(t) - lerp(PE(t_l), PE(t_r), alpha) + lerp(A u_l, A u_r, alpha)`` where
    ``PE(x) = [sin, cos](freq * (tanh(P u_l) + 1) * x + (Phi u_l) * max_period / period)``.
    At an anchor (alpha = 0) v_t equals ``A u_l`` exactly.
    """

    def __init__(self, config: TemporalStyleConfig) -> None:
        super().__init__()
        self.config = config
        freqs = log_spaced_frequencies(config.num_frequencies, config.min_period, config.max_period)
        # float64 buffers: the phase of an hour-long video (t ~ 1e5) needs the extra precision
        self.register_buffer("freqs", freqs, persistent=False)
        self.register_buffer("phase_scales", config.max_period * freqs / (2.0 * math.pi), persistent=False)
        # the float32 path computes its buffers as the authors do: float32 frequencies, then the
        # phase scales from them in float32
        freqs32 = freqs.float()
        self.register_buffer("freqs32", freqs32, persistent=False)
        self.register_buffer("phase_scales32", config.max_period / (2.0 * math.pi / freqs32), persistent=False)
        self.period_predictor = EqualizedLinear(config.anchor_dim, config.num_frequencies, bias=False)
        self.phase_predictor = EqualizedLinear(config.anchor_dim, config.num_frequencies, bias=False)
        self.aligner = EqualizedLinear(config.anchor_dim, config.code_dim, bias=False)

    def _positional(self, x: torch.Tensor, scales: torch.Tensor, phases: torch.Tensor) -> torch.Tensor:
        angles = self.freqs * scales * x.unsqueeze(-1) + phases
        return torch.cat([angles.sin(), angles.cos()], dim=-1)

    def forward(
        self,
        t: torch.Tensor,
        t_left: torch.Tensor,
        t_right: torch.Tensor,
        code_left: torch.Tensor,
        code_right: torch.Tensor,
    ) -> torch.Tensor:
        """t, t_left, t_right: [N] float; code_left/right: [N, anchor_dim] -> v: [N, code_dim]."""
        if self.config.phase_precision == "float32":
            return self._forward_float32(t, t_left, t_right, code_left, code_right)
        alpha = ((t - t_left) / (t_right - t_left)).to(torch.float64).unsqueeze(-1)
        scales = (self.period_predictor(code_left).tanh() + 1.0).to(torch.float64)
        phases = self.phase_predictor(code_left).to(torch.float64) * self.phase_scales
        t64, tl64, tr64 = (x.to(torch.float64) for x in (t, t_left, t_right))
        pe = self._positional(t64, scales, phases)
        pe_left = self._positional(tl64, scales, phases)
        pe_right = self._positional(tr64, scales, phases)
        detail = (pe - ((1.0 - alpha) * pe_left + alpha * pe_right)).to(code_left.dtype)
        alpha32 = alpha.to(code_left.dtype)
        aligned = (1.0 - alpha32) * self.aligner(code_left) + alpha32 * self.aligner(code_right)
        return detail + aligned

    def _forward_float32(self, t: torch.Tensor, t_left: torch.Tensor, t_right: torch.Tensor,
                         code_left: torch.Tensor, code_right: torch.Tensor) -> torch.Tensor:
        """The same encoding in float32, each product and sum in the authors' order."""
        t, t_left, t_right = (x.float().unsqueeze(-1) for x in (t, t_left, t_right))
        alpha = (t - t_left) / (t_right - t_left)
        scales = self.period_predictor(code_left.float()).tanh() + 1.0
        phases = self.phase_predictor(code_left.float()) * self.phase_scales32
        step = self.freqs32 * scales

        def positional(x: torch.Tensor) -> torch.Tensor:
            angles = step * x + phases
            return torch.cat([angles.sin(), angles.cos()], dim=-1)

        removed = positional(t_left) * (1.0 - alpha) + positional(t_right) * alpha
        added = self.aligner(code_left.float()) * (1.0 - alpha) + self.aligner(code_right.float()) * alpha
        return (positional(t) - removed + added).to(code_left.dtype)


class TemporalStyle(nn.Module):
    """FFA-APE: motion anchors -> causal convs -> aligned time code -> fuse with w0 -> s_t."""

    def __init__(self, config: TemporalStyleConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or TemporalStyleConfig()
        self.first_anchor = nn.Parameter(torch.randn(config.motion_dim))
        widths = [config.motion_dim] * config.num_conv_layers + [config.anchor_dim]
        self.anchor_convs = nn.ModuleList(
            LeftSidedConv1d(
                widths[i],
                widths[i + 1],
                taps=config.conv_taps,
                gain_taps=config.conv_gain_taps,
                lr_multiplier=config.lr_multiplier,
            )
            for i in range(config.num_conv_layers)
        )
        self.time_encoder = AlignedTimeEncoder(config)
        fuse = []
        in_features = config.code_dim + config.w_dim
        for _ in range(config.num_fuse_layers):
            fuse.append(
                EqualizedLinear(in_features, config.style_dim, activation="lrelu", lr_multiplier=config.lr_multiplier)
            )
            in_features = config.style_dim
        self.fuse = nn.ModuleList(fuse)

    # ----------------------------------------------------------------------------- anchors
    @property
    def receptive_context(self) -> int:
        """Number of earlier anchors that the code of one anchor depends on (10 by default)."""
        return sum(conv.receptive_context for conv in self.anchor_convs)

    def anchor_index(self, t: torch.Tensor) -> torch.Tensor:
        """Index of the anchor at or left of each timestamp."""
        return torch.floor(t / self.config.motion_z_distance).long()

    def num_anchors_for(self, max_t: float) -> int:
        """Anchors needed to cover timestamps up to ``max_t`` (its left and right anchors)."""
        return int(math.floor(max_t / self.config.motion_z_distance)) + 2

    def anchor_codes(self, motion_noise: torch.Tensor, window_start: int = 0) -> torch.Tensor:
        """Anchor codes for the anchors ``window_start .. window_start + K - 1``.

        motion_noise: [B, K, motion_dim], the noise of those anchors. With ``window_start == 0``
        anchor 0 is replaced by the learned constant and every returned code is exact. With
        ``window_start > 0`` the first ``receptive_context`` codes lack their left context and
        must be discarded by the caller (see :meth:`anchor_codes_range`).
        """
        if motion_noise.ndim != 3 or motion_noise.shape[-1] != self.config.motion_dim:
            raise ValueError(
                f"motion noise must be [B, K, {self.config.motion_dim}], got {tuple(motion_noise.shape)}"
            )
        x = motion_noise
        if window_start == 0:
            first = self.first_anchor.to(x.dtype).expand(x.shape[0], 1, -1)
            x = torch.cat([first, x[:, 1:]], dim=1)
        x = x.transpose(1, 2)
        for conv in self.anchor_convs:
            x = conv(x)
        return x.transpose(1, 2)

    def anchor_codes_range(self, noise_window: torch.Tensor, window_start: int, first: int) -> torch.Tensor:
        """Exact codes of anchors ``first ..`` from noise of anchors ``window_start ..``.

        ``window_start`` must be 0 or at most ``first - receptive_context``.
        """
        if window_start != 0 and first - window_start < self.receptive_context:
            raise ValueError(
                f"anchor {first} needs noise from anchor {first - self.receptive_context}, window starts at {window_start}"
            )
        codes = self.anchor_codes(noise_window, window_start)
        return codes[:, first - window_start :]

    # ----------------------------------------------------------------------------- time codes
    def time_codes(self, t: torch.Tensor, codes: torch.Tensor, codes_offset: int = 0) -> torch.Tensor:
        """Time codes v_t [B, T, code_dim] for timestamps t [B, T] given anchor codes.

        ``codes`` [B, K, anchor_dim] holds anchors ``codes_offset .. codes_offset + K - 1``.
        """
        if t.ndim != 2 or codes.ndim != 3 or t.shape[0] != codes.shape[0]:
            raise ValueError(f"need t [B, T] and codes [B, K, C], got {tuple(t.shape)} and {tuple(codes.shape)}")
        if bool((t < 0).any()):
            raise ValueError("timestamps must be >= 0")
        batch, frames = t.shape
        distance = float(self.config.motion_z_distance)
        left = self.anchor_index(t)
        local = left - codes_offset
        if int(local.min()) < 0 or int(local.max()) + 1 >= codes.shape[1]:
            raise ValueError(
                f"anchor codes cover anchors {codes_offset}..{codes_offset + codes.shape[1] - 1}, "
                f"timestamps need {int(left.min())}..{int(left.max()) + 1}"
            )
        rows = torch.arange(batch, device=t.device).unsqueeze(1).expand(batch, frames)
        code_left = codes[rows, local].reshape(batch * frames, -1)
        code_right = codes[rows, local + 1].reshape(batch * frames, -1)
        t_left = left.to(t.dtype) * distance
        t_right = t_left + distance
        v = self.time_encoder(t.reshape(-1), t_left.reshape(-1), t_right.reshape(-1), code_left, code_right)
        return v.reshape(batch, frames, -1)

    def styles_from_codes(self, w0: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """s_t [B, T, style_dim] from w0 [B, w_dim] and time codes v [B, T, code_dim]."""
        w0_rows = w0.unsqueeze(1).expand(-1, v.shape[1], -1).to(v.dtype)
        x = torch.cat([w0_rows, v] if self.config.w0_first else [v, w0_rows], dim=-1)
        for layer in self.fuse:
            x = layer(x)
        return x

    def sample_motion_noise(
        self, batch: int, max_t: float, *, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """Fresh motion noise [B, K, motion_dim] covering timestamps up to ``max_t``."""
        count = self.num_anchors_for(max_t)
        return torch.randn(batch, count, self.config.motion_dim, generator=generator, device=device)

    def forward(
        self,
        w0: torch.Tensor,
        t: torch.Tensor,
        motion_noise: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """s_t [B, T, style_dim] for w0 [B, w_dim], t [B, T] (frames, >= 0)."""
        if motion_noise is None:
            motion_noise = self.sample_motion_noise(w0.shape[0], float(t.max()), generator=generator, device=w0.device)
        codes = self.anchor_codes(motion_noise.to(w0.dtype), 0)
        return self.styles_from_codes(w0, self.time_codes(t.to(w0.dtype), codes, 0))

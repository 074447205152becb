"""Fixtures for the StyleInV tests: tiny networks so the whole folder runs in seconds on a CPU."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from styleinv_model.styleinv.encoder import EncoderConfig
from styleinv_model.styleinv.generator import StyleInVConfig, StyleInVGenerator
from styleinv_model.styleinv.temporal_style import TemporalStyleConfig

W_DIM = 32


class TinyImageGenerator(nn.Module):
    """A minimal stand-in with the styleinv_model.stylegan2 Generator API (mapping, synthesis, noise).

    ws -> 4x4 feature map from the mean W, upsampled to `resolution`, with per-layer noise added so
    tests can check that the noise buffer is held constant over a video.
    """

    def __init__(self, resolution: int = 16, w_dim: int = W_DIM, num_ws: int = 4) -> None:
        super().__init__()
        self.z_dim = w_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.img_resolution = resolution
        self.img_channels = 3
        gen = torch.Generator().manual_seed(0)
        self.map_weight = nn.Parameter(torch.randn(w_dim, w_dim, generator=gen) / math.sqrt(w_dim))
        self.register_buffer("w_avg", torch.randn(w_dim, generator=gen) * 0.1)
        self.synthesis = _TinySynthesis(resolution, w_dim, gen)

    def mapping(self, z, c=None, truncation_psi=1.0, truncation_cutoff=None, update_emas=False):
        w = torch.tanh(z @ self.map_weight)
        w = self.w_avg + (w - self.w_avg) * truncation_psi
        return w.unsqueeze(1).repeat(1, self.num_ws, 1)

    def forward(self, z, c=None, truncation_psi=1.0, noise_mode="const"):
        return self.synthesis(self.mapping(z, c, truncation_psi), noise_mode=noise_mode)


class _TinySynthesis(nn.Module):
    def __init__(self, resolution: int, w_dim: int, gen: torch.Generator) -> None:
        super().__init__()
        self.resolution = resolution
        self.to_feat = nn.Parameter(torch.randn(w_dim, 3 * 16, generator=gen) / math.sqrt(w_dim))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution, generator=gen))

    def make_noise(self, batch, generator=None, device=None):
        device = device or (generator.device if generator is not None else "cpu")
        return {"layer0": torch.randn(batch, 1, self.resolution, self.resolution, generator=generator, device=device)}

    def forward(self, ws, noise_mode="const", noise=None, force_fp32=False):
        x = torch.tanh(ws.mean(dim=1) @ self.to_feat).reshape(-1, 3, 4, 4)
        x = nn.functional.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
        if noise is not None and noise_mode != "none":
            x = x + 0.1 * noise["layer0"]
        elif noise_mode == "const":
            x = x + 0.1 * self.noise_const
        elif noise_mode == "random":
            x = x + 0.1 * torch.randn_like(x[:, :1])
        return x


def tiny_config(motion_z_distance: int = 4) -> StyleInVConfig:
    temporal = TemporalStyleConfig(
        w_dim=W_DIM, motion_dim=24, num_frequencies=8, style_dim=20,
        motion_z_distance=motion_z_distance, min_period=4.0, max_period=32.0,
    )
    encoder = EncoderConfig(stage_channels=(8, 8, 16, 16), stage_units=(1, 1, 1, 1), se_reduction=4, style_dim=20, w_dim=W_DIM,
                            input_resolution=32)
    return StyleInVConfig(temporal=temporal, encoder=encoder)


def make_tiny_model(seed: int = 0, motion_z_distance: int = 4) -> StyleInVGenerator:
    torch.manual_seed(seed)
    model = StyleInVGenerator(TinyImageGenerator(), tiny_config(motion_z_distance)).eval()
    # a random BatchNorm state so eval-mode statistics are not the identity
    with torch.no_grad():
        for module in model.encoder.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.8, 1.2)
    return model


@pytest.fixture()
def tiny_model() -> StyleInVGenerator:
    return make_tiny_model()


@pytest.fixture()
def model_factory():
    """Builds a fresh tiny model (same weights for the same seed)."""
    return make_tiny_model


@pytest.fixture()
def tiny_config_factory():
    """Builds the tiny StyleInV config (w_dim 32) used with small real image generators."""
    return tiny_config

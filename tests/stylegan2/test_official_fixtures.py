"""Our networks with the official weights reproduce the official StyleGAN2-ADA outputs."""

from __future__ import annotations

import torch

from styleinv_model.stylegan2 import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig


def build_official(case):
    G = Generator(GeneratorConfig.from_official_kwargs(case.G_kwargs)).eval()
    D = Discriminator(DiscriminatorConfig.from_official_kwargs(case.D_kwargs)).eval()
    G.load_state_dict(case.G_state, strict=True)  # official key names, no renaming
    D.load_state_dict(case.D_state, strict=True)
    return G, D


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return (a - b).abs().max().item()


def test_outputs_match_official(official_case):
    G, D = build_official(official_case)
    io = official_case.io
    assert G.num_ws == io["ws_psi1"].shape[1]
    with torch.no_grad():
        ws_psi1 = G.mapping(io["z"], None)
        ws_psi07 = G.mapping(io["z"], None, truncation_psi=0.7)
        img_const = G.synthesis(io["ws_psi1"], noise_mode="const")
        img_none = G(io["z"], None, truncation_psi=0.7, noise_mode="none")
        logits = D(io["img_const_psi1"])
    assert max_abs_diff(ws_psi1, io["ws_psi1"]) <= 1e-5
    assert max_abs_diff(ws_psi07, io["ws_psi07"]) <= 1e-5
    assert max_abs_diff(img_const, io["img_const_psi1"]) <= 1e-4
    assert max_abs_diff(img_none, io["img_none_psi07"]) <= 1e-4
    assert max_abs_diff(logits, io["D_logits_of_img_const_psi1"]) <= 1e-4
    # The fixtures are not trivial: noise and truncation change the images.
    assert max_abs_diff(io["img_const_psi1"], io["img_none_psi07"]) > 0.1


def test_training_path_equals_inference_path(official_g32):
    """Non-fused modulated conv (training mode) gives the same images as the fused one."""
    G, _ = build_official(official_g32)
    ws = official_g32.io["ws_psi1"]
    with torch.no_grad():
        fused = G.synthesis(ws, noise_mode="const", fused_modconv=True)
        unfused = G.synthesis(ws, noise_mode="const", fused_modconv=False)
    assert max_abs_diff(fused, unfused) <= 1e-4
    assert max_abs_diff(unfused, official_g32.io["img_const_psi1"]) <= 1e-4

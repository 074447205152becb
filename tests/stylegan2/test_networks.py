"""Generator and discriminator behaviour: shapes, gradients, determinism, noise, truncation, presets."""

from __future__ import annotations

import pytest
import torch

from styleinv_model.stylegan2 import (build_discriminator, build_generator, generator_config, get_preset)

TINY = dict(z_dim=32, w_dim=32, channel_base=1024, channel_max=32)


def tiny_pair(resolution: int, seed: int = 0):
    torch.manual_seed(seed)
    G = build_generator("paper256", resolution=resolution, **TINY)
    D = build_discriminator("paper256", resolution=resolution, channel_base=1024, channel_max=32, mbstd_group_size=2)
    return G, D


@pytest.mark.parametrize("resolution,num_ws", [(32, 8), (256, 14)])
def test_forward_backward_shapes_and_finite(resolution, num_ws):
    G, D = tiny_pair(resolution)
    G.train()
    D.train()
    z = torch.randn([2, G.z_dim], generator=torch.Generator().manual_seed(1))
    ws = G.mapping(z)
    assert ws.shape == (2, num_ws, 32) and G.num_ws == num_ws
    img = G.synthesis(ws, noise_mode="random")
    assert img.shape == (2, 3, resolution, resolution) and img.dtype == torch.float32
    logits = D(img)
    assert logits.shape == (2, 1)
    logits.sum().backward()
    for name, net in (("G", G), ("D", D)):
        for pname, p in net.named_parameters():
            assert p.grad is not None, f"{name}.{pname} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{name}.{pname} has a non-finite gradient"
    assert torch.isfinite(img).all()
    assert G.synthesis.b4.conv1.noise_strength.grad is not None


def test_r1_double_backward_through_discriminator():
    _, D = tiny_pair(32)
    real = torch.randn([2, 3, 32, 32], requires_grad=True)
    (grad,) = torch.autograd.grad(D(real).sum(), real, create_graph=True)
    penalty = grad.square().sum()
    penalty.backward()
    assert D.b32.conv0.weight.grad is not None and torch.isfinite(D.b32.conv0.weight.grad).all()
    assert D.b32.conv0.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("resolution", [32, 256])
def test_deterministic_under_seed(resolution):
    G1, D1 = tiny_pair(resolution, seed=5)
    G2, D2 = tiny_pair(resolution, seed=5)
    z = torch.randn([2, 32], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.manual_seed(9)
        a = G1(z, noise_mode="random")
        torch.manual_seed(9)
        b = G2(z, noise_mode="random")
        assert torch.equal(a, b)
        assert torch.equal(D1(a), D2(b))
        G3, _ = tiny_pair(resolution, seed=6)
        assert not torch.equal(G3(z), G1(z))
    # Gradients are reproducible too.
    grads = []
    for G, D in ((G1, D1), (G2, D2)):
        torch.manual_seed(11)
        D(G(z, noise_mode="random")).sum().backward()
        grads.append(G.synthesis.b4.conv1.weight.grad.clone())
    assert torch.equal(grads[0], grads[1])


def test_per_video_noise_buffer():
    G, _ = tiny_pair(32)
    G.eval()
    n1 = G.synthesis.make_noise(2, generator=torch.Generator().manual_seed(3))
    n2 = G.synthesis.make_noise(2, generator=torch.Generator().manual_seed(3))
    assert set(n1) == {"b4.conv1", "b8.conv0", "b8.conv1", "b16.conv0", "b16.conv1", "b32.conv0", "b32.conv1"}
    assert n1["b32.conv1"].shape == (2, 1, 32, 32)
    assert all(torch.equal(n1[k], n2[k]) for k in n1)
    for layer in (G.synthesis.b8.conv0, G.synthesis.b32.conv1):
        with torch.no_grad():
            layer.noise_strength.fill_(0.5)  # a fresh network has zero noise strength
    ws = G.mapping(torch.randn([2, 32]))
    with torch.no_grad():
        frame_a = G.synthesis(ws, noise=n1)
        frame_b = G.synthesis(ws, noise=n2)
        assert torch.equal(frame_a, frame_b)  # the same buffer gives the same frame, any number of times
        other = G.synthesis.make_noise(2, generator=torch.Generator().manual_seed(4))
        assert not torch.allclose(G.synthesis(ws, noise=other), frame_a)
        zeros = {k: torch.zeros_like(v) for k, v in n1.items()}
        assert torch.allclose(G.synthesis(ws, noise=zeros), G.synthesis(ws, noise_mode="none"), atol=1e-6)
        assert torch.equal(G.synthesis(ws, noise=n1, noise_mode="none"), G.synthesis(ws, noise_mode="none"))
        shared = {k: v[:1] for k, v in n1.items()}  # batch 1 broadcasts over the batch
        assert G.synthesis(ws, noise=shared).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="make_noise"):
        G.synthesis(ws, noise={"b32.conv1": torch.zeros([2, 1, 16, 16])})
    with pytest.raises(ValueError, match="unknown layer names"):
        G.synthesis(ws, noise={"b64.conv0": torch.zeros([2, 1, 64, 64])})


def test_truncation_and_w_avg():
    G, _ = tiny_pair(32)
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.linspace(-1, 1, 32))
        z = torch.randn([3, 32])
        ws = G.mapping(z)
        assert torch.allclose(G.mapping(z, truncation_psi=0.0), G.mapping.w_avg.expand_as(ws))
        half = G.mapping(z, truncation_psi=0.5)
        assert torch.allclose(half, G.mapping.w_avg + 0.5 * (ws - G.mapping.w_avg), atol=1e-6)
        cut = G.mapping(z, truncation_psi=0.5, truncation_cutoff=2)
        assert torch.allclose(cut[:, :2], half[:, :2]) and torch.equal(cut[:, 2:], ws[:, 2:])
        before = G.mapping.w_avg.clone()
        G.mapping(z)
        assert torch.equal(G.mapping.w_avg, before)  # only update_emas=True moves the average
        G.mapping(z, update_emas=True)
        expected = ws[:, 0].mean(0).lerp(before, 0.995)
        assert torch.allclose(G.mapping.w_avg, expected, atol=1e-6)


def test_conditional_generator_and_discriminator():
    torch.manual_seed(0)
    G = build_generator("paper256", resolution=32, c_dim=5, **TINY)
    D = build_discriminator("paper256", resolution=32, c_dim=5, channel_base=1024, channel_max=32, mbstd_group_size=2)
    c = torch.nn.functional.one_hot(torch.tensor([1, 3]), 5).float()
    img = G(torch.randn([2, 32]), c)
    assert D(img, c).shape == (2, 1)
    with pytest.raises(ValueError, match="conditional"):
        G(torch.randn([2, 32]))


def test_presets_and_fp16_layout():
    G = build_generator("paper256", resolution=256)
    assert (G.z_dim, G.w_dim, G.num_ws, G.img_resolution, G.img_channels, G.c_dim) == (512, 512, 14, 256, 3, 0)
    assert G.mapping.num_layers == 8
    fp16 = [b.resolution for b in G.synthesis.blocks() if b.use_fp16]
    assert fp16 == [32, 64, 128, 256]
    assert G.synthesis.b256.conv1.conv_clamp == 256
    assert G.synthesis.b256.conv1.weight.shape == (64, 64, 3, 3)  # 16384 // 256
    assert G.synthesis.b8.conv1.weight.shape == (512, 512, 3, 3)
    auto = get_preset("auto", 256, gpus=4)
    assert (auto.batch_size, auto.mbstd_group_size, auto.mapping_layers, auto.channel_base) == (64, 4, 2, 16384)
    assert auto.r1_gamma == pytest.approx(0.0002 * 256 ** 2 / 64)
    assert generator_config("auto", resolution=1024).channel_base == 32768


def test_bad_configuration_errors():
    with pytest.raises(ValueError, match="power of two"):
        build_generator("paper256", resolution=100)
    with pytest.raises(ValueError, match="unknown preset"):
        build_generator("paper999", resolution=256)
    with pytest.raises(ValueError, match="override"):
        build_generator("paper256", resolution=256, channels=3)
    G, D = tiny_pair(32)
    with pytest.raises(ValueError, match="ws must be"):
        G.synthesis(torch.zeros([1, 3, 32]))
    with pytest.raises(ValueError, match="noise_mode"):
        G(torch.zeros([1, 32]), noise_mode="sometimes")
    with pytest.raises(ValueError, match="expects images"):
        D(torch.zeros([2, 3, 64, 64]))


def test_conv_clamp_bounds_layer_outputs():
    G, _ = tiny_pair(32)
    layer = G.synthesis.b32.conv1
    with torch.no_grad():
        layer.bias.fill_(1e4)
    seen: dict[str, float] = {}

    def record(module, inputs, output) -> None:
        seen["max"] = output.abs().max().item()

    handle = layer.register_forward_hook(record)
    with torch.no_grad():
        G(torch.randn([1, 32]))
    handle.remove()
    assert seen["max"] == pytest.approx(256.0)


def test_minibatch_std_matches_direct_computation():
    from styleinv_model.stylegan2.discriminator import MinibatchStdLayer

    x = torch.randn([4, 2, 3, 3], dtype=torch.float64)
    y = MinibatchStdLayer(group_size=2)(x)
    assert y.shape == (4, 3, 3, 3) and torch.equal(y[:, :2], x)
    # Groups are samples {i, i + 2} (strided, as in StyleGAN2-ADA): population std per feature, averaged.
    for i in range(4):
        group = x[[i % 2, i % 2 + 2]]
        expected = (group.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        assert torch.allclose(y[i, 2], expected.expand(3, 3))

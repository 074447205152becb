"""LPIPS and the ArcFace identity loss: loading from local files (random weights saved in the
published key layouts), numerical behaviour, error messages, and the optional-loading helper.

A test with the real published weights runs when STYLEINV_LPIPS_ALEXNET / STYLEINV_LPIPS_LINEAR /
STYLEINV_ARCFACE_IRSE50 point to existing files and skips otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from styleinv_model.train.perceptual import (IRSE50, LPIPS, IdentityLoss, LPIPSPaths, arcface_preprocess,
                                             default_arcface_path, default_lpips_paths, load_optional_perceptual)

ALEX_CHANNELS = (64, 192, 384, 256, 256)


def _save(state: dict[str, torch.Tensor], path: Path) -> Path:
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def alexnet_state() -> dict[str, torch.Tensor]:
    """torchvision's own AlexNet `features` keys and shapes (randomly initialised, seed 0): the
    layout of alexnet-owt-7be5be79.pth, less the classifier."""
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    features = torchvision.models.alexnet(weights=None).features
    return {f"features.{k}": v.clone() for k, v in features.state_dict().items()}


@pytest.fixture(scope="module")
def linear_state() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    # lpips clamps its linear weights to >= 0 while training; so do these.
    return {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=generator) for i, c in enumerate(ALEX_CHANNELS)}


@pytest.fixture(scope="module")
def lpips_files(tmp_path_factory, alexnet_state, linear_state) -> LPIPSPaths:
    root = tmp_path_factory.mktemp("lpips")
    # The published trunk file also holds the classifier, which LPIPS must ignore.
    trunk = dict(alexnet_state, **{"classifier.6.weight": torch.zeros(10, 4), "classifier.6.bias": torch.zeros(10)})
    return LPIPSPaths(alexnet=_save(trunk, root / "alexnet-owt-7be5be79.pth"),
                      linear=_save(linear_state, root / "alex.pth"))


@pytest.fixture(scope="module")
def lpips_model(lpips_files) -> LPIPS:
    return LPIPS.from_files(lpips_files.alexnet, lpips_files.linear)


def _randomised_irse50(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    net = IRSE50()
    state = net.state_dict()
    generator = torch.Generator().manual_seed(seed)
    for key, value in state.items():  # non-trivial BatchNorm statistics, like a trained file
        if key.endswith("running_mean"):
            value.copy_(0.1 * torch.randn(value.shape, generator=generator))
        elif key.endswith("running_var"):
            value.copy_(0.5 + torch.rand(value.shape, generator=generator))
    return {k: v.clone() for k, v in state.items()}


@pytest.fixture(scope="module")
def arcface_state() -> dict[str, torch.Tensor]:
    return _randomised_irse50(seed=2)


@pytest.fixture(scope="module")
def arcface_file(tmp_path_factory, arcface_state) -> Path:
    return _save(arcface_state, tmp_path_factory.mktemp("arcface") / "model_ir_se50.pth")


@pytest.fixture(scope="module")
def id_loss(arcface_file) -> IdentityLoss:
    return IdentityLoss.from_file(arcface_file)


def _images(n: int, size: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, size // 8, size // 8, generator=generator) * 2 - 1
    return F.interpolate(base, size=(size, size), mode="bilinear", align_corners=False)  # smooth, image-like


# ---------------------------------------------------------------- LPIPS


def test_lpips_keys_are_the_published_layout_and_round_trip(lpips_model, alexnet_state, linear_state):
    own = lpips_model.state_dict()
    assert set(own) == set(alexnet_state) | set(linear_state)
    assert set(linear_state) == {f"lin{i}.model.1.weight" for i in range(5)}
    for key, value in {**alexnet_state, **linear_state}.items():
        assert torch.equal(own[key], value), key
    assert all(not p.requires_grad for p in lpips_model.parameters())
    lpips_model.train()
    assert not lpips_model.training and not any(m.training for m in lpips_model.modules())


def _reference_lpips(alexnet_state, linear_state, x, y) -> torch.Tensor:
    """Independent reference: torchvision's AlexNet trunk, ReLU outputs taken by forward hooks."""
    torchvision = pytest.importorskip("torchvision")
    trunk = torchvision.models.alexnet(weights=None).features.eval()
    trunk.load_state_dict({k.removeprefix("features."): v for k, v in alexnet_state.items()})
    relus = [m for m in trunk if isinstance(m, torch.nn.ReLU)]
    assert len(relus) == 5
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def taps(image):
        out = []
        hooks = [r.register_forward_hook(lambda _m, _i, o: out.append(o.clone())) for r in relus]
        trunk((image - shift) / scale)
        for hook in hooks:
            hook.remove()
        return out

    total = torch.zeros(x.shape[0])
    for i, (a, b) in enumerate(zip(taps(x), taps(y))):
        a = a / (a.norm(dim=1, keepdim=True) + 1e-10)
        b = b / (b.norm(dim=1, keepdim=True) + 1e-10)
        total += F.conv2d((a - b) ** 2, linear_state[f"lin{i}.model.1.weight"]).mean(dim=(1, 2, 3))
    return total


def test_lpips_matches_independent_reference(lpips_model, alexnet_state, linear_state):
    x, y = _images(3, 64, seed=3), _images(3, 64, seed=4)
    with torch.no_grad():
        ours = lpips_model(x, y)
        reference = _reference_lpips(alexnet_state, linear_state, x, y)
    assert ours.shape == (3,) and ours.dtype == torch.float32
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)
    assert (ours > 0).all()


def test_lpips_identity_is_exactly_zero_and_symmetric(lpips_model):
    x, y = _images(4, 64, seed=5), _images(4, 64, seed=6)
    with torch.no_grad():
        assert torch.equal(lpips_model(x, x), torch.zeros(4))
        forward, backward = lpips_model(x, y), lpips_model(y, x)
    torch.testing.assert_close(forward, backward, rtol=1e-6, atol=1e-7)
    assert (forward > 0).all()


def test_lpips_grows_with_noise_level(lpips_model):
    x = _images(2, 64, seed=7)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        distances = torch.stack([lpips_model(x, x + sigma * noise) for sigma in (0.02, 0.05, 0.1, 0.2, 0.4)])
    assert (distances[1:] > distances[:-1]).all(), distances


def test_lpips_is_per_sample_and_differentiable(lpips_model):
    x, y = _images(3, 64, seed=9), _images(3, 64, seed=10)
    with torch.no_grad():
        batch = lpips_model(x, y)
        single = torch.cat([lpips_model(x[i:i + 1], y[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(batch, single, rtol=1e-5, atol=1e-6)
    x.requires_grad_(True)
    y.requires_grad_(True)
    lpips_model(x, y).sum().backward()
    for grad in (x.grad, y.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert all(p.grad is None for p in lpips_model.parameters())
    with pytest.raises(ValueError, match="one shape"):
        lpips_model(x[:2], y)


# ---------------------------------------------------------------- identity loss


def test_arcface_key_layout_matches_psp(arcface_state):
    keys = set(arcface_state)
    # Keys of pSp's model_ir_se50.pth (Backbone(112, 50, 'ir_se')): spot checks across every part.
    for key in ("input_layer.0.weight", "input_layer.1.running_var", "input_layer.2.weight",
                "body.0.res_layer.0.weight", "body.0.res_layer.1.weight", "body.0.res_layer.2.weight",
                "body.0.res_layer.3.weight", "body.0.res_layer.4.bias", "body.0.res_layer.5.fc1.weight",
                "body.0.res_layer.5.fc2.weight", "body.3.shortcut_layer.0.weight", "body.3.shortcut_layer.1.weight",
                "body.23.res_layer.5.fc2.weight", "output_layer.0.weight", "output_layer.3.weight",
                "output_layer.3.bias", "output_layer.4.weight", "output_layer.4.running_mean"):
        assert key in keys, key
    # units 0, 3, 7, 21 change depth (64->64 stride 2 has no conv shortcut: depth unchanged)
    assert sorted({int(k.split(".")[1]) for k in keys if ".shortcut_layer." in k}) == [3, 7, 21]
    assert max(int(k.split(".")[1]) for k in keys if k.startswith("body.")) == 23
    assert arcface_state["output_layer.3.weight"].shape == (512, 512 * 7 * 7)
    assert arcface_state["body.23.res_layer.5.fc1.weight"].shape == (32, 512, 1, 1)
    assert arcface_state["body.0.res_layer.3.weight"].shape == (64, 64, 3, 3)
    # 6 (input) + 24 units x 13 + 3 conv shortcuts x 5 + 10 (output) tensors, plus 54 BatchNorm counters
    assert len([k for k in keys if not k.endswith("num_batches_tracked")]) == 343
    assert len(keys) == 397


def test_arcface_round_trip_and_old_files_without_num_batches_tracked(id_loss, arcface_state, tmp_path):
    own = id_loss.facenet.state_dict()
    assert set(own) == set(arcface_state)
    assert all(torch.equal(own[k], v) for k, v in arcface_state.items())
    id_loss.train()
    assert not any(m.training for m in id_loss.modules())
    assert all(not p.requires_grad for p in id_loss.parameters())
    old = {k: v for k, v in arcface_state.items() if not k.endswith("num_batches_tracked")}
    reloaded = IdentityLoss()
    reloaded.load_weights(old, tmp_path / "old.pth")
    assert torch.equal(reloaded.facenet.output_layer[3].weight, arcface_state["output_layer.3.weight"])


def test_identity_loss_values(id_loss):
    y = _images(3, 256, seed=11)
    other = _images(3, 256, seed=12)
    with torch.no_grad():
        same = id_loss(y, y)
        different = id_loss(other, y)
        flipped = id_loss(y.flip(0), y, x=y)
    assert abs(float(same.loss)) < 1e-6
    torch.testing.assert_close(same.similarity, torch.ones(3), atol=1e-6, rtol=0)
    assert 0 < float(different.loss) <= 2
    assert different.similarity.shape == (3,) and (different.similarity.abs() <= 1).all()
    torch.testing.assert_close(different.loss, (1 - different.similarity).mean())
    assert different.improvement is None
    # x == y: diff_views is 1, so the improvement is similarity - 1 (pSp's sim_improvement per sample)
    torch.testing.assert_close(flipped.improvement, flipped.similarity - 1, atol=1e-6, rtol=0)
    assert abs(float(flipped.similarity[1]) - 1) < 1e-6  # the middle sample is its own target


def test_identity_loss_gradient_reaches_prediction_only(id_loss):
    y_hat = _images(2, 128, seed=13).requires_grad_(True)
    y = _images(2, 128, seed=14).requires_grad_(True)
    out = id_loss(y_hat, y)
    out.loss.backward()
    assert y_hat.grad is not None and torch.isfinite(y_hat.grad).all() and y_hat.grad.abs().sum() > 0
    assert y.grad is None  # target features are detached, as in pSp
    assert all(p.grad is None for p in id_loss.parameters())


def test_arcface_preprocess_follows_psp_crop():
    images = _images(2, 256, seed=15)
    expected = F.adaptive_avg_pool2d(images[:, :, 35:223, 32:220], (112, 112))
    assert torch.equal(arcface_preprocess(images), expected)
    # pixels outside the crop do not matter
    changed = images.clone()
    changed[:, :, :35] = 1.0
    changed[:, :, :, 220:] = -1.0
    assert torch.equal(arcface_preprocess(changed), expected)
    # a 1024 image is area-pooled to 256 first (pSp's face_pool)
    big = F.interpolate(images, scale_factor=4, mode="nearest")
    torch.testing.assert_close(arcface_preprocess(big), expected)
    assert arcface_preprocess(_images(1, 64, seed=16)).shape == (1, 3, 112, 112)


# ---------------------------------------------------------------- errors and defaults


def test_missing_files_raise_file_not_found_naming_them(tmp_path, lpips_files):
    absent = tmp_path / "nowhere" / "alexnet-owt-7be5be79.pth"
    with pytest.raises(FileNotFoundError, match="alexnet-owt-7be5be79.pth") as error:
        LPIPS.from_files(absent, lpips_files.linear)
    assert "\n" not in str(error.value) and "STYLEINV_LPIPS_ALEXNET" in str(error.value)
    with pytest.raises(FileNotFoundError, match=r"alex\.pth.*lpips"):
        LPIPS.from_files(lpips_files.alexnet, tmp_path / "alex.pth")
    with pytest.raises(FileNotFoundError, match="model_ir_se50.pth.*pSp"):
        IdentityLoss.from_file(tmp_path / "model_ir_se50.pth")


def test_truncated_files_raise_value_error_naming_them(tmp_path, lpips_files):
    data = lpips_files.linear.read_bytes()
    broken = tmp_path / "alex_truncated.pth"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="alex_truncated.pth") as error:
        LPIPS.from_files(lpips_files.alexnet, broken)
    assert "\n" not in str(error.value)
    garbage = tmp_path / "ir_se50_garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="ir_se50_garbage.pth"):
        IdentityLoss.from_file(garbage)
    not_a_dict = _save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="list.pth.*list"):
        IdentityLoss.from_file(not_a_dict)


def test_wrong_keys_or_shapes_raise_value_error_naming_the_key(tmp_path, alexnet_state, linear_state, arcface_state,
                                                               lpips_files):
    no_lin2 = {k: v for k, v in linear_state.items() if k != "lin2.model.1.weight"}
    path = _save(no_lin2, tmp_path / "alex_no_lin2.pth")
    with pytest.raises(ValueError, match=r"alex_no_lin2\.pth.*'lin2\.model\.1\.weight'"):
        LPIPS.from_files(lpips_files.alexnet, path)
    wrong_shape = dict(alexnet_state, **{"features.3.weight": torch.zeros(192, 64, 3, 3)})
    path = _save(wrong_shape, tmp_path / "alexnet_bad_shape.pth")
    with pytest.raises(ValueError, match=r"alexnet_bad_shape\.pth.*'features\.3\.weight'.*\(192, 64, 5, 5\)"):
        LPIPS.from_files(path, lpips_files.linear)
    # the two LPIPS files swapped: the first missing trunk key is named
    with pytest.raises(ValueError, match="'features.0.weight'"):
        LPIPS.from_files(lpips_files.linear, lpips_files.alexnet)
    extra = dict(linear_state, **{"lin5.model.1.weight": torch.zeros(1, 512, 1, 1)})
    with pytest.raises(ValueError, match="unexpected key 'lin5.model.1.weight'"):
        LPIPS.from_files(lpips_files.alexnet, _save(extra, tmp_path / "alex_extra.pth"))
    no_fc2 = {k: v for k, v in arcface_state.items() if k != "body.5.res_layer.5.fc2.weight"}
    path = _save(no_fc2, tmp_path / "ir_se50_missing.pth")
    with pytest.raises(ValueError, match=r"ir_se50_missing\.pth.*'body\.5\.res_layer\.5\.fc2\.weight'"):
        IdentityLoss.from_file(path)


def test_default_paths_follow_env_then_cache(monkeypatch, tmp_path):
    for name in ("STYLEINV_LPIPS_ALEXNET", "STYLEINV_LPIPS_LINEAR", "STYLEINV_ARCFACE_IRSE50"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STYLEINV_CACHE", str(tmp_path / "cache"))
    paths = default_lpips_paths()
    assert paths.alexnet == tmp_path / "cache" / "weights" / "alexnet-owt-7be5be79.pth"
    assert paths.linear == tmp_path / "cache" / "weights" / "alex.pth"
    assert default_arcface_path() == tmp_path / "cache" / "weights" / "model_ir_se50.pth"
    monkeypatch.delenv("STYLEINV_CACHE")
    assert default_arcface_path() == Path.home() / ".cache" / "styleinv" / "weights" / "model_ir_se50.pth"
    monkeypatch.setenv("STYLEINV_LPIPS_ALEXNET", str(tmp_path / "a.pth"))
    monkeypatch.setenv("STYLEINV_LPIPS_LINEAR", str(tmp_path / "l.pth"))
    monkeypatch.setenv("STYLEINV_ARCFACE_IRSE50", str(tmp_path / "f.pth"))
    assert default_lpips_paths() == LPIPSPaths(alexnet=tmp_path / "a.pth", linear=tmp_path / "l.pth")
    assert default_arcface_path() == tmp_path / "f.pth"


def test_load_optional_perceptual(tmp_path, lpips_files, arcface_file, monkeypatch):
    monkeypatch.setenv("STYLEINV_LPIPS_LINEAR", str(lpips_files.linear))  # per-file fallback on the env var
    lines: list[str] = []
    absent_alexnet = tmp_path / "alexnet-owt-7be5be79.pth"
    assert load_optional_perceptual(0.0, 0.0, lpips_alexnet=absent_alexnet, arcface=tmp_path / "x.pth",
                                    log=lines.append) == (None, None)
    assert lines == []
    result = load_optional_perceptual(0.8, 0.1, lpips_alexnet=absent_alexnet, arcface=tmp_path / "model_ir_se50.pth",
                                      log=lines.append)
    assert result == (None, None)
    assert len(lines) == 2
    assert lines[0].startswith("LPIPS loss off") and "alexnet-owt-7be5be79.pth not found" in lines[0]
    assert lines[1].startswith("ID loss off") and "model_ir_se50.pth not found" in lines[1]
    lpips_module, id_module = load_optional_perceptual(0.8, 0.1, lpips_alexnet=lpips_files.alexnet,
                                                       arcface=arcface_file, log=lines.append)
    assert isinstance(lpips_module, LPIPS) and isinstance(id_module, IdentityLoss) and len(lines) == 2
    bad = tmp_path / "model_ir_se50.pth"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="model_ir_se50.pth"):
        load_optional_perceptual(0.0, 0.1, arcface=bad, log=lines.append)


# ---------------------------------------------------------------- real weights (optional)


def _real(env_var: str) -> Path | None:
    value = os.environ.get(env_var, "")
    return Path(value) if value and Path(value).is_file() else None


@pytest.mark.skipif(not (_real("STYLEINV_LPIPS_ALEXNET") and _real("STYLEINV_LPIPS_LINEAR")),
                    reason="real LPIPS weights absent: set STYLEINV_LPIPS_ALEXNET and STYLEINV_LPIPS_LINEAR "
                           "to alexnet-owt-7be5be79.pth and lpips' weights/v0.1/alex.pth")
def test_real_lpips_weights(astronaut_rgb):
    model = LPIPS.from_files(_real("STYLEINV_LPIPS_ALEXNET"), _real("STYLEINV_LPIPS_LINEAR"))
    image = torch.from_numpy(astronaut_rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
    image = F.interpolate(image, size=(256, 256), mode="area")
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        d = [float(model(image, image + s * noise)) for s in (0.0, 0.05, 0.2)]
    assert d[0] == 0.0 and 0 < d[1] < d[2] < 1.5


@pytest.mark.skipif(not _real("STYLEINV_ARCFACE_IRSE50"),
                    reason="real ArcFace weights absent: set STYLEINV_ARCFACE_IRSE50 to pSp's model_ir_se50.pth")
def test_real_arcface_weights(astronaut_rgb):
    loss = IdentityLoss.from_file(_real("STYLEINV_ARCFACE_IRSE50"))
    image = torch.from_numpy(astronaut_rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
    image = F.interpolate(image, size=(256, 256), mode="area")
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        same = loss(image, image)
        slight = loss(image + 0.02 * noise, image)
        other = loss(image.flip(-2), image)  # upside-down face: a different identity to the network
    assert abs(float(same.loss)) < 1e-5
    assert float(slight.loss) < float(other.loss) <= 2

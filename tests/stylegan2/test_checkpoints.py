"""Our checkpoint format: safetensors + JSON config, atomic, rebuilds the networks."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from styleinv_model.checkpoints import load_checkpoint, load_generator, load_networks, save_checkpoint
from styleinv_model.stylegan2 import build_discriminator, build_generator

TINY = dict(z_dim=32, w_dim=32, channel_base=1024, channel_max=32)


def test_round_trip_rebuilds_identical_networks(tmp_path):
    torch.manual_seed(0)
    G = build_generator("paper256", resolution=32, **TINY)
    D = build_discriminator("paper256", resolution=32, channel_base=1024, channel_max=32, mbstd_group_size=2)
    with torch.no_grad():
        G.mapping.w_avg.normal_()
        G.synthesis.b32.conv1.noise_strength.fill_(0.3)
    path = save_checkpoint(tmp_path / "run" / "net.safetensors", {"G_ema": G, "D": D},
                           config={"kimg": 12, "dataset": "ffs"}, extra_tensors={"step": torch.tensor([7])})
    assert path.is_file() and (tmp_path / "run" / "net.json").is_file()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["net.json", "net.safetensors"]  # no temp files
    with safe_open(str(path), framework="pt") as handle:
        header = json.loads(handle.metadata()["styleinv"])
        assert "G_ema.synthesis.b32.conv1.noise_const" in handle.keys()
    assert header["config"] == {"kimg": 12, "dataset": "ffs"}
    assert header["modules"]["G_ema"]["config"]["z_dim"] == 32

    ckpt = load_checkpoint(path)
    assert ckpt.config["kimg"] == 12 and ckpt.extra_tensors["step"].item() == 7
    nets = load_networks(path)
    z = torch.randn([2, 32])
    with torch.no_grad():
        assert torch.equal(nets["G_ema"](z), G.eval()(z))
        img = G(z)
        assert torch.equal(nets["D"](img), D.eval()(img))
    assert load_generator(path).num_ws == G.num_ws


def test_sibling_json_is_used_when_metadata_is_missing(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    G = build_generator("paper256", resolution=32, **TINY)
    path = save_checkpoint(tmp_path / "a.safetensors", {"G": G}, config={})
    tensors = load_checkpoint(path).state_dicts["G"]
    bare = tmp_path / "b.safetensors"
    save_file({f"G.{k}": v.contiguous() for k, v in tensors.items()}, str(bare))
    (tmp_path / "b.json").write_text((tmp_path / "a.json").read_text())
    assert load_networks(bare)["G"].num_ws == G.num_ws


def test_checkpoint_errors_are_one_line_and_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        load_checkpoint(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match="junk.safetensors"):
        load_checkpoint(junk)
    with pytest.raises(ValueError, match=".safetensors"):
        save_checkpoint(tmp_path / "x.pt", {}, config={})
    with pytest.raises(ValueError, match="JSON"):
        save_checkpoint(tmp_path / "x.safetensors", {}, config={"bad": object()})
    assert not (tmp_path / "x.safetensors").exists()


def test_stage2_encoder_rebuilds_from_its_checkpoint(tmp_path):
    from styleinv_model.checkpoints.networks import load_inversion_encoder
    from styleinv_model.styleinv.encoder import EncoderConfig, InversionEncoder

    torch.manual_seed(0)
    encoder = InversionEncoder(EncoderConfig(stage_channels=(8, 8, 16, 16), stage_units=(1, 1, 1, 1), se_reduction=4,
                                             style_dim=16, w_dim=24, input_resolution=16)).eval()
    G = build_generator(resolution=16, z_dim=8, w_dim=24, channel_base=128, channel_max=16, mapping_layers=2)
    path = save_checkpoint(tmp_path / "stage2.safetensors", {"encoder": encoder, "G": G}, config={})
    loaded = load_inversion_encoder(path)
    assert loaded.config == encoder.config and not loaded.training
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded(x), encoder(x))
    wrong = save_checkpoint(tmp_path / "wrong.safetensors", {"encoder": G}, config={})
    with pytest.raises(TypeError, match="not stage 2's InversionEncoder"):
        load_inversion_encoder(wrong)

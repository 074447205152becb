"""pSp's encoder checkpoints and ArcFace's model_ir_se50.pth as our stage-2 encoder, and the
``styleinv-convert`` command over the three kinds of foreign files.

The files are written with torch.save in the published layouts (pSp: {"state_dict", "opts",
"latent_avg"} with ``encoder.*`` / ``decoder.*`` tensors; ArcFace: a flat state dict with
``input_layer.*``, ``body.*``, ``output_layer.*``), key names and shapes from the authors' IR-SE-50
key list (tests/fixtures/styleinv_authors/), random weights."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from styleinv_model.checkpoints.convert import main as convert_main
from styleinv_model.checkpoints.psp import convert_psp, inversion_encoder_from_psp
from styleinv_model.styleinv.authors_weights import AuthorsWeightsError
from styleinv_model.styleinv.encoder import BottleneckIRSE, EncoderConfig, ModulatedInversionEncoder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "styleinv_authors"


def _trunk(generator: torch.Generator, with_linear: bool) -> dict[str, torch.Tensor]:
    keys = json.loads((FIXTURES / "encoder_full_state_dict_keys.json").read_text())["state_dict"]
    out = {}
    for entry in keys:
        key = entry["key"]
        if key.startswith("adains.") or (key.startswith("linear.") and not with_linear):
            continue
        if entry["dtype"] == "int64":
            out[key] = torch.tensor(3)
        elif key.endswith("running_var"):
            out[key] = torch.rand(entry["shape"], generator=generator) + 0.5
        else:
            out[key] = 0.05 * torch.randn(entry["shape"], generator=generator)
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("psp")
    generator = torch.Generator().manual_seed(3)
    into_w = _trunk(generator, with_linear=True)
    state = {f"encoder.{k}": v for k, v in into_w.items()}
    state["decoder.style.1.weight"] = torch.randn(512, 512, generator=generator)  # the StyleGAN2 decoder: not ours
    opts = {"encoder_type": "BackboneEncoderUsingLastLayerIntoW", "input_nc": 3, "start_from_latent_avg": True,
            "output_size": 1024, "checkpoint_path": None, "exp_dir": "experiments/ffs"}
    torch.save({"state_dict": state, "opts": opts, "latent_avg": torch.randn(512, generator=generator)},
               root / "psp_into_w.pt")
    gradual = {f"encoder.{k}": v for k, v in _trunk(generator, with_linear=False).items()}
    gradual["encoder.styles.0.convs.0.weight"] = torch.randn(512, 512, 3, 3, generator=generator)
    gradual["encoder.latlayer1.weight"] = torch.randn(512, 256, 1, 1, generator=generator)
    torch.save({"state_dict": gradual, "opts": {"encoder_type": "GradualStyleEncoder", "input_nc": 3}},
               root / "psp_ffhq_encode.pt")
    arcface = _trunk(generator, with_linear=False)
    arcface["output_layer.3.weight"] = torch.randn(512, 512 * 7 * 7, generator=generator)
    torch.save(arcface, root / "model_ir_se50.pth")
    return root, into_w, arcface


def test_psp_encoder_into_w_converts_whole(files):
    root, into_w, _ = files
    converted = inversion_encoder_from_psp(root / "psp_into_w.pt")
    assert converted.source_format == "psp BackboneEncoderUsingLastLayerIntoW"
    assert converted.loaded == len(into_w) and not converted.notes
    encoder = converted.encoder
    assert torch.equal(encoder.output_fc.weight, into_w["linear.weight"])
    assert torch.equal(encoder.stages[2][13].residual[5].fc2.weight, into_w["body.20.res_layer.5.fc2.weight"])
    assert torch.equal(encoder.input_layer[1].running_mean, into_w["input_layer.1.running_mean"])
    assert converted.latent_avg is not None and converted.latent_avg.shape == (512,)


def test_gradual_style_encoder_and_arcface_give_the_trunk(files):
    root, _, arcface = files
    for name, expected_format in (("psp_ffhq_encode.pt", "psp GradualStyleEncoder"),
                                  ("model_ir_se50.pth", "arcface ir_se50")):
        converted = inversion_encoder_from_psp(root / name)
        assert converted.source_format == expected_format
        assert any("no head into W" in note for note in converted.notes)
    assert torch.equal(converted.encoder.stages[3][2].residual[1].weight, arcface["body.23.res_layer.1.weight"])


def test_converted_trunk_initialises_the_stage3_encoder(files, tmp_path):
    """What stage 3 does with stage3.encoder_checkpoint: copy the trunk into the modulated encoder."""
    from styleinv_model.train.stage3 import load_encoder_trunk

    root, _, arcface = files
    out = convert_psp(root / "model_ir_se50.pth", tmp_path / "arcface.safetensors")
    modulated = ModulatedInversionEncoder(EncoderConfig())
    assert load_encoder_trunk(modulated, out) == 419 - 32 - 2  # all but the 4 AdaIN blocks and the head
    assert torch.equal(modulated.stages[1][0].shortcut[0].weight, arcface["body.3.shortcut_layer.0.weight"])


def test_our_unit_computes_what_psp_s_unit_lists(files):
    """pSp's bottleneck_IR_SE as its layer list states it (BN, conv3x3, PReLU, conv3x3 with the
    stride, BN, squeeze-excitation; shortcut: 1x1 conv + BN, or a strided subsample) in plain torch
    layers, against our unit with the same tensors, in eval mode."""
    _, into_w, _ = files
    for unit, stride, channels in ((0, 2, (64, 64)), (3, 2, (64, 128)), (4, 1, (128, 128))):
        tensors = {k[len(f"body.{unit}."):]: v for k, v in into_w.items() if k.startswith(f"body.{unit}.")}
        c_in, c_out = channels
        res = nn.Sequential(nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.PReLU(c_out),
                            nn.Conv2d(c_out, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out))
        res.load_state_dict({k[len("res_layer."):]: v for k, v in tensors.items()
                             if k.startswith("res_layer.") and not k.startswith("res_layer.5.")})
        fc1, fc2 = tensors["res_layer.5.fc1.weight"], tensors["res_layer.5.fc2.weight"]
        shortcut = None
        if c_in != c_out:
            shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
            shortcut.load_state_dict({k[len("shortcut_layer."):]: v for k, v in tensors.items()
                                      if k.startswith("shortcut_layer.")})
            shortcut.eval()
        res.eval()
        ours = BottleneckIRSE(c_in, c_out, stride, 16).eval()
        ours.load_state_dict({k.replace("res_layer", "residual").replace("shortcut_layer", "shortcut"): v
                              for k, v in tensors.items()})
        x = torch.randn(2, c_in, 16, 16, generator=torch.Generator().manual_seed(unit))
        with torch.no_grad():
            h = res(x)
            gate = torch.sigmoid(nn.functional.conv2d(torch.relu(nn.functional.conv2d(
                nn.functional.adaptive_avg_pool2d(h, 1), fc1)), fc2))
            expected = h * gate + (shortcut(x) if shortcut is not None else nn.functional.max_pool2d(x, 1, stride))
            got = ours(x)
        scale = float(expected.abs().max())
        assert float((got - expected).abs().max()) <= 1e-5 * scale, f"unit {unit}"


def test_unsafe_or_broken_torch_files_are_refused(files, tmp_path):
    root, _, _ = files

    class Evil:
        def __reduce__(self):
            return (print, ("code from the file ran",))

    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "opts": Evil()}, evil)
    with pytest.raises(pickle.UnpicklingError, match="evil.pt: refused by torch.load\\(weights_only=True\\)"):
        inversion_encoder_from_psp(evil)
    truncated = tmp_path / "cut.pth"
    truncated.write_bytes((root / "model_ir_se50.pth").read_bytes()[:100_000])
    with pytest.raises(pickle.UnpicklingError, match="cut.pth is not a readable torch checkpoint"):
        inversion_encoder_from_psp(truncated)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(AuthorsWeightsError, match="neither a pSp checkpoint"):
        inversion_encoder_from_psp(other)


def test_styleinv_convert_command(files, tmp_path, capsys):
    root, _, _ = files
    assert convert_main([str(root / "psp_into_w.pt"), str(tmp_path / "enc.safetensors")]) == 0
    printed = capsys.readouterr().out
    assert "as psp" in printed and (tmp_path / "enc.json").is_file()
    meta = json.loads((tmp_path / "enc.json").read_text())
    assert "BackboneEncoderUsingLastLayerIntoW" in json.dumps(meta)
    assert convert_main([str(tmp_path / "absent.pkl"), str(tmp_path / "x.safetensors")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "absent.pkl" in error and "Traceback" not in error
    with pytest.raises(SystemExit) as exit_info:
        convert_main(["--help"])
    assert exit_info.value.code == 0 and "pSp" in capsys.readouterr().out

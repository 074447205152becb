"""Conversion of the StyleInV authors' training snapshots (``network-snapshot-*.pkl``) without
running code from the file, then generation from the converted checkpoint.

The test writes a snapshot laid out as their training loop pickles it: ``G`` (StyleGAN2-ADA),
``D`` (their video discriminator), ``SI`` / ``SI_ema`` (their ``StyleInV`` with ``mapping`` and
``encoder``), ``augment_pipe`` and ``training_set_kwargs``. Their own classes are
``torch_utils.persistence`` records (module source + state) whose source is a payload writing a
marker file when executed; torch's built-in modules (Sequential, Conv2d, BatchNorm2d, PReLU,
Embedding, ...) pickle as they do in a real snapshot; the options are real omegaconf configs.
Weights are random, in their key names and shapes (tests/fixtures/styleinv_authors/)."""

from __future__ import annotations

import collections
import json
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

omegaconf = pytest.importorskip("omegaconf", reason="omegaconf (requirements/pinned.txt) writes the test snapshot")

from styleinv_model.checkpoints.authors_snapshot import (  # noqa: E402
    convert_authors_snapshot,
    import_authors_snapshot,
)
from styleinv_model.safe_pickle import UnsafePickleError  # noqa: E402
from styleinv_model.stylegan2 import Generator, GeneratorConfig  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "styleinv_authors"
BUFFERS = {"running_mean", "running_var", "num_batches_tracked", "freqs", "phase_scales", "resample_filter",
           "fourier_coefs", "w_avg", "noise_const"}
G_KWARGS = {"z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": 32, "img_channels": 3,
            "mapping_kwargs": {"num_layers": 2},
            "synthesis_kwargs": {"channel_base": 256, "channel_max": 16, "num_fp16_res": 0, "conv_clamp": 256}}


class _Theirs(nn.Module):
    """One of the authors' (persistent) classes: pickled as their persistence records are."""

    def __init__(self, class_name: str, init_kwargs: dict | None = None) -> None:
        super().__init__()
        self.their_class = class_name
        self.their_kwargs = init_kwargs or {}


def _torch_module(path: str, tensors: dict[str, torch.Tensor]) -> nn.Module | None:
    """The built-in torch module their code uses at ``path``, or None for one of their classes."""
    name = path.rsplit(".", 1)[-1]
    parent = path.rsplit(".", 2)[-2] if path.count(".") else ""
    weight = tensors.get("weight")
    if name in ("input_layer", "body", "res_layer", "shortcut_layer", "conv") or (name == "adains"):
        return nn.ModuleList() if name == "adains" else nn.Sequential()
    if name == "const_embed":
        return nn.Embedding(*weight.shape)
    if parent in ("input_layer", "res_layer", "shortcut_layer") and weight is not None:
        if weight.ndim == 4:
            return nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2], bias="bias" in tensors)
        if "running_mean" in tensors:
            return nn.BatchNorm2d(weight.shape[0])
        return nn.PReLU(weight.shape[0])
    if name in ("fc1", "fc2") and parent == "5":  # SEModule's 1x1 convs
        return nn.Conv2d(weight.shape[1], weight.shape[0], 1, bias=False)
    if name in ("conv1", "conv2"):  # AdainResBlk's convs
        return nn.Conv2d(weight.shape[1], weight.shape[0], 3, padding=1)
    return None


def _their_tree(flat: dict[str, torch.Tensor], class_name: str, init_kwargs: dict,
                names: dict[str, str] | None = None, plain_torch: bool = True) -> nn.Module:
    """Modules laid out as their code builds them, holding ``flat`` (their state-dict keys)."""
    root = _Theirs(class_name, init_kwargs)
    by_module: dict[str, dict[str, torch.Tensor]] = collections.defaultdict(dict)
    for key, value in flat.items():
        path, _, leaf = key.rpartition(".")
        by_module[path][leaf] = value
    modules = {"": root}
    for path in sorted({p for key in flat for p in (".".join(key.split(".")[:i]) for i in
                                                      range(1, key.count(".") + 1))}, key=lambda p: p.count(".")):
        module = _torch_module(path, by_module.get(path, {})) if plain_torch else None
        if module is None:
            module = _Theirs((names or {}).get(path.rsplit(".", 1)[-1], "Module"))
        parent, _, name = path.rpartition(".")
        modules[parent].add_module(name, module)
        modules[path] = module
    for path, tensors in by_module.items():
        module = modules[path]
        for leaf, value in tensors.items():
            if isinstance(module, _Theirs) and leaf in BUFFERS:
                module.register_buffer(leaf, value.clone())
            elif hasattr(module, leaf) and isinstance(getattr(module, leaf), torch.Tensor):
                target = getattr(module, leaf)
                with torch.no_grad():
                    target.copy_(value) if target.shape == value.shape else None
            elif leaf in BUFFERS:
                module.register_buffer(leaf, value.clone())
            else:
                module.register_parameter(leaf, nn.Parameter(value.clone()))
    return root


class _SnapshotPickler(pickle.Pickler):
    """Pickles _Theirs modules as torch_utils.persistence records (with the payload source)."""

    def __init__(self, file, reconstruct, payload: str) -> None:
        super().__init__(file, protocol=4)
        self.reconstruct, self.payload = reconstruct, payload

    def reducer_override(self, obj):
        if isinstance(obj, _Theirs):
            state = dict(obj.__dict__)
            state["_init_kwargs"] = state.pop("their_kwargs")
            name = state.pop("their_class")
            meta = {"type": "class", "version": 4, "module_src": self.payload, "class_name": name, "state": state}
            return self.reconstruct, (meta,)
        return NotImplemented


def _install_their_module_names(monkeypatch, reconstruct) -> None:
    torch_utils = types.ModuleType("torch_utils")
    persistence = types.ModuleType("torch_utils.persistence")
    reconstruct.__module__, reconstruct.__qualname__ = "torch_utils.persistence", "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = reconstruct
    torch_utils.persistence = persistence
    monkeypatch.setitem(sys.modules, "torch_utils", torch_utils)
    monkeypatch.setitem(sys.modules, "torch_utils.persistence", persistence)


def _temporal_weights(generator: torch.Generator) -> tuple[dict[str, torch.Tensor], dict]:
    """Random MappingFuse weights in their names for the fixture's options with 512-d content and W."""
    meta = json.loads((FIXTURES / "fixtures.json").read_text())["modules"]["temporal_style"]
    options = json.loads(json.dumps(meta["constructor"]))
    options["content_dim"] = options["w_dim"] = options["cfg"]["content_dim"] = options["cfg"]["w_dim"] = 512
    fixture = dict(np.load(FIXTURES / meta["weights_file"]))
    flat = {}
    for key, value in fixture.items():
        shape = list(value.shape)
        if key == "fcf0.weight":
            shape = [512, 512 + 28]
        elif key.startswith("fcf"):
            shape = [512] + shape[1:2] if key.endswith("bias") else [512, 512]
            shape = shape[:1] if key.endswith("bias") else shape
        tensor = torch.from_numpy(value.copy()) if key.endswith(("freqs", "phase_scales")) else \
            torch.randn(shape, generator=generator)
        flat[key] = tensor
    return flat, options


def _encoder_weights(generator: torch.Generator) -> dict[str, torch.Tensor]:
    keys = json.loads((FIXTURES / "encoder_full_state_dict_keys.json").read_text())["state_dict"]
    flat = {}
    for entry in keys:
        if entry["dtype"] == "int64":
            flat[entry["key"]] = torch.tensor(7)
        elif entry["key"].endswith("running_var"):
            flat[entry["key"]] = torch.rand(entry["shape"], generator=generator) + 0.5
        else:
            flat[entry["key"]] = 0.05 * torch.randn(entry["shape"], generator=generator)
    return flat


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    """(path, marker, the tensors written): an authors' snapshot with a code payload."""
    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("authors_snapshot")
    marker = root / "payload_ran.txt"
    payload = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('code from the pickle ran')\n"

    def reconstruct(meta):  # what their loader does first: execute the module source
        exec(compile(meta["module_src"], "<pickle module_src>", "exec"), {})
        return meta["class_name"]

    _install_their_module_names(monkeypatch, reconstruct)
    generator = torch.Generator().manual_seed(5)
    temporal, mapping_options = _temporal_weights(generator)
    encoder = _encoder_weights(generator)
    disc_meta = json.loads((FIXTURES / "fixtures.json").read_text())["modules"]["disc_sgv"]
    disc = {k: torch.from_numpy(v.copy()) for k, v in np.load(FIXTURES / disc_meta["weights_file"]).items()}
    disc_options = json.loads(json.dumps(disc_meta["constructor"]))
    disc_options["img_resolution"] = 32  # the fixture's 64x64 D without its first block
    disc = {k: v for k, v in disc.items() if not k.startswith("b64.")}
    disc["b32.fromrgb.weight"] = torch.randn(16, 3, 1, 1, generator=generator)
    disc["b32.fromrgb.bias"] = torch.zeros(16)
    disc["b32.fromrgb.resample_filter"] = disc["b32.resample_filter"].clone()
    cfg = omegaconf.OmegaConf.create({
        "dataset": {"nframes": 128, "c_dim": 0},
        "styleinv": {"input_residual": True, "mapping_opts": mapping_options["cfg"],
                     "encoder_opts": {"adain_mode": "block", "normalize_adain": True, "lr_multiplier": 1,
                                      "use_modulation": False, "pca": {"use_pca": False}}},
        "discriminator": {"cfg": disc_options["cfg"]},
    })
    omegaconf.OmegaConf.resolve(cfg)
    si_kwargs = {"checkpoint": "pretrained_models/psp.pkl", "mapping_opts": cfg.styleinv.mapping_opts,
                 "encoder_opts": cfg.styleinv.encoder_opts, "input_residual": True, "clip_len": 128, "fps": 25}
    si = _Theirs("StyleInV", si_kwargs)
    si.add_module("encoder", _their_tree(encoder, "StyleEncoderIntoW", {}, {"linear": "FullyConnectedLayer"}))
    si.add_module("mapping", _their_tree(temporal, "MappingFuse", {}, {"motion_encoder": "MotionMappingNetwork"}))
    si.psp_load_info = nn.Module().load_state_dict({}, strict=False)  # their __init__ keeps this namedtuple
    d_kwargs = {**{k: v for k, v in disc_options.items() if k != "cfg"}, "cfg": cfg.discriminator.cfg}
    D = _their_tree(disc, "Discriminator", d_kwargs)
    torch.manual_seed(1)
    G_ours = Generator(GeneratorConfig.from_official_kwargs(G_KWARGS))
    G = _their_tree(dict(G_ours.state_dict()), "Generator", G_KWARGS, plain_torch=False)
    data = {"training_set_kwargs": {"path": "ffs_256.zip", "sampling_cfg": cfg.discriminator.cfg.sampling},
            "G": G, "D": D, "SI": si, "SI_ema": si, "augment_pipe": None}
    path = root / "network-snapshot-000100.pkl"
    with path.open("wb") as handle:
        _SnapshotPickler(handle, reconstruct, payload).dump(data)
    monkeypatch.undo()  # as in a user's environment: their code is absent
    assert not marker.exists()
    yield path, marker, {"temporal": temporal, "encoder": encoder, "disc": disc, "G": G_ours}


def test_a_naive_unpickle_would_run_the_payload(snapshot, monkeypatch):
    """Control: with their torch_utils present, a plain pickle.load executes the embedded source."""
    path, marker, _ = snapshot

    def reconstruct(meta):
        exec(compile(meta["module_src"], "<pickle module_src>", "exec"), {})
        return meta["class_name"]

    _install_their_module_names(monkeypatch, reconstruct)
    pickle.loads(path.read_bytes())
    assert marker.exists()
    marker.unlink()


def test_snapshot_converts_without_running_code(snapshot):
    path, marker, written = snapshot
    converted = import_authors_snapshot(path)
    assert not marker.exists()
    assert converted.source_key == "SI_ema" and converted.discriminator.config.layout == "stylegan-v"
    model = converted.model
    assert model.temporal_style.config.phase_precision == "float32" and model.temporal_style.config.w0_first
    assert torch.equal(model.temporal_style.first_anchor, written["temporal"]["motion_encoder.frame_0_const"])
    assert torch.equal(model.temporal_style.anchor_convs[1].weight,
                       written["temporal"]["motion_encoder.conv.1.weight"][:, :, :6])
    assert torch.equal(model.encoder.stages[3][2].residual[3].weight, written["encoder"]["body.23.res_layer.3.weight"])
    assert torch.equal(model.encoder.stages[1][0].shortcut[1].running_var,
                       written["encoder"]["body.3.shortcut_layer.1.running_var"])
    assert torch.equal(model.encoder.output_fc.weight, written["encoder"]["linear.weight"])
    assert torch.equal(converted.discriminator.time_embedding.table.weight,
                       written["disc"]["time_encoder.const_embed.weight"])
    for name, value in written["G"].state_dict().items():
        assert torch.equal(model.image_generator.state_dict()[name], value), name
    assert converted.options["clip_len"] == 128 and converted.options["mapping_opts"]["motion"]["z_dim"] == 24


def test_converted_snapshot_generates_with_styleinv_generate(snapshot, tmp_path):
    from click.testing import CliRunner

    from styleinv_model.generate_cli import main as generate_main
    from styleinv_model.styleinv.checkpoint import load_styleinv

    from styleinv_model.checkpoints.convert import main as convert_main

    path, marker, _ = snapshot
    out = tmp_path / "theirs.safetensors"
    assert convert_main([str(path), str(out)]) == 0  # styleinv-convert, the kind found from the contents
    assert not marker.exists()
    assert json.loads(out.with_suffix(".json").read_text())["config"]["source_format"].startswith(
        "StyleInV authors' snapshot (SI_ema)")
    assert convert_authors_snapshot(path, tmp_path / "direct.safetensors").is_file()
    model = load_styleinv(out)
    assert model.temporal_style.config.phase_precision == "float32"
    result = CliRunner().invoke(generate_main, ["--checkpoint", str(out), "--out", str(tmp_path / "videos"),
                                                "--seeds", "0", "--frames", "4", "--format", "frames",
                                                "--device", "cpu", "--grid-columns", "0"])
    assert result.exit_code == 0, result.output
    frames = sorted((tmp_path / "videos").rglob("*.png"))
    assert len(frames) == 4


def test_foreign_globals_and_broken_files_are_refused(snapshot, tmp_path):
    path, _, _ = snapshot

    class Evil:
        def __reduce__(self):
            return (eval, ("print('pwned')",))

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"SI": Evil()}, protocol=4))
    with pytest.raises(UnsafePickleError, match="refusing to load global builtins.eval"):
        import_authors_snapshot(evil)
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(pickle.UnpicklingError, match="truncated.pkl is not a readable StyleInV snapshot"):
        import_authors_snapshot(truncated)
    other = tmp_path / "plain.pkl"
    other.write_bytes(pickle.dumps({"G": None}, protocol=4))
    with pytest.raises(ValueError, match="not a StyleInV training snapshot"):
        import_authors_snapshot(other)

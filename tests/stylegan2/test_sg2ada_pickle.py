"""Import of official StyleGAN2-ADA pickles without running code from the file.

The test writes a pickle laid out as the official `network-snapshot-*.pkl`: every network is a
`torch_utils.persistence._reconstruct_persistent_obj(meta)` call whose `meta` holds the module
source, the class name and the module state (parameters, buffers, child modules, `_init_kwargs`);
kwargs are `dnnlib.util.EasyDict`. The module source here is a payload that writes a marker file
when executed, as a naive unpickle with the official `torch_utils` would do.
"""

from __future__ import annotations

import collections
import copy
import os
import pickle
import sys
import types

import numpy as np
import pytest
import torch

from styleinv_model.checkpoints import (UnsafePickleError, convert_sg2ada_pickle, import_sg2ada_pickle,
                                        load_networks, read_sg2ada_pickle)
from styleinv_model.stylegan2 import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig


def _install_official_names(monkeypatch, reconstruct):
    """Fake `torch_utils.persistence` and `dnnlib.util` modules so pickle can name them."""
    torch_utils = types.ModuleType("torch_utils")
    persistence = types.ModuleType("torch_utils.persistence")
    reconstruct.__module__ = "torch_utils.persistence"
    reconstruct.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = reconstruct
    torch_utils.persistence = persistence
    dnnlib = types.ModuleType("dnnlib")
    util = types.ModuleType("dnnlib.util")

    class EasyDict(dict):
        pass

    EasyDict.__module__ = "dnnlib.util"
    EasyDict.__qualname__ = "EasyDict"
    util.EasyDict = EasyDict
    dnnlib.util = util
    for name, module in [("torch_utils", torch_utils), ("torch_utils.persistence", persistence),
                         ("dnnlib", dnnlib), ("dnnlib.util", util)]:
        monkeypatch.setitem(sys.modules, name, module)
    return EasyDict


def _easy(value, easy_dict):
    if isinstance(value, dict):
        return easy_dict({k: _easy(v, easy_dict) for k, v in value.items()})
    return value


class _PersistentStub:
    """Pickles exactly as an official persistent network object does."""

    def __init__(self, meta, reconstruct):
        self.meta = meta
        self.reconstruct = reconstruct

    def __reduce__(self):
        return (self.reconstruct, (self.meta,))


def _official_layout(module: torch.nn.Module, init_kwargs, module_src: str, reconstruct, easy_dict):
    """The persistent record of `module` and (recursively) its children."""
    state = {
        "training": False,
        # The official modules keep gains as numpy scalars (e.g. 1 / np.sqrt(fan_in)).
        "weight_gain": np.float64(1 / np.sqrt(3.0)),
        "act_gain": np.float32(np.sqrt(2.0)),
        "padding": np.int64(1),
        "_parameters": collections.OrderedDict((k, torch.nn.Parameter(v.detach().clone()))
                                               for k, v in module._parameters.items() if v is not None),
        "_buffers": collections.OrderedDict((k, v.clone()) for k, v in module._buffers.items()),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": collections.OrderedDict(),
        "_forward_hooks": collections.OrderedDict(),
        "_forward_pre_hooks": collections.OrderedDict(),
        "_state_dict_hooks": collections.OrderedDict(),
        "_load_state_dict_pre_hooks": collections.OrderedDict(),
        "_modules": collections.OrderedDict(
            (k, _official_layout(v, {}, module_src, reconstruct, easy_dict)) for k, v in module._modules.items()),
        "_init_args": (),
        "_init_kwargs": _easy(copy.deepcopy(init_kwargs), easy_dict),
    }
    meta = {"type": "class", "version": 4, "module_src": module_src,
            "class_name": type(module).__name__, "state": state}
    return _PersistentStub(meta, reconstruct)


@pytest.fixture
def official_pickle(tmp_path, monkeypatch, official_g32):
    """(path, marker): a snapshot pickle of the g32 fixture networks with a code payload."""
    marker = tmp_path / "payload_ran.txt"
    payload = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('code from the pickle ran')\n"

    def reconstruct(meta):  # what the official loader does first: execute the module source
        exec(compile(meta["module_src"], "<pickle module_src>", "exec"), {})
        return meta["class_name"]

    easy_dict = _install_official_names(monkeypatch, reconstruct)
    G = Generator(GeneratorConfig.from_official_kwargs(official_g32.G_kwargs))
    G.load_state_dict(official_g32.G_state)
    D = Discriminator(DiscriminatorConfig.from_official_kwargs(official_g32.D_kwargs))
    D.load_state_dict(official_g32.D_state)
    snapshot = {
        "G": _official_layout(G, official_g32.G_kwargs, payload, reconstruct, easy_dict),
        "D": _official_layout(D, official_g32.D_kwargs, payload, reconstruct, easy_dict),
        "G_ema": _official_layout(G, official_g32.G_kwargs, payload, reconstruct, easy_dict),
        "augment_pipe": None,
        "training_set_kwargs": easy_dict(path="ffs.zip", resolution=32),
    }
    path = tmp_path / "network-snapshot-000000.pkl"
    path.write_bytes(pickle.dumps(snapshot, protocol=4))
    assert not marker.exists()
    return path, marker


def test_payload_is_live_under_a_naive_unpickle(official_pickle):
    """Control: the official-style loader executes the embedded source."""
    path, marker = official_pickle
    with path.open("rb") as handle:
        pickle.load(handle)
    assert marker.read_text() == "code from the pickle ran"


def test_import_reproduces_official_outputs_without_running_code(official_pickle, official_g32, monkeypatch):
    path, marker = official_pickle
    for name in ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util"):
        monkeypatch.delitem(sys.modules, name)  # as in our environment: the official code is absent
    nets = import_sg2ada_pickle(path)
    assert not marker.exists()
    assert sorted(nets) == ["D", "G", "G_ema"]
    io = official_g32.io
    with torch.no_grad():
        G = nets["G_ema"]
        assert (G.mapping(io["z"], truncation_psi=0.7) - io["ws_psi07"]).abs().max() <= 1e-5
        assert (G.synthesis(io["ws_psi1"], noise_mode="const") - io["img_const_psi1"]).abs().max() <= 1e-4
        assert (G(io["z"], truncation_psi=0.7, noise_mode="none") - io["img_none_psi07"]).abs().max() <= 1e-4
        assert (nets["D"](io["img_const_psi1"]) - io["D_logits_of_img_const_psi1"]).abs().max() <= 1e-4
    record = read_sg2ada_pickle(path)["G"]
    assert record.class_name == "Generator" and record.module_src_chars > 0
    assert record.state["weight_gain"] == pytest.approx(1 / np.sqrt(3.0))
    assert isinstance(record.state["act_gain"], float) and record.state["padding"] == 1
    assert not marker.exists()


def test_convert_to_safetensors(official_pickle, official_g32, tmp_path):
    path, marker = official_pickle
    out = convert_sg2ada_pickle(path, tmp_path / "converted.safetensors")
    assert out.with_suffix(".json").is_file() and not marker.exists()
    G = load_networks(out, ["G_ema"])["G_ema"]
    with torch.no_grad():
        img = G.synthesis(official_g32.io["ws_psi1"], noise_mode="const")
    assert (img - official_g32.io["img_const_psi1"]).abs().max() <= 1e-4


class _SystemCall:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_foreign_globals_are_refused(tmp_path):
    marker = tmp_path / "os_system_ran"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G": _SystemCall(marker)}))
    with pytest.raises(UnsafePickleError, match="refusing to load global (posix|os|nt).system"):
        import_sg2ada_pickle(path)
    assert not marker.exists()
    path.write_bytes(pickle.dumps({"G": 1, "x": (eval, ("1+1",))}))
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        read_sg2ada_pickle(path)


def test_layout_mismatch_is_one_clear_error(official_g32):
    from styleinv_model.checkpoints.sg2ada_pickle import PersistentRecord, generator_from_record

    leaf = PersistentRecord("SynthesisInput", {"_parameters": {"weight": torch.zeros([4, 4])}})
    record = PersistentRecord("Generator", {"_init_kwargs": official_g32.G_kwargs, "_modules": {"input": leaf}})
    with pytest.raises(ValueError, match="StyleGAN2-ADA layout"):
        generator_from_record(record)


def test_unreadable_files_have_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pkl"):
        import_sg2ada_pickle(tmp_path / "nothing.pkl")
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"\x80\x04garbage")
    with pytest.raises(pickle.UnpicklingError, match="junk.pkl"):
        import_sg2ada_pickle(junk)
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(pickle.dumps({"augment_pipe": None}))
    with pytest.raises(ValueError, match="no G, G_ema or D"):
        import_sg2ada_pickle(empty)


def test_convert_command_line(official_pickle, tmp_path, capsys):
    from styleinv_model.checkpoints.convert import main

    path, marker = official_pickle
    assert main([str(path), str(tmp_path / "cli.safetensors")]) == 0
    assert (tmp_path / "cli.json").is_file() and not marker.exists()
    assert main([str(tmp_path / "absent.pkl"), str(tmp_path / "x.safetensors")]) == 1
    assert "absent.pkl" in capsys.readouterr().err


def test_stage1_fine_tunes_from_an_official_pickle(official_pickle, official_g32, tmp_path, monkeypatch):
    """End to end: `styleinv-train stage1` with `stage1.init_from=<official .pkl>` starts from the
    pickle's weights (read without running its code) and trains on."""
    import yaml

    from styleinv_data.moving_faces import MovingFacesConfig, write_moving_faces
    from styleinv_model.checkpoints.safetensors_io import load_checkpoint
    from styleinv_model.train.cli import build_config, train

    path, marker = official_pickle
    for name in ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util"):
        monkeypatch.delitem(sys.modules, name)  # the official code is absent, as in a user's environment
    manifest = write_moving_faces(tmp_path / "faces", MovingFacesConfig(num_videos=4, frames=8, size=32, seed=2))
    g, d = official_g32.G_kwargs, official_g32.D_kwargs
    config = {
        "dataset": "ffs_finetune",
        "run": {"seed": 1, "device": "cpu", "log_every": 1, "checkpoint_every": 2, "snapshot_every": 0,
                "metrics_every": 0, "loader_threads": 1, "cpu_threads": 1, "tensorboard": False},
        "stage1": {  # the pickle's architecture, as a user's config for an official FFHQ model names it
            "resolution": 32, "preset": "auto", "init_from": str(path),
            "generator": {"z_dim": g["z_dim"], "w_dim": g["w_dim"], "mapping_layers": g["mapping_kwargs"]["num_layers"],
                          "channel_base": g["synthesis_kwargs"]["channel_base"],
                          "channel_max": g["synthesis_kwargs"]["channel_max"], "num_fp16_res": 0, "conv_clamp": 256},
            "discriminator": {"channel_base": d["channel_base"], "channel_max": d["channel_max"], "num_fp16_res": 0,
                              "conv_clamp": 256, "mbstd_group_size": 4},
            "batch_size": 4, "total_kimg": 1.0, "max_steps": 2, "r1_gamma": 0.1, "r1_interval": 2,
            "ema_kimg": 0.01, "augment": {"pipeline": "none", "target": None},
        },
    }
    (tmp_path / "finetune.yaml").write_text(yaml.safe_dump(config))
    cfg = build_config("stage1", str(tmp_path / "finetune.yaml"), (), tmp_path / "runs", None, None, 2, None, None,
                       None)
    result = train("stage1", cfg, manifest, None, None, progress=False)
    assert not marker.exists()  # no code from the pickle ran
    trained = load_checkpoint(result.last_checkpoint).state_dicts["G"]
    moved = [k for k, v in official_g32.G_state.items() if k in trained and not torch.equal(trained[k], v)]
    assert moved  # it trained on from there ...
    mapping = [k for k in official_g32.G_state if k.startswith("mapping.")]
    close = sum(torch.allclose(trained[k], official_g32.G_state[k], atol=0.05) for k in mapping)
    assert close == len(mapping)  # ... starting from the pickle's weights (2 small steps away)


def test_stage2_runs_from_a_512_d_official_pickle_with_the_demo_config(tmp_path, monkeypatch):
    """An official pickle with a 512-d W (as FFHQ's) and the bundled demo config, whose encoder says
    w_dim 64: before, the first batch failed ("size of tensor a (64) must match ... (512)") and left
    an empty run folder. No override is needed now."""
    from styleinv_data.moving_faces import MovingFacesConfig, write_moving_faces
    from styleinv_model.train.cli import build_config, train

    def reconstruct(meta):
        raise AssertionError("the restricted unpickler must not call the official reconstructor")

    easy_dict = _install_official_names(monkeypatch, reconstruct)
    kwargs = {"z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": 32, "img_channels": 3,
              "mapping_kwargs": {"num_layers": 2}, "synthesis_kwargs": {"channel_base": 1024, "channel_max": 32,
                                                                         "num_fp16_res": 0, "conv_clamp": 256}}
    torch.manual_seed(0)
    G = Generator(GeneratorConfig.from_official_kwargs(kwargs))
    snapshot = {"G": _official_layout(G, kwargs, "", reconstruct, easy_dict),
                "G_ema": _official_layout(G, kwargs, "", reconstruct, easy_dict), "D": None, "augment_pipe": None}
    path = tmp_path / "ffhq-512d.pkl"
    path.write_bytes(pickle.dumps(snapshot, protocol=4))
    for name in ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util"):
        monkeypatch.delitem(sys.modules, name)
    manifest = write_moving_faces(tmp_path / "faces", MovingFacesConfig(num_videos=3, frames=6, size=32, seed=4))
    cfg = build_config("stage2", "demo", ("stage2.lpips_weight=0", "stage2.id_weight=0", "stage2.batch_size=2",
                                          "run.cpu_threads=1", "run.snapshot_every=0", "run.metrics_every=0"),
                       tmp_path / "runs", None, "cpu", 2, path, None, None, manifest)
    result = train("stage2", cfg, manifest, None, None, progress=False)
    assert result.steps_done == 2 and result.last_checkpoint.is_file()
    from styleinv_model.checkpoints.safetensors_io import load_checkpoint

    encoder = load_checkpoint(result.last_checkpoint).state_dicts["encoder"]
    assert any(v.shape[0] == 512 for k, v in encoder.items() if k.endswith("weight"))  # it predicts 512-d W

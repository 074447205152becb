"""Safe import of the StyleInV authors' training snapshots (johannwyh/StyleInV's
``network-snapshot-*.pkl``: a dict with ``G`` (the frozen StyleGAN2-ADA generator), ``D`` (the
video discriminator), ``SI`` and ``SI_ema`` (their ``StyleInV`` module: ``mapping``, a
``MappingFuse``, and ``encoder``, a ``StyleEncoderIntoW``), ``augment_pipe`` and
``training_set_kwargs``).

Every network in it is a ``torch_utils.persistence`` record, read as data by the StyleGAN2-ADA
importer's restricted unpickler (their module source is never run); the built-in torch modules
inside them (Sequential, Conv2d, BatchNorm2d, PReLU, Embedding, ...) likewise, as records of their
``__dict__``, never as live modules. Their options are omegaconf
``DictConfig`` objects (resolved hydra configs); those are read by inert stand-ins of the few
omegaconf classes such a pickle names, so omegaconf need not be installed, and turned into plain
dicts. Any other global is refused, as for StyleGAN2-ADA pickles.
"""

from __future__ import annotations

import collections
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from styleinv_model.checkpoints.sg2ada_pickle import (
    _ALLOWED_GLOBALS,
    PersistentRecord,
    RestrictedUnpickler,
    _EasyDict,
    generator_from_record,
    record_state_dict,
)
from styleinv_model.safe_pickle import load_restricted
from styleinv_model.styleinv.authors_weights import (
    AuthorsWeightsError,
    encoder_from_authors,
    temporal_style_from_authors,
    video_discriminator_from_authors,
)
from styleinv_model.styleinv.generator import StyleInVConfig, StyleInVGenerator
from styleinv_model.styleinv.video_discriminator import VideoDiscriminator


class _OmegaConfObject:
    """An omegaconf object in a pickle, as data: its pickled ``__dict__`` only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # NEWOBJ passes no arguments
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots) of a class with slots
            state = {**(state[0] or {}), **(state[1] or {})}
        self.state = dict(state) if isinstance(state, dict) else {}


class _DictConfig(_OmegaConfObject):
    pass


class _ListConfig(_OmegaConfObject):
    pass


class _ValueNode(_OmegaConfObject):
    pass


class _Metadata(_OmegaConfObject):
    pass


class _TorchModuleRecord(PersistentRecord):
    """A built-in torch module (Sequential, Conv2d, BatchNorm2d, ...) in a pickle, as data: its
    ``__dict__`` (``_parameters``, ``_buffers``, ``_modules``, settings), never a live module."""

    torch_class = "Module"

    def __setstate__(self, state: Any) -> None:
        self.class_name = self.torch_class
        self.state = dict(state) if isinstance(state, dict) else {}
        self.module_src_chars = 0


_TORCH_MODULES = {
    "container": ("Sequential", "ModuleList", "ModuleDict"),
    "conv": ("Conv1d", "Conv2d"),
    "linear": ("Linear", "Identity"),
    "batchnorm": ("BatchNorm1d", "BatchNorm2d"),
    "instancenorm": ("InstanceNorm2d",),
    "activation": ("PReLU", "ReLU", "LeakyReLU", "Sigmoid", "Tanh"),
    "pooling": ("AdaptiveAvgPool2d", "MaxPool2d"),
    "sparse": ("Embedding",),
    "flatten": ("Flatten",),
}


class _IncompatibleKeys(tuple):
    """Stand-in for torch's load_state_dict result, which their StyleInV keeps (psp_load_info)."""

    def __new__(cls, missing_keys: Any = (), unexpected_keys: Any = ()) -> "_IncompatibleKeys":
        return tuple.__new__(cls, (missing_keys, unexpected_keys))


_SNAPSHOT_GLOBALS: dict[tuple[str, str], Any] = {
    **{(f"torch.nn.modules.{module}", name): type(f"_Torch{name}", (_TorchModuleRecord,), {"torch_class": name})
       for module, names in _TORCH_MODULES.items() for name in names},
    ("torch.nn.modules.module", "_IncompatibleKeys"): _IncompatibleKeys,
    ("omegaconf.dictconfig", "DictConfig"): _DictConfig,
    ("omegaconf.listconfig", "ListConfig"): _ListConfig,
    **{("omegaconf.nodes", name): _ValueNode for name in
       ("AnyNode", "StringNode", "IntegerNode", "FloatNode", "BooleanNode", "BytesNode", "PathNode")},
    ("omegaconf.base", "Metadata"): _Metadata,
    ("omegaconf.base", "ContainerMetadata"): _Metadata,
    ("typing", "Any"): typing.Any,
    ("collections", "defaultdict"): collections.defaultdict,
    ("builtins", "dict"): dict,
    ("builtins", "list"): list,
    ("builtins", "int"): int,
    ("builtins", "float"): float,
    ("builtins", "str"): str,
    ("builtins", "bool"): bool,
    ("builtins", "object"): object,
}


class AuthorsSnapshotUnpickler(RestrictedUnpickler):
    """The StyleGAN2-ADA allow-list plus inert stand-ins of torch's built-in modules and of
    omegaconf's config classes."""

    allowed_globals = {**_ALLOWED_GLOBALS, **_SNAPSHOT_GLOBALS}
    refusal_hint = "not a tensor, container, network record or omegaconf config of a StyleInV snapshot"


def plain_options(value: Any, where: str = "options") -> Any:
    """Options as plain dicts / lists / numbers (omegaconf configs and EasyDicts unwrapped)."""
    if isinstance(value, (_DictConfig, _ListConfig)):
        content = value.state.get("_content")
        if content is not None and not isinstance(content, dict if isinstance(value, _DictConfig) else list):
            raise AuthorsWeightsError(f"{where}: an unresolved omegaconf value {content!r}")
        return None if content is None else plain_options(content, where)
    if isinstance(value, _ValueNode):
        raw = value.state.get("_val")
        if isinstance(raw, str) and "${" in raw:
            raise AuthorsWeightsError(f"{where}: unresolved interpolation {raw!r} (their training script resolves "
                                      "its config before it pickles it; this snapshot did not)")
        return raw
    if isinstance(value, (dict, _EasyDict)):
        return {str(k): plain_options(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_options(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def read_authors_snapshot(path: str | Path) -> dict[str, Any]:
    """The top-level dict of an authors' snapshot, networks as PersistentRecords."""
    data = load_restricted(AuthorsSnapshotUnpickler, path, "StyleInV snapshot pickle", "is the download complete?")
    if not isinstance(data, dict) or not any(isinstance(data.get(k), PersistentRecord) for k in ("SI", "SI_ema")):
        keys = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: not a StyleInV training snapshot (no SI / SI_ema network; found {keys})")
    return data


@dataclass
class AuthorsSnapshot:
    """What an authors' snapshot holds, as our networks."""

    model: StyleInVGenerator
    discriminator: VideoDiscriminator | None
    source_key: str  # "SI_ema" or "SI"
    options: dict[str, Any] = field(default_factory=dict)  # the StyleInV module's options, plain
    notes: list[str] = field(default_factory=list)


def _child(record: PersistentRecord, name: str, path: Path) -> PersistentRecord:
    child = record.children().get(name)
    if not isinstance(child, PersistentRecord):
        raise ValueError(f"{path}: the StyleInV network has no {name!r} module; it is not a snapshot of the "
                         "published StyleInV code")
    return child


def import_authors_snapshot(path: str | Path, data: dict[str, Any] | None = None) -> AuthorsSnapshot:
    """Our StyleInV generator (over the snapshot's G) and video discriminator from an authors'
    snapshot; the EMA networks (``SI_ema``) when present, as their generate script takes them.
    ``data``: the snapshot's top-level dict when it was read already."""
    path = Path(path)
    data = read_authors_snapshot(path) if data is None else data
    if not isinstance(data.get("G"), PersistentRecord):
        raise ValueError(f"{path}: the snapshot holds no image generator 'G'")
    source_key = "SI_ema" if isinstance(data.get("SI_ema"), PersistentRecord) else "SI"
    record: PersistentRecord = data[source_key]
    options = plain_options(record.init_kwargs, f"{source_key} options")
    mapping_opts, encoder_opts = options.get("mapping_opts") or {}, options.get("encoder_opts") or {}
    refusals = {
        "input_residual": (bool(options.get("input_residual", False)), True),
        "skip_encoder": (bool(options.get("skip_encoder", False)), False),
        "encoder_opts.pca.use_pca": (bool((encoder_opts.get("pca") or {}).get("use_pca", False)), False),
    }
    for name, (found, wanted) in refusals.items():
        if found != wanted:
            raise AuthorsWeightsError(f"{path}: {name} = {found!r}; only {wanted!r} (every published config) "
                                      "converts")
    notes = []
    if options.get("mutual_recon"):
        notes.append("mutual_recon: its noise-reconstruction head H is used in training only and is not converted")
    try:
        G = generator_from_record(data["G"])
        temporal = temporal_style_from_authors(
            record_state_dict(_child(record, "mapping", path)),
            {"content_dim": mapping_opts.get("content_dim"), "w_dim": mapping_opts.get("w_dim"),
             "concat_content": mapping_opts.get("concat_content"), "lr_multiplier": mapping_opts.get("lr_multiplier"),
             "layer_features": None, "cfg": mapping_opts})
        encoder = encoder_from_authors(
            record_state_dict(_child(record, "encoder", path)),
            {"num_layers": 50, "mode": "ir_se", "adain_mode": encoder_opts.get("adain_mode", "block"),
             "style_dim": mapping_opts.get("w_dim"), "normalize_adain": encoder_opts.get("normalize_adain", False),
             "lr_multiplier": encoder_opts.get("lr_multiplier", 1),
             "use_modulation": encoder_opts.get("use_modulation", False)},
            mixed_precision="off")  # their encoder runs in float32
        discriminator = None
        if isinstance(data.get("D"), PersistentRecord):
            d_record: PersistentRecord = data["D"]
            layout = {"Discriminator": "stylegan-v", "DiscriminatorFFC": "ffc"}.get(d_record.class_name)
            if layout is None:
                notes.append(f"D is a {d_record.class_name}, not a video discriminator of theirs: not converted")
            else:
                discriminator = video_discriminator_from_authors(
                    record_state_dict(d_record), plain_options(d_record.init_kwargs, "D options"), layout)
    except AuthorsWeightsError as error:
        raise AuthorsWeightsError(f"{path}: {error}") from None
    if G.w_dim != encoder.config.w_dim:
        raise AuthorsWeightsError(f"{path}: G's w_dim {G.w_dim} differs from their encoder's 512")
    config = StyleInVConfig(temporal=temporal.config, encoder=encoder.config,
                            discriminator=None if discriminator is None else discriminator.config)
    model = StyleInVGenerator(G, config)
    model.temporal_style.load_state_dict(temporal.state_dict())
    model.encoder.load_state_dict(encoder.state_dict())
    if "G_ema" in data:
        notes.append("G_ema (a style-transfer finetune's generator) is present; the frozen G was converted")
    return AuthorsSnapshot(model.eval().requires_grad_(False), discriminator, source_key, options, notes)


def convert_authors_snapshot(pickle_path: str | Path, output_path: str | Path,
                             data: dict[str, Any] | None = None) -> Path:
    """Read an authors' snapshot safely and write it as our StyleInV checkpoint (.safetensors + .json),
    which ``styleinv-generate --checkpoint`` takes."""
    from styleinv_model.styleinv.checkpoint import save_styleinv

    snapshot = import_authors_snapshot(pickle_path, data)
    return save_styleinv(output_path, snapshot.model, discriminator=snapshot.discriminator,
                         extra_config={"source": Path(pickle_path).name,
                                       "source_format": f"StyleInV authors' snapshot ({snapshot.source_key})",
                                       "notes": snapshot.notes})

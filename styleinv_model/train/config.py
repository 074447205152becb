"""Training configuration: one dataclass per stage, read from a per-dataset YAML file.

A config file (``styleinv_model/train/configs/<dataset>.yaml``, or any path) has one section per
stage plus shared ``run`` settings::

    dataset: faceforensics
    run: {seed: 0, outdir: runs, ...}
    stage1: {resolution: 256, batch_size: 32, ...}
    stage2: {...}
    stage3: {...}
    finetune: {...}

:func:`load_stage_config` reads the file, applies ``--set section.key=value`` overrides, checks every
key and type against the dataclasses (an unknown key or a wrong type is a one-line error naming the
file and the key) and returns the typed config of one stage.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STAGES = ("stage1", "stage2", "stage3", "finetune")
CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DATASET_CONFIGS = ("faceforensics", "deeperforensics", "celebvhq", "taichi", "skytimelapse", "demo")


class ConfigError(ValueError):
    """A bad training config: the message names the file and the key."""


@dataclass
class RunConfig:
    """Settings shared by every stage: seeding, where the run goes, intervals (in steps)."""

    seed: int = 0
    outdir: str = "runs"
    manifest: str | None = None  # the dataset manifest (absolute path; --manifest); unused by finetune
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    log_every: int = 20  # steps between log lines
    checkpoint_every: int = 500  # steps between checkpoints (and at the end)
    snapshot_every: int = 1000  # steps between PNG grids / mp4 snapshots (0: off)
    metrics_every: int = 0  # steps between FID/FVD evaluations (0: off); needs the metric weights
    metrics_num_samples: int = 2048  # real and generated samples per periodic metric
    keep_checkpoints: int = 3  # newest checkpoints kept (older ones deleted)
    loader_threads: int = 2
    cpu_threads: int | None = None  # torch intra-op threads on the CPU (None: torch's default)
    tensorboard: bool = True
    deterministic: bool = False  # torch.use_deterministic_algorithms (slower on CUDA)


@dataclass
class AugmentSettings:
    """ADA: pipeline name ("bgc", "bg", "none", ...), adaptive target and speed."""

    pipeline: str = "bgc"
    target: float | None = 0.6  # None: fixed probability `initial_p`
    speed_kimg: float = 500.0
    interval: int = 4
    initial_p: float = 0.0


@dataclass
class Stage1Config:
    """StyleGAN2 image generator on all frames (class-aware frame sampler)."""

    resolution: int = 256
    preset: str = "paper256"  # network sizes; see styleinv_model.stylegan2.presets
    generator: dict[str, Any] = field(default_factory=dict)  # GeneratorConfig overrides
    discriminator: dict[str, Any] = field(default_factory=dict)  # DiscriminatorConfig overrides
    use_noise: bool = True
    batch_size: int = 64  # global (all ranks)
    total_kimg: float = 25000.0
    max_steps: int | None = None  # stop earlier (tests, demos)
    g_lr: float = 0.0025
    d_lr: float = 0.0025
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 1.0
    r1_interval: int = 16
    pl_weight: float = 2.0
    pl_interval: int = 4
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    style_mixing: float = 0.9
    ema_kimg: float = 20.0
    ema_rampup: float | None = None
    mirror: bool = True
    augment: AugmentSettings = field(default_factory=AugmentSettings)
    init_from: str | None = None  # our checkpoint (.safetensors) or an official StyleGAN2-ADA .pkl


@dataclass
class Stage2Config:
    """pSp-style inversion encoder into W (initialises the StyleInV encoder's convolutions)."""

    generator_checkpoint: str = ""  # stage-1 checkpoint (or .pkl); its G_ema is used, frozen
    encoder_depth: int = 50  # IR-SE depth: 50, 100, 152
    encoder: dict[str, Any] = field(default_factory=dict)  # EncoderConfig overrides (stage 3 must match)
    input_resolution: int | None = 256  # images are resized to this before the encoder (pSp: 256)
    batch_size: int = 8
    total_kimg: float = 4000.0
    max_steps: int | None = None
    lr: float = 0.0001
    optimizer: str = "ranger"  # pSp's Ranger (RAdam + Lookahead + gradient centralisation) or "adam"
    betas: tuple[float, float] | None = None  # None: the optimiser's own (Ranger 0.95, 0.999; Adam 0.9, 0.999)
    l2_weight: float = 1.0
    lpips_weight: float = 0.8
    id_weight: float = 0.1
    lpips_alexnet: str | None = None  # local weights; None: env var / default place
    lpips_linear: str | None = None
    arcface: str | None = None
    start_from_latent_avg: bool = True
    mirror: bool = True


@dataclass
class Stage3Config:
    """StyleInV: temporal style + modulated encoder over the frozen image generator (Eq. 6)."""

    generator_checkpoint: str = ""  # stage-1 checkpoint (or .pkl)
    encoder_checkpoint: str | None = None  # stage-2 checkpoint; None: encoder from scratch (a warning)
    preset: str = "faces"  # "faces" (anchors every 16 frames) or "sky_taichi" (every 128)
    temporal: dict[str, Any] = field(default_factory=dict)  # TemporalStyleConfig overrides
    encoder: dict[str, Any] = field(default_factory=dict)  # EncoderConfig overrides
    discriminator: dict[str, Any] = field(default_factory=dict)  # VideoDiscriminatorConfig overrides
    batch_size: int = 32  # videos per step (global)
    total_kimg: float = 25000.0  # thousands of videos
    max_steps: int | None = None
    g_lr: float = 0.0001
    d_lr: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    lambda_adv: float = 1.0
    lambda_l2: float = 10.0
    lambda_reg: float = 0.05
    r1_gamma: float = 1.0
    r1_interval: int = 16
    ema_kimg: float = 10.0
    ema_rampup: float | None = 0.05
    nframes: int = 128  # sparse sampler clip length
    max_dist: int = 32  # 32 faces, 128 sky/taichi
    noise_mode: str = "video"  # per-video constant noise ("video"), "const" (G's stored noise), "none"
    mirror: bool = True
    augment: AugmentSettings = field(default_factory=AugmentSettings)


@dataclass
class FinetuneConfig:
    """Style-transfer finetune of the image generator (mapping and synthesis <= 32 frozen)."""

    generator_checkpoint: str = ""  # stage-1 checkpoint (or .pkl): G_ema initialises G and G_ema; D too
    images: str = ""  # folder of stylised, FFHQ-aligned images (png/jpg) at the training resolution
    freeze_resolution: int = 32  # synthesis blocks at resolutions <= this stay frozen
    batch_size: int = 8
    total_kimg: float = 200.0
    max_steps: int | None = None
    g_lr: float = 0.002
    d_lr: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 10.0
    r1_interval: int = 16
    ema_kimg: float = 10.0
    ema_rampup: float | None = None
    mirror: bool = True
    augment: AugmentSettings = field(default_factory=lambda: AugmentSettings(pipeline="bgc", target=0.6))


STAGE_CLASSES: dict[str, type] = {
    "stage1": Stage1Config, "stage2": Stage2Config, "stage3": Stage3Config, "finetune": FinetuneConfig,
}


@dataclass
class TrainConfig:
    """The resolved config of one run: dataset name, shared run settings and one stage's settings."""

    stage: str
    dataset: str
    run: RunConfig
    settings: Any  # Stage1Config | Stage2Config | Stage3Config | FinetuneConfig
    source: str = ""  # the file it came from
    # dotted key -> the --set text that gave it (error messages name the override, not the file)
    origins: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def where(self, key: str) -> str:
        """Where the value of dotted `key` came from: ``--set KEY=VALUE`` or ``FILE: KEY``."""
        return describe_origin(key, self.source, self.origins)

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "dataset": self.dataset, "source": self.source,
                "run": dataclasses.asdict(self.run), self.stage: dataclasses.asdict(self.settings)}


# ---------------------------------------------------------------------------------------------
# typed construction from plain data


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def describe_origin(key: str, source: str, origins: dict[str, str]) -> str:
    """``--set TEXT: KEY`` when an override set `key` (or a section above it), else ``SOURCE: KEY``."""
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        text = origins.get(".".join(parts[:end]))
        if text is not None:
            return f"--set {text}: {key}"
    return f"{source or '<config>'}: {key}"


def _float_literal(value: str) -> float | None:
    """A string that Python reads as a float (``1e30``, ``-2.5E-3``, ``1_000.5``), else None.

    YAML 1.1, which PyYAML follows, reads ``1e30`` (no dot) as a string."""
    try:
        return float(value.strip())
    except ValueError:
        return None


def _coerce(value: Any, tp: Any, where: str, describe: Any = None) -> Any:
    """`value` as type `tp` (dataclass, Optional, tuple, dict, scalar), else ConfigError.

    `where` is the dotted key; `describe(key)` turns a key into the error's location."""
    describe = describe or (lambda key: key)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where, describe)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{describe(where)}: bad value {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{describe(where)}: expected a mapping of {tp.__name__} options, got {value!r}")
        return build_dataclass(tp, value, where, describe)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{describe(where)}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(v, a, f"{where}[{i}]", describe) for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{describe(where)}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{describe(where)}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{describe(where)}: expected an integer, got {value!r}")
        return value
    if tp is float:
        parsed = _float_literal(value) if isinstance(value, str) else None
        value = parsed if parsed is not None else value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{describe(where)}: expected a number, got {value!r}")
        if not math.isfinite(float(value)):
            raise ConfigError(f"{describe(where)}: expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{describe(where)}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{describe(where)}: unsupported option type {_type_name(tp)}")


def build_dataclass(cls: type, values: dict[str, Any], where: str, describe: Any = None) -> Any:
    """An instance of dataclass `cls` from `values`; unknown keys and wrong types are errors.

    `where` is the dotted key of `values` (``stage1``, ``stage1.augment``); `describe(key)` turns a
    key into the error's location (default: the key itself)."""
    describe = describe or (lambda key: key)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"{describe(f'{where}.{unknown[0]}')}: unknown option(s) {unknown}; valid options: {names}")
    kwargs = {name: _coerce(values[name], hints[name], f"{where}.{name}", describe) for name in names if name in values}
    return cls(**kwargs)


# ---------------------------------------------------------------------------------------------
# validation of values (beyond types)


def validate(config: TrainConfig) -> None:
    """Range checks that the types cannot express; a one-line ConfigError per problem, naming the
    file and key, or the ``--set`` override, that gave the value."""
    s = config.settings

    def at(name: str, section: str = config.stage) -> str:
        return config.where(f"{section}.{name}")

    for name in ("batch_size", "total_kimg", "lr", "g_lr", "d_lr"):
        if hasattr(s, name) and (getattr(s, name) is None or getattr(s, name) <= 0):
            raise ConfigError(f"{at(name)} must be > 0, got {getattr(s, name)!r}")
    if s.max_steps is not None and s.max_steps < 1:
        raise ConfigError(f"{at('max_steps')} must be >= 1 or null, got {s.max_steps}")
    if getattr(s, "betas", None) is not None and not all(0.0 <= b < 1.0 for b in s.betas):
        raise ConfigError(f"{at('betas')} must lie in [0, 1), got {list(s.betas)}")
    for name in ("r1_interval", "pl_interval"):
        if hasattr(s, name) and getattr(s, name) < 1:
            raise ConfigError(f"{at(name)} must be >= 1, got {getattr(s, name)}")
    aug = getattr(s, "augment", None)
    if aug is not None:
        from styleinv_model.train.augment import parse_pipeline

        try:
            parse_pipeline(aug.pipeline)
        except ValueError as error:
            raise ConfigError(f"{at('augment.pipeline')}: {error}") from error
        if aug.target is not None and not 0.0 < aug.target < 1.0:
            raise ConfigError(f"{at('augment.target')} must lie in (0, 1) or be null, got {aug.target}")
        if not 0.0 <= aug.initial_p <= 1.0:
            raise ConfigError(f"{at('augment.initial_p')} must lie in [0, 1], got {aug.initial_p}")
    if config.stage in ("stage1",):
        from styleinv_model.stylegan2.config import check_resolution

        try:
            check_resolution(s.resolution)
        except ValueError as error:
            raise ConfigError(f"{at('resolution')}: {error}") from error
        if not 0.0 <= s.style_mixing <= 1.0:
            raise ConfigError(f"{at('style_mixing')} must lie in [0, 1], got {s.style_mixing}")
    if config.stage == "stage3":
        if s.preset not in ("faces", "sky_taichi"):
            raise ConfigError(f"{at('preset')} must be 'faces' or 'sky_taichi', got {s.preset!r}")
        if s.noise_mode not in ("video", "const", "none"):
            raise ConfigError(f"{at('noise_mode')} must be 'video', 'const' or 'none', got {s.noise_mode!r}")
        if s.nframes < 3:
            raise ConfigError(f"{at('nframes')} must be >= 3, got {s.nframes}")
        if s.max_dist < 2:
            raise ConfigError(f"{at('max_dist')} must be >= 2, got {s.max_dist}")
    if config.stage == "stage2" and s.encoder_depth not in (50, 100, 152):
        raise ConfigError(f"{at('encoder_depth')} must be 50, 100 or 152, got {s.encoder_depth}")
    if config.stage == "stage2" and s.optimizer not in ("ranger", "adam"):
        raise ConfigError(f"{at('optimizer')} must be 'ranger' or 'adam', got {s.optimizer!r}")
    r = config.run
    for name in ("log_every", "checkpoint_every", "keep_checkpoints"):
        if getattr(r, name) < 1:
            raise ConfigError(f"{at(name, 'run')} must be >= 1, got {getattr(r, name)}")
    for name in ("snapshot_every", "metrics_every"):
        if getattr(r, name) < 0:
            raise ConfigError(f"{at(name, 'run')} must be >= 0, got {getattr(r, name)}")


# ---------------------------------------------------------------------------------------------
# files and overrides


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A file path, or the name of a bundled config (``faceforensics`` -> configs/faceforensics.yaml)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = CONFIG_DIR / f"{name_or_path}.yaml"
    if bundled.is_file():
        return bundled
    raise ConfigError(f"training config {name_or_path!s} not found: give a YAML file or one of "
                      f"{', '.join(DATASET_CONFIGS)}")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``stage1.batch_size=8`` -> (["stage1", "batch_size"], 8) (the value is parsed as YAML)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} must look like section.key=value (e.g. stage1.batch_size=8)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as error:
        raise ConfigError(f"override {text!r}: the value is not valid YAML ({error})") from error
    return [part for part in key.strip().split(".")], value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set dotted keys in a nested mapping (a copy)."""
    import copy

    data = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: {part!r} is not a section")
            node = child
        node[path[-1]] = value
    return data


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read the training config ({error})") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a training config must be a mapping with run/stage1/... sections")
    return data


def load_stage_config(stage: str, config: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """The validated config of `stage` from a config file (or bundled name) plus overrides."""
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}: use one of {', '.join(STAGES)}")
    path = resolve_config_path(config)
    return config_from_dict(stage, read_config_file(path), str(path), overrides)


def override_origins(overrides: list[str]) -> dict[str, str]:
    """Dotted key -> the ``--set`` text that set it (the last one wins, as in apply_overrides)."""
    return {".".join(parse_override(text)[0]): text for text in overrides}


def config_from_dict(stage: str, data: dict[str, Any], source: str = "<dict>",
                     overrides: list[str] | None = None) -> TrainConfig:
    """The validated config of `stage` from plain data plus ``--set`` overrides (errors in a value
    that an override gave name the override)."""
    overrides = list(overrides or [])
    data = apply_overrides(data, overrides)
    origins = override_origins(overrides)

    def describe(key: str) -> str:
        return describe_origin(key, source, origins)

    known = {"dataset", "run", *STAGES}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{describe(unknown[0])}: unknown section(s) {unknown}; valid sections: {sorted(known)}")
    run = build_dataclass(RunConfig, data.get("run") or {}, "run", describe)
    settings = build_dataclass(STAGE_CLASSES[stage], data.get(stage) or {}, stage, describe)
    dataset = data.get("dataset", "custom")
    if not isinstance(dataset, str):
        raise ConfigError(f"{describe('dataset')}: dataset must be a name, got {dataset!r}")
    result = TrainConfig(stage=stage, dataset=dataset, run=run, settings=settings, source=source, origins=origins)
    validate(result)
    return result


def resolved_data(data: dict[str, Any]) -> dict[str, Any]:
    """The sections of :meth:`TrainConfig.to_dict` output that :func:`config_from_dict` reads."""
    stage = data["stage"]
    return {"dataset": data.get("dataset", "custom"), "run": data.get("run", {}), stage: data.get(stage, {})}


def config_from_resolved(data: dict[str, Any], overrides: list[str] | None = None) -> TrainConfig:
    """Rebuild a TrainConfig from :meth:`TrainConfig.to_dict` (a run's config.yaml, a checkpoint)."""
    return config_from_dict(data["stage"], resolved_data(data), data.get("source", "<resolved>"), overrides)

"""The StyleInV authors' networks (johannwyh/StyleInV) as our modules: their state-dict keys and
constructor options mapped onto ours, so their weights give the same outputs here.

What the mapping has to know (each fact checked against golden outputs of their own modules,
``tests/fixtures/styleinv_authors/``):

* temporal style (their ``MappingFuse``): the causal convs store 11 taps with the right 5 masked at
  run time (we keep the 6 live ones; the equalised-lr gain counts all 11); the first conv keeps the
  noise width (``motion.z_dim``), the second narrows to ``motion.v_dim``, which the time encoder
  reads; the fusion input is ``[w0, v_t]``; the time-encoder projections have no bias; their
  frequency and phase-scale buffers follow from the periods (checked, not copied); their outputs
  are time-major where ours are ``[B, T, D]``; timestamps reach their module as ``t / 127``; their
  phases are float32 in a fixed order, which the imported module keeps (``phase_precision``), so
  even an hour of video (t ~ 1e5 frames) gives their outputs;
* encoder (their ``StyleEncoderIntoW``): pSp's IR-SE units in one flat ``body`` list (ours: per
  stage), an AdaIN residual block after each stage's last unit (``adain_index``), divided by
  sqrt(2) (``normalize_adain``), equalised-lr affine layers and head (SG2-ADA's
  ``FullyConnectedLayer``).
* video discriminators (their ``networks_sgv.Discriminator``, which every published config
  selects, and ``DiscriminatorFFC``): the same StyleGAN2 blocks and epilogue under other names;
  the gaps are embedded from frame indices (they multiply normalised gaps by 127 first) by a
  learned table of width 256 plus fixed Fourier features, whose coefficients are checked.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from styleinv_model.styleinv.encoder import IR_SE_UNITS, EncoderConfig, ModulatedInversionEncoder
from styleinv_model.styleinv.temporal_style import TemporalStyle, TemporalStyleConfig, log_spaced_frequencies
from styleinv_model.styleinv.video_discriminator import VideoDiscriminator, VideoDiscriminatorConfig


class AuthorsWeightsError(ValueError):
    """Weights or options of the authors' code that our modules cannot take as they are."""


def _get(options: Mapping[str, Any], dotted: str) -> Any:
    value: Any = options
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise AuthorsWeightsError(f"the authors' options lack {dotted!r}")
        value = value[part]
    return value


def _tensor(state: Mapping[str, Any], key: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    if key not in state:
        raise AuthorsWeightsError(f"missing weight {key!r}")
    value = state[key]
    tensor = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value).float()
    if shape is not None and tuple(tensor.shape) != tuple(shape):
        raise AuthorsWeightsError(f"{key}: shape {tuple(tensor.shape)}, expected {tuple(shape)}")
    return tensor


def temporal_style_config_from_authors(options: Mapping[str, Any]) -> tuple[TemporalStyleConfig, float]:
    """Our config for their ``MappingFuse(**options)`` (``content_dim``, ``w_dim``,
    ``concat_content``, ``lr_multiplier``, ``layer_features``, ``cfg``), and the fusion layers'
    learning-rate multiplier in their code (their convs use 0.01, fixed)."""
    cfg = _get(options, "cfg")
    motion = _get(cfg, "motion")
    checks = {
        "cfg.motion.type": (_get(cfg, "motion.type"), "acyclic_pe"),
        "cfg.motion.gen_strategy": (_get(cfg, "motion.gen_strategy"), "conv"),
        "cfg.motion.fourier": (bool(_get(cfg, "motion.fourier")), True),
        "concat_content": (bool(_get(options, "concat_content")), True),
        "cfg.c_dim": (int(cfg.get("c_dim", 0) or 0), 0),
    }
    for name, (found, wanted) in checks.items():
        if found != wanted:
            raise AuthorsWeightsError(f"{name} = {found!r}: only {wanted!r} (every published config) is supported")
    w_dim = int(_get(cfg, "w_dim"))
    if options.get("layer_features") not in (None, w_dim):
        raise AuthorsWeightsError(f"layer_features = {options['layer_features']!r}: only None (= w_dim) is supported")
    kernel = int(_get(motion, "kernel_size"))
    if kernel % 2 != 1:
        raise AuthorsWeightsError(f"cfg.motion.kernel_size = {kernel}: an odd kernel is expected")
    time_enc = _get(motion, "time_enc")
    config = TemporalStyleConfig(
        w_dim=int(_get(options, "content_dim")),
        motion_dim=int(_get(motion, "z_dim")),
        anchor_code_dim=int(_get(motion, "v_dim")),
        num_frequencies=int(_get(time_enc, "dim")),
        style_dim=w_dim,
        motion_z_distance=int(_get(motion, "motion_z_distance")),
        min_period=float(_get(time_enc, "min_period_len")),
        max_period=float(_get(time_enc, "max_period_len")),
        conv_taps=(kernel + 1) // 2,
        conv_gain_taps=kernel,
        num_conv_layers=2,
        num_fuse_layers=int(_get(cfg, "layers_after_fuse")),
        lr_multiplier=0.01,
        w0_first=True,
        phase_precision="float32",
    )
    return config, float(_get(options, "lr_multiplier"))


def temporal_style_from_authors(state: Mapping[str, Any], options: Mapping[str, Any]) -> TemporalStyle:
    """Their ``MappingFuse`` state dict and constructor options -> our :class:`TemporalStyle`
    (float32, eval mode). Raises :class:`AuthorsWeightsError` naming the key or option that does
    not fit."""
    config, fuse_lr = temporal_style_config_from_authors(options)
    module = TemporalStyle(config)
    c, taps = config, config.conv_taps
    prefix = "motion_encoder."
    freqs = _tensor(state, prefix + "time_encoder.freqs", (1, c.num_frequencies))
    ours = log_spaced_frequencies(c.num_frequencies, c.min_period, c.max_period).float()
    if not torch.allclose(freqs[0], ours, rtol=1e-6, atol=0):
        raise AuthorsWeightsError(f"{prefix}time_encoder.freqs do not follow from periods {c.min_period:g}.."
                                  f"{c.max_period:g} with {c.num_frequencies} frequencies; the options do not match "
                                  "the weights")
    scales = _tensor(state, prefix + "time_encoder.phase_scales", (1, c.num_frequencies))
    if not torch.allclose(scales[0], (c.max_period * ours.double() / (2 * np.pi)).float(), rtol=1e-6, atol=0):
        raise AuthorsWeightsError(f"{prefix}time_encoder.phase_scales do not follow from max period {c.max_period:g}")
    mapped: dict[str, torch.Tensor] = {
        "first_anchor": _tensor(state, prefix + "frame_0_const", (c.motion_dim,)),
        "time_encoder.period_predictor.weight": _tensor(
            state, prefix + "time_encoder.periods_predictor.weight", (c.num_frequencies, c.anchor_dim)),
        "time_encoder.phase_predictor.weight": _tensor(
            state, prefix + "time_encoder.phase_predictor.weight", (c.num_frequencies, c.anchor_dim)),
        "time_encoder.aligner.weight": _tensor(
            state, prefix + "time_encoder.aligners_predictor.weight", (c.code_dim, c.anchor_dim)),
    }
    widths = [c.motion_dim, c.motion_dim, c.anchor_dim]
    for i in range(c.num_conv_layers):
        weight = _tensor(state, f"{prefix}conv.{i}.weight", (widths[i + 1], widths[i], c.conv_gain_taps))
        mapped[f"anchor_convs.{i}.weight"] = weight[:, :, :taps].clone()  # the masked right taps are never used
        mapped[f"anchor_convs.{i}.bias"] = _tensor(state, f"{prefix}conv.{i}.bias", (widths[i + 1],))
    in_features = c.w_dim + c.code_dim
    for i in range(c.num_fuse_layers):
        # stored / lr: the same effective weight under our multiplier
        rescale = fuse_lr / c.lr_multiplier
        mapped[f"fuse.{i}.weight"] = _tensor(state, f"fcf{i}.weight", (c.style_dim, in_features)) * rescale
        mapped[f"fuse.{i}.bias"] = _tensor(state, f"fcf{i}.bias", (c.style_dim,)) * rescale
        in_features = c.style_dim
    known = {f"{prefix}time_encoder.freqs", f"{prefix}time_encoder.phase_scales", f"{prefix}frame_0_const",
             *(f"{prefix}time_encoder.{n}.weight" for n in ("periods_predictor", "phase_predictor", "aligners_predictor")),
             *(f"{prefix}conv.{i}.{p}" for i in range(c.num_conv_layers) for p in ("weight", "bias")),
             *(f"fcf{i}.{p}" for i in range(c.num_fuse_layers) for p in ("weight", "bias"))}
    unknown = sorted(set(state) - known)
    if unknown:
        raise AuthorsWeightsError(f"weights our temporal style has no place for: {unknown[:4]}")
    module.load_state_dict(mapped, strict=True)
    return module.eval()


# ---------------------------------------------------------------------------------------- encoder

def encoder_config_from_authors(options: Mapping[str, Any], **overrides: Any) -> EncoderConfig:
    """Our config for their ``StyleEncoderIntoW(**options)`` (``num_layers``, ``mode``,
    ``adain_mode``, ``style_dim``, ``normalize_adain``, ``lr_multiplier``, ``use_modulation``)."""
    checks = {
        "mode": (options.get("mode", "ir"), "ir_se"),
        "adain_mode": (options.get("adain_mode", "block"), "block"),
        "normalize_adain": (bool(options.get("normalize_adain", False)), True),
        "use_modulation": (bool(options.get("use_modulation", False)), False),
        "input_nc": (int(options.get("input_nc", 3)), 3),
    }
    for name, (found, wanted) in checks.items():
        if found != wanted:
            raise AuthorsWeightsError(f"encoder {name} = {found!r}: only {wanted!r} (every published config) is "
                                      "supported")
    num_layers = int(options.get("num_layers", 50))
    if num_layers not in IR_SE_UNITS:
        raise AuthorsWeightsError(f"encoder num_layers = {num_layers}: one of {sorted(IR_SE_UNITS)} expected")
    return EncoderConfig.ir_se(num_layers, style_dim=int(options.get("style_dim", 512)), w_dim=512,
                               adain_lr_multiplier=float(options.get("lr_multiplier", 1)), **overrides)


def encoder_key_from_authors(key: str, config: EncoderConfig) -> str:
    """Our name of one of their encoder tensors: ``body.N.*`` (the units in one flat list) ->
    ``stages.S.U.*``; ``shortcut_layer`` / ``res_layer`` -> ``shortcut`` / ``residual``;
    ``adains.K.normJ.fc`` -> ``adains.K.normJ.affine``; ``linear`` -> ``output_fc``."""
    parts = key.split(".")
    if parts[0] == "body" and len(parts) > 2 and parts[1].isdigit():
        unit = int(parts[1])
        for stage, units in enumerate(config.stage_units):
            if unit < units:
                renamed = {"shortcut_layer": "shortcut", "res_layer": "residual"}.get(parts[2])
                if renamed is None:
                    break
                return ".".join(["stages", str(stage), str(unit), renamed, *parts[3:]])
            unit -= units
        raise AuthorsWeightsError(f"encoder weight {key!r}: not a unit of an IR-SE-{sum(config.stage_units) * 2 + 2} "
                                  "trunk")
    if parts[0] == "adains" and len(parts) == 5 and parts[3] == "fc":
        return ".".join([*parts[:3], "affine", parts[4]])
    if parts[0] == "linear":
        return ".".join(["output_fc", *parts[1:]])
    return key  # input_layer.*, adains.K.convJ.*: the same names


def encoder_from_authors(state: Mapping[str, Any], options: Mapping[str, Any],
                         **overrides: Any) -> ModulatedInversionEncoder:
    """Their whole ``StyleEncoderIntoW`` state dict -> our :class:`ModulatedInversionEncoder`
    (eval mode); every tensor must find its place with its shape, and every one of ours be given."""
    config = encoder_config_from_authors(options, **overrides)
    module = ModulatedInversionEncoder(config)
    mapped = map_encoder_state(state, config, module.state_dict())
    module.load_state_dict(mapped, strict=True)
    return module.eval()


def map_encoder_state(state: Mapping[str, Any], config: EncoderConfig,
                      ours: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Their encoder tensors under our names, checked against ``ours`` (names and shapes)."""
    mapped: dict[str, torch.Tensor] = {}
    for key in state:
        name = encoder_key_from_authors(key, config)
        if name not in ours:
            raise AuthorsWeightsError(f"encoder weight {key!r} has no place in ours (as {name!r})")
        value = state[key]
        tensor = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
        if tuple(tensor.shape) != tuple(ours[name].shape):
            raise AuthorsWeightsError(f"encoder weight {key!r}: shape {tuple(tensor.shape)}, ours "
                                      f"{tuple(ours[name].shape)}")
        mapped[name] = tensor.to(ours[name].dtype)
    missing = sorted(set(ours) - set(mapped))
    if missing:
        raise AuthorsWeightsError(f"the authors' encoder weights lack {len(missing)} of ours, e.g. {missing[:3]}")
    return mapped


# --------------------------------------------------------------------------- video discriminator

def video_discriminator_config_from_authors(options: Mapping[str, Any], layout: str = "stylegan-v",
                                            **overrides: Any) -> VideoDiscriminatorConfig:
    """Our config for their ``networks_sgv.Discriminator(**options)`` (layout ``stylegan-v``) or
    ``networks_styleinv.DiscriminatorFFC(**options)`` (layout ``ffc``)."""
    cfg = _get(options, "cfg")
    pe = cfg.get("pe", {}) or {}
    checks = {
        "c_dim": (int(options.get("c_dim", 0) or 0), 0),
        "architecture": (options.get("architecture", "resnet"), "resnet"),
        "img_channels": (int(options.get("img_channels", 3)), 3),
        "cmap_dim": (options.get("cmap_dim"), None),
        "cfg.pe.use_const_embed": (bool(pe.get("use_const_embed", False)), True),
        "cfg.dummy_c": (bool(cfg.get("dummy_c", False)), False),
        "cfg.skip_small_t_freqs": (int(cfg.get("skip_small_t_freqs", 0) or 0), 0),
    }
    if _get(cfg, "sampling.type") == "uniform":
        checks["cfg.sampling.type"] = ("uniform", "random")
    for name, (found, wanted) in checks.items():
        if found != wanted:
            raise AuthorsWeightsError(f"discriminator {name} = {found!r}: only {wanted!r} (every published config) "
                                      "is supported")
    mapping = options.get("mapping_kwargs", {}) or {}
    epilogue = options.get("epilogue_kwargs", {}) or {}
    values = dict(
        resolution=int(_get(options, "img_resolution")),
        num_frames=int(_get(cfg, "sampling.num_frames_per_video")),
        channel_base=int(options.get("channel_base", 32768)),
        channel_max=int(options.get("channel_max", 512)),
        concat_resolution=int(_get(cfg, "concat_res")),
        frames_channel_divisor=int(_get(cfg, "num_frames_div_factor")),
        max_time_gap=int(_get(cfg, "sampling.max_num_frames")),
        time_table_dim=256,  # fixed in their TemporalDifferenceEncoder
        mapping_layers=int(mapping.get("num_layers", 8)),
        mbstd_group_size=epilogue.get("mbstd_group_size", 4),
        mbstd_channels=int(epilogue.get("mbstd_num_channels", 1)),
        num_fp16_res=int(options.get("num_fp16_res", 0)),
        conv_clamp=options.get("conv_clamp"),
        layout=layout,
    )
    values.update(overrides)
    return VideoDiscriminatorConfig(**values)


def video_discriminator_key_from_authors(key: str) -> str | None:
    """Our name of one of their discriminator tensors (None: a buffer we derive, checked apart):
    ``b<res>.*`` -> ``blocks.b<res>.*`` (``fromrgb`` -> ``from_rgb``), ``bcond<res>.*`` ->
    ``first_frame_blocks.b<res>.*``, ``b4cond.*`` -> ``first_frame_epilogue.*``, ``b4.*`` ->
    ``epilogue.*``, ``time_encoder.const_embed`` -> ``time_embedding.table``."""
    parts = key.split(".")
    head = parts[0]
    if key == "time_encoder.const_embed.weight":
        return "time_embedding.table.weight"
    if key == "time_encoder.time_encoder.fourier_coefs":
        return None
    if head == "b4":
        return ".".join(["epilogue", *parts[1:]])
    if head == "b4cond":
        return ".".join(["first_frame_epilogue", *parts[1:]])
    for prefix, ours in (("bcond", "first_frame_blocks"), ("b", "blocks")):
        if head.startswith(prefix) and head[len(prefix):].isdigit():
            if len(parts) == 2 and parts[1] == "resample_filter":
                return None  # the block's own copy of its convs' filter
            rest = [{"fromrgb": "from_rgb"}.get(parts[1], parts[1]), *parts[2:]]
            return ".".join([ours, f"b{head[len(prefix):]}", *rest])
    return key  # mapping.*


def video_discriminator_layout_of(state: Mapping[str, Any]) -> str:
    """``ffc`` for the weights of their ``DiscriminatorFFC`` (a ``b4cond`` epilogue), else ``stylegan-v``."""
    return "ffc" if any(key.startswith("b4cond.") for key in state) else "stylegan-v"


def video_discriminator_from_authors(state: Mapping[str, Any], options: Mapping[str, Any],
                                     layout: str | None = None, **overrides: Any) -> VideoDiscriminator:
    """Their discriminator's state dict and constructor options -> our :class:`VideoDiscriminator`
    (``layout`` None: the one the weights have). Our D takes frame indices as timestamps; theirs
    takes ``frame / (max_num_frames - 1)``."""
    found = video_discriminator_layout_of(state)
    if layout is not None and layout != found:
        raise AuthorsWeightsError(f"these are the weights of a {found!r} discriminator "
                                  f"({'DiscriminatorFFC' if found == 'ffc' else 'networks_sgv.Discriminator'}), "
                                  f"not {layout!r}; load them with layout {found!r}")
    layout = found
    config = video_discriminator_config_from_authors(options, layout, **overrides)
    module = VideoDiscriminator(config)
    ours = module.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    for key in state:
        tensor = _tensor(state, key)
        name = video_discriminator_key_from_authors(key)
        if name is None:
            derived = (module.time_embedding.fourier_coefs if key.endswith("fourier_coefs")
                       else ours[next(k for k in ours if k.endswith("resample_filter"))])
            if tensor.numel() != derived.numel() or not torch.allclose(
                    tensor.reshape(derived.shape), derived, rtol=1e-6, atol=0):
                raise AuthorsWeightsError(f"discriminator buffer {key!r} differs from the one our config derives; "
                                          "the options do not match the weights")
            continue
        if name not in ours:
            raise AuthorsWeightsError(f"discriminator weight {key!r} has no place in ours ({layout} layout, as "
                                      f"{name!r})")
        if tuple(tensor.shape) != tuple(ours[name].shape):
            raise AuthorsWeightsError(f"discriminator weight {key!r}: shape {tuple(tensor.shape)}, ours "
                                      f"{tuple(ours[name].shape)}")
        mapped[name] = tensor
    missing = sorted(set(ours) - set(mapped))
    if missing:
        raise AuthorsWeightsError(f"the authors' discriminator weights lack {len(missing)} of ours, e.g. {missing[:3]}")
    module.load_state_dict(mapped, strict=True)
    return module.eval()

"""Our modules with the StyleInV authors' weights reproduce the outputs of the authors' own modules
(golden data in tests/fixtures/styleinv_authors/, copied from ../shared/fixtures/styleinv_authors/;
its README states how the goldens were made and the float32 limits).

Bound: max |Δ| ≤ 1e-5 × the output's scale (its largest |value|), for every timestamp set including
the hour-long one: the imported model computes the phases in the authors' float32 order.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from styleinv_model.styleinv.authors_weights import (
    AuthorsWeightsError,
    encoder_config_from_authors,
    encoder_from_authors,
    encoder_key_from_authors,
    temporal_style_from_authors,
    video_discriminator_from_authors,
)
from styleinv_model.styleinv.encoder import AdaINResBlock, ModulatedInversionEncoder
from styleinv_model.styleinv.layers import EqualizedLinear
from styleinv_model.styleinv.temporal_style import TemporalStyle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "styleinv_authors"
TIMESTAMP_SETS = ("int16", "frac16", "span127", "long")
RELATIVE_BOUND = 1e-5


def _fixture(name: str) -> tuple[dict, dict[str, np.ndarray], dict[str, np.ndarray]]:
    meta = json.loads((FIXTURES / "fixtures.json").read_text())["modules"][name]
    weights = dict(np.load(FIXTURES / meta["weights_file"]))
    io = dict(np.load(FIXTURES / meta["io_file"]))
    return meta, weights, io


def _max_relative(ours: torch.Tensor | np.ndarray, golden: np.ndarray) -> float:
    ours = ours.detach().numpy() if isinstance(ours, torch.Tensor) else ours
    assert ours.shape == golden.shape
    return float(np.abs(ours - golden).max() / np.abs(golden).max())


def _temporal_outputs(module: TemporalStyle, io: dict[str, np.ndarray], name: str):
    """(anchor codes [B, L, C], v_t [B, T, D], s_t [B, T, S]) for one timestamp set, from the frame
    timestamps their module computes internally (t_idx = Ts * 127 in float32)."""
    t = torch.from_numpy(io[f"{name}/t_idx"])
    with torch.no_grad():
        codes = module.anchor_codes(torch.from_numpy(io[f"{name}/motion_z"]), 0)
        v = module.time_codes(t, codes, 0)
        s = module.styles_from_codes(torch.from_numpy(io["w0"]), v)
    return codes, v, s


def _golden_temporal(io: dict[str, np.ndarray], name: str):
    batch, frames = io[f"{name}/t_idx"].shape
    v = io[f"{name}/v_t"].reshape(batch, frames, -1)  # rows (b, t)
    s = io[f"{name}/s_t"].reshape(frames, batch, -1).transpose(1, 0, 2)  # rows (t, b): time-major
    return io[f"{name}/anchor_u"], v, s


@pytest.fixture(scope="module")
def temporal():
    meta, weights, io = _fixture("temporal_style")
    return meta, weights, io, temporal_style_from_authors(weights, meta["constructor"])


@pytest.mark.parametrize("name", TIMESTAMP_SETS)
def test_temporal_style_reproduces_the_authors_outputs(temporal, name):
    _, _, io, module = temporal
    for ours, golden, what in zip(_temporal_outputs(module, io, name), _golden_temporal(io, name),
                                  ("anchor codes", "v_t", "s_t")):
        assert _max_relative(ours, golden) <= RELATIVE_BOUND, f"{name} {what}"


def test_temporal_style_forward_takes_their_timestamps(temporal):
    """The whole forward from their inputs: Ts (t / 127) back to frames, as their module does."""
    _, _, io, module = temporal
    ts = torch.from_numpy(io["span127/Ts"])[..., 0]
    with torch.no_grad():
        s = module(torch.from_numpy(io["w0"]), ts * 127.0, torch.from_numpy(io["span127/motion_z"]))
    assert _max_relative(s, _golden_temporal(io, "span127")[2]) <= RELATIVE_BOUND


def test_float64_phases_stay_within_the_float32_limit(temporal):
    """Our default float64 phases differ from the authors' float32 ones only by float32 rounding:
    below 1e-5 on clip-length timestamps, below the README's 1e-2 at an hour (t ~ 1e5 frames,
    phases ~1e5 rad, where float32 itself rounds the phase by ~1e-2)."""
    _, _, io, imported = temporal
    module = TemporalStyle(dataclasses.replace(imported.config, phase_precision="float64"))
    module.load_state_dict(imported.state_dict())
    for name in TIMESTAMP_SETS:
        _, v, s = _temporal_outputs(module, io, name)
        _, golden_v, golden_s = _golden_temporal(io, name)
        bound = 1e-2 if name == "long" else RELATIVE_BOUND
        assert _max_relative(v, golden_v) <= bound and _max_relative(s, golden_s) <= bound, name


def test_masked_conv_taps_are_ignored(temporal):
    meta, weights, io, module = temporal
    altered = dict(weights)
    for key in ("motion_encoder.conv.0.weight", "motion_encoder.conv.1.weight"):
        altered[key] = weights[key].copy()
        altered[key][:, :, 6:] = 123.0
    other = temporal_style_from_authors(altered, meta["constructor"])
    for ours, theirs in zip(_temporal_outputs(other, io, "int16"), _temporal_outputs(module, io, "int16")):
        assert torch.equal(ours, theirs)


def test_weights_that_do_not_fit_are_refused_by_name(temporal):
    meta, weights, _, _ = temporal
    options = json.loads(json.dumps(meta["constructor"]))
    options["cfg"]["motion"]["time_enc"]["max_period_len"] = 256
    with pytest.raises(AuthorsWeightsError, match="freqs do not follow from periods"):
        temporal_style_from_authors(weights, options)
    with pytest.raises(AuthorsWeightsError, match="no place for.*extra.weight"):
        temporal_style_from_authors({**weights, "extra.weight": np.zeros(3, np.float32)}, meta["constructor"])
    with pytest.raises(AuthorsWeightsError, match="fcf1.bias"):
        temporal_style_from_authors({k: v for k, v in weights.items() if k != "fcf1.bias"}, meta["constructor"])
    options = json.loads(json.dumps(meta["constructor"]))
    options["cfg"]["motion"]["gen_strategy"] = "autoregressive"
    with pytest.raises(AuthorsWeightsError, match="gen_strategy"):
        temporal_style_from_authors(weights, options)


# ------------------------------------------------------------------------------------- encoder

@pytest.fixture(scope="module")
def encoder_fixture():
    meta, weights, io = _fixture("encoder")
    keys = json.loads((FIXTURES / meta["full_state_dict_file"]).read_text())
    return meta, weights, io, keys, encoder_config_from_authors(meta["constructor"])


def test_encoder_key_map_covers_the_authors_full_state_dict(encoder_fixture):
    """All 419 tensors of their IR-SE-50 encoder (39,451,456 parameters) land on ours, one to one,
    with their shapes; the AdaIN blocks sit after the units their adain_index names."""
    meta, _, _, keys, config = encoder_fixture
    ours = {k: tuple(v.shape) for k, v in ModulatedInversionEncoder(config).state_dict().items()}
    theirs = {encoder_key_from_authors(e["key"], config): tuple(e["shape"]) for e in keys["state_dict"]}
    assert len(theirs) == len(keys["state_dict"]) == 419 and theirs == ours
    parameters = sum(int(np.prod(s)) for k, s in theirs.items() if "running_" not in k and "num_batches" not in k)
    assert parameters == keys["num_params"] == meta["num_params_full"] == 39_451_456
    last_units = np.cumsum(config.stage_units) - 1
    assert last_units.tolist() == keys["adain_index"] == meta["adain_index"]


@pytest.mark.parametrize("block, channels", [(0, 64), (1, 128)])
def test_encoder_adain_blocks_reproduce_the_authors_outputs(encoder_fixture, block, channels):
    _, weights, io, _, config = encoder_fixture
    prefix = f"adains.{block}."
    ours = AdaINResBlock(channels, config.style_dim, config.adain_lr_multiplier)
    ours.load_state_dict({encoder_key_from_authors(k, config)[len(prefix):]: torch.from_numpy(v)
                          for k, v in weights.items() if k.startswith(prefix)})
    with torch.no_grad():
        out = ours(torch.from_numpy(io[f"{prefix[:-1]}/x_in"]), torch.from_numpy(io["s"]))
    assert _max_relative(out, io[f"{prefix[:-1]}/x_out"]) <= RELATIVE_BOUND


def test_encoder_head_reproduces_the_authors_delta_w(encoder_fixture):
    _, weights, io, _, config = encoder_fixture
    head = EqualizedLinear(config.stage_channels[-1], config.w_dim)
    head.load_state_dict({encoder_key_from_authors(k, config)[len("output_fc."):]: torch.from_numpy(v)
                          for k, v in weights.items() if k.startswith("linear.")})
    with torch.no_grad():
        delta_w = head(torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(io["head/x_in"]), 1).flatten(1))
    assert _max_relative(delta_w, io["head/delta_w"]) <= RELATIVE_BOUND


def test_whole_authors_encoder_loads_and_refuses_what_does_not_fit(encoder_fixture):
    meta, weights, _, keys, _ = encoder_fixture
    state = {e["key"]: torch.zeros(e["shape"], dtype=getattr(torch, e["dtype"])) for e in keys["state_dict"]}
    state.update({k: torch.from_numpy(v) for k, v in weights.items()})
    encoder = encoder_from_authors(state, meta["constructor"])
    assert torch.equal(encoder.adains[1].norm2.affine.weight, state["adains.1.norm2.fc.weight"])
    assert torch.equal(encoder.stages[2][13].residual[5].fc1.weight, state["body.20.res_layer.5.fc1.weight"])
    with pytest.raises(AuthorsWeightsError, match="lack 1 of ours"):
        encoder_from_authors({k: v for k, v in state.items() if k != "linear.bias"}, meta["constructor"])
    with pytest.raises(AuthorsWeightsError, match="body.24.res_layer.0.weight"):
        encoder_from_authors({**state, "body.24.res_layer.0.weight": torch.zeros(1)}, meta["constructor"])
    with pytest.raises(AuthorsWeightsError, match="use_modulation"):
        encoder_from_authors(state, {**meta["constructor"], "use_modulation": True})


# -------------------------------------------------------------------------- video discriminators

@pytest.mark.parametrize("name, layout", [("disc_sgv", "stylegan-v"), ("disc_ffc", "ffc")])
def test_video_discriminators_reproduce_the_authors_logits(name, layout):
    """Both layouts from the authors' weights: the gap embedding, its mapping, (ffc) the frame-0
    vector and the logits. Their D takes t / 127, ours the frame indices (frames_idx)."""
    meta, weights, io = _fixture(name)
    disc = video_discriminator_from_authors(weights, meta["constructor"], layout)
    frames = torch.from_numpy(io["img"]).reshape(2, 4, 3, 64, 64)  # rows (video, frame)
    t = torch.from_numpy(io["frames_idx"])
    np.testing.assert_allclose(io["t"] * 127, io["frames_idx"][:, -io["t"].shape[1]:], atol=1e-4)
    with torch.no_grad():
        logits = disc(frames, t)
        kept = t[:, 1:] if layout == "ffc" else t
        embedding = disc.time_embedding(kept)
        cmap = disc.time_condition(t)
    assert _max_relative(embedding, io["t_emb"]) <= RELATIVE_BOUND
    assert _max_relative(cmap, io["cmap_t"]) <= RELATIVE_BOUND
    assert _max_relative(logits, io["logits"]) <= RELATIVE_BOUND
    if layout == "ffc":
        first = frames[:, 0].reshape(2, 3, 64, 64)
        with torch.no_grad():
            x = first
            for res in disc.block_resolutions:
                x = (disc.first_frame_blocks if res <= disc.config.concat_resolution else disc.blocks)[f"b{res}"](x)
            vector = disc.first_frame_epilogue(x, None, return_vector=True)
        assert _max_relative(vector, io["frame0_vec"]) <= RELATIVE_BOUND


def test_video_discriminator_weights_of_the_other_layout_are_refused():
    meta, weights, _ = _fixture("disc_ffc")
    assert video_discriminator_from_authors(weights, meta["constructor"]).config.layout == "ffc"
    with pytest.raises(AuthorsWeightsError, match="weights of a 'ffc' discriminator .* load them with layout 'ffc'"):
        video_discriminator_from_authors(weights, meta["constructor"], "stylegan-v")
    meta, weights, _ = _fixture("disc_sgv")
    with pytest.raises(AuthorsWeightsError, match="weights of a 'stylegan-v' discriminator"):
        video_discriminator_from_authors(weights, meta["constructor"], "ffc")
    with pytest.raises(AuthorsWeightsError, match="lack 1 of ours"):
        video_discriminator_from_authors({k: v for k, v in weights.items() if k != "b8.conv1.bias"},
                                         meta["constructor"])
    options = json.loads(json.dumps(meta["constructor"]))
    options["cfg"]["sampling"]["max_num_frames"] = 64
    with pytest.raises(AuthorsWeightsError, match="fourier_coefs.*differs"):
        video_discriminator_from_authors(weights, options)

"""What the stages pass to the pieces the unit tests check alone: the run config's loss weights reach
the stage-3 loss, the video discriminator's first frame is G(w0), and each stage's EMA follows the
configured half-life. A stage is built and stepped directly (one step, tiny networks, CPU)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

import styleinv_model.train.stage3 as stage3_module
from styleinv_model.train.cli import build_config
from styleinv_model.train.distributed import DistInfo

NO_AUGMENT = {"pipeline": "none", "target": None}


def _stage(stage: str, config: Path, manifest: Path, outdir: Path, generator: Path | None = None) -> Any:
    from styleinv_model.train.cli import stage_class

    cfg = build_config(stage, str(config), (), outdir, None, "cpu", 1, generator, None, None)
    torch.manual_seed(cfg.run.seed)  # as run_stage does before build()
    built = stage_class(stage)(cfg, manifest, DistInfo(), torch.device("cpu"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stage 3 warns that its encoder starts from random weights
        built.build()
    built.start(0)
    return built


def _params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().double() for k, v in module.named_parameters()}


def _assert_ema_step(before_ema: dict[str, torch.Tensor], after: torch.nn.Module, after_ema: torch.nn.Module,
                     beta: float, what: str) -> None:
    """after_ema == after + beta * (before_ema - after), per tensor, to float32 rounding of its scale."""
    current = _params(after)
    moved = 0.0
    for name, value in _params(after_ema).items():
        expected = current[name] + beta * (before_ema[name] - current[name])
        # float32 rounding of the lerp is relative to its inputs, not to the (possibly tiny) result
        scale = max(float(current[name].abs().max()), float(before_ema[name].abs().max()), 1e-12)
        diff = float((value - expected).abs().max())
        assert diff <= 8 * 2.0 ** -23 * scale, f"{what}.{name}: EMA off by {diff:.3g} (beta {beta})"
        moved = max(moved, float((current[name] - before_ema[name]).abs().max()))
    assert moved > 1e-4, f"{what}: the step did not move the weights, the EMA check saw nothing"


def test_stage3_loss_terms_use_the_run_configs_weights(tiny_config, tiny_faces: Path, tiny_stage1_checkpoint: Path,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # weights unlike every default (1, 10, 0.05) and unlike each other, so a swap or a default shows
    weights = {"lambda_adv": 0.3, "lambda_l2": 7.0, "lambda_reg": 0.11}
    config = tiny_config(stage3={**weights, "augment": NO_AUGMENT})
    stage = _stage("stage3", config, tiny_faces, tmp_path, tiny_stage1_checkpoint)
    calls = []
    original = stage3_module.styleinv_generator_losses

    def recording(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append((args, result))
        return result

    monkeypatch.setattr(stage3_module, "styleinv_generator_losses", recording)
    logged = stage.train_step(0)
    assert len(calls) == 1
    (logits, frame0, first, w_t, w0, *_), terms = calls[0]
    # the unweighted terms of Eq. 6, computed here from the tensors the stage passed
    adversarial = F.softplus(-logits.detach().double()).mean()
    reconstruction = (frame0.detach().double() - first.detach().double()).square().mean()
    latent = (w_t.detach().double() - w0.detach().double()[:, None]).norm(dim=2).mean()
    assert min(float(adversarial), float(reconstruction), float(latent)) > 1e-6  # every term is alive
    expected = {"adversarial": weights["lambda_adv"] * adversarial,
                "reconstruction": weights["lambda_l2"] * reconstruction,
                "latent": weights["lambda_reg"] * latent}
    for name, value in expected.items():
        assert float(terms[name].detach()) == pytest.approx(float(value), rel=1e-5), name
    assert float(logged["loss_G_adv"]) == pytest.approx(float(expected["adversarial"]), rel=1e-5)
    assert float(logged["loss_G_l2"]) == pytest.approx(float(expected["reconstruction"]), rel=1e-5)
    assert float(logged["loss_G_reg"]) == pytest.approx(float(expected["latent"]), rel=1e-5)


def test_stage3_discriminator_sees_g_of_w0_as_the_first_frame(tiny_config, tiny_faces: Path,
                                                              tiny_stage1_checkpoint: Path, tmp_path: Path,
                                                              assert_float32_close) -> None:
    config = tiny_config(stage3={"augment": NO_AUGMENT, "noise_mode": "const"})
    stage = _stage("stage3", config, tiny_faces, tmp_path, tiny_stage1_checkpoint)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    latents: list[torch.Tensor] = []
    hook = stage.D.register_forward_pre_hook(lambda module, args: seen.append((args[0].detach().clone(),
                                                                               args[1].detach().clone())))
    model = stage.model
    initial_latents = model.initial_latents
    model.initial_latents = lambda z, *a, **k: latents.append(initial_latents(z, *a, **k)) or latents[-1]
    try:
        frames = stage.fake_videos(0, stage3_module.STREAM_G)
        stage.D(frames["video"], frames["t"])
    finally:
        hook.remove()
        del model.initial_latents
    video, t = seen[0]
    assert torch.all(t[:, 0] == 0)
    G = model.image_generator
    with torch.no_grad():  # G(w0) straight from StyleGAN2's API: w0 at every layer, G's stored noise
        g_of_w0 = G.synthesis(latents[0][:, None].repeat(1, G.num_ws, 1), noise_mode="const")
    assert_float32_close(video[:, 0], g_of_w0, ulps=16, what="D's first frame vs G(w0)")
    # G(w0 + delta w_0) is another image here (the encoder is random), so showing it would fail above
    assert float((frames["frame0"].detach() - g_of_w0).abs().max()) > 1e-3
    # the other frames D sees are the generated ones
    assert torch.equal(video[:, 1:], frames["video"][:, 1:])


def _ema_beta_expected(batch: int, ema_kimg: float, rampup: float | None, kimg: float) -> float:
    half_life = ema_kimg * 1000.0 if rampup is None else min(ema_kimg * 1000.0, kimg * 1000.0 * rampup)
    return 0.5 ** (batch / half_life)


def test_stage1_ema_follows_the_configured_half_life(tiny_config, tiny_faces: Path, tmp_path: Path) -> None:
    # ema_kimg 1 with ramp-up 0.5: after the first step (4 images) the half-life is 2 images, beta 0.25
    config = tiny_config(stage1={"ema_kimg": 1.0, "ema_rampup": 0.5})
    stage = _stage("stage1", config, tiny_faces, tmp_path)
    before = _params(stage.G_ema)
    stage.train_step(0)
    beta = _ema_beta_expected(4, 1.0, 0.5, 4 / 1000)
    assert beta == pytest.approx(0.25)
    _assert_ema_step(before, stage.G, stage.G_ema, beta, "G_ema")


def test_stage3_ema_follows_the_configured_half_life(tiny_config, tiny_faces: Path, tiny_stage1_checkpoint: Path,
                                                     tmp_path: Path) -> None:
    config = tiny_config(stage3={"ema_kimg": 1.0, "ema_rampup": 0.5})
    stage = _stage("stage3", config, tiny_faces, tmp_path, tiny_stage1_checkpoint)
    before_t, before_e = _params(stage.temporal_ema), _params(stage.encoder_ema)
    stage.train_step(0)
    beta = _ema_beta_expected(4, 1.0, 0.5, 4 / 1000)
    assert beta == pytest.approx(0.25)
    _assert_ema_step(before_t, stage.model.temporal_style, stage.temporal_ema, beta, "temporal_style_ema")
    _assert_ema_step(before_e, stage.model.encoder, stage.encoder_ema, beta, "encoder_ema")


def test_stages_2_and_3_take_w_dim_from_the_generator_whatever_the_config_says(
        tiny_config, tiny_faces: Path, tiny_stage1_checkpoint: Path, tmp_path: Path, capsys) -> None:
    """A config written for a 64-d W (the demo's) with a 16-d generator, as the demo config met an
    official 512-d pickle: before, the first batch failed with a size mismatch."""
    config = tiny_config(stage2={"encoder": {"stage_channels": [8, 8, 16, 16], "stage_units": [1, 1, 1, 1],
                                             "se_reduction": 4, "w_dim": 64},
                                 "generator_checkpoint": str(tiny_stage1_checkpoint)},
                         stage3={"augment": NO_AUGMENT, "generator_checkpoint": str(tiny_stage1_checkpoint),
                                 "encoder": {"stage_channels": [8, 8, 16, 16], "stage_units": [1, 1, 1, 1],
                                             "se_reduction": 4, "style_dim": 16, "input_resolution": 32, "w_dim": 64},
                                 "temporal": {"w_dim": 64, "motion_dim": 16, "style_dim": 16, "num_frequencies": 8,
                                              "motion_z_distance": 4, "min_period": 4.0, "max_period": 16.0}})
    stage2 = _stage("stage2", config, tiny_faces, tmp_path / "runs2")
    assert stage2.encoder.config.w_dim == stage2.G.w_dim == 16
    losses = stage2.train_step(0)
    assert all(bool(torch.isfinite(v).all()) for v in losses.values())
    stage3 = _stage("stage3", config, tiny_faces, tmp_path / "runs3")
    assert stage3.config3.encoder.w_dim == stage3.config3.temporal.w_dim == 16
    assert all(bool(torch.isfinite(v).all()) for v in stage3.train_step(0).values())
    said = capsys.readouterr().out
    assert "stage2.encoder.w_dim 64 -> 16: taken from the generator" in said
    assert "stage3.temporal.w_dim 64 -> 16" in said


@pytest.mark.parametrize("layout", ["stylegan-v", "ffc"])
def test_stage3_trains_with_each_discriminator_layout(tiny_config, tiny_faces: Path, tiny_stage1_checkpoint: Path,
                                                      tmp_path: Path, layout: str) -> None:
    """`stage3.discriminator.layout` picks the video discriminator: two steps with ADA on and a lazy
    R1 step train D and G; the run's saved config rebuilds the same layout."""
    from styleinv_model.styleinv.generator import StyleInVConfig

    tiny_discriminator = {"channel_base": 256, "channel_max": 16, "concat_resolution": 8, "time_table_dim": 8,
                          "mapping_layers": 2}  # TINY_CONFIG's, with the layout
    config = tiny_config(stage3={"discriminator": {**tiny_discriminator, "layout": layout}})
    stage = _stage("stage3", config, tiny_faces, tmp_path, tiny_stage1_checkpoint)
    assert stage.D.config.layout == layout
    assert hasattr(stage.D, "first_frame_blocks") == (layout == "ffc")
    before = _params(stage.D)
    out0, out1 = stage.train_step(0), stage.train_step(1)
    for out in (out0, out1):
        assert all(bool(torch.isfinite(v).all()) for v in out.values()), out
    assert "r1_penalty" in out0 and float(out0["r1_penalty"]) > 0  # R1 reaches D's real-input gradient
    assert float(out1["augment_p"]) != 0.2  # ADA adjusted p from D's real logits
    after = _params(stage.D)
    moved = [name for name in before if not torch.equal(before[name], after[name])]
    if layout == "ffc":  # the frame-0 branch is trained too
        assert any(n.startswith("first_frame_blocks.") for n in moved)
        assert any(n.startswith("first_frame_epilogue.") for n in moved)
    assert any(n.startswith("blocks.") for n in moved) and any(n.startswith("mapping.") for n in moved)
    assert StyleInVConfig.from_dict(stage.config3.to_dict()).discriminator.layout == layout

"""Stage 3: StyleInV (the temporal style network and the modulated inversion encoder) over the
frozen stage-1 image generator, against the video discriminator (Eq. 6).

Per step:
* generator side: w0 = G.mapping(z); timestamps from the sparse sampler's rule (fractional
  offsets; the first timestamp is 0); frames G(w0 + E(G(w0), s_t)) with one constant noise buffer
  per video. D sees [G(w0), frame_t1, frame_t2, frame_t3] (the first frame shown to D is G(w0));
  loss = λ_adv·softplus(−D) + λ_L2·MSE(frame_0, G(w0)) + λ_reg·mean‖w_t − w0‖₂.
* discriminator: logistic loss on real sparse clips (frame indices relative to the clip start)
  and on generated videos, lazy R1 (γ, every ``r1_interval`` steps) at the un-augmented reals.
* ADA with one draw per video (every frame of a video gets the same augmentation).
* EMA of the temporal style network and the encoder.

All random draws come from generators seeded by (seed, step, stream), drawn for the global batch
and split ``rank::world_size``.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from styleinv_data.sampling import draw_sparse_rows
from styleinv_model.styleinv import StyleInVConfig, StyleInVGenerator, VideoDiscriminator, VideoDiscriminatorConfig
from styleinv_model.train.data import ClipStream, step_generator, to_float_images
from styleinv_model.train.distributed import average_gradients, rank_rows
from styleinv_model.train.ema import ema_beta, update_ema
from styleinv_model.train.loop import Stage
from styleinv_model.train.losses import (LazyRegularization, StyleInVLossWeights, discriminator_ns_loss, r1_loss,
                                         styleinv_generator_losses)
from styleinv_model.train.pretrained import load_frozen_generator
from styleinv_model.train.stage1 import STREAM_DEVICE_OFFSET, build_augmentation, select_rows

STREAM_G, STREAM_D, STREAM_AUG_G, STREAM_AUG_D = 10, 11, 12, 13
TRUNK_PREFIXES = ("input_layer.", "stages.")


def _tuples(values: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def styleinv_config(settings: Any, resolution: int, w_dim: int, log: Any = print) -> StyleInVConfig:
    """The preset (faces / sky_taichi) with the config's overrides; W and D fitted to G (its
    ``w_dim`` and resolution win over the config's)."""
    from styleinv_model.train.pretrained import with_generator_w_dim

    base = StyleInVConfig.faces() if settings.preset == "faces" else StyleInVConfig.sky_taichi()
    try:
        temporal = dataclasses.replace(base.temporal, **with_generator_w_dim(_tuples(settings.temporal), w_dim,
                                                                             "stage3.temporal", log))
        encoder = dataclasses.replace(base.encoder, **with_generator_w_dim(_tuples(settings.encoder), w_dim,
                                                                           "stage3.encoder", log))
        disc_values = {"resolution": resolution, "max_time_gap": settings.nframes,
                       "concat_resolution": min(16, resolution // 2), **_tuples(settings.discriminator)}
        discriminator = VideoDiscriminatorConfig(**disc_values)
    except TypeError as error:
        raise ValueError(f"stage3 network overrides: {error}") from error
    if discriminator.resolution != resolution:
        raise ValueError(f"stage3.discriminator.resolution {discriminator.resolution} differs from the image "
                         f"generator's {resolution}")
    return StyleInVConfig(temporal=temporal, encoder=encoder, discriminator=discriminator)


def load_encoder_trunk(encoder: nn.Module, path: str | Path) -> int:
    """Copy the stage-2 encoder's convolution trunk (input layer and IR-SE stages) into `encoder`.

    Returns the number of tensors copied; a trunk of another shape is a one-line error."""
    from styleinv_model.checkpoints.safetensors_io import load_checkpoint

    checkpoint = load_checkpoint(path)
    name = "encoder" if "encoder" in checkpoint.state_dicts else None
    if name is None:
        raise ValueError(f"{path} holds no inversion encoder (modules: {sorted(checkpoint.state_dicts)}): pass the "
                         "stage-2 checkpoint")
    source = {k: v for k, v in checkpoint.state_dicts[name].items() if k.startswith(TRUNK_PREFIXES)}
    target = {k: v for k, v in encoder.state_dict().items() if k.startswith(TRUNK_PREFIXES)}
    missing = sorted(set(target) - set(source))
    if missing or not source:
        raise ValueError(f"{path}: the stage-2 encoder trunk does not match the StyleInV encoder (first missing key "
                         f"{missing[0] if missing else '(all)'}); use the same encoder settings in both stages")
    for key, value in target.items():
        if tuple(source[key].shape) != tuple(value.shape):
            raise ValueError(f"{path}: encoder tensor {key} is {tuple(source[key].shape)} in the checkpoint but "
                             f"{tuple(value.shape)} here; use the same encoder settings in both stages")
    encoder.load_state_dict(source, strict=False)
    return len(source)


class Stage3(Stage):
    name = "stage3"

    def build(self) -> None:
        s = self.settings
        if self.manifest is None:
            raise ValueError("stage 3 needs --manifest (a manifest of the cropped dataset)")
        G = load_frozen_generator(s.generator_checkpoint).to(self.device)
        log = print if self.info.is_main else (lambda *_: None)
        self.config3 = styleinv_config(s, G.img_resolution, G.w_dim, log)
        self.model = StyleInVGenerator(G, self.config3).to(self.device)
        if s.encoder_checkpoint:
            load_encoder_trunk(self.model.encoder, s.encoder_checkpoint)
        else:
            warnings.warn("stage3: no encoder_checkpoint given, the encoder starts from random weights "
                          "(the paper initialises it from stage 2)", stacklevel=2)
        self.D = VideoDiscriminator(self.config3.discriminator).to(self.device)
        # the EMA model: copies of the temporal style network and encoder over the same (shared) G
        self.model_ema = copy.deepcopy(self.model, {id(G): G}).eval().requires_grad_(False)
        self.temporal_ema, self.encoder_ema = self.model_ema.temporal_style, self.model_ema.encoder
        self.model.temporal_style.train()
        self.model.encoder.train()
        self.D.train()
        self.d_reg = LazyRegularization(s.d_lr, tuple(s.betas), s.r1_interval)
        self.opt_G = torch.optim.Adam(self.generator_parameters(), lr=s.g_lr, betas=tuple(s.betas), eps=1e-8)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=self.d_reg.adjusted_lr, betas=self.d_reg.adjusted_betas,
                                      eps=1e-8)
        self.augment, self.ada = build_augmentation(s.augment, self.device)
        self.weights = StyleInVLossWeights(adversarial=s.lambda_adv, reconstruction=s.lambda_l2, latent=s.lambda_reg)
        self.stream = ClipStream(self.manifest, G.img_resolution, s.batch_size, self.info, nframes=s.nframes,
                                 max_dist=s.max_dist, seed=self.seed, mirror=s.mirror,
                                 threads=self.config.run.loader_threads)

    def generator_parameters(self) -> list[nn.Parameter]:
        return list(self.model.temporal_style.parameters()) + list(self.model.encoder.parameters())

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.model.image_generator, "temporal_style": self.model.temporal_style,
                "encoder": self.model.encoder, "D_video": self.D, "temporal_style_ema": self.temporal_ema,
                "encoder_ema": self.encoder_ema, "augment": self.augment}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_G, "D": self.opt_D}

    def loop_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        return {"ada": self.ada.state_dict() if self.ada else None, "styleinv": self.config3.to_dict()}, {}

    def load_loop_state(self, loop: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        if self.ada is not None and loop.get("ada"):
            self.ada.load_state_dict(loop["ada"])

    def start(self, step: int) -> None:
        self.batches = self.stream.batches(step)

    # ---------------------------------------------------------------- generation for training
    def fake_videos(self, step: int, stream: int) -> dict[str, torch.Tensor]:
        """Generated videos of this rank for `step`: D input, timestamps and the Eq. 6 tensors."""
        s = self.settings
        g = step_generator(self.seed, step, stream)
        rng = np.random.Generator(np.random.PCG64(int(torch.randint(0, 2**62, (), generator=g))))
        z = torch.randn(self.batch_size, self.model.z_dim, generator=g)
        t = torch.from_numpy(draw_sparse_rows(rng, np.full(self.batch_size, s.nframes), s.max_dist, fractional=True))
        t = t.to(torch.float32)
        motion = self.model.temporal_style.sample_motion_noise(self.batch_size, float(s.nframes), generator=g)
        noise = None
        if s.noise_mode == "video":  # the large draw happens on the training device
            g_device = step_generator(self.seed, step, stream + STREAM_DEVICE_OFFSET, device=self.device)
            noise = select_rows(self.model.image_generator.synthesis.make_noise(
                self.batch_size, generator=g_device, device=self.device), self.info)
        z, t, motion = (rank_rows(x, self.info).to(self.device) for x in (z, t, motion))
        with torch.no_grad():
            w0 = self.model.initial_latents(z)
        context = self.model.prepare(w0, noise_mode=s.noise_mode, noise=noise)
        codes = self.model.temporal_style.anchor_codes(motion, 0)
        w_t = self.model.latents(context, t, codes, 0)
        frames = self.model.frames_from_latents(context, w_t)
        shown = torch.cat([context.first_frame.unsqueeze(1), frames[:, 1:]], dim=1)
        return {"video": shown, "t": t, "frame0": frames[:, 0], "first": context.first_frame, "w_t": w_t, "w0": w0}

    def _rows(self) -> slice:
        return slice(self.info.rank, None, self.info.world_size)

    def _augment(self, videos: torch.Tensor, step: int, stream: int) -> torch.Tensor:
        """One draw per video for the global batch (same for all its frames), this rank's rows."""
        return self.augment.augment_rows(videos, self.batch_size, self._rows(), step_generator(self.seed, step, stream))

    # ---------------------------------------------------------------- one step
    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        s = self.settings
        frames_u8, t_real = next(self.batches)
        real = to_float_images(frames_u8, self.device)
        t_real = t_real.to(self.device)
        out: dict[str, torch.Tensor] = {}

        # generator side (temporal style + encoder); G and D frozen here
        self.D.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        fake = self.fake_videos(step, STREAM_G)
        logits = self.D(self._augment(fake["video"], step, STREAM_AUG_G), fake["t"])
        terms = styleinv_generator_losses(logits, fake["frame0"], fake["first"], fake["w_t"], fake["w0"], self.weights)
        terms["total"].backward()
        average_gradients(self.generator_parameters(), self.info)
        self.opt_G.step()
        self.D.requires_grad_(True)
        out.update({"loss_G": terms["total"].detach(), "loss_G_adv": terms["adversarial"].detach(),
                    "loss_G_l2": terms["reconstruction"].detach(), "loss_G_reg": terms["latent"].detach()})

        # discriminator
        self.opt_D.zero_grad(set_to_none=True)
        with torch.no_grad():
            fake_d = self.fake_videos(step, STREAM_D)
        regularize = self.d_reg.is_regularization_step(step)
        aug_g = step_generator(self.seed, step, STREAM_AUG_D)
        fake_logits = self.D(self.augment.augment_rows(fake_d["video"], self.batch_size, self._rows(), aug_g), fake_d["t"])
        real_input = real.detach().requires_grad_(regularize)
        real_logits = self.D(self.augment.augment_rows(real_input, self.batch_size, self._rows(), aug_g), t_real)
        d_terms = discriminator_ns_loss(real_logits, fake_logits)
        total = d_terms["total"]
        if regularize:
            r1 = r1_loss(real_logits, real_input, s.r1_gamma, s.r1_interval)
            total = total + r1
            out["r1_penalty"] = r1.detach()
        total.backward()
        average_gradients(self.D.parameters(), self.info)
        self.opt_D.step()
        out.update({"loss_D": d_terms["total"].detach(), "loss_D_real": d_terms["real"].detach(),
                    "loss_D_fake": d_terms["fake"].detach(), "real_sign": real_logits.detach().sign().mean()})
        if self.ada is not None:
            self.ada.observe(real_logits)
            self.ada.step(self.batch_size)
        out["augment_p"] = self.augment.p.detach().clone()

        beta = ema_beta(self.batch_size, s.ema_kimg, (step + 1) * self.batch_size / 1000.0, s.ema_rampup)
        update_ema(self.temporal_ema, self.model.temporal_style, beta)
        update_ema(self.encoder_ema, self.model.encoder, beta)
        return out

    # ---------------------------------------------------------------- outputs
    def ema_model(self) -> StyleInVGenerator:
        return self.model_ema

    @torch.no_grad()
    def snapshot(self, run_dir: Path, step: int) -> None:
        from styleinv_model.train.snapshots import save_image_grid, save_video_grid

        model = self.ema_model()
        g = torch.Generator().manual_seed(self.seed + 4321)
        count, frames = 4, 16
        z = torch.randn(count, model.z_dim, generator=g).to(self.device)
        t = torch.arange(frames, dtype=torch.float32).expand(count, -1).to(self.device)
        motion = model.temporal_style.sample_motion_noise(count, float(frames), generator=g).to(self.device)
        videos = model.frames_from_z(z, t, motion, noise_mode="const").cpu()
        save_video_grid(videos, run_dir / "snapshots" / f"videos-{step:08d}.mp4", fps=25)
        save_image_grid(videos[:, :: max(1, frames // 4)].reshape(-1, *videos.shape[2:]),
                        run_dir / "snapshots" / f"frames-{step:08d}.png", grid=(4, count))

    def evaluate(self, step: int) -> dict[str, float]:
        from styleinv_model.train.periodic_metrics import periodic_fvd

        return periodic_fvd(self, step)

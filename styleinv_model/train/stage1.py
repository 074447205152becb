"""Stage 1: the StyleGAN2 image generator on all frames of the dataset (StyleGAN2-ADA's recipe).

Per step: a generator phase (non-saturating loss through the augmented D; path-length
regularisation every ``pl_interval`` steps), a discriminator phase (logistic loss; lazy R1 every
``r1_interval`` steps, gradient at the un-augmented reals), the EMA update and the ADA update.
Lazily regularised optimisers get lr·c and betas^c with c = interval / (interval + 1).

Latents, style-mixing cut-offs, noise and augmentation draws come from generators seeded by
(seed, step, stream) and are drawn for the whole global batch, each rank taking rows
``rank::world_size``: one process and N processes train on the same samples.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from styleinv_model.stylegan2 import Discriminator, Generator, discriminator_config, generator_config
from styleinv_model.train.augment import AdaptiveConfig, AdaptiveProbability, AugmentPipeline
from styleinv_model.train.config import AugmentSettings
from styleinv_model.train.data import FrameStream, step_generator, to_float_images
from styleinv_model.train.distributed import DistInfo, average_gradients, rank_rows
from styleinv_model.train.ema import ema_beta, update_ema
from styleinv_model.train.loop import Stage
from styleinv_model.train.losses import LazyRegularization, discriminator_step_losses

# streams of step_generator
STREAM_G, STREAM_D, STREAM_AUG_G, STREAM_AUG_D, STREAM_PL = 0, 1, 2, 3, 4
STREAM_DEVICE_OFFSET = 1000  # streams of the on-device generators


def build_augmentation(settings: AugmentSettings, device: torch.device) -> tuple[AugmentPipeline, AdaptiveProbability | None]:
    """The ADA pipe at its initial p, and the adaptive controller (None for a fixed p or no pipeline)."""
    pipe = AugmentPipeline(settings.pipeline, p=settings.initial_p).to(device)
    if settings.target is None or settings.pipeline in ("none", ""):
        return pipe, None
    return pipe, AdaptiveProbability(pipe.p, AdaptiveConfig(settings.target, settings.speed_kimg, settings.interval))


def select_rows(noise: Any, info: DistInfo) -> Any:
    if noise is None or not info.enabled:
        return noise
    if isinstance(noise, dict):
        return {k: rank_rows(v, info) for k, v in noise.items()}
    return rank_rows(noise, info)


class ImageGANStage(Stage):
    """StyleGAN2 training shared by stage 1 and the style-transfer finetune."""

    name = "stage1"
    update_w_avg = True  # the finetune keeps the mapping network, and its w_avg, fixed

    # ---------------------------------------------------------------- construction
    def build_networks(self) -> tuple[Generator, Discriminator, Generator]:
        s = self.settings
        g_over = dict(s.generator)
        g_over.setdefault("use_noise", s.use_noise)
        G = Generator(generator_config(s.preset, resolution=s.resolution, **g_over))
        D = Discriminator(discriminator_config(s.preset, resolution=s.resolution, **dict(s.discriminator)))
        G_ema = copy.deepcopy(G)
        if s.init_from:
            from styleinv_model.train.pretrained import load_image_networks

            start = load_image_networks(s.init_from)
            for name, module in (("G", G), ("D", D), ("G_ema", G_ema)):
                source = start.get(name) or (start.get("G_ema") if name == "G" else start.get("G"))
                if source is None:
                    continue
                try:
                    module.load_state_dict(source.state_dict(), strict=True)
                except RuntimeError as error:
                    raise ValueError(f"{s.init_from}: network {name} does not fit the configured "
                                     f"{s.resolution}px {s.preset} networks ({str(error).splitlines()[0]})") from error
        return G, D, G_ema

    def build_stream(self) -> Any:
        if self.manifest is None:
            raise ValueError("stage 1 needs --manifest (a manifest of the cropped dataset)")
        return FrameStream(self.manifest, self.settings.resolution, self.settings.batch_size, self.info,
                           seed=self.seed, mirror=self.settings.mirror, threads=self.config.run.loader_threads)

    def trainable_generator_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.G.parameters() if p.requires_grad]

    def build(self) -> None:
        s = self.settings
        self.G, self.D, self.G_ema = self.build_networks()
        for module in (self.G, self.D, self.G_ema):
            module.to(self.device)
        self.G.train()
        self.D.train()
        self.G_ema.eval().requires_grad_(False)
        pl_weight = float(getattr(s, "pl_weight", 0.0))
        self.g_reg = LazyRegularization(s.g_lr, tuple(s.betas), int(getattr(s, "pl_interval", 4)) if pl_weight > 0 else None)
        self.d_reg = LazyRegularization(s.d_lr, tuple(s.betas), s.r1_interval)
        self.opt_G = torch.optim.Adam(self.trainable_generator_parameters(), lr=self.g_reg.adjusted_lr,
                                      betas=self.g_reg.adjusted_betas, eps=1e-8)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=self.d_reg.adjusted_lr, betas=self.d_reg.adjusted_betas,
                                      eps=1e-8)
        self.augment, self.ada = build_augmentation(s.augment, self.device)
        self.pl_mean = torch.zeros((), device=self.device)
        self.stream = self.build_stream()
        self.grid_z = torch.randn(16, self.G.z_dim, generator=torch.Generator().manual_seed(self.seed + 1234))

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, "G_ema": self.G_ema, "augment": self.augment}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_G, "D": self.opt_D}

    def loop_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        return {"ada": self.ada.state_dict() if self.ada else None}, {"pl_mean": self.pl_mean}

    def load_loop_state(self, loop: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        if self.ada is not None and loop.get("ada"):
            self.ada.load_state_dict(loop["ada"])
        if "pl_mean" in tensors:
            self.pl_mean = tensors["pl_mean"].to(self.device)

    def start(self, step: int) -> None:
        self.batches = self.stream.batches(step)

    # ---------------------------------------------------------------- one step
    def _latents(self, step: int, stream: int) -> tuple[torch.Tensor, Any, torch.Generator]:
        """z [B_local, z_dim] and per-sample noise for this rank, drawn for the global batch.

        The large draws (noise buffers) are made on the training device from a generator seeded
        by (seed, step, stream), so a GPU run never waits for the host; z and the scalar draws
        come from the returned CPU generator."""
        g = step_generator(self.seed, step, stream)
        z = torch.randn(self.batch_size, self.G.z_dim, generator=g)
        noise = None
        if self.G.config.use_noise:
            g_device = step_generator(self.seed, step, stream + STREAM_DEVICE_OFFSET, device=self.device)
            noise = select_rows(self.G.synthesis.make_noise(self.batch_size, generator=g_device, device=self.device),
                                self.info)
        return rank_rows(z, self.info).to(self.device), noise, g

    def _mapping(self, z: torch.Tensor, g: torch.Generator, update_emas: bool) -> torch.Tensor:
        ws = self.G.mapping(z, None, update_emas=update_emas)
        mixing = float(getattr(self.settings, "style_mixing", 0.0))
        if mixing > 0:
            cutoff = int(torch.randint(1, ws.shape[1], (), generator=g))
            use = float(torch.rand((), generator=g)) < mixing
            z2 = rank_rows(torch.randn(self.batch_size, self.G.z_dim, generator=g), self.info)[:z.shape[0]].to(self.device)
            if use:
                ws2 = self.G.mapping(z2, None, update_emas=False)
                ws = torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)
        return ws

    def _augment(self, images: torch.Tensor, step: int, stream: int) -> Any:
        """Augmentation with this step's draws for the global batch, applied to this rank's rows."""
        g = step_generator(self.seed, step, stream)
        rows = slice(self.info.rank, None, self.info.world_size)

        def apply(x: torch.Tensor) -> torch.Tensor:
            return self.augment.augment_rows(x, self.batch_size, rows, generator=g)

        return apply

    def generator_phase(self, step: int) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        self.D.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        z, noise, g = self._latents(step, STREAM_G)
        ws = self._mapping(z, g, update_emas=self.update_w_avg)
        images = self.G.synthesis(ws, noise=noise)
        augment = self._augment(images, step, STREAM_AUG_G)
        logits = self.D(augment(images))
        loss = F.softplus(-logits).mean()
        loss.backward()
        out["loss_G"] = loss.detach()
        if self.g_reg.is_regularization_step(step):
            out["pl_penalty"] = self.path_length_phase(step)
        average_gradients(self.trainable_generator_parameters(), self.info)
        if self.info.enabled and self.update_w_avg:  # a linear blend: the mean over ranks is the global one
            torch.distributed.all_reduce(self.G.mapping.w_avg)
            self.G.mapping.w_avg /= self.info.world_size
        self.opt_G.step()
        self.D.requires_grad_(True)
        return out

    def path_length_phase(self, step: int) -> torch.Tensor:
        s = self.settings
        z, noise, g = self._latents(step, STREAM_PL)
        shrink = max(1, int(s.pl_batch_shrink))
        keep = max(1, z.shape[0] // shrink)
        z = z[:keep]
        noise = {k: v[:keep] for k, v in noise.items()} if noise is not None else None
        ws = self._mapping(z, g, update_emas=False)
        images = self.G.synthesis(ws, noise=noise)
        global_keep = max(1, self.batch_size // shrink)  # drawn for the global batch, this rank's rows
        g_device = step_generator(self.seed, step, STREAM_PL + 2 * STREAM_DEVICE_OFFSET, device=self.device)
        pl_noise = torch.randn((global_keep, *images.shape[1:]), generator=g_device, device=self.device)
        pl_noise = rank_rows(pl_noise, self.info)[:keep] / (images.shape[2] * images.shape[3]) ** 0.5
        (grads,) = torch.autograd.grad((images * pl_noise).sum(), ws, create_graph=True)
        lengths = grads.square().sum(2).mean(1).sqrt()
        batch_mean = lengths.detach().mean()
        if self.info.enabled:
            torch.distributed.all_reduce(batch_mean)
            batch_mean = batch_mean / self.info.world_size
        self.pl_mean = self.pl_mean.lerp(batch_mean, s.pl_decay)
        penalty = (lengths - self.pl_mean).square()
        loss = penalty.mean() * s.pl_weight * s.pl_interval
        (loss + images[:, 0, 0, 0].sum() * 0).backward()
        return penalty.detach().mean()

    def discriminator_phase(self, step: int, real: torch.Tensor) -> dict[str, torch.Tensor]:
        s = self.settings
        self.opt_D.zero_grad(set_to_none=True)
        with torch.no_grad():
            z, noise, g = self._latents(step, STREAM_D)
            ws = self._mapping(z, g, update_emas=False)
            fake = self.G.synthesis(ws, noise=noise)
        regularize = self.d_reg.is_regularization_step(step)
        terms = discriminator_step_losses(self.D, real, fake, s.r1_gamma, regularize, s.r1_interval,
                                          augment=self._augment(real, step, STREAM_AUG_D))
        terms["total"].backward()
        average_gradients(self.D.parameters(), self.info)
        self.opt_D.step()
        if self.ada is not None:
            self.ada.observe(terms["real_logits"])
        out = {"loss_D": terms["total"].detach() - terms["r1"].detach(), "loss_D_real": terms["real"].detach(),
               "loss_D_fake": terms["fake"].detach(), "real_sign": terms["real_logits"].sign().mean()}
        if regularize:
            out["r1_penalty"] = terms["r1"].detach()
        return out

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        real = to_float_images(next(self.batches), self.device)
        losses = self.generator_phase(step)
        losses.update(self.discriminator_phase(step, real))
        s = self.settings
        kimg = (step + 1) * self.batch_size / 1000.0
        update_ema(self.G_ema, self.G, ema_beta(self.batch_size, s.ema_kimg, kimg, s.ema_rampup))
        if self.ada is not None:
            self.ada.step(self.batch_size)
        losses["augment_p"] = self.augment.p.detach().clone()
        return losses

    # ---------------------------------------------------------------- outputs
    @torch.no_grad()
    def snapshot(self, run_dir: Path, step: int) -> None:
        from styleinv_model.train.snapshots import save_image_grid

        images = self.G_ema(self.grid_z.to(self.device), noise_mode="const")
        save_image_grid(images.cpu(), run_dir / "snapshots" / f"fakes-{step:08d}.png")

    def evaluate(self, step: int) -> dict[str, float]:
        from styleinv_model.train.periodic_metrics import periodic_fid

        return periodic_fid(self, step)


class Stage1(ImageGANStage):
    name = "stage1"

"""Stage 2: the pSp-style inversion encoder into W, over the frozen stage-1 generator.

x (a real frame) -> w = w_avg + E(x) -> x̂ = G.synthesis(w broadcast to every layer, G's stored
noise); loss = l2_weight·MSE(x̂, x) + lpips_weight·LPIPS(x̂, x) + id_weight·(1 − cos(ArcFace(x̂),
ArcFace(x))). LPIPS and the identity loss load their pretrained weights from local files; when a
file is absent that term is off and a one-line notice says so. pSp's optimiser (Ranger) and learning
rate by default; ``optimizer: adam`` for plain Adam.
The encoder's convolution trunk initialises stage 3's modulated encoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from styleinv_model.styleinv.encoder import EncoderConfig, InversionEncoder
from styleinv_model.train.data import FrameStream, to_float_images
from styleinv_model.train.distributed import average_gradients
from styleinv_model.train.loop import Stage
from styleinv_model.train.pretrained import load_frozen_generator, with_generator_w_dim

LPIPS_MIN_SIZE = 64  # AlexNet's first layers need at least this many pixels


def encoder_config(settings: Any, w_dim: int, log: Any = print) -> EncoderConfig:
    """The encoder of the config, predicting the given generator's ``w_dim`` (whatever the config says)."""
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.encoder.items()}
    values = with_generator_w_dim({"input_resolution": settings.input_resolution, **values}, w_dim,
                                  "stage2.encoder", log)
    try:
        if "stage_units" in values:  # an explicit trunk shape overrides the IR-SE depth
            config = EncoderConfig(**values)
        else:
            config = EncoderConfig.ir_se(settings.encoder_depth, **values)
    except TypeError as error:
        raise ValueError(f"stage2.encoder overrides: {error}") from error
    return config


def build_optimizer(settings: Any, params: Any) -> torch.optim.Optimizer:
    """Ranger (pSp's choice) or Adam, with the config's betas or the optimiser's own."""
    if settings.optimizer == "ranger":
        from styleinv_model.train.ranger import DEFAULT_BETAS, Ranger

        return Ranger(params, lr=settings.lr, betas=tuple(settings.betas or DEFAULT_BETAS))
    return torch.optim.Adam(params, lr=settings.lr, betas=tuple(settings.betas or (0.9, 0.999)))


class Stage2(Stage):
    name = "stage2"

    def build(self) -> None:
        s = self.settings
        if self.manifest is None:
            raise ValueError("stage 2 needs --manifest (a manifest of the cropped dataset)")
        self.G = load_frozen_generator(s.generator_checkpoint).to(self.device)
        log = print if self.info.is_main else (lambda *_: None)
        self.encoder = InversionEncoder(encoder_config(s, self.G.w_dim, log)).to(self.device).train()
        self.optimizer = build_optimizer(s, self.encoder.parameters())
        from styleinv_model.train.perceptual import load_optional_perceptual

        lpips, identity = load_optional_perceptual(s.lpips_weight, s.id_weight, lpips_alexnet=s.lpips_alexnet,
                                                   lpips_linear=s.lpips_linear, arcface=s.arcface, log=log)
        self.lpips = lpips.to(self.device) if lpips is not None else None
        self.identity = identity.to(self.device) if identity is not None else None
        self.stream = FrameStream(self.manifest, self.G.img_resolution, s.batch_size, self.info, seed=self.seed,
                                  mirror=s.mirror, threads=self.config.run.loader_threads)
        self.grid = None

    def modules(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "G": self.G}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"encoder": self.optimizer}

    def start(self, step: int) -> None:
        self.batches = self.stream.batches(step)

    def invert(self, encoder: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(w [N, w_dim], reconstruction [N, 3, R, R]) of real images in [-1, 1]."""
        w = encoder(images)
        if self.settings.start_from_latent_avg:
            w = w + self.G.mapping.w_avg.to(w.dtype)
        ws = w.unsqueeze(1).expand(-1, self.G.num_ws, -1)
        return w, self.G.synthesis(ws, noise_mode="const")

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        s = self.settings
        images = to_float_images(next(self.batches), self.device)
        self.optimizer.zero_grad(set_to_none=True)
        _, recon = self.invert(self.encoder, images)
        out: dict[str, torch.Tensor] = {}
        l2 = F.mse_loss(recon, images)
        total = s.l2_weight * l2
        out["loss_l2"] = l2.detach()
        if self.lpips is not None:
            a, b = recon, images
            if a.shape[-1] < LPIPS_MIN_SIZE:
                a = F.interpolate(a, size=LPIPS_MIN_SIZE, mode="bilinear", align_corners=False)
                b = F.interpolate(b, size=LPIPS_MIN_SIZE, mode="bilinear", align_corners=False)
            lpips = self.lpips(a, b).mean()
            total = total + s.lpips_weight * lpips
            out["loss_lpips"] = lpips.detach()
        if self.identity is not None:
            identity = self.identity(recon, images).loss
            total = total + s.id_weight * identity
            out["loss_id"] = identity.detach()
        total.backward()
        average_gradients(self.encoder.parameters(), self.info)
        self.optimizer.step()
        out["loss"] = total.detach()
        if self.grid is None:
            self.grid = images[:8].detach().cpu()
        return out

    @torch.no_grad()
    def snapshot(self, run_dir: Path, step: int) -> None:
        from styleinv_model.train.snapshots import save_image_grid

        if self.grid is None:
            return
        images = self.grid.to(self.device)
        self.encoder.eval()
        try:
            _, recon = self.invert(self.encoder, images)
        finally:
            self.encoder.train()
        pairs = torch.stack([images, recon], dim=1).reshape(-1, *images.shape[1:])
        save_image_grid(pairs.cpu(), run_dir / "snapshots" / f"reconstructions-{step:08d}.png",
                        grid=(2, images.shape[0]))

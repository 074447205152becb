"""Style-transfer finetune: the image generator learns a small stylised image set (cartoons,
MetFaces, ...) with the mapping network and every synthesis block at resolution <= 32 frozen, so
W keeps its meaning and a StyleInV network trained on the original generator drives the finetuned
one unchanged (``styleinv-generate --checkpoint STYLEINV --generator FINETUNED``).

G and G_ema both start from the source checkpoint's G_ema (so the frozen layers are identical in
both and stay so); D starts from the source D. The mapping network's w_avg is not updated.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

from torch import nn

from styleinv_model.stylegan2 import Discriminator, Generator, discriminator_config
from styleinv_model.train.data import ImageFolderStream
from styleinv_model.train.pretrained import load_image_networks
from styleinv_model.train.stage1 import ImageGANStage


def frozen_parameter_names(generator: Generator, freeze_resolution: int) -> list[str]:
    """Names of G's parameters that the finetune keeps fixed: the mapping network and the synthesis
    blocks (convolutions, toRGB, constant input) at resolutions <= `freeze_resolution`."""
    names = [f"mapping.{n}" for n, _ in generator.mapping.named_parameters()]
    for res in generator.synthesis.block_resolutions:
        if res <= freeze_resolution:
            block = getattr(generator.synthesis, f"b{res}")
            names += [f"synthesis.b{res}.{n}" for n, _ in block.named_parameters()]
    return names


def freeze_for_finetune(generator: Generator, freeze_resolution: int) -> list[str]:
    """Turn gradients off for :func:`frozen_parameter_names`; returns those names."""
    names = set(frozen_parameter_names(generator, freeze_resolution))
    for name, parameter in generator.named_parameters():
        if name in names:
            parameter.requires_grad_(False)
    return sorted(names)


class Finetune(ImageGANStage):
    name = "finetune"
    update_w_avg = False

    def build_networks(self) -> tuple[Generator, Discriminator, Generator]:
        s = self.settings
        source = load_image_networks(s.generator_checkpoint)
        start = source.get("G_ema") or source.get("G")
        if not isinstance(start, Generator):
            raise ValueError(f"{s.generator_checkpoint} holds no image generator to finetune")
        G = copy.deepcopy(start).train().requires_grad_(True)
        G_ema = copy.deepcopy(start)
        D = source.get("D")
        if D is None:
            warnings.warn(f"{s.generator_checkpoint} holds no discriminator: the finetune starts a fresh one",
                          stacklevel=2)
            D = Discriminator(discriminator_config("auto", resolution=G.img_resolution))
        D.requires_grad_(True)
        self.frozen = freeze_for_finetune(G, s.freeze_resolution)
        return G, D, G_ema

    def build_stream(self) -> Any:
        s = self.settings
        return ImageFolderStream(s.images, self.G.img_resolution, s.batch_size, self.info, seed=self.seed,
                                 mirror=s.mirror, threads=self.config.run.loader_threads)

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, "G_ema": self.G_ema, "augment": self.augment}

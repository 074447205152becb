"""Adaptive discriminator augmentation (ADA, Karras et al. 2020), in our own code.

Three groups of augmentations, each drawn independently per image (or per VIDEO in video mode)
and applied with probability ``p * strength`` each:

* **blit** (``b``): x-flip, rotation by a multiple of 90 degrees, integer translation (up to
  ``xint_max`` of the size). Applied exactly, as a gather of the reflection-extended image:
  no filtering, bit-exact, differentiable.
* **geometric** (``g``): isotropic scale (log2-normal), rotation (uniform in +-``rotate_max``*pi,
  applied before and after the anisotropic scale with probability ``1 - sqrt(1 - p)`` each, so
  that some rotation happens with probability ``p``), anisotropic scale, fractional translation
  (normal, ``xfrac_std`` of the size). Composed into one affine map and applied by the
  alias-suppressed resampler in `affine_resample.py` (reflection pad, 2x wavelet upsample,
  bilinear sample, wavelet decimation).
* **colour** (``c``): brightness (additive, normal), contrast (log2-normal), luma flip
  (Householder reflection about the luma axis), hue rotation (about the luma axis, uniform),
  saturation (log2-normal). Composed into one 4x4 affine colour matrix. Three-channel images;
  one-channel images get the luma-averaged matrix.

Pipelines: any combination of the letters ``b``, ``g``, ``c`` (``"bg"``, ``"bgc"``, ...), the
names ``"blit"``, ``"geom"``, ``"color"``, and ``"none"`` / ``""`` (identity). ``"bgrc"``, the
name in the StyleInV paper, is accepted as an alias of ``"bgc"`` (ADA has no ``r`` group and the
authors' configs run ``"bgc"``). The filter, noise and cutout groups of ADA are not implemented.

Pixel values are assumed to be in [-1, 1] (brightness is an offset in those units).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from styleinv_model.train.affine_resample import resample_affine

PIPELINE_ALIASES: dict[str, str] = {
    "": "", "none": "", "noaug": "", "blit": "b", "geom": "g", "color": "c", "colour": "c",
    "bgrc": "bgc",
}
GROUP_LETTERS = "bgc"


@dataclass(frozen=True)
class AugmentConfig:
    """Strength multipliers (0 disables an augmentation) and ranges of every augmentation."""

    # blit
    xflip: float = 0.0
    rotate90: float = 0.0
    xint: float = 0.0
    xint_max: float = 0.125
    # geometric
    scale: float = 0.0
    rotate: float = 0.0
    aniso: float = 0.0
    xfrac: float = 0.0
    scale_std: float = 0.2
    rotate_max: float = 1.0
    aniso_std: float = 0.2
    xfrac_std: float = 0.125
    # colour
    brightness: float = 0.0
    contrast: float = 0.0
    lumaflip: float = 0.0
    hue: float = 0.0
    saturation: float = 0.0
    brightness_std: float = 0.2
    contrast_std: float = 0.5
    hue_max: float = 1.0
    saturation_std: float = 1.0

    @classmethod
    def from_pipeline(cls, pipeline: str, **overrides: float) -> "AugmentConfig":
        """The config of a pipeline name (``"bgc"``, ``"bg"``, ``"blit"``, ...) plus overrides."""
        letters = parse_pipeline(pipeline)
        strengths: dict[str, float] = {}
        if "b" in letters:
            strengths.update(xflip=1.0, rotate90=1.0, xint=1.0)
        if "g" in letters:
            strengths.update(scale=1.0, rotate=1.0, aniso=1.0, xfrac=1.0)
        if "c" in letters:
            strengths.update(brightness=1.0, contrast=1.0, lumaflip=1.0, hue=1.0, saturation=1.0)
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(f"unknown augmentation option(s) {unknown}; valid: {sorted(names)}")
        strengths.update(overrides)
        return cls(**strengths)


def parse_pipeline(pipeline: str) -> str:
    """The group letters (subset of ``"bgc"``, in that order) of a pipeline name."""
    name = pipeline.strip().lower()
    name = PIPELINE_ALIASES.get(name, name)
    bad = sorted(set(name) - set(GROUP_LETTERS))
    if bad:
        raise ValueError(f"unknown augmentation pipeline {pipeline!r}: letters {bad} are not groups; "
                         f"use letters from 'b' (blit), 'g' (geometric), 'c' (colour), e.g. 'bgc', "
                         f"or one of {sorted(k for k in PIPELINE_ALIASES if k)}")
    return "".join(letter for letter in GROUP_LETTERS if letter in name)


# --------------------------------------------------------------------------- batched matrices

def _matrix3(rows: list[list[torch.Tensor | float]], like: torch.Tensor) -> torch.Tensor:
    """[N, 3, 3] from a 3x3 nested list of scalars or [N] tensors."""
    return torch.stack([torch.stack([torch.as_tensor(v, dtype=like.dtype, device=like.device).expand_as(like)
                                     for v in row], dim=-1) for row in rows], dim=-2)


def _translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    return _matrix3([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx)


def _scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    return _matrix3([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx)


def _rotate2d(theta: torch.Tensor) -> torch.Tensor:
    cos, sin = torch.cos(theta), torch.sin(theta)
    return _matrix3([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]], theta)


def _luma_axis(device: torch.device) -> torch.Tensor:
    return torch.tensor([1.0, 1.0, 1.0], device=device) / math.sqrt(3.0)


def _colour_translate(offset: torch.Tensor) -> torch.Tensor:
    matrix = torch.eye(4, device=offset.device).repeat(offset.shape[0], 1, 1)
    matrix[:, :3, 3] = offset[:, None]
    return matrix


def _colour_scale(factor: torch.Tensor) -> torch.Tensor:
    matrix = torch.eye(4, device=factor.device).repeat(factor.shape[0], 1, 1)
    matrix[:, :3, :3] = matrix[:, :3, :3] * factor[:, None, None]
    return matrix


def _colour_linear(linear: torch.Tensor) -> torch.Tensor:
    """[N, 4, 4] from a [N, 3, 3] linear part."""
    matrix = torch.eye(4, device=linear.device).repeat(linear.shape[0], 1, 1)
    matrix[:, :3, :3] = linear
    return matrix


def _rotation_about(axis: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """[N, 3, 3] rotations by `theta` [N] about the unit `axis` [3] (Rodrigues)."""
    x, y, z = axis.tolist()
    cross = torch.tensor([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]], device=theta.device)
    outer = torch.outer(axis, axis)
    eye = torch.eye(3, device=theta.device)
    cos, sin = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    return cos * eye + sin * cross + (1 - cos) * outer


# --------------------------------------------------------------------------- blit (exact)

def _reflect_index(index: torch.Tensor, size: int) -> torch.Tensor:
    """Fold integer positions into [0, size) by mirror reflection without edge repetition."""
    if size == 1:
        return torch.zeros_like(index)
    period = 2 * size - 2
    index = torch.remainder(index, period)
    return torch.where(index >= size, period - index, index)


def apply_blit(images: torch.Tensor, flip: torch.Tensor, quarter_turns: torch.Tensor,
               shift_x: torch.Tensor, shift_y: torch.Tensor) -> torch.Tensor:
    """Exact blit of `images` [N, C, H, W]: per image x-flip (bool [N]), rotation by
    `quarter_turns` [N] x 90 degrees (the same as ``torch.rot90(image, k, dims=(-2, -1))``;
    square images only when non-zero), then translation of the content by (`shift_x`, `shift_y`)
    whole pixels with mirrored content entering at the borders."""
    num, channels, height, width = images.shape
    device = images.device
    if bool((quarter_turns % 4 != 0).any()) and height != width:
        raise ValueError(f"rotate90 needs square images, got {height}x{width}; set rotate90=0")
    # Doubled centred coordinates of the output pixels: odd integers, exact.
    cx = (2 * torch.arange(width, device=device) + 1 - width)[None, None, :].expand(num, height, width)
    cy = (2 * torch.arange(height, device=device) + 1 - height)[None, :, None].expand(num, height, width)
    # Undo the translation (output -> input reads the content from -shift).
    cx = cx - 2 * shift_x.to(device).long()[:, None, None]
    cy = cy - 2 * shift_y.to(device).long()[:, None, None]
    # Undo the rotation: read from the position rotated by -quarter_turns.
    turns = (quarter_turns.to(device).long() % 4)[:, None, None]
    rx = torch.where(turns == 0, cx, torch.where(turns == 1, -cy, torch.where(turns == 2, -cx, cy)))
    ry = torch.where(turns == 0, cy, torch.where(turns == 1, cx, torch.where(turns == 2, -cy, -cx)))
    # Undo the flip.
    rx = torch.where(flip.to(device)[:, None, None], -rx, rx)
    src_x = _reflect_index(torch.div(rx + width - 1, 2, rounding_mode="floor"), width)
    src_y = _reflect_index(torch.div(ry + height - 1, 2, rounding_mode="floor"), height)
    flat = (src_y * width + src_x).reshape(num, 1, height * width).expand(num, channels, height * width)
    return images.reshape(num, channels, height * width).gather(2, flat).reshape(images.shape)


def apply_colour(images: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Apply [N, 4, 4] affine colour matrices to `images` [N, 3 or 1, H, W]."""
    num, channels, height, width = images.shape
    matrix = matrix.to(device=images.device, dtype=images.dtype)
    flat = images.reshape(num, channels, height * width)
    if channels == 3:
        out = matrix[:, :3, :3] @ flat + matrix[:, :3, 3:]
    elif channels == 1:
        gain = matrix[:, :3, :3].sum(dim=2).mean(dim=1)
        offset = matrix[:, :3, 3].mean(dim=1)
        out = flat * gain[:, None, None] + offset[:, None, None]
    else:
        raise ValueError(f"colour augmentation needs 1 or 3 channels, got {channels}; "
                         f"drop 'c' from the pipeline")
    return out.reshape(images.shape)


# --------------------------------------------------------------------------- the pipeline

@dataclass
class AugmentParams:
    """One draw of every augmentation, per video (or per image): the exact quantities applied."""

    flip: torch.Tensor          # bool [B]
    quarter_turns: torch.Tensor  # long [B]
    shift_x: torch.Tensor       # long [B], whole pixels
    shift_y: torch.Tensor       # long [B]
    geometric: torch.Tensor     # [B, 3, 3] output -> input, centred pixel units
    colour: torch.Tensor        # [B, 4, 4]

    def rows(self, index: slice | torch.Tensor) -> "AugmentParams":
        """The parameters of some videos (e.g. one rank's rows ``rank::world_size``)."""
        return AugmentParams(*(getattr(self, f.name)[index] for f in dataclasses.fields(self)))

    def repeat_frames(self, frames: int) -> "AugmentParams":
        """Each video's parameters repeated for its `frames` consecutive frames."""
        return AugmentParams(*(getattr(self, f.name).repeat_interleave(frames, dim=0)
                               for f in dataclasses.fields(self)))


class AugmentPipeline(nn.Module):
    """ADA augmentation with probability buffer `p` (a 0-d float tensor the trainer updates).

    ``pipe(images)`` for images [N, C, H, W]; ``pipe(videos)`` for videos [B, T, C, H, W] or
    ``pipe(frames, frames_per_video=T)`` for [B*T, C, H, W] draws ONE set of parameters per
    video and applies it to all its frames. Pass a `torch.Generator` for reproducible draws.
    """

    def __init__(self, config: AugmentConfig | str = "bgc", p: float = 0.0) -> None:
        super().__init__()
        self.config = AugmentConfig.from_pipeline(config) if isinstance(config, str) else config
        self.register_buffer("p", torch.tensor(float(p), dtype=torch.float32))

    # ---- sampling ------------------------------------------------------------------------
    def sample_params(self, num: int, height: int, width: int,
                      generator: torch.Generator | None = None) -> AugmentParams:
        """Draw `num` parameter sets. Every draw is made whatever `p` and the strengths are, so a
        generator's stream (and the result for a given seed) does not depend on them."""
        cfg = self.config
        device = generator.device if generator is not None else torch.device("cpu")
        p = float(self.p.clamp(0, 1))

        def uniform() -> torch.Tensor:
            return torch.rand(num, generator=generator, device=device).cpu()

        def normal() -> torch.Tensor:
            return torch.randn(num, generator=generator, device=device).cpu()

        def gate(strength: float) -> torch.Tensor:
            return uniform() < min(p * strength, 1.0)

        # blit
        flip = (uniform() < 0.5) & gate(cfg.xflip)
        quarter_turns = torch.where(gate(cfg.rotate90), torch.floor(uniform() * 4).long().clamp(max=3),
                                    torch.zeros(num, dtype=torch.long))
        use_xint = gate(cfg.xint)
        shift_x = torch.round((uniform() * 2 - 1) * cfg.xint_max * width).long()
        shift_y = torch.round((uniform() * 2 - 1) * cfg.xint_max * height).long()
        shift_x = torch.where(use_xint, shift_x, torch.zeros_like(shift_x))
        shift_y = torch.where(use_xint, shift_y, torch.zeros_like(shift_y))

        # geometric, output -> input, composed in ADA's order
        matrix = torch.eye(3).repeat(num, 1, 1)
        iso = torch.exp2(normal() * cfg.scale_std)
        iso = torch.where(gate(cfg.scale), iso, torch.ones_like(iso))
        matrix = matrix @ _scale2d(iso, iso)
        p_rotate = 1.0 - math.sqrt(max(1.0 - min(p * cfg.rotate, 1.0), 0.0))
        theta = (uniform() * 2 - 1) * math.pi * cfg.rotate_max
        theta = torch.where(uniform() < p_rotate, theta, torch.zeros_like(theta))
        matrix = matrix @ _rotate2d(-theta)
        aniso = torch.exp2(normal() * cfg.aniso_std)
        aniso = torch.where(gate(cfg.aniso), aniso, torch.ones_like(aniso))
        matrix = matrix @ _scale2d(aniso, 1 / aniso)
        theta = (uniform() * 2 - 1) * math.pi * cfg.rotate_max
        theta = torch.where(uniform() < p_rotate, theta, torch.zeros_like(theta))
        matrix = matrix @ _rotate2d(-theta)
        use_xfrac = gate(cfg.xfrac)
        frac_x = torch.where(use_xfrac, normal() * cfg.xfrac_std * width, torch.zeros(num))
        frac_y = torch.where(use_xfrac, normal() * cfg.xfrac_std * height, torch.zeros(num))
        matrix = matrix @ _translate2d(frac_x, frac_y)

        # colour, applied as colour = M_last @ ... @ M_first
        luma = _luma_axis(torch.device("cpu"))
        colour = torch.eye(4).repeat(num, 1, 1)
        brightness = torch.where(gate(cfg.brightness), normal() * cfg.brightness_std, torch.zeros(num))
        colour = _colour_translate(brightness) @ colour
        contrast = torch.where(gate(cfg.contrast), torch.exp2(normal() * cfg.contrast_std), torch.ones(num))
        colour = _colour_scale(contrast) @ colour
        reflect = ((uniform() < 0.5) & gate(cfg.lumaflip)).float()
        householder = torch.eye(3) - 2 * torch.outer(luma, luma) * reflect[:, None, None]
        colour = _colour_linear(householder) @ colour
        hue = torch.where(gate(cfg.hue), (uniform() * 2 - 1) * math.pi * cfg.hue_max, torch.zeros(num))
        colour = _colour_linear(_rotation_about(luma, hue)) @ colour
        use_saturation = gate(cfg.saturation)
        saturation = torch.exp2(normal() * cfg.saturation_std)
        along = torch.outer(luma, luma)
        saturate = along + (torch.eye(3) - along) * saturation[:, None, None]
        # an un-drawn saturation is exactly the identity (along + (I - along) may round)
        saturate = torch.where(use_saturation[:, None, None], saturate, torch.eye(3))
        colour = _colour_linear(saturate) @ colour
        return AugmentParams(flip, quarter_turns, shift_x, shift_y, matrix, colour)

    # ---- application ---------------------------------------------------------------------
    @staticmethod
    def apply(images: torch.Tensor, params: AugmentParams) -> torch.Tensor:
        """Apply per-image `params` (length N) to `images` [N, C, H, W]. Images whose draw is the
        identity for a group skip that group, so they come back bit-identical."""
        out = images
        blit = params.flip | (params.quarter_turns % 4 != 0) | (params.shift_x != 0) | (params.shift_y != 0)
        if bool(blit.any()):
            out = _on_subset(out, blit, lambda x, i: apply_blit(
                x, params.flip[i], params.quarter_turns[i], params.shift_x[i], params.shift_y[i]))
        identity3 = torch.eye(3, dtype=params.geometric.dtype)
        geometric = (params.geometric != identity3).flatten(1).any(dim=1)
        if bool(geometric.any()):
            out = _on_subset(out, geometric, lambda x, i: resample_affine(x, params.geometric[i]))
        identity4 = torch.eye(4, dtype=params.colour.dtype)
        colour = (params.colour != identity4).flatten(1).any(dim=1)
        if bool(colour.any()):
            out = _on_subset(out, colour, lambda x, i: apply_colour(x, params.colour[i]))
        return out

    def forward(self, images: torch.Tensor, frames_per_video: int | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        if images.ndim == 5:
            if frames_per_video is not None and frames_per_video != images.shape[1]:
                raise ValueError(f"frames_per_video={frames_per_video} contradicts videos of shape "
                                 f"{tuple(images.shape)} [B, T, C, H, W]")
            num_videos, frames = images.shape[:2]
            flat = images.reshape(num_videos * frames, *images.shape[2:])
            return self._augment(flat, num_videos, frames, generator).reshape(images.shape)
        if images.ndim != 4:
            raise ValueError(f"augmentation expects [N, C, H, W] or [B, T, C, H, W], got {tuple(images.shape)}")
        frames = 1 if frames_per_video is None else int(frames_per_video)
        if frames < 1 or images.shape[0] % frames:
            raise ValueError(f"batch of {images.shape[0]} frames is not a whole number of videos of "
                             f"{frames} frames")
        return self._augment(images, images.shape[0] // frames, frames, generator)

    def augment_rows(self, images: torch.Tensor, global_count: int, rows: slice,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment `images` ([N, C, H, W] or videos [B, T, C, H, W]) with rows `rows` of a draw made
        for `global_count` images/videos: data-parallel ranks draw the global batch's parameters
        from a shared generator and each applies its own rows, so N processes augment exactly like
        one process with the whole batch."""
        video = images.ndim == 5
        count = images.shape[0]
        params = self.sample_params(global_count, images.shape[-2], images.shape[-1], generator).rows(rows)
        if params.flip.shape[0] != count:
            raise ValueError(f"rows {rows} of {global_count} draws give {params.flip.shape[0]} parameter sets "
                             f"for {count} inputs")
        if not video:
            return self.apply(images, params)
        frames = images.shape[1]
        flat = images.reshape(count * frames, *images.shape[2:])
        return self.apply(flat, params.repeat_frames(frames)).reshape(images.shape)

    def _augment(self, images: torch.Tensor, num_videos: int, frames: int,
                 generator: torch.Generator | None) -> torch.Tensor:
        params = self.sample_params(num_videos, images.shape[2], images.shape[3], generator)
        if frames > 1:
            params = params.repeat_frames(frames)
        return self.apply(images, params)


def _on_subset(images: torch.Tensor, mask: torch.Tensor,
               transform: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """`images` with `transform(images[i], i)` written at the indices `i` where `mask` is true."""
    if bool(mask.all()):
        return transform(images, torch.arange(images.shape[0]))
    index = mask.nonzero().squeeze(1)
    changed = transform(images[index.to(images.device)], index)
    return images.index_copy(0, index.to(images.device), changed)


# --------------------------------------------------------------------------- adaptive p

@dataclass(frozen=True)
class AdaptiveConfig:
    """ADA's rule: every `interval` steps, move p by sign(r_t - target) * images / (speed_kimg * 1000),
    where r_t = E[sign(D(real))] over the interval. p stays in [0, 1]."""

    target: float = 0.6
    speed_kimg: float = 500.0
    interval: int = 4

    def __post_init__(self) -> None:
        if not 0.0 <= self.target <= 1.0:
            raise ValueError(f"ADA target must be in [0, 1], got {self.target}")
        if self.speed_kimg <= 0 or self.interval < 1:
            raise ValueError(f"ADA speed_kimg must be > 0 and interval >= 1, got {self.speed_kimg}, {self.interval}")


class AdaptiveProbability:
    """Tracks the sign of D's logits on real images and adjusts `p` (updated in place).

    Call `observe(real_logits)` on every discriminator step and `step(batch_size)` after every
    training step; every `interval` steps `p` moves toward keeping r_t at the target. Under
    torch.distributed the statistics are summed over ranks so every rank gets the same p.
    """

    def __init__(self, p: torch.Tensor, config: AdaptiveConfig = AdaptiveConfig()) -> None:
        if p.ndim != 0 or not p.is_floating_point():
            raise ValueError(f"AdaptiveProbability needs a 0-d float tensor p, got shape {tuple(p.shape)}")
        self.p = p
        self.config = config
        self._sign_sum = 0.0
        self._count = 0
        self._images = 0
        self._steps = 0
        self.last_rt: float | None = None

    def observe(self, real_logits: torch.Tensor) -> None:
        """Accumulate sign(D(real)) of one batch of logits."""
        logits = real_logits.detach()
        self._sign_sum += float(torch.sign(logits).sum())
        self._count += logits.numel()

    def step(self, batch_size: int) -> bool:
        """Count one training step of `batch_size` images (global); update p every `interval`
        steps. Returns True when p was updated."""
        self._steps += 1
        self._images += int(batch_size)
        if self._steps % self.config.interval:
            return False
        self.update(self._images)
        self._images = 0
        return True

    def update(self, images_since_update: int) -> float:
        """Apply one ADA adjustment from the accumulated statistics; returns the new p."""
        sign_sum, count = self._summed_statistics()
        self._sign_sum, self._count = 0.0, 0
        if count == 0:
            return float(self.p)
        rt = sign_sum / count
        self.last_rt = rt
        direction = math.copysign(1.0, rt - self.config.target) if rt != self.config.target else 0.0
        delta = direction * images_since_update / (self.config.speed_kimg * 1000.0)
        with torch.no_grad():
            self.p.copy_((self.p + delta).clamp(0.0, 1.0))
        return float(self.p)

    def _summed_statistics(self) -> tuple[float, float]:
        """(sum of signs, count) since the last update, summed over ranks under torch.distributed
        (on p's device, which NCCL needs; float64 holds these integer sums exactly)."""
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return self._sign_sum, float(self._count)
        stats = torch.tensor([self._sign_sum, float(self._count)], dtype=torch.float64, device=self.p.device)
        torch.distributed.all_reduce(stats)
        return float(stats[0]), float(stats[1])

    def state_dict(self) -> dict[str, float | int]:
        """The controller's state for a checkpoint. Under torch.distributed the sign statistics
        gathered since the last update are summed over ranks (each rank holds only its own share),
        so this is a collective call: every rank must make it."""
        sign_sum, count = self._summed_statistics()
        return {"sign_sum": sign_sum, "count": int(count), "images": self._images,
                "steps": self._steps, "p": float(self.p)}

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        """Restore a checkpoint's state. The pending sign statistics are the sum over all ranks of
        the run that saved them; under torch.distributed rank 0 takes them and the other ranks
        start from zero, so the next update's all-reduce sees the same sum as an uninterrupted run
        (with any number of processes)."""
        keeps_statistics = not (torch.distributed.is_available() and torch.distributed.is_initialized()
                                and torch.distributed.get_rank() != 0)
        self._sign_sum = float(state["sign_sum"]) if keeps_statistics else 0.0
        self._count = int(state["count"]) if keeps_statistics else 0
        self._images = int(state["images"])
        self._steps = int(state["steps"])
        with torch.no_grad():
            self.p.fill_(float(state["p"]))

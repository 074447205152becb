"""Alias-suppressed affine resampling of image batches (the geometric step of ADA).

Coordinates are *centred pixel units*: pixel ``i`` of an image ``W`` wide has its centre at
``u = i + 0.5 - W / 2`` (the same along y). A transform is a batch of 3x3 homogeneous matrices
that map an OUTPUT position to the INPUT position it reads from.

Resampling a band-limited image by an arbitrary affine map aliases; as ADA does, we (1) pad the
image by reflection so that the transformed content never reads outside, (2) upsample 2x with an
orthonormal wavelet low-pass filter, (3) bilinearly sample the 2x grid of the output, and
(4) filter and decimate back with the time-reversed filter. Because the filter is orthonormal
(its autocorrelation vanishes at every non-zero even lag), steps 2 and 4 with an identity map give
back the input exactly up to float rounding, and an integer translation equals the exact shift
away from the borders. The filter's delay is compensated in the sampling grid so that flips and
rotations do not shift the content (see `filter_delay`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from styleinv_model.ops import setup_filter, upfirdn2d, upsample2d

# Symlet-6 decomposition low-pass taps: orthonormal (sum sqrt(2), unit energy, zero
# autocorrelation at non-zero even lags; tests/train checks these properties).
SYM6_LOWPASS: tuple[float, ...] = (
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
    0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
)


def filter_delay(taps: tuple[float, ...]) -> float:
    """Low-frequency delay of an upsampling filter relative to the centre of its taps, in
    1x pixels (half of the delay in 2x samples)."""
    weights = torch.tensor(taps, dtype=torch.float64)
    centroid = float((torch.arange(len(taps), dtype=torch.float64) * weights).sum() / weights.sum())
    return (centroid - (len(taps) - 1) / 2) / 2


def _reflect_limit(margin: float, size: int) -> int:
    """Whole-pixel reflection padding that covers `margin`, within what reflection allows."""
    return int(min(max(math.ceil(margin), 0), size - 1))


def resample_affine(images: torch.Tensor, out_to_in: torch.Tensor,
                    taps: tuple[float, ...] = SYM6_LOWPASS) -> torch.Tensor:
    """Warp `images` [N, C, H, W] by `out_to_in` [N, 3, 3] (centred pixel units, output -> input).

    Differentiable (twice) with respect to `images`; the matrices are treated as constants.
    Content that would come from beyond the reflection-padded image is zero.
    """
    if images.ndim != 4:
        raise ValueError(f"resample_affine expects images [N, C, H, W], got shape {tuple(images.shape)}")
    num, _, height, width = images.shape
    if out_to_in.shape != (num, 3, 3):
        raise ValueError(f"resample_affine expects matrices [{num}, 3, 3], got {tuple(out_to_in.shape)}")
    length = len(taps)
    if length % 2 or length < 4:
        raise ValueError(f"the resampling filter needs an even number (>= 4) of taps, got {length}")
    lowpass = setup_filter(list(taps), device=images.device, separable=True)
    matrix = out_to_in.to(device=images.device, dtype=torch.float32).clone()
    # The filter is not symmetric: its low-frequency delay (centroid) is off the centre of its
    # taps. Upsampling with it and decimating with it reversed cancels that delay for maps that
    # keep the axes' directions, but not for flips and rotations, which would otherwise move the
    # content by up to twice the delay. Reading from M u + (I - A) d, with A the linear part of M
    # and d the delay in 1x pixels, cancels it for any map (identity and translations unchanged).
    delay = filter_delay(taps)
    linear = matrix[:, :2, :2]
    correction = (torch.eye(2, device=images.device) - linear) @ torch.full((2, 1), delay, device=images.device)
    matrix[:, :2, 2] += correction[:, :, 0]

    # The 2x grid of output samples: index k along x has centred position
    # (k - lead + 0.5) / 2 - W / 2, with `border` extra samples each side that the decimation
    # filter consumes (the decimated output is then exactly W x H).
    border = (length - 2) // 2
    lead = length - 1 - (length + 1) // 2  # shift introduced by upsample2d's padding
    half_x = width / 2 + (border - 0.5) / 2
    half_y = height / 2 + (border - 0.5) / 2

    # Reflection margins: the input region the grid reads, plus the filter support in 1x pixels.
    corners = torch.tensor([[-half_x, -half_y, 1.0], [half_x, -half_y, 1.0],
                            [-half_x, half_y, 1.0], [half_x, half_y, 1.0]],
                           device=images.device).t()
    reach = matrix @ corners  # [N, 3, 4]
    support = length / 4 + 1
    min_xy = reach[:, :2].amin(dim=(0, 2)).tolist()
    max_xy = reach[:, :2].amax(dim=(0, 2)).tolist()
    pad_x0 = _reflect_limit(-min_xy[0] - width / 2 + support, width)
    pad_x1 = _reflect_limit(max_xy[0] - width / 2 + support, width)
    pad_y0 = _reflect_limit(-min_xy[1] - height / 2 + support, height)
    pad_y1 = _reflect_limit(max_xy[1] - height / 2 + support, height)
    padded = F.pad(images, [pad_x0, pad_x1, pad_y0, pad_y1], mode="reflect")
    upsampled = upsample2d(padded, lowpass, up=2)

    # Output grid -> input centred coordinates -> grid_sample's normalised coordinates.
    kx = torch.arange(2 * width + 2 * border, device=images.device, dtype=torch.float32)
    ky = torch.arange(2 * height + 2 * border, device=images.device, dtype=torch.float32)
    ux = (kx - lead + 0.5) / 2 - width / 2
    uy = (ky - lead + 0.5) / 2 - height / 2
    grid_y, grid_x = torch.meshgrid(uy, ux, indexing="ij")
    points = torch.stack([grid_x, grid_y, torch.ones_like(grid_x)], dim=-1)  # [h2, w2, 3]
    source = torch.einsum("nij,hwj->nhwi", matrix[:, :2], points)  # [N, h2, w2, 2]
    padded_w = width + pad_x0 + pad_x1
    padded_h = height + pad_y0 + pad_y1
    norm_x = 2 * (source[..., 0] + pad_x0 + width / 2) / padded_w - 1
    norm_y = 2 * (source[..., 1] + pad_y0 + height / 2) / padded_h - 1
    grid = torch.stack([norm_x, norm_y], dim=-1).to(images.dtype)
    sampled = F.grid_sample(upsampled, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return upfirdn2d(sampled, lowpass, down=2, flip_filter=True)

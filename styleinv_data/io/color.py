"""Convert decoded images of any common kind (gray, gray+alpha, RGB, RGBA, 16-bit, float) to 8-bit."""

from __future__ import annotations

import numpy as np


def _to_uint8_range(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        # 65535 -> 255 with rounding: (v * 255 + 32767) // 65535 == round(v / 257)
        return ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if np.issubdtype(image.dtype, np.integer):
        return np.clip(image, 0, 255).astype(np.uint8)
    raise TypeError(f"unsupported image dtype {image.dtype}")


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """Return an ``(H, W, 3)`` uint8 RGB image.

    Gray is replicated to three channels; an alpha channel is dropped (the colour values are kept
    as stored); 16-bit and float [0, 1] images are scaled to 8 bits.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an image of shape (H, W[, 1|2|3|4]), got {image.shape}")
    image = _to_uint8_range(image)
    channels = image.shape[2]
    if channels in (1, 2):  # gray or gray + alpha
        return np.ascontiguousarray(np.repeat(image[:, :, :1], 3, axis=2))
    if channels == 4:
        return np.ascontiguousarray(image[:, :, :3])
    return np.ascontiguousarray(image)


def to_gray8(image: np.ndarray) -> np.ndarray:
    """Return an ``(H, W)`` uint8 image: gray as is, colour by ITU-R BT.601 luma."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] in (1, 2):
        image = image[:, :, 0]
    if image.ndim == 2:
        return np.ascontiguousarray(_to_uint8_range(image))
    rgb = to_rgb8(image).astype(np.float32)
    luma = rgb[:, :, 0] * 0.299 + rgb[:, :, 1] * 0.587 + rgb[:, :, 2] * 0.114
    return (luma + 0.5).astype(np.uint8)

"""The face-backend interface: a detector finds faces, a landmarker locates points inside a box.

Every backend works on RGB8 images ``(H, W, 3)`` and float pixel coordinates whose integer values
are pixel centres (the convention dlib, FAN and RetinaFace share). Boxes are ``(x0, y0, x1, y1)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class FaceDetection:
    """One detected face: its box, the detector's confidence and, when the detector gives them,
    five points (image-left eye, image-right eye, nose tip, image-left and image-right mouth
    corner)."""

    box_xyxy: np.ndarray  # (4,) float64
    score: float
    points_5: np.ndarray | None = None  # (5, 2) float64

    @property
    def size(self) -> float:
        """Geometric mean of the box sides (the face scale used for jitter and tracking)."""
        w = float(self.box_xyxy[2] - self.box_xyxy[0])
        h = float(self.box_xyxy[3] - self.box_xyxy[1])
        return float(np.sqrt(max(w, 0.0) * max(h, 0.0)))


class FaceDetector(Protocol):
    """Image -> faces (best score first)."""

    name: str

    def detect(self, image_rgb: np.ndarray) -> list[FaceDetection]: ...


class Landmarker(Protocol):
    """Image + boxes -> points for each box.

    ``boxes_xyxy`` is ``(B, 4)``; the result is ``(B, num_points, 2)`` float64. Backends that can
    batch (FAN) run all ``B`` boxes in one forward pass; the stabiliser relies on that to run the
    N jittered boxes of a frame together.
    """

    name: str
    num_points: int
    accepts_gray: bool  # True: (H, W) grey images give the same points, cheaper (dlib)

    def landmarks(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray: ...


def check_image_gray_or_rgb(image: np.ndarray) -> np.ndarray:
    """A contiguous uint8 image, ``(H, W)`` grey kept as is, otherwise RGB ``(H, W, 3)``."""
    arr = np.asarray(image)
    if arr.ndim == 2 and arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    return check_image_rgb(arr)


def to_gray(image_rgb: np.ndarray) -> np.ndarray:
    """uint8 grey as dlib makes it from RGB, up to rounding (the channel mean, not luma: the models were trained
    on that; luma grey measured clearly worse quads). Grey images are returned as they are."""
    arr = np.asarray(image_rgb)
    if arr.ndim == 2:
        return np.ascontiguousarray(arr)
    import cv2  # noqa: PLC0415

    return cv2.transform(np.ascontiguousarray(arr[:, :, :3]), np.full((1, 3), 1.0 / 3.0))


def check_image_rgb(image_rgb: np.ndarray) -> np.ndarray:
    """Return a contiguous RGB8 ``(H, W, 3)`` view of ``image_rgb`` (grey and RGBA accepted)."""
    image = np.asarray(image_rgb)
    if image.dtype != np.uint8:
        raise ValueError(f"face backends take uint8 images, got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    elif image.ndim == 3 and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"face backends take (H, W, 3) RGB images, got shape {image.shape}")
    return np.ascontiguousarray(image)

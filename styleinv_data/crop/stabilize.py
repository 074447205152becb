"""Jittered-box landmark averaging (the stabilisation of the paper, after Naruniec et al. 2020).

For one frame, the face box is shifted N times by a random distance (up to ``shift_fraction`` of
the box size) at a random angle; the landmarker runs on every shifted box (one batch for batched
backends) and the landmarks are averaged. The random draws depend only on ``(seed, frame_index)``,
so any frame can be re-planned alone and the same seed gives the same crops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from styleinv_data.faces.base import Landmarker, to_gray


@dataclass(frozen=True)
class StabilizeOptions:
    num_boxes: int = 8  # N: landmark runs per frame (1 = the box as given, no jitter)
    shift_fraction: float = 0.05  # largest shift, as a fraction of the box size
    seed: int = 0
    face_px: int = 0  # >0: run the landmarker on a face crop scaled so the box is at least this size

    def __post_init__(self) -> None:
        if self.num_boxes < 1:
            raise ValueError(f"num_boxes (N) must be >= 1, got {self.num_boxes}")
        if not 0.0 <= self.shift_fraction <= 0.5:
            raise ValueError(f"shift_fraction must be in [0, 0.5], got {self.shift_fraction}")


@dataclass(frozen=True)
class StabilizedLandmarks:
    landmarks: np.ndarray  # (P, 2) mean over the jittered runs
    spread: float  # RMS deviation of the runs from their mean, in units of the box size
    runs: int  # how many runs gave points (RetinaFace crops may find nothing)
    follow: float = 0.0  # how much the points moved with the jittered box (~0: a face holds them, ~1: none)


def jittered_boxes(box_xyxy: np.ndarray, options: StabilizeOptions, frame_index: int) -> np.ndarray:
    """``(N, 4)`` boxes: ``box_xyxy`` shifted by random distances and angles (N = 1: unshifted)."""
    box = np.asarray(box_xyxy, dtype=np.float64).reshape(4)
    if options.num_boxes == 1 or options.shift_fraction == 0.0:
        return np.repeat(box[None], options.num_boxes, axis=0)
    rng = np.random.default_rng([int(options.seed) & 0xFFFFFFFF, int(frame_index)])
    size = np.sqrt(max(box[2] - box[0], 1e-6) * max(box[3] - box[1], 1e-6))
    distance = rng.uniform(0.0, options.shift_fraction * size, options.num_boxes)
    angle = rng.uniform(0.0, 2.0 * np.pi, options.num_boxes)
    shift = np.stack([distance * np.cos(angle), distance * np.sin(angle)], 1)
    return box[None] + np.tile(shift, 2)


def face_canvas(image_rgb: np.ndarray, box_xyxy: np.ndarray, roll_deg: float, face_px: int,
                context: float = 1.8) -> tuple[np.ndarray, np.ndarray]:
    """An upright, rescaled square crop around the box, and the 2x3 map image -> crop (pixel centres).

    The crop is rotated by ``roll_deg`` about the box centre (so a face whose eye line has that
    angle becomes level) and scaled so the box is at least ``face_px`` wide (at most 4x).
    """
    import cv2  # noqa: PLC0415

    box = np.asarray(box_xyxy, dtype=np.float64)
    size = float(np.sqrt(max(box[2] - box[0], 1.0) * max(box[3] - box[1], 1.0)))
    scale = float(np.clip(face_px / size, 1.0, 4.0)) if face_px > 0 else 1.0
    side = int(np.ceil(size * scale * context))
    centre = (box[:2] + box[2:]) / 2.0 - 0.5  # pixel-centre coordinates
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(roll_deg), scale)
    m[:, 2] += (side - 1) / 2.0 - centre
    canvas = cv2.warpAffine(image_rgb, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return canvas, m


def _map_boxes(boxes: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Axis-aligned boxes moved by the similarity ``m`` (centres mapped, sides scaled)."""
    scale = float(np.hypot(m[0, 0], m[0, 1]))
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0 - 0.5
    mapped = centres @ m[:, :2].T + m[:, 2] + 0.5
    half = (boxes[:, 2:] - boxes[:, :2]) / 2.0 * scale
    return np.concatenate([mapped - half, mapped + half], axis=1)


def stabilized_landmarks(image_rgb: np.ndarray, box_xyxy: np.ndarray, landmarker: Landmarker,
                         options: StabilizeOptions, frame_index: int, roll_deg: float = 0.0) -> StabilizedLandmarks | None:
    """The averaged landmarks of the face in ``box_xyxy``; ``None`` when no run found points.

    With ``roll_deg`` (the face's expected eye-line angle) or ``options.face_px``, the landmarker
    runs on an upright, rescaled crop around the box and the points are mapped back.
    """
    boxes = jittered_boxes(box_xyxy, options, frame_index)
    if options.num_boxes == 1 or options.shift_fraction == 0.0:
        boxes = boxes[:1]  # identical boxes give identical points: run once
    box = np.asarray(box_xyxy, dtype=np.float64)
    size = np.sqrt(max(box[2] - box[0], 1e-6) * max(box[3] - box[1], 1e-6))
    if getattr(landmarker, "accepts_gray", False):
        image_rgb = to_gray(image_rgb)  # one channel: a third of the warp and copy work
    if roll_deg != 0.0 or (options.face_px > 0 and size < options.face_px):
        import cv2  # noqa: PLC0415

        canvas, m = face_canvas(image_rgb, box, roll_deg, options.face_px)
        runs = np.asarray(landmarker.landmarks(canvas, _map_boxes(boxes, m)), dtype=np.float64)
        inv = cv2.invertAffineTransform(m)
        runs = runs @ inv[:, :2].T + inv[:, 2]
    else:
        runs = np.asarray(landmarker.landmarks(image_rgb, boxes), dtype=np.float64)
    ok = np.all(np.isfinite(runs), axis=(1, 2))
    if not ok.any():
        return None
    runs = runs[ok]
    mean = runs.mean(0)
    spread = float(np.sqrt(np.mean(np.sum((runs - mean) ** 2, axis=-1)))) / size if len(runs) > 1 else 0.0
    return StabilizedLandmarks(landmarks=mean, spread=spread, runs=int(ok.sum()),
                               follow=_follow_ratio(runs, boxes[ok] if len(boxes) == len(ok) else boxes[:0]))


def _follow_ratio(runs: np.ndarray, boxes: np.ndarray) -> float:
    """Least-squares gain of the runs' centre shifts on the box shifts.

    A real face pins the landmarks: they barely move when the box does (gain near 0). On a
    frame without the face the landmarker just places its mean shape in the box (gain near 1).
    """
    if len(runs) < 3 or len(boxes) != len(runs):
        return 0.0
    box_shift = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    box_shift = box_shift - box_shift.mean(0)
    run_shift = runs.mean(1) - runs.mean(1).mean(0)
    denom = float(np.sum(box_shift ** 2))
    if denom <= 1e-9:
        return 0.0
    return float(np.sum(run_shift * box_shift) / denom)

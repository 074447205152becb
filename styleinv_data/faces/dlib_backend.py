"""dlib backends: the HOG face detector and the 68-point shape predictor (the offline default)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from styleinv_data.faces.base import FaceDetection, check_image_gray_or_rgb
from styleinv_data.faces.weights import resolve_weights


def _import_dlib():
    try:
        import dlib  # noqa: PLC0415 (lazy: the default install has it, optional elsewhere)
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("the dlib face backend needs dlib: pip install dlib-bin") from e
    return dlib


def _resize_longest(image_rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Downscale so the longer side is at most ``max_side``; return the image and the factor."""
    h, w = image_rgb.shape[:2]
    longest = max(h, w)
    if max_side <= 0 or longest <= max_side:
        return image_rgb, 1.0
    import cv2  # noqa: PLC0415

    factor = max_side / longest
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA), factor


def _detector_cache_file(dlib: Any) -> Path:
    root = Path(os.environ.get("STYLEINV_CACHE") or Path.home() / ".cache" / "styleinv")
    return root / "dlib" / f"frontal_face_detector-{getattr(dlib, '__version__', 'unknown')}.svm"


def frontal_face_detector(dlib: Any) -> Any:
    """dlib's frontal face detector, from a local copy in dlib's own format when there is one.

    ``get_frontal_face_detector()`` rebuilds the detector from data compiled into dlib (~0.25 s per
    process); the same detector saved with its ``save()`` loads in ~1 ms. The copy is written on
    first use under ``$STYLEINV_CACHE/dlib`` (default ``~/.cache/styleinv/dlib``), per dlib
    version, atomically; it gives identical detections (tests/faces). An unreadable or unwritable
    cache only costs the 0.25 s.
    """
    path = _detector_cache_file(dlib)
    if path.is_file():
        try:
            return dlib.fhog_object_detector(str(path))
        except RuntimeError:
            pass  # damaged: rebuilt and rewritten below
    detector = dlib.get_frontal_face_detector()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        detector.save(str(tmp))
        os.replace(tmp, path)
    except (OSError, RuntimeError):
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
    return detector


class DlibHogDetector:
    """dlib's HOG + linear SVM frontal face detector.

    The frame is first downscaled so its longer side is at most ``max_side`` (speed), then the
    detector runs with ``upsample`` pyramid up-steps (small faces). Boxes scoring below
    ``min_score`` are dropped: the detector returns weak false boxes on textures.
    """

    name = "dlib"
    accepts_gray = True

    def __init__(self, max_side: int = 320, upsample: int = 1, min_score: float = 0.0) -> None:
        self._dlib = _import_dlib()
        self._detector = frontal_face_detector(self._dlib)
        self.max_side = int(max_side)
        self.upsample = int(upsample)
        self.min_score = float(min_score)

    def detect(self, image_rgb: np.ndarray) -> list[FaceDetection]:
        """Faces in an RGB (or grey) image, best score first."""
        image = check_image_gray_or_rgb(image_rgb)
        small, factor = _resize_longest(image, self.max_side)
        rects, scores, _ = self._detector.run(small, self.upsample, self.min_score)
        out: list[FaceDetection] = []
        for rect, score in zip(rects, scores):
            # dlib rectangles are inclusive pixel ranges; store the half-open box in full-size pixels.
            box = np.array([rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1], dtype=np.float64)
            out.append(FaceDetection(box_xyxy=box / factor, score=float(score)))
        out.sort(key=lambda d: -d.score)
        return out


class DlibLandmarker:
    """dlib's ensemble-of-regression-trees shape predictor (68 iBUG points, or 5 with that model).

    dlib takes integer boxes and returns integer points. For small faces that rounding is a large
    part of the error, so when the boxes are smaller than ``min_face_px`` the region around them
    is upscaled once (one resize per call, shared by all boxes) and the points mapped back.
    """

    name = "dlib"
    accepts_gray = True

    def __init__(self, weights_path: str | os.PathLike | None = None, recipe_path: str | os.PathLike | None = None,
                 min_face_px: int = 160) -> None:
        self._dlib = _import_dlib()
        self.weights_path: Path = resolve_weights("dlib", weights_path, recipe_path)
        try:
            self._predictor = self._dlib.shape_predictor(str(self.weights_path))
        except RuntimeError as e:
            raise ValueError(f"{self.weights_path}: not a dlib shape predictor ({e}); point --dlib-weights at "
                             "shape_predictor_68_face_landmarks.dat") from e
        probe = self._predictor(np.zeros((16, 16, 3), dtype=np.uint8), self._dlib.rectangle(0, 0, 15, 15))
        self.num_points = int(probe.num_parts)
        self.min_face_px = int(min_face_px)

    def _region(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """The image region holding all boxes (with margin), upscaled when the faces are small.

        Returns the region, its top-left corner in the image and the scale applied.
        """
        sizes = np.sqrt(np.clip(boxes[:, 2] - boxes[:, 0], 1, None) * np.clip(boxes[:, 3] - boxes[:, 1], 1, None))
        scale = float(np.clip(self.min_face_px / float(np.median(sizes)), 1.0, 4.0))
        if scale <= 1.0:
            return image, np.zeros(2), 1.0
        import cv2  # noqa: PLC0415

        margin = 0.5 * float(sizes.max())
        h, w = image.shape[:2]
        x0 = int(max(0, np.floor(boxes[:, 0].min() - margin)))
        y0 = int(max(0, np.floor(boxes[:, 1].min() - margin)))
        x1 = int(min(w, np.ceil(boxes[:, 2].max() + margin)))
        y1 = int(min(h, np.ceil(boxes[:, 3].max() + margin)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return image, np.zeros(2), 1.0
        region = image[y0:y1, x0:x1]
        out_size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
        # The exact scale per axis after rounding the output size.
        scale = out_size[0] / (x1 - x0)
        region = cv2.resize(region, out_size, interpolation=cv2.INTER_LINEAR)
        return region, np.array([x0, y0], dtype=np.float64), scale

    def landmarks(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        image = check_image_gray_or_rgb(image_rgb)
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        out = np.empty((len(boxes), self.num_points, 2), dtype=np.float64)
        if len(boxes) == 0:
            return out
        region, origin, scale = self._region(image, boxes)
        # Pixel-centre coordinates: p_region = (p_image - origin + 0.5) * scale - 0.5.
        boxes_region = (boxes - np.tile(origin, 2)) * scale
        for i, (x0, y0, x1, y1) in enumerate(boxes_region):
            # dlib rectangles are inclusive integer ranges.
            rect = self._dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x1)) - 1, int(round(y1)) - 1)
            shape = self._predictor(region, rect)
            out[i] = [(p.x, p.y) for p in shape.parts()]
        return (out + 0.5) / scale - 0.5 + origin

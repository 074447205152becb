"""RetinaFace (the `retinaface-pytorch` package, ResNet-50): boxes with five points.

Its ``get_model`` helper downloads weights, so it is never called: the package's ``Model`` is built
with random weights and a local state dict is loaded into it.

RetinaFace takes no box as input. To stabilise with it, :class:`RetinaFaceCropLandmarker` re-runs
it on a crop around each (jittered) box and keeps the face that overlaps the box most: the five
points of each shifted crop are then averaged like any landmarker's. Alternatively pair the
RetinaFace detector with a box-input landmarker (FAN or dlib).
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from styleinv_data.faces.base import FaceDetection, check_image_rgb
from styleinv_data.faces.fan_backend import load_state_dict
from styleinv_data.faces.weights import resolve_weights


def _build_model(weights_path, max_size: int, device: str):
    try:
        from retinaface.predict_single import Model  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("the retinaface backend needs retinaface-pytorch (pip install --no-deps "
                          "retinaface-pytorch) and albumentations") from e
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torchvision's "pretrained" deprecation notice
        model = Model(max_size=max_size, device=device)
    try:
        model.load_state_dict(load_state_dict(weights_path))
    except RuntimeError as e:
        raise ValueError(f"{weights_path}: not RetinaFace ResNet-50 weights ({str(e).splitlines()[0]})") from e
    model.eval()
    return model


def box_iou(box_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """IoU of one box against ``(K, 4)`` boxes."""
    boxes_b = np.nan_to_num(np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4), nan=0.0, posinf=0.0, neginf=0.0)
    ix0 = np.maximum(box_a[0], boxes_b[:, 0])
    iy0 = np.maximum(box_a[1], boxes_b[:, 1])
    ix1 = np.minimum(box_a[2], boxes_b[:, 2])
    iy1 = np.minimum(box_a[3], boxes_b[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area_a = max(box_a[2] - box_a[0], 0) * max(box_a[3] - box_a[1], 0)
    area_b = np.clip(boxes_b[:, 2] - boxes_b[:, 0], 0, None) * np.clip(boxes_b[:, 3] - boxes_b[:, 1], 0, None)
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


class RetinaFaceDetector:
    """Faces with boxes and five points; ``max_size`` is the longer side the image is resized to."""

    name = "retinaface"

    def __init__(self, weights_path: str | os.PathLike | None = None, recipe_path: str | os.PathLike | None = None,
                 device: str = "cpu", max_size: int = 640, min_score: float = 0.7) -> None:
        self.weights_path = resolve_weights("retinaface", weights_path, recipe_path)
        self.min_score = float(min_score)
        self._model = _build_model(self.weights_path, max_size, device)

    def detect(self, image_rgb: np.ndarray) -> list[FaceDetection]:
        image = check_image_rgb(image_rgb)
        found = self._model.predict_jsons(image, confidence_threshold=self.min_score)
        out = []
        for face in found:
            if len(face["bbox"]) != 4:
                continue  # the package's "no face" placeholder
            out.append(FaceDetection(box_xyxy=np.asarray(face["bbox"], dtype=np.float64), score=float(face["score"]),
                                     points_5=np.asarray(face["landmarks"], dtype=np.float64).reshape(5, 2)))
        out.sort(key=lambda d: -d.score)
        return out


class RetinaFaceCropLandmarker:
    """Five points for a box: RetinaFace re-run on a crop around the box (``context`` x its size)."""

    name = "retinaface"
    num_points = 5
    accepts_gray = False

    def __init__(self, detector: RetinaFaceDetector, context: float = 2.0) -> None:
        self.detector = detector
        self.context = float(context)

    def landmarks(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        image = check_image_rgb(image_rgb)
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        h, w = image.shape[:2]
        out = np.full((len(boxes), 5, 2), np.nan)
        for i, box in enumerate(boxes):
            cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
            half = self.context * max(box[2] - box[0], box[3] - box[1]) / 2.0
            x0, y0 = int(max(0, np.floor(cx - half))), int(max(0, np.floor(cy - half)))
            x1, y1 = int(min(w, np.ceil(cx + half))), int(min(h, np.ceil(cy + half)))
            if x1 - x0 < 8 or y1 - y0 < 8:
                continue
            faces = self.detector.detect(image[y0:y1, x0:x1])
            if not faces:
                continue
            offset = np.array([x0, y0], dtype=np.float64)
            crop_boxes = np.stack([f.box_xyxy for f in faces]) + np.tile(offset, 2)
            best = int(np.argmax(box_iou(box, crop_boxes)))
            if faces[best].points_5 is not None:
                out[i] = faces[best].points_5 + offset
        return out

"""Face detectors and landmarkers behind one small interface (see :mod:`styleinv_data.faces.base`).

Backends: ``dlib`` (HOG detector + 68-point shape predictor; the offline default), ``retinaface``
(boxes + 5 points; as a landmarker it re-runs on a crop around each box) and ``fan`` (68 points
from a box, batched). Each backend module is imported only when it is built, so the default path
needs none of the optional packages.
"""

from __future__ import annotations

from dataclasses import dataclass

from styleinv_data.faces.base import FaceDetection, FaceDetector, Landmarker, check_image_rgb
from styleinv_data.faces.weights import MissingWeightsError, resolve_weights

DETECTORS = ("dlib", "retinaface")
LANDMARKERS = ("dlib", "fan", "retinaface")


@dataclass(frozen=True)
class FaceBackendConfig:
    """Which backends to build and where their weights are (``None``: env var, then default place)."""

    detector: str = "dlib"
    landmarker: str = "dlib"
    device: str = "cpu"
    dlib_weights: str | None = None
    fan_weights: str | None = None
    retinaface_weights: str | None = None
    detect_max_side: int = 320  # the frame is downscaled to this longer side before detection
    detect_upsample: int = 1  # dlib HOG pyramid up-steps (finds faces down to ~40 px after downscaling)
    detect_min_score: float = 0.0
    dlib_min_face_px: int = 160  # small faces are upscaled to this size before dlib's landmarker
    retinaface_max_size: int = 640
    fan_flip_input: bool = False

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise ValueError(f"unknown face detector {self.detector!r}; choose one of {', '.join(DETECTORS)}")
        if self.landmarker not in LANDMARKERS:
            raise ValueError(f"unknown landmarker {self.landmarker!r}; choose one of {', '.join(LANDMARKERS)}")


def build_detector(config: FaceBackendConfig) -> FaceDetector:
    """The configured detector (weights: the config's path, else env var, else the default place)."""
    if config.detector == "dlib":
        from styleinv_data.faces.dlib_backend import DlibHogDetector  # noqa: PLC0415

        return DlibHogDetector(max_side=config.detect_max_side, upsample=config.detect_upsample,
                               min_score=config.detect_min_score)
    from styleinv_data.faces.retinaface_backend import RetinaFaceDetector  # noqa: PLC0415

    return RetinaFaceDetector(None, config.retinaface_weights, device=config.device,
                              max_size=config.retinaface_max_size,
                              min_score=max(config.detect_min_score, 0.5))


def build_landmarker(config: FaceBackendConfig, detector: FaceDetector | None = None) -> Landmarker:
    """The configured landmarker; ``retinaface`` reuses ``detector`` when it is a RetinaFace one."""
    if config.landmarker == "dlib":
        from styleinv_data.faces.dlib_backend import DlibLandmarker  # noqa: PLC0415

        return DlibLandmarker(None, config.dlib_weights, min_face_px=config.dlib_min_face_px)
    if config.landmarker == "fan":
        from styleinv_data.faces.fan_backend import FanLandmarker  # noqa: PLC0415

        return FanLandmarker(None, config.fan_weights, device=config.device, flip_input=config.fan_flip_input)
    from styleinv_data.faces.retinaface_backend import RetinaFaceCropLandmarker, RetinaFaceDetector  # noqa: PLC0415

    if not isinstance(detector, RetinaFaceDetector):
        detector = RetinaFaceDetector(None, config.retinaface_weights, device=config.device,
                                      max_size=config.retinaface_max_size)
    return RetinaFaceCropLandmarker(detector)


__all__ = [
    "FaceDetection", "FaceDetector", "Landmarker", "FaceBackendConfig", "MissingWeightsError",
    "build_detector", "build_landmarker", "check_image_rgb", "resolve_weights", "DETECTORS", "LANDMARKERS",
]

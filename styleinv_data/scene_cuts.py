"""Shot changes in a decoded frame stream, found by PySceneDetect's content detector.

PySceneDetect is a well-kept library for exactly this (HSV-difference scoring with a minimum scene
length and a flash filter); we only feed it the frames the crop already decodes, one at a time,
so a cut is known when its first frame arrives and the face tracker can restart before it.
The flash filter runs in ``SUPPRESS`` mode: a cut is reported at the frame it happens, never
later (its ``MERGE`` mode may move a cut after frames have gone by).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SceneCutOptions:
    enabled: bool = True
    threshold: float = 27.0  # PySceneDetect's ContentDetector default (HSV difference, 0-255)
    min_scene_len: int = 15  # frames; cuts closer than this to the previous one are ignored

    def __post_init__(self) -> None:
        if self.threshold <= 0 or self.min_scene_len < 1:
            raise ValueError("scene cuts need threshold > 0 and min_scene_len >= 1")

    @classmethod
    def from_options(cls, options: dict) -> "SceneCutOptions":
        """From a strategy's resolved options (``scene_cuts``, ``scene_cut_threshold``, ``scene_cut_min_len``)."""
        return cls(enabled=bool(options["scene_cuts"]), threshold=float(options["scene_cut_threshold"]),
                   min_scene_len=int(options["scene_cut_min_len"]))


class SceneCutDetector:
    """``is_cut(index, frame_rgb)`` for consecutive frames: True when a new shot starts at ``index``."""

    def __init__(self, options: SceneCutOptions, fps: float | None = 30.0) -> None:
        try:
            from scenedetect.common import FrameTimecode
            from scenedetect.detector import FlashFilter
            from scenedetect.detectors import ContentDetector
        except ImportError as error:  # pragma: no cover - pinned in requirements
            raise ImportError("scene cuts need PySceneDetect: pip install scenedetect-headless "
                              "(or turn them off: --no-scene-cuts)") from error
        self._timecode = lambda i: FrameTimecode(i, fps=float(fps) if fps and fps > 0 else 30.0)
        self._detector = ContentDetector(threshold=options.threshold, min_scene_len=options.min_scene_len,
                                         filter_mode=FlashFilter.Mode.SUPPRESS)
        self.cuts: list[int] = []

    def is_cut(self, index: int, frame_rgb: np.ndarray) -> bool:
        frame = np.ascontiguousarray(frame_rgb[..., ::-1]) if frame_rgb.ndim == 3 else frame_rgb
        found = [int(tc.frame_num) for tc in self._detector.process_frame(self._timecode(index), frame)]
        found = [c for c in found if c > 0 and (not self.cuts or c > self.cuts[-1])]
        self.cuts.extend(found)
        return bool(found)

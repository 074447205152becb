"""Follow the main face through a video so the detector runs rarely.

Per frame the tracker produces a :class:`FaceObservation` (stabilised landmarks, the box they were
measured in, how the box was obtained). The detector runs on the first frame, while the face is
lost, and every ``detect_every`` frames to verify the track; otherwise the box comes from the
previous frame's landmarks, moved by their last velocity (``predict_motion``).

The box a landmarker expects is the detector's kind of box. When a track starts, the tracker
records where the detector's box sits relative to the landmarks (offset and size in units of the
landmarks' own scale) and from then on places the box the same way around the tracked landmarks:
detection noise then enters once per track instead of once per frame.

``mode="detect"`` is the naive loop (detect on every frame, landmarks from that frame's box), used
as the benchmark baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Literal

import numpy as np

from styleinv_data.crop.ffhq import face_anchors
from styleinv_data.crop.stabilize import StabilizeOptions, stabilized_landmarks
from styleinv_data.faces.base import FaceDetection, FaceDetector, Landmarker, to_gray
from styleinv_data.faces.retinaface_backend import box_iou

TrackMode = Literal["track", "detect"]


@dataclass(frozen=True)
class TrackOptions:
    mode: TrackMode = "track"
    detect_every: int = 10  # verify the track with a detection every K frames (0: never)
    max_misses: int = 2  # consecutive failed verifications before the track is declared lost
    match_iou: float = 0.3  # a detection confirms the track when it overlaps the tracked box this much
    recalibrate: float = 0.5  # weight of each confirming detection in the box placement (0: never)
    max_scale_step: float = 0.15  # the track is lost when the face scale changes more in one frame
    min_visible: float = 0.6  # the track is lost when less of its box lies inside the frame
    max_spread: float = 0.15  # ... or when the jittered runs disagree more (RMS, fraction of box size)
    max_follow: float = 0.4  # ... or when the points move with the jittered box (no face holds them)
    predict_motion: bool = True  # move the box by the landmarks' last velocity
    derotate: bool = True  # run the landmarker on an upright crop (roll from the tracked landmarks)
    continuity_weight: float = 2.0  # main face choice: relative area + weight * IoU with the last box
    verify_face_px: int = 100  # confirmations detect in a crop around the track, scaled to this face size
    verify_context: float = 3.0  # ... the crop's side, in tracked-box sizes (0 px: the whole frame)

    def __post_init__(self) -> None:
        if self.mode not in ("track", "detect"):
            raise ValueError(f"track mode {self.mode!r}: use track or detect")
        if self.detect_every < 0 or self.max_misses < 1:
            raise ValueError("detect_every must be >= 0 and max_misses >= 1")


@dataclass
class FaceObservation:
    frame_index: int
    source: Literal["detected", "tracked", "none"]
    box_xyxy: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    spread: float = 0.0
    reason: str = ""  # why there is no face ("no detection", "left the frame", ...)


@dataclass
class TrackStats:
    detections_run: int = 0
    tracks_started: int = 0
    tracks_lost: int = 0
    recalibrations: int = 0  # confirming detections that corrected the box placement
    invalidated: int = 0  # tracked frames discarded after a track failed verification
    lost_reasons: dict[str, int] = field(default_factory=dict)


def roll_degrees(landmarks: np.ndarray) -> float:
    """The eye line's angle in degrees (positive: the image-right eye is lower)."""
    a = face_anchors(landmarks)
    d = a.eye_right - a.eye_left
    return float(np.degrees(np.arctan2(d[1], d[0])))


def _rotate(v: np.ndarray, degrees: float) -> np.ndarray:
    r = np.radians(degrees)
    c, s = np.cos(r), np.sin(r)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def landmark_frame(landmarks: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre and scale (RMS distance from the centre) of a landmark set: a similarity-invariant frame."""
    centre = landmarks.mean(0)
    scale = float(np.sqrt(np.mean(np.sum((landmarks - centre) ** 2, axis=1))))
    return centre, max(scale, 1e-6)


@dataclass(frozen=True)
class BoxCalibration:
    """Where the detector's box sits relative to the landmarks, in landmark-scale units.

    The offset is stored in the face's own frame (rotated by minus its roll), so the box keeps its
    place relative to the face when the head tilts.
    """

    offset: np.ndarray  # (2,) box centre - landmark centre, / scale, in the face frame
    half_size: np.ndarray  # (2,) box half width and half height, / scale

    @classmethod
    def fit(cls, box_xyxy: np.ndarray, landmarks: np.ndarray) -> "BoxCalibration":
        centre, scale = landmark_frame(landmarks)
        box = np.asarray(box_xyxy, dtype=np.float64)
        box_centre = (box[:2] + box[2:]) / 2.0
        offset = _rotate((box_centre - centre) / scale, -roll_degrees(landmarks))
        return cls(offset=offset, half_size=(box[2:] - box[:2]) / 2.0 / scale)

    def blend(self, other: "BoxCalibration", weight: float) -> "BoxCalibration":
        return BoxCalibration(offset=(1 - weight) * self.offset + weight * other.offset,
                              half_size=(1 - weight) * self.half_size + weight * other.half_size)

    def box_for(self, landmarks: np.ndarray) -> np.ndarray:
        centre, scale = landmark_frame(landmarks)
        c = centre + _rotate(self.offset, roll_degrees(landmarks)) * scale
        h = self.half_size * scale
        return np.concatenate([c - h, c + h])


def visible_fraction(box_xyxy: np.ndarray, width: int, height: int) -> float:
    """The fraction of the box's area that lies inside a ``width x height`` frame."""
    box = np.asarray(box_xyxy, dtype=np.float64)
    area = max(box[2] - box[0], 1e-9) * max(box[3] - box[1], 1e-9)
    iw = max(0.0, min(box[2], width) - max(box[0], 0.0))
    ih = max(0.0, min(box[3], height) - max(box[1], 0.0))
    return float(iw * ih / area)


def pick_main_face(detections: list[FaceDetection], previous_box: np.ndarray | None,
                   continuity_weight: float) -> FaceDetection | None:
    """The main face: largest, unless another one continues the previous box."""
    if not detections:
        return None
    sizes = np.array([d.size for d in detections])
    score = (sizes / max(sizes.max(), 1e-9)) ** 2
    if previous_box is not None:
        score = score + continuity_weight * box_iou(previous_box, np.stack([d.box_xyxy for d in detections]))
    return detections[int(np.argmax(score))]


class FaceTracker:
    """Runs detector + stabilised landmarker over frames, one :class:`FaceObservation` per frame."""

    def __init__(self, detector: FaceDetector, landmarker: Landmarker, stabilize: StabilizeOptions,
                 options: TrackOptions = TrackOptions()) -> None:
        self.detector = detector
        self.landmarker = landmarker
        self.stabilize = stabilize
        self.options = options
        self.stats = TrackStats()
        self._reset()
        self._last_box: np.ndarray | None = None  # last known face box, for continuity across gaps

    def _reset(self) -> None:
        self._calibration: BoxCalibration | None = None
        self._ramp_from: BoxCalibration | None = None  # the placement moves linearly to _ramp_to
        self._ramp_to: BoxCalibration | None = None
        self._ramp_step = 0
        self._prev: np.ndarray | None = None
        self._prev2: np.ndarray | None = None
        self._since_detect = 0
        self._misses = 0
        self._pending: list[FaceObservation] = []  # tracked frames since the last confirmation

    def _detect(self, frame: np.ndarray) -> list[FaceDetection]:
        self.stats.detections_run += 1
        return self.detector.detect(frame)

    def _detect_around(self, frame: np.ndarray, box: np.ndarray) -> list[FaceDetection]:
        """Detections in a crop around ``box``, scaled so the face is ~``verify_face_px``.

        The cost no longer depends on the frame size, and small faces in large frames stay
        detectable (a whole-frame detection downscales them with the frame).
        """
        if self.options.verify_face_px <= 0:
            return self._detect(frame)
        import cv2  # noqa: PLC0415

        h, w = frame.shape[:2]
        size = float(np.sqrt(max(box[2] - box[0], 1.0) * max(box[3] - box[1], 1.0)))
        half = self.options.verify_context * size / 2.0
        centre = (box[:2] + box[2:]) / 2.0
        x0, y0 = int(max(0, np.floor(centre[0] - half))), int(max(0, np.floor(centre[1] - half)))
        x1, y1 = int(min(w, np.ceil(centre[0] + half))), int(min(h, np.ceil(centre[1] + half)))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return []
        region = frame[y0:y1, x0:x1]
        scale = min(1.0, self.options.verify_face_px / size)
        if scale < 1.0:
            region = cv2.resize(region, (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))),
                                interpolation=cv2.INTER_AREA)
            scale = region.shape[1] / (x1 - x0)
        found = self._detect(np.ascontiguousarray(region))
        offset = np.array([x0, y0, x0, y0], dtype=np.float64)
        return [FaceDetection(d.box_xyxy / scale + offset, d.score,
                              None if d.points_5 is None else d.points_5 / scale + offset[:2]) for d in found]

    def _lose(self, reason: str) -> None:
        self.stats.tracks_lost += 1
        self.stats.lost_reasons[reason] = self.stats.lost_reasons.get(reason, 0) + 1
        self._reset()

    def _measure(self, frame: np.ndarray, box: np.ndarray, index: int, roll: float = 0.0):
        result = stabilized_landmarks(frame, box, self.landmarker, self.stabilize, index, roll)
        if result is None or result.spread > self.options.max_spread or result.follow > self.options.max_follow:
            return None
        return result

    def _acquire(self, frame: np.ndarray, index: int, detections: list[FaceDetection] | None = None) -> FaceObservation:
        if detections is None:
            detections = self._detect(frame)
        face = pick_main_face(detections, self._last_box, self.options.continuity_weight)
        if face is None:
            return FaceObservation(index, "none", reason="no face detected")
        measured = self._measure(frame, face.box_xyxy, index)
        if measured is not None and self.options.mode == "track" and self.options.derotate:
            # Second pass on an upright crop, as every tracked frame will be measured.
            measured = self._measure(frame, face.box_xyxy, index, roll_degrees(measured.landmarks))
        if measured is None:
            return FaceObservation(index, "none", box_xyxy=face.box_xyxy, reason="no face in the detected box")
        if self.options.mode == "track":
            self._calibration = BoxCalibration.fit(face.box_xyxy, measured.landmarks)
            self._prev, self._prev2 = measured.landmarks, None
            self._since_detect = 0
            self._misses = 0
            self._pending = []
            self.stats.tracks_started += 1
        self._last_box = face.box_xyxy
        return FaceObservation(index, "detected", face.box_xyxy, measured.landmarks, measured.spread)

    def _track(self, frame: np.ndarray, index: int, history: list[FaceObservation]) -> FaceObservation:
        assert self._calibration is not None and self._prev is not None
        h, w = frame.shape[:2]
        predicted = self._prev
        if self.options.predict_motion and self._prev2 is not None:
            predicted = self._prev + (self._prev - self._prev2)
        box = self._calibration.box_for(predicted)
        if visible_fraction(box, w, h) < self.options.min_visible:
            self._lose("left the frame")
            return FaceObservation(index, "none", box_xyxy=box, reason="left the frame")
        self._since_detect += 1
        confirming: FaceDetection | None = None
        if self.options.detect_every and (self._since_detect >= self.options.detect_every or self._misses):
            detections = self._detect_around(frame, box)
            self._since_detect = 0
            ious = box_iou(box, np.stack([d.box_xyxy for d in detections])) if detections else np.zeros(0)
            if len(ious) and ious.max() >= self.options.match_iou:
                self._misses = 0
                self._pending = []
                confirming = detections[int(np.argmax(ious))]
            else:
                self._misses += 1
                if self._misses >= self.options.max_misses:
                    # The face has not been seen since the last confirmation: drop those frames.
                    for obs in self._pending:
                        history[obs.frame_index - history[0].frame_index] = FaceObservation(
                            obs.frame_index, "none", reason="track not confirmed")
                        self.stats.invalidated += 1
                    self._lose("not confirmed by the detector")
                    return self._acquire(frame, index, detections)
        roll = roll_degrees(predicted) if self.options.derotate else 0.0
        measured = self._measure(frame, box, index, roll)
        if measured is None:
            self._lose("no face in the tracked box")
            return FaceObservation(index, "none", box_xyxy=box, reason="no face in the tracked box")
        step = landmark_frame(measured.landmarks)[1] / landmark_frame(self._prev)[1]
        if abs(np.log(step)) > np.log1p(self.options.max_scale_step):
            self._lose("face scale jumped")
            return FaceObservation(index, "none", box_xyxy=box, reason="face scale jumped")
        self._prev2, self._prev = self._prev, measured.landmarks
        self._last_box = box
        self._advance_calibration(confirming, measured.landmarks)
        obs = FaceObservation(index, "tracked", box, measured.landmarks, measured.spread)
        self._pending.append(obs)
        return obs

    def _advance_calibration(self, confirming: FaceDetection | None, landmarks: np.ndarray) -> None:
        """Low-frequency correction of the box placement from the detector, spread over K frames.

        The landmarks follow the face frame to frame; where the box sits around them drifts with
        pose. Each confirming detection sets a new target placement (blended with the previous
        target by ``recalibrate``) and the placement moves there linearly over the next
        ``detect_every`` frames, so the correction never shows up as a jump.
        """
        assert self._calibration is not None
        if confirming is not None and self.options.recalibrate > 0:
            measured = BoxCalibration.fit(confirming.box_xyxy, landmarks)
            target = self._ramp_to.blend(measured, self.options.recalibrate) if self._ramp_to else \
                self._calibration.blend(measured, self.options.recalibrate)
            self._ramp_from, self._ramp_to, self._ramp_step = self._calibration, target, 0
            self.stats.recalibrations += 1
        if self._ramp_to is not None and self._ramp_from is not None:
            length = max(self.options.detect_every, 1)
            self._ramp_step = min(self._ramp_step + 1, length)
            self._calibration = self._ramp_from.blend(self._ramp_to, self._ramp_step / length)

    def step(self, frame: np.ndarray, index: int, history: list[FaceObservation]) -> FaceObservation:
        if getattr(self.landmarker, "accepts_gray", False) and getattr(self.detector, "accepts_gray", False):
            frame = to_gray(frame)  # once per frame, for both backends
        if self.options.mode == "detect" or self._calibration is None:
            return self._acquire(frame, index)
        return self._track(frame, index, history)

    def run(self, frames: Iterable[np.ndarray]) -> list[FaceObservation]:
        """Observe every frame (streaming: one frame in memory at a time)."""
        history: list[FaceObservation] = []
        for index, frame in enumerate(frames):
            history.append(self.step(frame, index, history))
        return history


# --- gaps and segments -----------------------------------------------------------------------


@dataclass(frozen=True)
class GapOptions:
    max_gap: int = 8  # face-less runs up to this many frames inside a segment are interpolated
    min_segment: int = 16  # output clips shorter than this are dropped (recorded in the stats)

    def __post_init__(self) -> None:
        if self.max_gap < 0 or self.min_segment < 1:
            raise ValueError("max_gap must be >= 0 and min_segment >= 1")


@dataclass
class FaceTimeline:
    """Per-frame landmarks after gap handling, and the frame runs that become output clips."""

    landmarks: list[np.ndarray | None]
    sources: list[str]  # detected | tracked | interpolated | none
    segments: list[tuple[int, int]]  # half-open [start, stop)
    dropped: list[dict]  # {"start", "stop", "reason"} runs that were not kept
    counts: dict[str, int]


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """Half-open runs of consecutive True values."""
    runs, start = [], None
    for i, f in enumerate(flags):
        if f and start is None:
            start = i
        elif not f and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(flags)))
    return runs


def fill_gaps(observations: list[FaceObservation], options: GapOptions = GapOptions()) -> FaceTimeline:
    """Interpolate short face-less runs between faces; split on long ones; drop short clips.

    Leading and trailing face-less frames are trimmed (nothing to interpolate towards). A run
    longer than ``max_gap`` splits the video. Clips shorter than ``min_segment`` are dropped.
    """
    n = len(observations)
    landmarks: list[np.ndarray | None] = [o.landmarks for o in observations]
    sources = [o.source if o.landmarks is not None else "none" for o in observations]
    have = [lm is not None for lm in landmarks]
    dropped: list[dict] = []
    for start, stop in _runs([not h for h in have]):
        if start == 0 or stop == n:
            continue
        if stop - start <= options.max_gap:
            a, b = landmarks[start - 1], landmarks[stop]
            assert a is not None and b is not None
            if a.shape != b.shape:
                continue
            for i in range(start, stop):
                t = (i - start + 1) / (stop - start + 1)
                landmarks[i] = (1.0 - t) * a + t * b
                sources[i] = "interpolated"
    face_runs = _runs([lm is not None for lm in landmarks])
    for start, stop in _runs([lm is None for lm in landmarks]):
        reasons = sorted({observations[i].reason for i in range(start, stop) if observations[i].reason})
        dropped.append({"start": start, "stop": stop, "reason": "no face: " + (", ".join(reasons) or "not found")})
    segments = []
    for start, stop in face_runs:
        if stop - start < options.min_segment:
            dropped.append({"start": start, "stop": stop,
                            "reason": f"clip of {stop - start} frames is shorter than min_segment={options.min_segment}"})
        else:
            segments.append((start, stop))
    dropped.sort(key=lambda d: d["start"])
    counts = {"frames": n, "no_face": sum(1 for s in sources if s == "none")}
    for key in ("detected", "tracked", "interpolated"):
        counts[key] = sum(1 for s in sources if s == key)
    counts["segments"] = len(segments)
    counts["frames_kept"] = sum(b - a for a, b in segments)
    return FaceTimeline(landmarks, sources, segments, dropped, counts)

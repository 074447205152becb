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
from typing import Iterable, Literal, Sequence

import numpy as np

from styleinv_data.crop.ffhq import face_anchors, ffhq_quad
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
    # A tracked frame is checked against the box its own landmarks imply (a landmarker pulls its
    # points towards the box it is given, so a box placed off the face gives points between box
    # and face). A frame without motion history, or whose disagreement (centre shift / box size
    # + |log scale ratio|) exceeds ``verify_above``, is measured afresh from a detection around it.
    verify_above: float = 0.04
    motion_memory: int = 3  # the velocity estimate survives up to this many frames without a face
    max_outside: float = 0.05  # landmarks further outside the frame (fraction of the face size) fail

    def __post_init__(self) -> None:
        if self.mode not in ("track", "detect"):
            raise ValueError(f"track mode {self.mode!r}: use track or detect")
        if self.detect_every < 0 or self.max_misses < 1:
            raise ValueError("detect_every must be >= 0 and max_misses >= 1")
        if self.motion_memory < 0 or self.verify_above <= 0:
            raise ValueError("motion_memory must be >= 0 and verify_above > 0")


@dataclass
class FaceObservation:
    frame_index: int
    source: Literal["detected", "tracked", "none"]
    box_xyxy: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    spread: float = 0.0
    reason: str = ""  # why there is no face ("no detection", "left the frame", ...)
    confidence: float = 0.0  # 1: every check passed with room to spare; 0: at a check's limit
    check_failed: bool = False  # a face estimate was made here and rejected (never interpolated across)


@dataclass
class TrackStats:
    detections_run: int = 0
    tracks_started: int = 0
    tracks_lost: int = 0
    recalibrations: int = 0  # confirming detections that corrected the box placement
    invalidated: int = 0  # tracked frames discarded after a track failed verification
    verifications: int = 0  # tracked frames checked by a detection (no motion history, or prediction missed)
    reacquired: int = 0  # frames saved by a detection in the same frame after the track failed
    failed_checks: int = 0  # frames where a face was found but its estimate failed a check
    restarts_at_cuts: int = 0  # scene cuts at which the track was dropped and the face searched afresh
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


def box_disagreement(box_a: np.ndarray, box_b: np.ndarray) -> float:
    """Centre shift in units of ``box_a``'s size, plus the absolute log ratio of their sizes."""
    a, b = np.asarray(box_a, dtype=np.float64), np.asarray(box_b, dtype=np.float64)
    size_a = float(np.sqrt(max(a[2] - a[0], 1e-6) * max(a[3] - a[1], 1e-6)))
    size_b = float(np.sqrt(max(b[2] - b[0], 1e-6) * max(b[3] - b[1], 1e-6)))
    shift = float(np.linalg.norm((a[:2] + a[2:]) / 2.0 - (b[:2] + b[2:]) / 2.0)) / size_a
    return shift + abs(float(np.log(size_b / size_a)))


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
        self._motion: list[tuple[int, np.ndarray]] = []  # last two trusted (frame, landmarks), across tracks

    def _reset(self) -> None:
        self._calibration: BoxCalibration | None = None
        self._ramp_from: BoxCalibration | None = None  # the placement moves linearly to _ramp_to
        self._ramp_to: BoxCalibration | None = None
        self._ramp_step = 0
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

    def _confidence(self, result, disagreement: float) -> float:
        """1 minus the largest check value as a fraction of its limit (0: at a limit)."""
        o = self.options
        worst = max(result.spread / o.max_spread, max(result.follow, 0.0) / o.max_follow,
                    disagreement / o.verify_above)
        return float(np.clip(1.0 - worst, 0.0, 1.0))

    def _outside(self, landmarks: np.ndarray, width: int, height: int) -> bool:
        """Whether points lie outside the frame by more than ``max_outside`` of the face size.

        Points the landmarker could not see are guesses (a face entering or leaving the frame).
        """
        lo, hi = landmarks.min(0), landmarks.max(0)
        size = max(float(np.max(hi - lo)), 1.0)
        beyond = max(0.0, -lo[0], -lo[1], hi[0] - width, hi[1] - height)
        return beyond > self.options.max_outside * size

    def _remember(self, index: int, landmarks: np.ndarray) -> None:
        self._motion = [*self._motion[-1:], (index, landmarks)]

    def _prediction(self, index: int) -> tuple[np.ndarray, bool]:
        """The landmarks expected at ``index`` (the last ones moved by the last velocity), and whether
        there was a velocity (False: the last landmarks as they were).

        The velocity comes from the last two trusted frames, which may straddle a lost frame or a
        re-detection (up to ``motion_memory`` frames apart), so a track restarted mid-motion
        still predicts the motion. The last trusted landmarks are also the current track's last
        frame: ``_motion`` is set with every frame a track accepts.
        """
        last_index, last = self._motion[-1]
        if not self.options.predict_motion or len(self._motion) < 2:
            return last, False
        before_index, before = self._motion[-2]
        if last_index - before_index > self.options.motion_memory + 1:
            return last, False
        return last + (last - before) * ((index - last_index) / (last_index - before_index)), True

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
            return FaceObservation(index, "none", box_xyxy=face.box_xyxy, reason="no face in the detected box",
                                   check_failed=True)
        h, w = frame.shape[:2]
        if self._outside(measured.landmarks, w, h):
            return FaceObservation(index, "none", box_xyxy=face.box_xyxy, reason="face not fully in the frame",
                                   check_failed=True)
        if self.options.mode == "track":
            self._calibration = BoxCalibration.fit(face.box_xyxy, measured.landmarks)
            if self._motion:
                # Keep the velocity only if this face continues the last one (near where it went).
                last_index = self._motion[-1][0]
                expected = self._prediction(index)[0]
                shift = np.linalg.norm(measured.landmarks.mean(0) - expected.mean(0))
                if index - last_index > self.options.motion_memory + 1 or \
                        shift > 2.0 * landmark_frame(measured.landmarks)[1]:
                    self._motion = []
            self._remember(index, measured.landmarks)
            self._since_detect = 0
            self._misses = 0
            self._pending = []
            self.stats.tracks_started += 1
        self._last_box = face.box_xyxy
        return FaceObservation(index, "detected", face.box_xyxy, measured.landmarks, measured.spread,
                               confidence=self._confidence(measured, 0.0))

    def _recover(self, frame: np.ndarray, index: int, reason: str, box: np.ndarray | None) -> FaceObservation:
        """The track failed a check on this frame: drop the track and detect the face afresh here."""
        self._lose(reason)
        obs = self._acquire(frame, index)
        if obs.source == "detected":
            self.stats.reacquired += 1
            return obs
        # A frame where the detector finds no face either (a blank frame, an occlusion) holds no
        # face estimate: a short gap of them may be interpolated. A face found but rejected, or
        # one leaving the frame, may not.
        failed = obs.check_failed or reason == "left the frame"
        self.stats.failed_checks += failed
        return FaceObservation(index, "none", box_xyxy=box, reason=f"{reason}; {obs.reason}" if not failed else reason,
                               check_failed=failed)

    def _track(self, frame: np.ndarray, index: int, history: list[FaceObservation]) -> FaceObservation:
        assert self._calibration is not None and self._motion
        h, w = frame.shape[:2]
        predicted, has_velocity = self._prediction(index)
        box = self._calibration.box_for(predicted)
        if visible_fraction(box, w, h) < self.options.min_visible:
            return self._recover(frame, index, "left the frame", box)
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
                            obs.frame_index, "none", reason="track not confirmed", check_failed=True)
                        self.stats.invalidated += 1
                    self._lose("not confirmed by the detector")
                    return self._acquire(frame, index, detections)
        roll = roll_degrees(predicted) if self.options.derotate else 0.0
        measured = self._measure(frame, box, index, roll)
        if measured is None:
            return self._recover(frame, index, "no face in the tracked box", box)
        implied = self._calibration.box_for(measured.landmarks)
        disagreement = box_disagreement(box, implied)
        if confirming is None and (not has_velocity or disagreement > self.options.verify_above):
            # No motion history, or the prediction missed: a landmarker given a box off the face
            # returns points between box and face that can pass every other check. The frame is
            # measured afresh from a detection around the box instead.
            self.stats.verifications += 1
            detections = self._detect_around(frame, box)
            boxes = np.stack([d.box_xyxy for d in detections]) if detections else np.zeros((0, 4))
            overlap = np.maximum(box_iou(box, boxes), box_iou(implied, boxes)) if len(boxes) else np.zeros(0)
            if not len(overlap) or overlap.max() < self.options.match_iou:
                return self._recover(frame, index, "tracked box not confirmed by a detection", box)
            face = detections[int(np.argmax(overlap))]
            placed = self._placed_from_detection(frame, index, face, roll_degrees(measured.landmarks))
            if placed is None:
                # The track's box placement does not fit this detection: start a new track here.
                self._reset()
                self.stats.reacquired += 1
                return self._acquire(frame, index, [face])
            measured, box, disagreement = placed
            self._misses, self._pending = 0, []  # a detection confirmed the track here
        if self._outside(measured.landmarks, w, h):
            return self._recover(frame, index, "face not fully in the frame", box)
        step = landmark_frame(measured.landmarks)[1] / landmark_frame(self._motion[-1][1])[1]
        if abs(np.log(step)) > np.log1p(self.options.max_scale_step):
            return self._recover(frame, index, "face scale jumped", box)
        self._remember(index, measured.landmarks)
        self._last_box = box
        self._advance_calibration(confirming, measured.landmarks)
        obs = FaceObservation(index, "tracked", box, measured.landmarks, measured.spread,
                              confidence=self._confidence(measured, disagreement))
        self._pending.append(obs)
        return obs

    def _placed_from_detection(self, frame: np.ndarray, index: int, face: FaceDetection, roll: float):
        """Landmarks measured in the track's own box placement around where a detection puts the face.

        The detection's box locates the face; the landmarks it gives set where the track's box
        goes, and the frame is measured again in that box, so the frame stays consistent with the
        track's calibration (a new track would restart it from one detection's noise). ``None``
        when that second measurement does not agree with its box either.
        """
        assert self._calibration is not None
        located = self._measure(frame, face.box_xyxy, index, roll)
        if located is None:
            return None
        box = self._calibration.box_for(located.landmarks)
        measured = self._measure(frame, box, index, roll_degrees(located.landmarks))
        if measured is None:
            return None
        disagreement = box_disagreement(box, self._calibration.box_for(measured.landmarks))
        if disagreement > self.options.verify_above:
            return None
        return measured, box, disagreement

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

    def restart(self) -> None:
        """Forget the track at a scene cut: the next frame is searched for afresh, with no box,
        placement or motion carried over from the previous shot."""
        self._reset()
        self._last_box = None
        self._motion = []
        self.stats.restarts_at_cuts += 1

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
    # A gap is interpolated only if a straight line fits the motion around it: the predicted
    # error of linear interpolation (from the velocities at its ends, see ``interpolation_error``)
    # must stay under this many output pixels at 256. A gap holding a frame whose estimate failed
    # a check is never interpolated.
    max_interp_error: float = 4.0

    def __post_init__(self) -> None:
        if self.max_gap < 0 or self.min_segment < 1:
            raise ValueError("max_gap must be >= 0 and min_segment >= 1")
        if self.max_interp_error < 0:
            raise ValueError("max_interp_error must be >= 0")


@dataclass
class FaceTimeline:
    """Per-frame landmarks after gap handling, and the frame runs that become output clips."""

    landmarks: list[np.ndarray | None]
    sources: list[str]  # detected | tracked | interpolated | none
    segments: list[tuple[int, int]]  # half-open [start, stop)
    dropped: list[dict]  # {"start", "stop", "reason"} runs that were not kept
    counts: dict[str, int]
    confidence: list[float | None] = field(default_factory=list)  # per frame (None: no face)


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


def interpolation_error(landmarks: list[np.ndarray | None], start: int, stop: int, size: int = 256) -> float:
    """Predicted worst error (output pixels at ``size``) of interpolating ``[start, stop)`` linearly.

    Under constant acceleration, a straight line between the gap's ends misses the path by
    ``|v_end - chord| * (g + 1) / 4`` at most, where ``v_end`` is the quad corners' velocity at
    either end and ``chord`` the line's velocity. ``inf`` when neither end has a velocity.
    """
    a, b = landmarks[start - 1], landmarks[stop]
    assert a is not None and b is not None
    qa, qb = ffhq_quad(a), ffhq_quad(b)
    span = stop - start + 1
    chord = (qb - qa) / span
    side = max(float(np.hypot(*(qa[3] - qa[0]))), 1e-6)
    misses = []
    before = landmarks[start - 2] if start >= 2 else None
    after = landmarks[stop + 1] if stop + 1 < len(landmarks) else None
    if before is not None and before.shape == a.shape:
        misses.append(np.max(np.hypot(*((qa - ffhq_quad(before)) - chord).T)))
    if after is not None and after.shape == b.shape:
        misses.append(np.max(np.hypot(*((ffhq_quad(after) - qb) - chord).T)))
    if not misses:
        return float("inf")
    return float(max(misses) * span / 4.0 * size / side)


def fill_gaps(observations: list[FaceObservation], options: GapOptions = GapOptions(),
              cuts: Sequence[int] = ()) -> FaceTimeline:
    """Interpolate short face-less runs between faces; split on long ones; drop short clips.

    Leading and trailing face-less frames are trimmed (nothing to interpolate towards). A run
    longer than ``max_gap``, holding a frame whose estimate failed a check, or around which the
    motion is not straight enough (``max_interp_error``) splits the video. A scene cut (the first
    frame of a new shot, in ``cuts``) always splits it: no clip and no interpolated gap spans one.
    Clips shorter than ``min_segment`` are dropped.
    """
    n = len(observations)
    landmarks: list[np.ndarray | None] = [o.landmarks for o in observations]
    sources = [o.source if o.landmarks is not None else "none" for o in observations]
    confidence: list[float | None] = [o.confidence if o.landmarks is not None else None for o in observations]
    have = [lm is not None for lm in landmarks]
    dropped: list[dict] = []
    not_interpolated: dict[tuple[int, int], str] = {}
    measured = list(landmarks)
    for start, stop in _runs([not h for h in have]):
        if start == 0 or stop == n:
            continue
        if stop - start > options.max_gap:
            continue
        a, b = measured[start - 1], measured[stop]
        assert a is not None and b is not None
        if a.shape != b.shape:
            continue
        if any(observations[i].check_failed for i in range(start, stop)):
            not_interpolated[(start, stop)] = "a face estimate failed a check here"
            continue
        cut = next((c for c in cuts if start <= c <= stop), None)
        if cut is not None:
            not_interpolated[(start, stop)] = f"a scene cut at frame {cut}"
            continue
        error = interpolation_error(measured, start, stop)
        if error > options.max_interp_error:
            not_interpolated[(start, stop)] = (f"motion too uneven to interpolate (predicted error {error:.1f} px "
                                               f"at 256 > max_interp_error={options.max_interp_error:g})"
                                               if np.isfinite(error) else "no motion estimate at either end")
            continue
        ends = min(confidence[start - 1] or 0.0, confidence[stop] or 0.0)
        for i in range(start, stop):
            t = (i - start + 1) / (stop - start + 1)
            landmarks[i] = (1.0 - t) * a + t * b
            sources[i] = "interpolated"
            confidence[i] = float(ends * max(0.0, 1.0 - error / max(options.max_interp_error, 1e-9)))
    face_runs = []
    for start, stop in _runs([lm is not None for lm in landmarks]):
        bounds = [start, *sorted(c for c in set(cuts) if start < c < stop), stop]
        face_runs += list(zip(bounds, bounds[1:]))
    for start, stop in _runs([lm is None for lm in landmarks]):
        reasons = sorted({observations[i].reason for i in range(start, stop) if observations[i].reason})
        reason = "no face: " + (", ".join(reasons) or "not found")
        if (start, stop) in not_interpolated:
            reason += f"; not interpolated: {not_interpolated[(start, stop)]}"
        dropped.append({"start": start, "stop": stop, "reason": reason})
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
    counts["failed_check"] = sum(1 for o in observations if o.check_failed)
    counts["gaps_not_interpolated"] = len(not_interpolated)
    counts["segments"] = len(segments)
    counts["cuts"] = len(set(cuts))
    counts["frames_kept"] = sum(b - a for a, b in segments)
    return FaceTimeline(landmarks, sources, segments, dropped, counts, confidence)

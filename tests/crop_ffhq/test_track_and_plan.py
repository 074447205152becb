"""Tracking, gaps, main-face choice and determinism of the FFHQ plan on small synthetic videos."""

from __future__ import annotations

import numpy as np
import pytest

from styleinv_data.crop.ffhq import apply_affine, ffhq_quad, render_quad
from styleinv_data.crop.stabilize import StabilizeOptions, stabilized_landmarks
from styleinv_data.crop.track import FaceObservation, GapOptions, fill_gaps
from styleinv_data.faces.dlib_backend import DlibHogDetector, DlibLandmarker
from styleinv_data.pipeline.ffhq_strategy import FfhqOptions, plan_frames

SMALL = {"min_segment": 8, "detect_max_side": 320}


def options(**extra) -> FfhqOptions:
    return FfhqOptions.from_dict({**SMALL, **extra})


@pytest.fixture(scope="module")
def reference_quad(astronaut_face):
    """The face's quad in the photo, from 32 jittered runs (the ground truth for the moving clip)."""
    face = DlibHogDetector(max_side=0).detect(astronaut_face)[0]
    lm = stabilized_landmarks(astronaut_face, face.box_xyxy, DlibLandmarker(),
                              StabilizeOptions(num_boxes=32, shift_fraction=0.05, seed=1, face_px=320), 0)
    return ffhq_quad(lm.landmarks)


def quads_of(plan) -> dict[int, np.ndarray]:
    return {f.frame_index: f.quad for f in plan.frames}


def test_tracking_follows_the_face_and_detects_rarely(moving_face_frames, astronaut_face, face_placer, reference_quad):
    plan = plan_frames("clip", moving_face_frames, options())
    assert [(s.out_id, s.start, s.stop) for s in plan.segments] == [("clip", 0, 40)]
    assert plan.stats["detections_run"] <= 40 // 10 + 2
    assert plan.stats["tracked"] >= 38
    errors = []
    for i in range(40):
        _, m = face_placer(astronaut_face, (130 + 1.5 * i, 120 + 0.5 * np.sin(i / 6)), 0.9, 4 * np.sin(i / 10), 320, 240)
        truth = apply_affine(m, reference_quad)
        side = np.hypot(*(truth[3] - truth[0]))
        errors.append(np.hypot(*(quads_of(plan)[i] - truth).T).mean() * 256 / side)
    assert np.mean(errors) < 2.5  # output pixels at 256


def test_a_video_without_a_face_has_no_output_and_a_reason():
    rng = np.random.default_rng(0)
    frames = [np.clip(rng.normal(120, 30, (120, 160, 3)), 0, 255).astype(np.uint8) for _ in range(12)]
    plan = plan_frames("empty", frames, options())
    assert plan.segments == []
    assert plan.frames == []
    assert plan.stats["reason"] == "no face found in any frame"
    assert plan.stats["no_face"] == 12


def test_face_leaving_and_reentering_splits_the_video(astronaut_face, face_placer):
    frames = []
    for i in range(50):
        if i < 16:
            x = 150.0
        elif i < 20:
            x = 150.0 - 40.0 * (i - 15)  # slides out to the left
        elif i < 34:
            x = -400.0  # gone
        else:
            x = 150.0
        frames.append(face_placer(astronaut_face, (x, 120), 0.9, 0.0, 320, 240)[0])
    plan = plan_frames("in_out", frames, options())
    spans = [(s.out_id, s.start, s.stop) for s in plan.segments]
    assert len(spans) == 2, spans
    assert spans[0][0] == "in_out_s0" and spans[1][0] == "in_out_s1"
    assert spans[0][1] == 0 and 15 <= spans[0][2] <= 20
    assert 34 <= spans[1][1] <= 36 and spans[1][2] == 50
    gap = [d for d in plan.stats["dropped"] if d["start"] <= 25 < d["stop"]]
    assert gap and gap[0]["reason"].startswith("no face")
    kept = {i for s in plan.segments for i in range(s.start, s.stop)}
    assert not kept & set(range(20, 34))


def test_short_gap_is_interpolated(moving_face_frames):
    frames = list(moving_face_frames)
    for i in (15, 16, 17):
        frames[i] = np.full_like(frames[i], 40)
    plan = plan_frames("gap", frames, options())
    assert [(s.start, s.stop) for s in plan.segments] == [(0, 40)]
    sources = {f.frame_index: f.source for f in plan.frames}
    assert [sources[i] for i in (15, 16, 17)] == ["interpolated"] * 3
    q = quads_of(plan)
    np.testing.assert_allclose(q[16], (q[14] + q[18]) / 2, atol=0.05)  # landmarks are interpolated linearly


def test_main_face_is_the_large_one_even_with_a_second_face(astronaut_face, face_placer):
    frames = []
    for i in range(24):
        big, _ = face_placer(astronaut_face, (110 + i, 130), 0.9, 0.0, 360, 260)
        small, _ = face_placer(astronaut_face, (285, 80), 0.55, 0.0, 360, 260)
        frame = big.copy()
        frame[:, 215:] = small[:, 215:]
        frames.append(frame)
    det = DlibHogDetector(max_side=0).detect(frames[0])
    assert len(det) == 2  # both faces are there
    plan = plan_frames("two", frames, options())
    assert [(s.start, s.stop) for s in plan.segments] == [(0, 24)]
    for f in plan.frames:
        centre = f.quad.mean(0)
        assert abs(centre[0] - (110 + f.frame_index)) < 20 and abs(centre[1] - 130) < 25


def test_same_seed_gives_identical_crops_other_seed_differs(moving_face_frames):
    frames = moving_face_frames[:16]
    a = plan_frames("d", frames, options(seed=5))
    b = plan_frames("d", frames, options(seed=5))
    c = plan_frames("d", frames, options(seed=6))
    for fa, fb in zip(a.frames, b.frames):
        np.testing.assert_array_equal(fa.quad, fb.quad)
        np.testing.assert_array_equal(render_quad(frames[fa.frame_index], fa.quad, 64),
                                      render_quad(frames[fb.frame_index], fb.quad, 64))
    assert not all(np.array_equal(fa.quad, fc.quad) for fa, fc in zip(a.frames, c.frames))


FIVE_POINTS = np.array([[100.0, 100.0], [140.0, 100.0], [120.0, 120.0], [108.0, 140.0], [132.0, 140.0]])


def test_fill_gaps_trims_ends_and_drops_short_clips():
    lm = FIVE_POINTS.copy()
    obs = [FaceObservation(i, "none", reason="no face detected") for i in range(20)]
    for i in list(range(2, 6)) + list(range(8, 18)):
        obs[i] = FaceObservation(i, "tracked", None, lm + i)
    timeline = fill_gaps(obs, GapOptions(max_gap=1, min_segment=5))
    assert timeline.segments == [(8, 18)]
    reasons = {(d["start"], d["stop"]): d["reason"] for d in timeline.dropped}
    assert reasons[(2, 6)].startswith("clip of 4 frames")
    assert reasons[(0, 2)].startswith("no face") and reasons[(18, 20)].startswith("no face")
    wide = fill_gaps(obs, GapOptions(max_gap=2, min_segment=5))
    assert wide.segments == [(2, 18)] and wide.counts["interpolated"] == 2
    np.testing.assert_allclose(wide.landmarks[6], lm + 6)


def _moving_observations(positions, missing=(), failed=()):
    obs = []
    for i, x in enumerate(positions):
        if i in missing or i in failed:
            obs.append(FaceObservation(i, "none", reason="no face detected" if i in missing else "face scale jumped",
                                       check_failed=i in failed))
        else:
            obs.append(FaceObservation(i, "tracked", None, FIVE_POINTS + [x, 0.0], confidence=0.9))
    return obs


def test_a_gap_in_steady_motion_is_interpolated_with_a_confidence():
    timeline = fill_gaps(_moving_observations([3.0 * i for i in range(20)], missing=(9, 10)), GapOptions(min_segment=5))
    assert timeline.segments == [(0, 20)] and timeline.sources[9] == "interpolated"
    np.testing.assert_allclose(timeline.landmarks[10], FIVE_POINTS + [30.0, 0.0], atol=1e-9)
    assert timeline.confidence[9] == pytest.approx(0.9)  # a straight line: no predicted error
    assert timeline.confidence[8] == 0.9


def test_a_gap_where_the_motion_stops_is_not_interpolated():
    """The face moves 12 px/frame (the quad is ~150 px: ~20 px/frame at 256) then stops inside the gap:
    a straight line between the gap's ends would be ~10 px off at 256. The video splits instead."""
    positions = [12.0 * min(i, 10) for i in range(24)]
    timeline = fill_gaps(_moving_observations(positions, missing=(9, 10, 11)), GapOptions(min_segment=5))
    assert timeline.segments == [(0, 9), (12, 24)]
    assert "motion too uneven" in timeline.dropped[0]["reason"]
    assert timeline.counts["gaps_not_interpolated"] == 1


def test_a_gap_holding_a_failed_check_is_never_interpolated():
    obs = _moving_observations([1.0 * i for i in range(20)], failed=(9,))
    timeline = fill_gaps(obs, GapOptions(min_segment=5))
    assert timeline.segments == [(0, 9), (10, 20)]
    assert "failed a check" in timeline.dropped[0]["reason"]
    assert timeline.counts["failed_check"] == 1
    assert fill_gaps(_moving_observations([1.0 * i for i in range(20)], missing=(9,)),
                     GapOptions(min_segment=5)).segments == [(0, 20)]


def test_box_calibration_reproduces_the_box_and_turns_with_the_face():
    from styleinv_data.crop.track import BoxCalibration

    rng = np.random.default_rng(0)
    pts = rng.normal(0, 20, (68, 2)) + [200, 150]
    pts[36:42] = [180, 140]
    pts[42:48] = [220, 140]  # a level eye line
    box = np.array([170.0, 120.0, 240.0, 200.0])
    cal = BoxCalibration.fit(box, pts)
    np.testing.assert_allclose(cal.box_for(pts), box, atol=1e-9)
    theta = np.radians(30)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    centre = pts.mean(0)
    turned = cal.box_for((pts - centre) @ rot.T + centre)
    box_centre = (box[:2] + box[2:]) / 2
    np.testing.assert_allclose((turned[:2] + turned[2:]) / 2, rot @ (box_centre - centre) + centre, atol=1e-9)
    np.testing.assert_allclose(turned[2:] - turned[:2], box[2:] - box[:2], atol=1e-9)


def test_main_face_prefers_continuity_over_size():
    from styleinv_data.crop.track import pick_main_face
    from styleinv_data.faces.base import FaceDetection

    big = FaceDetection(np.array([0.0, 0.0, 100.0, 100.0]), 1.0)
    small = FaceDetection(np.array([200.0, 0.0, 260.0, 60.0]), 1.0)
    assert pick_main_face([small, big], None, 2.0) is big
    assert pick_main_face([small, big], np.array([205.0, 2.0, 262.0, 61.0]), 2.0) is small
    assert pick_main_face([], None, 2.0) is None


def test_confirmation_detects_in_a_crop_so_small_faces_in_hd_frames_are_found(astronaut_face, face_placer):
    from styleinv_data.crop.track import FaceTracker, TrackOptions

    frame, m = face_placer(astronaut_face, (900, 400), 0.8, 0.0, 1280, 720)
    truth = np.array([175.0, 76.0, 266.0, 167.0])
    corners = np.array([[truth[0], truth[1]], [truth[2], truth[3]]]) @ m[:, :2].T + m[:, 2]
    box = corners.reshape(4)
    detector = DlibHogDetector(max_side=320, upsample=1)
    assert detector.detect(frame) == []  # the whole frame downscaled to 320 px loses the 73 px face
    tracker = FaceTracker(detector, DlibLandmarker(), StabilizeOptions(), TrackOptions())
    found = tracker._detect_around(frame, box + np.array([6.0, -4.0, 6.0, -4.0]))
    assert len(found) == 1
    np.testing.assert_allclose(found[0].box_xyxy, box, atol=0.2 * (box[2] - box[0]))


def test_five_point_landmarker_tracks_and_gives_the_same_quads(moving_face_frames):
    """A 5-point landmarker (as RetinaFace gives) goes through tracking and the FFHQ recipe alike."""
    from styleinv_data.crop.track import FaceTracker

    class FivePoints:
        name = "five"
        num_points = 5
        accepts_gray = True

        def __init__(self):
            self.inner = DlibLandmarker()

        def landmarks(self, image, boxes):
            p = self.inner.landmarks(image, boxes)
            return np.stack([p[:, 36:42].mean(1), p[:, 42:48].mean(1), p[:, 30], p[:, 48], p[:, 54]], 1)

    detector = DlibHogDetector(max_side=320)
    opts = options()
    tracker = FaceTracker(detector, FivePoints(), opts.stabilize, opts.track)
    five = tracker.run(moving_face_frames[:20])
    full = FaceTracker(detector, FivePoints().inner, opts.stabilize, opts.track).run(moving_face_frames[:20])
    assert [o.source for o in five] == ["detected"] + ["tracked"] * 19
    assert tracker.stats.verifications == 1  # frame 1 has no motion history yet: a detection checks it
    for a, b in zip(five, full):
        assert a.landmarks.shape == (5, 2)
        assert np.hypot(*(ffhq_quad(a.landmarks) - ffhq_quad(b.landmarks)).T).mean() < 3.0


def test_a_reused_plan_keeps_its_failed_frames_failed():
    """--reuse-landmarks with wider gap rules must not interpolate across a frame that failed a check."""
    from styleinv_data.pipeline.ffhq_strategy import build_plan, observations_from_plan

    obs = _moving_observations([1.0 * i for i in range(20)], failed=(9,))
    plan = build_plan("v", obs, options(min_segment=5), (640, 480))
    assert plan.stats["failed_check_frames"] == [9]
    assert [(s.start, s.stop) for s in plan.segments] == [(0, 9), (10, 20)]
    again = observations_from_plan(plan)
    assert again[9].check_failed and not again[8].check_failed
    reused = build_plan("v", again, options(min_segment=5, max_gap=3), (640, 480), reused=True)
    assert [(s.start, s.stop) for s in reused.segments] == [(0, 9), (10, 20)]
    assert all(f.confidence == pytest.approx(0.9) or f.source != "interpolated" for f in plan.frames)

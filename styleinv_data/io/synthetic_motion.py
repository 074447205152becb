"""Face clips with a known similarity trajectory and hard motion, for tests and benchmarks.

A real face photo (skimage's astronaut) is placed in each frame by a known similarity transform
(translation of the face centre, roll about it, scale) over a textured background, with sensor
noise and JPEG compression. The truth of any per-frame quantity measured on the photo (its FFHQ
quad, say) is that quantity pushed through the frame's transform. The trajectories are the hard
cases of the FFHQ crop:

* ``onset``: a still face that starts moving at 30 px/frame, stops, starts again;
* ``fast``: steady fast motion (~0.3 face-box widths per frame) with changes of speed;
* ``roll``: a quick 10 degree roll over 8 frames between slow drifts;
* ``leave_return``: the face moves out of the frame, stays out, and comes back;
* ``smooth``: slow smooth motion (the easy case, for "no worse than before" checks).

Deterministic under ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from styleinv_data.io.synthetic import textured_background

TRAJECTORIES = ("onset", "fast", "roll", "leave_return", "smooth")
FACE_CENTRE_IN_PHOTO = (220.0, 125.0)  # the astronaut's face centre in skimage's 512x512 photo
FACE_CROP_IN_PHOTO = (40, 0, 400, 300)  # x0, y0, x1, y1: head and shoulders, pasted over the background


@dataclass(frozen=True)
class Trajectory:
    """Per-frame placement of the face centre (px), roll (degrees) and scale of the photo."""

    name: str
    tx: np.ndarray
    ty: np.ndarray
    angle: np.ndarray
    scale: np.ndarray
    hard: tuple[int, int]  # half-open frame range of the hard part (onset, fast move, roll, exit)

    @property
    def num_frames(self) -> int:
        return len(self.tx)


def _smoothstep(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return 3 * u ** 2 - 2 * u ** 3


def _piecewise_velocity(x0: float, pieces: list[tuple[int, float]], n: int) -> np.ndarray:
    """Positions from ``x0`` with a constant velocity per piece ``(frames, px/frame)``; then still."""
    v = np.zeros(n)
    i = 0
    for frames, speed in pieces:
        v[i:i + frames] = speed
        i += frames
    return x0 + np.concatenate([[0.0], np.cumsum(v[:-1])])


def make_trajectory(name: str, num_frames: int = 90, seed: int = 0, width: int = 640,
                    height: int = 480) -> Trajectory:
    if name not in TRAJECTORIES:
        raise ValueError(f"trajectory {name!r}: use one of {', '.join(TRAJECTORIES)}")
    rng = np.random.default_rng(seed)
    n = num_frames
    t = np.arange(n, dtype=np.float64)
    wobble_y = height / 2 + 6.0 * np.sin(2 * np.pi * t / 47.0 + rng.uniform(0, 2 * np.pi))
    angle = 2.0 * np.sin(2 * np.pi * t / 61.0 + rng.uniform(0, 2 * np.pi))
    scale = np.full(n, 1.0)
    if name == "onset":
        # still, then 30 px/frame to the right, still, then 30 px/frame back.
        a = n // 4
        tx = _piecewise_velocity(130.0, [(a, 0.0), (12, 30.0), (a // 2, 0.0), (8, -30.0)], n)
        hard = (a, a + 12 + a // 2 + 8 + 1)
    elif name == "fast":
        # ~0.3 box widths per frame (the dlib box of this face is ~95 px at scale 1), speed changes.
        start = 8
        tx = _piecewise_velocity(110.0, [(start, 0.0), (12, 30.0), (4, 5.0), (10, -28.0), (6, -12.0),
                                         (10, 32.0), (3, 0.0), (12, -30.0)], n)
        hard = (start, min(n, start + 57))
    elif name == "roll":
        a = n // 2
        tx = width / 2 + 40.0 * np.sin(2 * np.pi * t / 90.0)
        angle = angle + 10.0 * _smoothstep((t - a) / 8.0)
        hard = (a, a + 9)
    elif name == "leave_return":
        # leave through the left edge at ~10 px/frame, stay out 10 frames, come back.
        a = n // 5
        tx = _piecewise_velocity(200.0, [(a, 0.0), (28, -10.0), (10, 0.0), (28, 10.0)], n)
        hard = (a, a + 66)
    else:  # smooth
        tx = width / 2 + 60.0 * np.sin(2 * np.pi * t / 80.0 + rng.uniform(0, 2 * np.pi))
        scale = scale * np.exp(0.1 * np.sin(2 * np.pi * t / 70.0))
        hard = (0, 0)
    return Trajectory(name, tx, wobble_y, angle, scale, hard)


def face_transforms(trajectory: Trajectory) -> np.ndarray:
    """``(T, 2, 3)`` photo -> frame similarity transforms (pixel-centre convention of cv2)."""
    import cv2  # noqa: PLC0415

    cx, cy = FACE_CENTRE_IN_PHOTO
    out = []
    for i in range(trajectory.num_frames):
        m = cv2.getRotationMatrix2D((cx, cy), float(trajectory.angle[i]), float(trajectory.scale[i]))
        m[:, 2] += np.array([trajectory.tx[i] - cx, trajectory.ty[i] - cy])
        out.append(m)
    return np.stack(out)


def render_face_motion(trajectory: Trajectory, width: int = 640, height: int = 480, seed: int = 0,
                       noise: float = 2.0, jpeg_quality: int = 85) -> tuple[list[np.ndarray], np.ndarray]:
    """RGB8 frames and the ``(T, 2, 3)`` photo -> frame transforms of a trajectory."""
    import cv2  # noqa: PLC0415
    from skimage import data  # noqa: PLC0415

    photo = data.astronaut()
    x0, y0, x1, y1 = FACE_CROP_IN_PHOTO
    alpha = np.zeros(photo.shape[:2], np.float32)
    alpha[y0:y1, x0:x1] = 1.0
    alpha = cv2.GaussianBlur(alpha, (0, 0), 6.0)  # soft edge: the pasted region has no hard border
    background = textured_background(width, height, seed)
    rng = np.random.default_rng(seed + 1)
    transforms = face_transforms(trajectory)
    frames = []
    for m in transforms:
        fg = cv2.warpAffine(photo, m, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)
        a = cv2.warpAffine(alpha, m, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
        frame = a * fg.astype(np.float32) + (1.0 - a) * background.astype(np.float32)
        frame = frame + rng.normal(0.0, noise, frame.shape)
        frame8 = np.clip(frame, 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", frame8[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        assert ok
        frames.append(np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]))
    return frames, transforms

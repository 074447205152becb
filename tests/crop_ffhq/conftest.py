"""Fixtures for the FFHQ crop tests: real faces moved through small synthetic videos."""

from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
pytest.importorskip("dlib")

ASTRONAUT_FACE_CENTRE = np.array([220.0, 125.0])  # where the face is in skimage's astronaut photo


def place_face(photo: np.ndarray, centre_xy, scale: float, angle_deg: float, width: int, height: int,
               background: int | None = 40) -> tuple[np.ndarray, np.ndarray]:
    """The photo's face moved to ``centre_xy`` (frame coords); returns the frame and the 2x3 map."""
    m = cv2.getRotationMatrix2D((float(ASTRONAUT_FACE_CENTRE[0]), float(ASTRONAUT_FACE_CENTRE[1])), angle_deg, scale)
    m[:, 2] += np.asarray(centre_xy, dtype=np.float64) - ASTRONAUT_FACE_CENTRE
    if background is None:
        frame = cv2.warpAffine(photo, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    else:
        frame = cv2.warpAffine(photo, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=(background, background, background))
    return frame, m


def face_only(photo: np.ndarray) -> np.ndarray:
    """The astronaut photo with everything but the face region flattened (no second, weak face)."""
    out = np.full_like(photo, 40)
    out[40:230, 130:310] = photo[40:230, 130:310]
    return out


@pytest.fixture(scope="session")
def face_placer():
    """:func:`place_face` (test modules cannot import conftest under --import-mode=importlib)."""
    return place_face


@pytest.fixture(scope="session")
def astronaut_face(astronaut_rgb) -> np.ndarray:
    return face_only(astronaut_rgb)


@pytest.fixture(scope="session")
def moving_face_frames(astronaut_face) -> list[np.ndarray]:
    """40 frames 320x240: the face drifts right and tilts a little."""
    frames = []
    for i in range(40):
        frame, _ = place_face(astronaut_face, (130 + 1.5 * i, 120 + 0.5 * np.sin(i / 6)), 0.9, 4 * np.sin(i / 10), 320, 240)
        frames.append(frame)
    return frames

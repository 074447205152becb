"""The moving-faces set: the `photos` option limits the identities the videos are drawn from."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from styleinv_data.moving_faces import PHOTO_COUNT, MovingFacesConfig, write_moving_faces


def _is_colour(frame_path) -> bool:
    rgb = np.asarray(Image.open(frame_path).convert("RGB")).astype(np.int16)
    return bool(np.abs(rgb[..., 0] - rgb[..., 2]).max() > 8)


def test_one_photo_gives_only_the_colour_astronaut(tmp_path):
    write_moving_faces(tmp_path / "one", MovingFacesConfig(num_videos=5, frames=2, size=16, photos=1), manifest=False)
    firsts = sorted((tmp_path / "one").glob("face_*/000000.png"))
    assert len(firsts) == 5
    assert all(_is_colour(p) for p in firsts)  # the astronaut is the only colour photo


def test_all_photos_include_grey_lfw_faces(tmp_path):
    write_moving_faces(tmp_path / "all", MovingFacesConfig(num_videos=8, frames=2, size=16), manifest=False)
    firsts = sorted((tmp_path / "all").glob("face_*/000000.png"))
    assert sum(not _is_colour(p) for p in firsts) >= 4  # 20 of the 21 photos are grey


@pytest.mark.parametrize("photos", [0, PHOTO_COUNT + 1])
def test_photos_out_of_range_is_refused(photos):
    with pytest.raises(ValueError, match="photos must be between 1 and 21"):
        MovingFacesConfig(photos=photos)

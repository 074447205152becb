"""The finetune's image folder: RGB uint8, transparency flattened onto white, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from styleinv_model.train.data import ImageFolderDataset


def test_transparent_pixels_become_white_and_opaque_ones_keep_their_colour(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)  # stored colour black, fully transparent
    rgba[:4] = (200, 40, 10, 255)  # top half opaque orange
    rgba[4:, :4] = (0, 0, 200, 128)  # half-transparent blue
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(np.full((8, 8), 90, dtype=np.uint8), "L").save(tmp_path / "b.png")
    data = ImageFolderDataset(tmp_path, 8, mirror=False)
    batch = data[[0, 1]].numpy()  # [2, 3, 8, 8]
    assert batch.dtype == np.uint8 and batch.shape == (2, 3, 8, 8)
    a = batch[0].transpose(1, 2, 0)
    assert (a[:4] == (200, 40, 10)).all()
    assert (a[4:, 4:] == 255).all()  # transparent: white, not the stored black
    assert np.abs(a[4:, :4].astype(int) - (127, 127, 227)).max() <= 1  # blue over white at alpha 1/2
    assert (batch[1] == 90).all()  # grey becomes RGB


def test_wrong_size_and_unreadable_images_name_the_file(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((6, 8, 3), dtype=np.uint8)).save(tmp_path / "small.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    data = ImageFolderDataset(tmp_path, 8, mirror=False)
    names = [p.name for p in data.files]
    with pytest.raises(ValueError, match=r"broken\.png: unreadable image"):
        data[[names.index("broken.png")]]
    with pytest.raises(ValueError, match=r"small\.png is 8x6, expected 8x8"):
        data[[names.index("small.png")]]

"""End to end on the real carphone video: dlib-68 hull masks in the FaceForensics layout -> mask crop."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from styleinv_data.demo import main as demo_main


def test_demo_on_carphone(carphone_path, dlib_68_model_path, tmp_path, capsys):
    assert demo_main(["--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "contact sheet" in printed
    crops = sorted((tmp_path / "crops" / "frames" / "carphone").iterdir())
    assert len(crops) == 120  # output frame count equals input (carphone has 120 frames)
    for path in crops:
        with Image.open(path) as im:
            assert im.size == (256, 256) and im.mode == "RGB"
    status = json.loads((tmp_path / "crops" / "_meta" / "carphone.status.json").read_text())
    assert status["state"] == "done"
    assert status["counts"]["frames_in"] == status["counts"]["frames_out"] == 120
    # dlib finds the face in 118/120 frames: the other 2 masks are empty and get interpolated boxes
    assert status["counts"]["empty_mask"] == status["counts"]["interpolated"] == 2
    masks = tmp_path / "faceforensics" / "train" / "mask" / "carphone.mp4"
    assert masks.is_file()
    sheet = Image.open(tmp_path / "contact_sheet.png")
    assert sheet.size == (8 * 128, 256)
    # the crops are faces, not the uncropped frame: the centre of the crop is skin-toned (R > B)
    centre = np.asarray(Image.open(crops[60]))[96:160, 96:160].reshape(-1, 3).mean(axis=0)
    assert centre[0] > centre[2] + 20

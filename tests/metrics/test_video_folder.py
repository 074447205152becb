from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from styleinv_model.metrics.sources import FolderVideoSource
from styleinv_model.metrics.video_folder import count_frames, list_videos, read_frames


def _frame_folder(root: Path, name: str, frames: list[np.ndarray], mode: str = "RGB") -> None:
    folder = root / name
    folder.mkdir(parents=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).convert(mode).save(folder / f"{i:06d}.png")


def test_crop_output_folder_reads_its_frames_folder(tmp_path: Path, carphone_frames: np.ndarray) -> None:
    """A crop output OUT (OUT/_meta beside OUT/frames/<id>/) gives its clips, as OUT/frames does."""
    _frame_folder(tmp_path / "frames", "v0", list(carphone_frames[:3]))
    _frame_folder(tmp_path / "frames", "v1", list(carphone_frames[:2]))
    (tmp_path / "_meta").mkdir()
    entries = list_videos(tmp_path)
    assert [(e.video_id, count_frames(e)) for e in entries] == [("v0", 3), ("v1", 2)]
    assert entries == list_videos(tmp_path / "frames")


def test_mixed_folder_of_mp4_and_frame_folders(tmp_path: Path, carphone_path: Path, carphone_frames: np.ndarray) -> None:
    shutil.copy(carphone_path, tmp_path / "b_carphone.mp4")
    _frame_folder(tmp_path, "a_frames", list(carphone_frames[:5]))
    _frame_folder(tmp_path, "c_grey", list(carphone_frames[:3]), mode="L")
    _frame_folder(tmp_path, "d_rgba", list(carphone_frames[:2]), mode="RGBA")
    (tmp_path / "_meta").mkdir()
    (tmp_path / "notes.txt").write_text("ignored")
    entries = list_videos(tmp_path)
    assert [e.video_id for e in entries] == ["a_frames", "b_carphone", "c_grey", "d_rgba"]
    assert [count_frames(e) for e in entries] == [5, 120, 3, 2]
    np.testing.assert_array_equal(read_frames(entries[0], [4])[4], carphone_frames[4])  # PNG is lossless
    decoded = read_frames(entries[1], [0, 7, 119])
    for index in (0, 7, 119):
        np.testing.assert_array_equal(decoded[index], carphone_frames[index])
    grey = read_frames(entries[2], [1])[1]
    assert grey.shape == (144, 176, 3) and np.array_equal(grey[..., 0], grey[..., 2])
    assert read_frames(entries[3], [0])[0].shape == (144, 176, 3)
    source = FolderVideoSource.open(tmp_path)
    fingerprint = source.fingerprint()
    (tmp_path / "a_frames" / "000000.png").write_bytes((tmp_path / "a_frames" / "000001.png").read_bytes())
    assert FolderVideoSource.open(tmp_path).fingerprint() != fingerprint


def test_bad_inputs_give_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a directory"):
        list_videos(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="no videos found"):
        list_videos(tmp_path)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(ValueError, match="broken.mp4"):
        count_frames(list_videos(tmp_path)[0])


def test_reading_past_the_end_names_the_file(tmp_path: Path, carphone_frames: np.ndarray) -> None:
    _frame_folder(tmp_path, "v", list(carphone_frames[:2]))
    with pytest.raises(IndexError, match="v"):
        read_frames(list_videos(tmp_path)[0], [5])

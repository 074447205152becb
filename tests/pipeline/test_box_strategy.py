"""Strategy ``box`` with first-order-model's TaiChi metadata: clip spans, box scaling, segments."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from styleinv_data.commands.crop import crop
from styleinv_data.io.encode import write_mp4
from styleinv_data.io.synthetic import textured_background
from styleinv_data.pipeline.taichi_metadata import read_clip_table


def _frames(n, w=64, h=48):
    bg = textured_background(w, h, 3)
    out = []
    for i in range(n):
        f = bg.copy()
        f[:4, :4] = i * 8  # frame number written in the corner
        out.append(f)
    return out


def test_taichi_metadata_crop(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    frames = _frames(30)
    write_mp4(root / "abc.mp4", frames, fps=25, crf=0, pix_fmt="yuv444p", preset="ultrafast")
    write_mp4(root / "xyz.mp4", frames[:20], fps=25, crf=0, pix_fmt="yuv444p", preset="ultrafast")
    table = tmp_path / "taichi-metadata.csv"
    table.write_text(
        "video_id,start,end,bbox,fps,width,height,partition\n"
        "abc,0,10,20-10-60-50,25,128,96,train\n"        # box in a 128x96 frame -> (10,5,30,25) here
        "abc,15,25,0-0-40-20,25,128,96,train\n"         # wide box -> square leaves the top
        "xyz,10,30,10-10-50-50,50,128,96,test\n"        # 50 fps table vs 25 fps video -> frames [5, 15)
        "missing,0,10,0-0-10-10,25,128,96,train\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(crop, [str(root), str(out), "--recipe", "taichi", "--metadata", str(table),
                                       "--size", "32", "--image-format", "png", "--no-progress"])
    assert result.exit_code == 1, result.output  # the missing video fails, the rest are done
    status = json.loads((out / "_meta" / "abc.status.json").read_text())
    assert status["state"] == "done"
    assert [{k: v for k, v in o.items() if k != "quality"} for o in status["outputs"]] == [
        {"out_id": "abc_s0", "frames": 10, "source_start": 0, "source_stop": 10},
        {"out_id": "abc_s1", "frames": 10, "source_start": 15, "source_stop": 25},
    ]
    xyz = json.loads((out / "_meta" / "xyz.status.json").read_text())
    assert [{k: v for k, v in o.items() if k != "quality"} for o in xyz["outputs"]] == [{"out_id": "xyz", "frames": 10, "source_start": 5, "source_stop": 15}]
    missing = json.loads((out / "_meta" / "missing.status.json").read_text())
    assert missing["state"] == "failed" and "missing.mp4: no such file" in missing["reason"]
    plan = json.loads((out / "_meta" / "abc.plan.json").read_text())
    assert plan["frames"][0]["box_xyxy"] == [10.0, 5.0, 30.0, 25.0]
    assert plan["frames"][10]["box_xyxy"] == [0.0, -5.0, 20.0, 15.0]  # Algorithm 1 on the wide box
    # content: frame 17 of the video is frame 2 of clip abc_s1, cropped from the padded square
    got = np.asarray(Image.open(out / "frames" / "abc_s1" / "000002.png")).astype(float)
    pad = 50
    big = np.pad(frames[17], ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    ref = np.asarray(Image.fromarray(big).resize((32, 32), Image.Resampling.LANCZOS, box=(pad, pad - 5, pad + 20, pad + 15)))
    mse = np.mean((got - ref) ** 2)
    assert 10 * np.log10(255**2 / max(mse, 1e-9)) >= 40


def test_metadata_table_errors(tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_text("video_id,start,end,bbox\nabc,0,10,1-2-3\n")
    with pytest.raises(ValueError, match=r"t.csv:2: bbox '1-2-3' is not left-top-right-bottom"):
        read_clip_table(bad)
    bad.write_text("video_id,start,bbox\n")
    with pytest.raises(ValueError, match="missing column"):
        read_clip_table(bad)
    bad.write_text("video_id,start,end,bbox,fps,width,height,partition\na,5,5,0-0-4-4,25,8,8,train\n")
    with pytest.raises(ValueError, match="end 5 <= start 5"):
        read_clip_table(bad)
    good = tmp_path / "g.csv"
    good.write_text("video_id,start,end,bbox,fps,width,height,partition\n"
                    "u6rJiF-gPx8,80,300,118-82-508-472,29.97,640,480,train\nb,0,4,0-0-4-4,25,8,8,test\n")
    rows = read_clip_table(good, partition="train")
    assert len(rows) == 1 and rows[0].bbox_ltrb == (118, 82, 508, 472) and rows[0].fps == 29.97

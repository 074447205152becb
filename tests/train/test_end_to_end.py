"""All three stages and the finetune on tiny networks, then styleinv-generate from the stage-3
checkpoint, alone and paired with the finetuned image generator."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image, ImageOps

from styleinv_model.generate_cli import main as generate_main
from styleinv_model.styleinv.checkpoint import load_image_generator, load_styleinv, replace_image_generator
from styleinv_model.train.cli import build_config, train


def _train(stage: str, config: Path, manifest: Path | None, out: Path, steps: int, **paths: Path):
    cfg = build_config(stage, str(config), (), out, None, None, steps, paths.get("generator"), paths.get("encoder"),
                       paths.get("images"))
    return train(stage, cfg, manifest, None, None, progress=False)


def test_three_stages_finetune_and_generate(tiny_faces: Path, tiny_config, tmp_path: Path) -> None:
    config = tiny_config(run={"snapshot_every": 2, "tensorboard": True})
    s1 = _train("stage1", config, tiny_faces, tmp_path, 2)
    s2 = _train("stage2", config, tiny_faces, tmp_path, 2, generator=s1.last_checkpoint)
    s3 = _train("stage3", config, tiny_faces, tmp_path, 2, generator=s1.last_checkpoint, encoder=s2.last_checkpoint)
    stylised = tmp_path / "stylised"
    stylised.mkdir()
    for i, frame in enumerate(sorted((tiny_faces.parent / "face_001").glob("*.png"))[:4]):
        ImageOps.invert(Image.open(frame).convert("RGB")).save(stylised / f"{i}.png")
    ft = _train("finetune", config, None, tmp_path, 2, generator=s1.last_checkpoint, images=stylised)

    # run folders: resolved config, JSON-lines log, TensorBoard events, snapshots
    for result in (s1, s2, s3, ft):
        assert (result.run_dir / "config.yaml").is_file() and (result.run_dir / "log.jsonl").is_file()
        assert list(result.run_dir.glob("events.out.tfevents.*"))
        assert list((result.run_dir / "snapshots").iterdir())
    assert list((s3.run_dir / "snapshots").glob("videos-*.mp4"))

    # the stage-3 encoder started from the stage-2 trunk (before training moved it)
    model = load_styleinv(s3.last_checkpoint)
    assert model.resolution == 16

    out = tmp_path / "videos"
    runner = CliRunner()
    res = runner.invoke(generate_main, ["--checkpoint", str(s3.last_checkpoint), "--out", str(out / "plain"),
                                        "--seeds", "0-1", "--frames", "8", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(generate_main, ["--checkpoint", str(s3.last_checkpoint), "--generator", str(ft.last_checkpoint),
                                        "--out", str(out / "styled"), "--seeds", "0-1", "--frames", "8", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    for folder in ("plain", "styled"):
        with av.open(str(out / folder / "seed0000.mp4")) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert len(frames) == 8 and frames[0].shape[:2] == (16, 16)

    # pairing really swaps the generator: the same w path renders differently, W itself is unchanged
    styled = replace_image_generator(load_styleinv(s3.last_checkpoint), load_image_generator(ft.last_checkpoint))
    z = torch.randn(2, model.z_dim, generator=torch.Generator().manual_seed(0))
    t = torch.arange(4, dtype=torch.float32).expand(2, -1)
    motion = model.temporal_style.sample_motion_noise(2, 4.0, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a = model.frames_from_z(z, t, motion)
        b = styled.frames_from_z(z, t, motion)
        assert torch.equal(model.initial_latents(z), styled.initial_latents(z))  # mapping frozen in the finetune
    assert not torch.allclose(a, b)
    res = runner.invoke(generate_main, ["--checkpoint", str(s2.last_checkpoint), "--out", str(out / "bad"),
                                        "--frames", "4", "--device", "cpu"])
    assert res.exit_code != 0 and "stage2 training checkpoint" in res.output
    # a run folder stands for its latest checkpoint (as --resume takes it), and the CLI says which file
    res = runner.invoke(generate_main, ["--checkpoint", str(s3.run_dir), "--out", str(out / "from_run"),
                                        "--seeds", "0-1", "--frames", "8", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert f"loading {s3.last_checkpoint} (the run folder's latest checkpoint)" in res.output
    with av.open(str(out / "from_run" / "seed0000.mp4")) as container, av.open(str(out / "plain" / "seed0000.mp4")) as ref:
        assert [f.to_ndarray(format="rgb24").tobytes() for f in container.decode(video=0)] == \
            [f.to_ndarray(format="rgb24").tobytes() for f in ref.decode(video=0)]
    res = runner.invoke(generate_main, ["--checkpoint", str(tmp_path), "--out", str(out / "none"), "--device", "cpu"])
    assert res.exit_code == 1 and "no checkpoints/latest.json" in res.output

    # the one-call Python API (README): uint8 frames, the same video the CLI's writer receives
    from styleinv_model import load_video_generator
    from styleinv_model.generate import Timeline, VideoGenerationConfig, generate_videos

    G = load_video_generator(s3.run_dir, device="cpu")
    assert G.checkpoint == s3.last_checkpoint and G.resolution == 16
    video = G.generate(seed=1, frames=8, step=1.0)
    assert video.dtype == np.uint8 and video.shape == (8, 16, 16, 3)
    written: dict[str, list[np.ndarray]] = {}

    class ListSink:
        def __init__(self, path, size, fps):
            self.frames = written.setdefault(Path(path).name, [])

        def write(self, frame):
            self.frames.append(frame.copy())

        def close(self):
            pass

        def abort(self):
            pass

    config = VideoGenerationConfig(seeds=[0, 1], timestamps=Timeline(8), chunk_frames=3, videos_per_batch=2)
    generate_videos(G.model, config, out / "api_ref", sink_factory=ListSink)

    def levels_apart(a: np.ndarray, b: np.ndarray) -> int:
        # other chunk sizes are other batch shapes: values that agree to float32 rounding (~1e-7) can
        # round to neighbouring uint8 levels at a boundary, never further apart
        return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())

    assert levels_apart(video, np.stack(written[".seed0001.partial.mp4"])) <= 1
    # in pieces: frames 4..7 alone are the same frames; half steps add in-between frames
    assert levels_apart(G.generate(seed=1, frames=4, start=4.0), video[4:]) <= 1
    assert levels_apart(G.generate(seed=1, frames=16, step=0.5)[::2], video) <= 1
    assert levels_apart(G.generate(seed=2, frames=8), video) > 10  # another seed is another video


def test_stage1_starts_from_a_checkpoint(tiny_faces: Path, tiny_config, tmp_path: Path) -> None:
    from styleinv_model.checkpoints.safetensors_io import load_checkpoint
    from styleinv_model.train.distributed import DistInfo
    from styleinv_model.train.stage1 import Stage1

    config = tiny_config()
    source = _train("stage1", config, tiny_faces, tmp_path, 2).last_checkpoint
    cfg = build_config("stage1", str(config), (), tmp_path, None, None, None, source, None, None)
    stage = Stage1(cfg, tiny_faces, DistInfo(), torch.device("cpu"))
    stage.build()
    stored = load_checkpoint(source).state_dicts
    for name, module in (("G", stage.G), ("D", stage.D), ("G_ema", stage.G_ema)):
        for key, value in module.state_dict().items():
            assert torch.equal(value, stored[name][key]), f"{name}.{key}"
    wrong = build_config("stage1", str(config), ("stage1.generator.channel_max=8",), tmp_path, None, None, None, source,
                         None, None)
    with pytest.raises(ValueError, match="does not fit the configured"):
        Stage1(wrong, tiny_faces, DistInfo(), torch.device("cpu")).build()

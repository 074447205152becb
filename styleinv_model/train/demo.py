"""``make train-demo``: a tiny end-to-end training on the CPU in a few minutes.

1. the data demo's prepared clip: the real carphone video, dlib-68 hull masks in the FaceForensics
   layout, mask-to-square crop, here at 32x32; its manifest;
2. stage 1 (image generator), stage 2 (inversion encoder), stage 3 (StyleInV), with the bundled
   ``demo`` config (small networks at 32x32);
3. a style-transfer finetune on a posterised copy of a few frames;
4. ``styleinv-generate``: a 64-frame video from the stage-3 network, also paired with the
   finetuned generator, and a doubled-frame-rate version (timestamps 0, 0.5, 1, ...).

The networks are far too small and trained far too briefly to look good: the demo shows the whole
path working, not the paper's quality.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEMO_STEPS = {"stage1": 150, "stage2": 60, "stage3": 100, "finetune": 30}


def prepare_clips(out: Path, size: int) -> Path:
    """Crop the carphone video at `size` (the data demo) and write its manifest."""
    from styleinv_data.demo import run_demo
    from styleinv_data.manifest import BuildConfig, build_manifest, write_manifest

    crops = out / "data" / "crops"
    if not (crops / "carphone").is_dir():
        code = run_demo(out / "data", size)
        if code != 0:
            raise RuntimeError(f"the data demo failed (exit code {code}); run `make demo` to see why")
    manifest = build_manifest(crops, BuildConfig(dataset_name="carphone_demo"))
    return write_manifest(manifest, out / "data" / "manifest.jsonl")


def stylised_images(crops: Path, out: Path, count: int = 16) -> Path:
    from PIL import Image, ImageFilter, ImageOps

    out.mkdir(parents=True, exist_ok=True)
    frames = sorted(crops.glob("*.jpg")) + sorted(crops.glob("*.png"))
    for i, frame in enumerate(frames[:: max(1, len(frames) // count)][:count]):
        image = Image.open(frame).convert("RGB").filter(ImageFilter.SMOOTH_MORE)
        ImageOps.posterize(image, 2).save(out / f"{i:03d}.png")
    return out


def run(out: Path, steps: dict[str, int], threads: int | None) -> int:
    from click.testing import CliRunner

    from styleinv_model.generate_cli import main as generate_main
    from styleinv_model.train.cli import build_config, train

    started = time.time()
    manifest = prepare_clips(out, 32)
    runs = out / "runs"
    sets = (f"run.cpu_threads={threads}",) if threads else ()

    def stage(name: str, **paths: Path):
        config = build_config(name, "demo", sets, runs, None, "cpu", steps[name], paths.get("generator"),
                              paths.get("encoder"), paths.get("images"))
        print(f"[train-demo] {name}: {steps[name]} steps")
        return train(name, config, None if name == "finetune" else manifest, None, None)

    s1 = stage("stage1")
    s2 = stage("stage2", generator=s1.last_checkpoint)
    s3 = stage("stage3", generator=s1.last_checkpoint, encoder=s2.last_checkpoint)
    styled = stylised_images(out / "data" / "crops" / "carphone", out / "data" / "stylised")
    ft = stage("finetune", generator=s1.last_checkpoint, images=styled)

    runner = CliRunner()
    videos = out / "videos"
    jobs = {
        "styleinv": ["--frames", "64"],
        "styleinv_finetuned": ["--frames", "64", "--generator", str(ft.last_checkpoint)],
        "styleinv_60fps": ["--frames", "128", "--step", "0.5", "--fps", "30"],
    }
    for name, extra in jobs.items():
        result = runner.invoke(generate_main, ["--checkpoint", str(s3.last_checkpoint), "--out", str(videos / name),
                                               "--seeds", "0-3", "--device", "cpu", *extra])
        if result.exit_code != 0:
            print(result.output)
            return 1
        print(f"[train-demo] videos: {videos / name}")
    print(f"[train-demo] runs: {runs} (config.yaml, log.jsonl, TensorBoard events, snapshots/, checkpoints/)")
    print(f"[train-demo] done in {time.time() - started:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("train_demo_out"))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    for name, steps in DEMO_STEPS.items():
        parser.add_argument(f"--{name}-steps", type=int, default=steps)
    args = parser.parse_args(argv)
    steps = {name: getattr(args, f"{name}_steps") for name in DEMO_STEPS}
    return run(args.out, steps, args.threads)


if __name__ == "__main__":
    raise SystemExit(main())

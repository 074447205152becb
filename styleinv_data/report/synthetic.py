"""A manifest of many scored clips whose frames are not on disk: for timing the report at the scale
of CelebV-HQ (35,000 clips) and for tests. Deterministic under ``seed``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from styleinv_data.manifest.records import CropStats, Manifest, ManifestHeader, SourceSpan, VideoRecord


def synthetic_scored_manifest(num_clips: int, root: Path, seed: int = 0, failed: int = 0) -> Manifest:
    rng = np.random.default_rng(seed)
    records = []
    for i in range(num_clips):
        frames = int(rng.integers(32, 400))
        face = float(rng.lognormal(np.log(160), 0.5))
        quality = {
            "interpolated": int(rng.poisson(1.0)), "face_px_median": round(face * 1.1, 2), "face_px_min": round(face, 2),
            "upscale_max": round(256 / face, 3), "jitter_px": round(float(rng.gamma(2.0, 0.2)), 4),
            "padded": int(rng.poisson(0.5)), "confidence_min": round(float(rng.beta(5, 2)), 4),
            "confidence_median": round(float(rng.beta(8, 2)), 4), "sharpness": round(float(rng.lognormal(4, 0.6)), 3),
            "phash": f"{int(rng.integers(0, 2 ** 63)):016x}", "dropped_fraction": round(float(rng.beta(1, 12)), 4),
            "segments": 1, "cuts": int(rng.poisson(0.2)),
        }
        clip_id = f"clip{i:06d}"
        records.append(VideoRecord(
            id=clip_id, path=f"frames/{clip_id}", frame_count=frames, width=256, height=256, fps=25.0,
            frame_ext=".jpg", label=None, label_name=None, split="train", identity=None,
            source=SourceSpan(video=f"raw/{clip_id}.mp4", video_id=clip_id, start_frame=0, stop_frame=frames),
            content_hash=None, crop=CropStats(strategy="ffhq", frame_sources={}, counts={}, quality=quality)))
    from styleinv_data import __version__

    header = ManifestHeader(dataset_name="synthetic", layout="frames", num_videos=num_clips,
                            tool={"name": "styleinv-data", "version": __version__}, created_utc="2026-01-01T00:00:00Z",
                            num_frames=sum(r.frame_count for r in records), splits={"train": num_clips},
                            skipped=[{"id": f"bad{i:05d}", "reason": "no face found in any frame"} for i in range(failed)])
    return Manifest(root=Path(root), header=header, records=records)

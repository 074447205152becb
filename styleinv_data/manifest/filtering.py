"""Filtering a manifest by the crop's quality scores, and near-duplicate removal.

Each rule removes the clips whose score is on the wrong side of a bound, with the reason; clips
whose manifest has no scores (crops made before they existed) are kept and counted. Near
duplicates are clips whose first frames' perceptual hashes differ in at most ``dedup_distance``
bits: found with a multi-index hash (the 64 bits cut into ``dedup_distance + 1`` pieces; two
hashes within the distance share at least one piece exactly), so 35,000 clips take no pairwise
loop. Of a duplicate group the clip to keep is the first in split order (``train`` first, so a
pair never straddles train and another split after filtering), then by id.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from styleinv_data.manifest.records import Manifest, VideoRecord


@dataclass(frozen=True)
class FilterRules:
    min_face: float | None = None  # face_px_min >= this (source pixels of the crop region)
    min_sharpness: float | None = None  # sharpness >= this
    max_jitter: float | None = None  # jitter_px <= this (output pixels)
    max_dropped: float | None = None  # dropped_fraction <= this
    max_upscale: float | None = None  # upscale_max <= this
    min_confidence: float | None = None  # confidence_min >= this (strategies with a confidence)
    dedup: bool = False
    dedup_distance: int = 4  # phash bits

    def __post_init__(self) -> None:
        if not 0 <= self.dedup_distance < 32:
            raise ValueError(f"dedup distance must be 0..31 bits, got {self.dedup_distance}")


# (rule field, score key, lower bound?, how the reason names it)
_BOUNDS = (
    ("min_face", "face_px_min", True, "face {v:.0f} px < {b:g}"),
    ("min_sharpness", "sharpness", True, "sharpness {v:.1f} < {b:g}"),
    ("max_jitter", "jitter_px", False, "jitter {v:.3f} px > {b:g}"),
    ("max_dropped", "dropped_fraction", False, "dropped {v:.1%} > {b:.1%}"),
    ("max_upscale", "upscale_max", False, "upscale {v:.2f}x > {b:g}x"),
    ("min_confidence", "confidence_min", True, "confidence {v:.3f} < {b:g}"),
)


@dataclass
class FilterResult:
    kept: list[VideoRecord]
    removed: list[tuple[VideoRecord, str]]  # (record, the first reason that removed it)
    without_scores: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # rule -> clips it removed


def _quality(record: VideoRecord) -> dict[str, Any] | None:
    return record.crop.quality if record.crop is not None else None


def _split_order(split: str) -> tuple[int, str]:
    return (0 if split == "train" else 1, split)


def near_duplicates(records: list[VideoRecord], distance: int) -> dict[str, tuple[str, int]]:
    """id -> (the id it duplicates, Hamming distance) for every clip that is not its group's keeper."""
    hashed = [(r, q["phash"]) for r in records if (q := _quality(r)) and isinstance(q.get("phash"), str)]
    hashed.sort(key=lambda item: (_split_order(item[0].split), item[0].id))
    pieces = distance + 1
    bits = 64
    bounds = [round(k * bits / pieces) for k in range(pieces + 1)]
    buckets: list[dict[int, list[int]]] = [defaultdict(list) for _ in range(pieces)]
    values = [int(h, 16) for _, h in hashed]
    duplicate_of: dict[str, tuple[str, int]] = {}
    for i, value in enumerate(values):
        keys = [(value >> bounds[k]) & ((1 << (bounds[k + 1] - bounds[k])) - 1) for k in range(pieces)]
        best: tuple[int, int] | None = None
        for k, key in enumerate(keys):
            for j in buckets[k].get(key, ()):
                d = (value ^ values[j]).bit_count()
                if d <= distance and (best is None or (d, j) < best):
                    best = (d, j)
        if best is not None:
            duplicate_of[hashed[i][0].id] = (hashed[best[1]][0].id, best[0])
            continue  # a removed clip is no keeper: only keepers go into the buckets
        for k, key in enumerate(keys):
            buckets[k][key].append(i)
    return duplicate_of


def filter_records(manifest: Manifest, rules: FilterRules) -> FilterResult:
    result = FilterResult([], [])
    survivors = []
    for record in manifest.records:
        quality = _quality(record)
        if quality is None:
            result.without_scores += 1
            survivors.append(record)
            continue
        reason = None
        for name, key, lower, text in _BOUNDS:
            bound, value = getattr(rules, name), quality.get(key)
            if bound is None or value is None:
                continue
            if (value < bound) if lower else (value > bound):
                reason = (name, text.format(v=value, b=bound))
                break
        if reason is None:
            survivors.append(record)
        else:
            result.removed.append((record, reason[1]))
            result.reasons[reason[0]] = result.reasons.get(reason[0], 0) + 1
    duplicates = near_duplicates(survivors, rules.dedup_distance) if rules.dedup else {}
    for record in survivors:
        if record.id in duplicates:
            keeper, d = duplicates[record.id]
            result.removed.append((record, f"near-duplicate of {keeper} (phash distance {d})"))
            result.reasons["dedup"] = result.reasons.get("dedup", 0) + 1
        else:
            result.kept.append(record)
    return result


def filtered_manifest(manifest: Manifest, result: FilterResult) -> Manifest:
    """The manifest of the kept clips: header counts updated, removed clips in ``skipped``."""
    splits: dict[str, int] = {}
    for r in result.kept:
        splits[r.split] = splits.get(r.split, 0) + 1
    header = replace(manifest.header, num_videos=len(result.kept),
                     num_frames=sum(r.frame_count for r in result.kept), splits=dict(sorted(splits.items())),
                     skipped=[*manifest.header.skipped,
                              *({"id": r.id, "reason": f"filtered: {why}"} for r, why in result.removed)])
    return Manifest(root=manifest.root, header=header, records=list(result.kept))

"""Cache of real-data Gaussian statistics, keyed by source fingerprint + protocol + sampling + weights.

Files: ``<cache>/stats/<metric>-<key16>.safetensors`` holding ``mean`` and ``cov`` (float64), with the
full key as JSON in the safetensors metadata (checked on read, so a hash collision cannot mix data).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from styleinv_model.atomic import atomic_write

from .frechet import GaussianStats
from .weights import cache_dir


def stats_key(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


class StatsCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or cache_dir() / "stats"

    def path_for(self, metric: str, fields: dict[str, Any]) -> Path:
        return self.root / f"{metric}-{stats_key(fields)[:16]}.safetensors"

    def load(self, metric: str, fields: dict[str, Any]) -> GaussianStats | None:
        path = self.path_for(metric, fields)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
                if json.loads(metadata.get("key", "null")) != json.loads(json.dumps(fields, sort_keys=True)):
                    return None
                mean = handle.get_tensor("mean").numpy()
                cov = handle.get_tensor("cov").numpy()
        except Exception:  # unreadable cache entry: recompute and overwrite
            return None
        return GaussianStats(mean, cov, int(metadata.get("count", "0")))

    def save(self, metric: str, fields: dict[str, Any], stats: GaussianStats) -> Path:
        tensors = {"mean": torch.from_numpy(np.ascontiguousarray(stats.mean)),
                   "cov": torch.from_numpy(np.ascontiguousarray(stats.cov))}
        metadata = {"key": json.dumps(fields, sort_keys=True), "count": str(stats.count)}
        return atomic_write(self.path_for(metric, fields), lambda tmp: save_file(tensors, str(tmp), metadata=metadata))

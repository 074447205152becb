"""Seeded motion noise that can be read in any window of anchors without storing the whole video.

Anchor noise is drawn in blocks of ``block_anchors`` anchors; block ``j`` of a video with seed ``s``
comes from its own generator seeded by ``SeedSequence([s, j])``, so the noise of an anchor is the
same whether a video is generated in one piece or in chunks, and memory stays bounded for
arbitrarily long videos.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch

_NOISE_TAG = 0x4D4F54  # separates motion-noise streams from other per-seed streams


def derived_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed derived from ``seed`` and integer keys (stable across platforms)."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, *[int(k) for k in keys]]).generate_state(2)
    return int((int(state[0]) << 31) ^ int(state[1])) & 0x7FFFFFFFFFFFFFFF


class SeededMotionNoise:
    """Motion noise for a batch of videos, one seed per video; read with :meth:`window`."""

    def __init__(self, seeds: Sequence[int], dim: int = 512, *, block_anchors: int = 64, cache_blocks: int = 4) -> None:
        if block_anchors < 1:
            raise ValueError(f"block_anchors must be >= 1, got {block_anchors}")
        self.seeds = [int(s) for s in seeds]
        self.dim = dim
        self.block_anchors = block_anchors
        self._cache: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._cache_blocks = max(1, cache_blocks)

    def _block(self, index: int) -> torch.Tensor:
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        rows = []
        for seed in self.seeds:
            gen = torch.Generator().manual_seed(derived_seed(seed, _NOISE_TAG, index))
            rows.append(torch.randn(self.block_anchors, self.dim, generator=gen))
        block = torch.stack(rows)
        self._cache[index] = block
        if len(self._cache) > self._cache_blocks:
            self._cache.popitem(last=False)
        return block

    def window(self, start: int, stop: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """Noise of anchors ``start .. stop - 1`` for every video: [B, stop - start, dim]."""
        if not 0 <= start <= stop:
            raise ValueError(f"bad anchor window [{start}, {stop})")
        first, last = start // self.block_anchors, (stop - 1) // self.block_anchors
        if stop == start:
            return torch.zeros(len(self.seeds), 0, self.dim, device=device)
        blocks = torch.cat([self._block(j) for j in range(first, last + 1)], dim=1)
        offset = first * self.block_anchors
        return blocks[:, start - offset : stop - offset].to(device)

"""``styleinv-data crop --shard I/N``: one of N disjoint parts of a batch, for SLURM array jobs.

A video belongs to shard ``sha256(video_id) mod N``: the split is stable (it depends on the id
alone, not on which other videos are present or in what order they are found) and the shards
are disjoint and cover the batch. Shards write into one output folder at the same time: each
takes a shared lock on the folder's crop lock (so an unsharded run cannot start beside them) and
an exclusive lock of its own (so the same shard cannot run twice), and keeps its partial outputs
in its own folder. ``--summary`` (after every shard finished) reports the whole batch and, for
the zip layout, assembles ``frames.zip``.
"""

from __future__ import annotations

import hashlib
import re

from styleinv_data.pipeline.recipe import RecipeError

_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N`` (None for no sharding); a one-line error otherwise."""
    if text is None or str(text).strip() == "":
        return None
    m = _SHARD_RE.match(str(text))
    if m is None:
        raise RecipeError(f"run.shard={text!r}: use I/N, e.g. --shard 0/4 (I counts from 0: with a 1-based SLURM "
                          "array, --shard $((SLURM_ARRAY_TASK_ID-1))/$SLURM_ARRAY_TASK_COUNT)")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or not 0 <= index < count:
        raise RecipeError(f"run.shard={text!r}: I must be in 0..N-1 and N >= 1")
    return index, count


def shard_of(video_id: str, count: int) -> int:
    """The shard (0..count-1) that crops ``video_id``."""
    digest = hashlib.sha256(video_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count

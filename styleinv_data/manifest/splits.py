"""Deterministic train/val/test splits.

* by hash: each video (or, with an identity mapping, each identity) gets a number in [0, 1)
  from SHA-256 of ``"<seed>:<key>"`` and lands in the split whose cumulative fraction covers it;
  adding or removing other videos never moves a video;
* by list: a file naming the split of every video (CSV ``id,split``, JSON ``{id: split}``, or
  text lines ``<id> <split>``).

With an identity mapping, every video of one identity lands in the same split (hash mode keys on
the identity; list mode is checked and refused otherwise).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from styleinv_data.manifest.schema import ManifestError

SPLIT_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class SplitConfig:
    """How to split: ``fractions`` (hash mode) or ``list_path`` (list mode); neither -> one split."""

    fractions: dict[str, float] | None = None  # ordered, e.g. {"train": 0.9, "val": 0.1}
    list_path: Path | None = None
    seed: int = 0
    default_split: str = "train"
    identities: dict[str, str] = field(default_factory=dict)  # video id -> identity

    def method(self) -> dict:
        if self.list_path is not None:
            return {"kind": "list", "file": Path(self.list_path).name}
        if self.fractions:
            return {"kind": "hash", "fractions": dict(self.fractions), "seed": self.seed,
                    "key": "identity" if self.identities else "id"}
        return {"kind": "single", "split": self.default_split}


def parse_fractions(text: str) -> dict[str, float]:
    """``"train=0.9,val=0.05,test=0.05"`` -> ordered dict; fractions must be > 0 and sum to 1."""
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            frac = float(value)
        except ValueError:
            frac = float("nan")
        if not sep or not SPLIT_NAME_RE.match(name) or not (0 < frac <= 1) or name in out:
            raise ManifestError(f"split {part!r}: expected NAME=FRACTION with a unique name and 0 < FRACTION <= 1")
        out[name] = frac
    if abs(sum(out.values()) - 1.0) > 1e-6:
        raise ManifestError(f"split fractions {out} sum to {sum(out.values()):.6f}, not 1")
    return out


def hash_unit(key: str, seed: int) -> float:
    """A stable number in [0, 1) for a key (64 bits of SHA-256)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_by_hash(ids: list[str], fractions: dict[str, float], seed: int = 0,
                  identities: dict[str, str] | None = None) -> dict[str, str]:
    names = list(fractions)
    bounds = []
    acc = 0.0
    for name in names:
        acc += fractions[name]
        bounds.append(acc)
    out = {}
    for vid in ids:
        key = (identities or {}).get(vid, vid)
        u = hash_unit(key, seed)
        out[vid] = next((n for n, b in zip(names, bounds) if u < b), names[-1])
    return out


def read_split_list(path: Path) -> dict[str, str]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ManifestError(f"{path}: cannot read the split list ({e.strerror})") from e
    pairs: list[tuple[int, str, str]] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ManifestError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from e
        if not isinstance(data, dict):
            raise ManifestError(f"{path}: expected a JSON object {{id: split}}")
        pairs = [(0, str(k), str(v)) for k, v in data.items()]
    else:
        for line_no, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = [f.strip() for f in re.split(r"[,\s]+", line) if f.strip()]
            if line_no == 1 and fields[:2] in (["id", "split"], ["video_id", "split"]):
                continue
            if len(fields) != 2:
                raise ManifestError(f"{path} line {line_no}: expected '<id> <split>' or '<id>,<split>'")
            pairs.append((line_no, fields[0], fields[1]))
    out: dict[str, str] = {}
    for line_no, vid, split in pairs:
        if not SPLIT_NAME_RE.match(split):
            raise ManifestError(f"{path} line {line_no}: split name {split!r} must match [A-Za-z0-9_-]+")
        if vid in out and out[vid] != split:
            raise ManifestError(f"{path} line {line_no}: video {vid!r} listed in two splits")
        out[vid] = split
    return out


def assign_splits(ids: list[str], config: SplitConfig, lookup_ids: dict[str, list[str]] | None = None) -> dict[str, str]:
    """Split of every id. ``lookup_ids[id]`` lists alternative keys (e.g. the source video id of a
    split clip) tried in order when the list file does not name ``id`` itself."""
    if config.list_path is not None:
        listed = read_split_list(config.list_path)
        out = {}
        for vid in ids:
            keys = [vid, *((lookup_ids or {}).get(vid, []))]
            split = next((listed[k] for k in keys if k in listed), None)
            if split is None:
                raise ManifestError(f"{config.list_path}: video {vid!r} has no split; add a line '{vid} <split>'")
            out[vid] = split
    elif config.fractions:
        identities = {vid: _lookup(config.identities, vid, lookup_ids) for vid in ids}
        out = split_by_hash(ids, config.fractions, config.seed,
                            {k: v for k, v in identities.items() if v is not None})
    else:
        out = {vid: config.default_split for vid in ids}
    check_identity_splits(out, config.identities, lookup_ids)
    return out


def _lookup(table: dict[str, str], vid: str, lookup_ids: dict[str, list[str]] | None) -> str | None:
    for key in (vid, *((lookup_ids or {}).get(vid, []))):
        if key in table:
            return table[key]
    return None


def check_identity_splits(splits: dict[str, str], identities: dict[str, str],
                          lookup_ids: dict[str, list[str]] | None = None) -> None:
    """Refuse an identity whose videos land in more than one split."""
    seen: dict[str, tuple[str, str]] = {}
    for vid, split in splits.items():
        ident = _lookup(identities, vid, lookup_ids)
        if ident is None:
            continue
        if ident in seen and seen[ident][1] != split:
            other, other_split = seen[ident]
            raise ManifestError(
                f"identity {ident!r} is in split {other_split!r} (video {other!r}) and {split!r} (video {vid!r}); "
                f"fix the split list so each identity is in one split"
            )
        seen.setdefault(ident, (vid, split))

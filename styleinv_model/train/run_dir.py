"""Numbered run folders for ``styleinv-train`` and the resolved config written into them.

``create_run_dir(root, stage, name)`` makes ``root/<NNNNN>-<stage>-<name>/`` with the next free
number (one more than the largest ``<digits>-`` prefix already in ``root``; other entries are
ignored), the way StyleGAN2-ADA numbers its output folders. Concurrent callers (threads or
processes) always get distinct numbers: the folder is made with ``mkdir(exist_ok=False)``, an
advisory lock serialises the scan where ``fcntl`` exists, and after creating its folder a caller
that finds another entry with the same number gives its folder up and tries again.

``write_resolved_config(run, config)`` writes ``run/config.yaml`` atomically.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import os
import random
import re
import threading
import time
from pathlib import Path, PurePath
from typing import Any, Iterator

import yaml

from styleinv_model.atomic import atomic_write

CONFIG_NAME = "config.yaml"
_LOCK_NAME = ".run_dir.lock"
_NUMBER_RE = re.compile(r"^(\d+)-")
_PART_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_MAX_ATTEMPTS = 1000
_thread_lock = threading.Lock()


def _check_part(kind: str, value: str) -> str:
    value = str(value)
    if not value or not _PART_RE.match(value) or value in (".", ".."):
        raise ValueError(f"run {kind} {value!r} is not usable in a folder name: use letters, digits, '.', '_' or '-'")
    return value


def _numbers(root: Path) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for entry in os.listdir(root):
        match = _NUMBER_RE.match(entry)
        if match:
            found.setdefault(int(match.group(1)), []).append(entry)
    return found


@contextlib.contextmanager
def _root_lock(root: Path) -> Iterator[None]:
    """Serialise scanning+creation across threads and (where ``fcntl`` exists) processes."""
    with _thread_lock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - non-POSIX
            yield
            return
        try:
            fd = os.open(root / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # read-only or odd filesystem: rely on mkdir + duplicate check alone
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def create_run_dir(root: Path, stage: str, name: str) -> Path:
    """Create and return ``root/<NNNNN>-<stage>-<name>/`` with the next free 5-digit number."""
    root = Path(root)
    stage = _check_part("stage", stage)
    name = _check_part("name", name)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"{root}: run root is a file; pass a folder for the training outputs")
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random()
    for _ in range(_MAX_ATTEMPTS):
        with _root_lock(root):
            taken = _numbers(root)
            number = max(taken, default=-1) + 1
            run = root / f"{number:05d}-{stage}-{name}"
            try:
                run.mkdir(exist_ok=False)
            except FileExistsError:
                continue
            # A racer that does not share our lock may have claimed the same number between our scan
            # and mkdir: whoever sees a twin after its own mkdir yields (at least one always keeps).
            twins = [e for e in _numbers(root).get(number, []) if e != run.name]
            if not twins:
                return run
            with contextlib.suppress(OSError):
                run.rmdir()
        time.sleep(rng.uniform(0.0, 0.01))
    raise RuntimeError(f"{root}: could not claim a run folder number after {_MAX_ATTEMPTS} tries; "
                       "check that the folder is writable and not flooded by concurrent runs")


def _plain(value: Any, where: str) -> Any:
    """Turn dataclasses, paths, tuples, enums and numpy/torch scalars into YAML-safe builtins."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return _plain(value.value, where)
    item, shape = getattr(value, "item", None), getattr(value, "shape", None)
    if callable(item) and shape is not None and tuple(shape) == ():  # numpy / torch scalars
        return _plain(item(), where)
    raise TypeError(f"config value at {where} has type {type(value).__name__}, which YAML cannot store; "
                    "convert it to a number, string, list or dict")


def write_resolved_config(run: Path, config: dict) -> Path:
    """Write ``config`` to ``run/config.yaml`` atomically (safe_dump, keys in the given order)."""
    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"{run}: run folder does not exist; create it with create_run_dir first")
    if not isinstance(config, dict):
        raise TypeError(f"{run / CONFIG_NAME}: config must be a dict, got {type(config).__name__}")
    text = yaml.safe_dump(_plain(config, "config"), sort_keys=False, default_flow_style=False)
    path = run / CONFIG_NAME

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write)
    return path

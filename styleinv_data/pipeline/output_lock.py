"""One crop run per output folder at a time.

``styleinv-data crop`` holds an exclusive advisory lock (``fcntl.flock``) on ``OUT/_meta/crop.lock``
from before it clears stale partial outputs until its summary is written. A second run on the same
folder stops at once with a one-line error naming the lock and the running process (its pid, host
and start time, which the holder writes into the lock file); it never touches the first run's
partial outputs or status files. The operating system drops the lock when the holder exits or is
killed, so a crashed run never leaves a stale lock. Workers (joblib processes, Dask workers) write
under the lock their parent holds.

On a system without ``fcntl`` (Windows) runs are not locked: use one output folder per run there.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Iterator

from styleinv_data.pipeline.recipe import RecipeError
from styleinv_data.pipeline.status import meta_dir, shard_name

LOCK_NAME = "crop.lock"


def lock_path(out_root: Path) -> Path:
    return meta_dir(out_root) / LOCK_NAME


def not_writable(out_root: Path, error: OSError) -> RecipeError:
    """The one-line error for an output folder that cannot be written."""
    return RecipeError(f"{out_root}: output folder is not writable ({error.strerror or error}); choose another OUT or "
                       "fix its permissions")


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "another process"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["started"])) if "started" in info else "?"
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')}, running since {since}"


def _open_lock_file(path: Path, out_root: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise not_writable(out_root, e) from e


def _record_holder(fd: int) -> None:
    record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, record, 0)


@contextlib.contextmanager
def output_lock(out_root: Path, shard: tuple[int, int] | None = None) -> Iterator[Path]:
    """Hold the output folder's crop lock for the duration of the block (creates ``OUT/_meta``).

    Without ``shard``: the folder's lock, exclusively. With ``shard=(I, N)``: that lock shared
    (shards of one batch run side by side; an unsharded run waits for none of them and is refused)
    plus ``OUT/_meta/crop.shard-I-of-N.lock`` exclusively (the same shard cannot run twice).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield lock_path(out_root)
        return
    path = lock_path(out_root)
    fd = _open_lock_file(path, out_root)
    shard_fd: int | None = None
    try:
        if shard is None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                running = sorted(p.name for p in path.parent.glob("crop.shard-*.lock") if _held(p))
                who = f"shards running: {', '.join(running)}" if running else _holder(path)
                raise RecipeError(f"{out_root}: another styleinv-data crop is writing this folder ({who}; lock "
                                  f"{path}); wait for it to finish, or crop into another folder") from None
            _record_holder(fd)
            yield path
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RecipeError(f"{out_root}: an unsharded styleinv-data crop is writing this folder ({_holder(path)}; "
                              f"lock {path}); wait for it to finish") from None
        shard_path = path.with_name(f"crop.{shard_name(shard)}.lock")
        shard_fd = _open_lock_file(shard_path, out_root)
        try:
            fcntl.flock(shard_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RecipeError(f"{out_root}: shard {shard[0]}/{shard[1]} is already running ({_holder(shard_path)}; "
                              f"lock {shard_path})") from None
        _record_holder(shard_fd)
        yield shard_path
    finally:
        if shard_fd is not None:
            os.close(shard_fd)
        os.close(fd)  # closing the descriptor releases the lock


def _held(path: Path) -> bool:
    """Whether another process holds ``path``'s lock now."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False

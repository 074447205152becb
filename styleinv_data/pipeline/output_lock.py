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
from styleinv_data.pipeline.status import meta_dir

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


@contextlib.contextmanager
def output_lock(out_root: Path) -> Iterator[Path]:
    """Hold the output folder's crop lock for the duration of the block (creates ``OUT/_meta``)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield lock_path(out_root)
        return
    path = lock_path(out_root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise not_writable(out_root, e) from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RecipeError(f"{out_root}: another styleinv-data crop is writing this folder ({_holder(path)}; lock "
                              f"{path}); wait for it to finish, or crop into another folder") from None
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock

"""Write a file completely or not at all: the content goes to a temporary name beside the target
(same folder, so the rename is atomic), which replaces the target only once the writer returned."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def current_umask() -> int:
    """The process umask, read without changing it where Linux shows it (/proc/self/status);
    elsewhere by setting and restoring it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temporary_file(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    """``tempfile.mkstemp`` beside `path`, with the mode a plain ``open()`` would give (0666 less the
    umask) instead of mkstemp's 0600, so the renamed file is readable by whoever the umask allows
    (a lab group sharing checkpoints)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.fchmod(fd, 0o666 & ~current_umask())
    return fd, name


def atomic_write(path: str | Path, write: Callable[[Path], Any], suffix: str = ".tmp") -> Path:
    """Call ``write(tmp_path)`` for a temporary file beside `path` (ending in `suffix`, so writers that
    look at the extension work), then rename it over `path`; on any error the temporary file is
    removed and the error re-raised. Creates the parent folder. Returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = temporary_file(path, suffix)
    os.close(fd)
    try:
        write(Path(tmp_name))
        os.chmod(tmp_name, 0o666 & ~current_umask())  # writers that replace the file (safetensors: 0600)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path

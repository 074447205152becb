"""Write a file completely or not at all: the content goes to a temporary name beside the target
(same folder, so the rename is atomic), which replaces the target only once the writer returned."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def atomic_write(path: str | Path, write: Callable[[Path], Any], suffix: str = ".tmp") -> Path:
    """Call ``write(tmp_path)`` for a temporary file beside `path` (ending in `suffix`, so writers that
    look at the extension work), then rename it over `path`; on any error the temporary file is
    removed and the error re-raised. Creates the parent folder. Returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp_name))
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path

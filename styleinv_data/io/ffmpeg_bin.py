"""Locate the ffmpeg executable: the system one when present, else imageio-ffmpeg's static binary."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess


@functools.lru_cache(maxsize=1)
def ffmpeg_executable() -> str:
    """Path of the ffmpeg binary to run (``$STYLEINV_FFMPEG`` overrides the search)."""
    override = os.environ.get("STYLEINV_FFMPEG")
    if override:
        return override
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise RuntimeError("no ffmpeg found: install ffmpeg or `pip install imageio-ffmpeg`") from e
    return imageio_ffmpeg.get_ffmpeg_exe()


@functools.lru_cache(maxsize=4)
def ffmpeg_version(executable: str | None = None) -> tuple[int, int] | None:
    """(major, minor) of ffmpeg, or None for git builds / unparsable output (taken as recent)."""
    exe = executable or ffmpeg_executable()
    try:
        out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise RuntimeError(f"{exe}: cannot run ffmpeg ({e}); install ffmpeg or imageio-ffmpeg") from e
    match = re.search(r"ffmpeg version n?(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else None


def passthrough_args() -> dict[str, str]:
    """Output options that keep every decoded frame (no duplication/dropping to a constant rate):
    ``-fps_mode passthrough`` (ffmpeg >= 5.1) or ``-vsync passthrough`` (older; removed in 8)."""
    version = ffmpeg_version()
    if version is not None and version < (5, 1):
        return {"vsync": "passthrough"}
    return {"fps_mode": "passthrough"}

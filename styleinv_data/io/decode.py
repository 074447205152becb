"""Streaming video decode through an ffmpeg rawvideo pipe (ffmpeg-python), one frame in memory at a time."""

from __future__ import annotations

import collections
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import ffmpeg
import numpy as np

from styleinv_data.io.ffmpeg_bin import ffmpeg_executable, passthrough_args
from styleinv_data.io.probe import VideoInfo, probe_source

_PIX_FMT_CHANNELS = {"rgb24": 3, "gray": 1}


class DecodeError(RuntimeError):
    """ffmpeg failed on a file; the message names it and carries the end of ffmpeg's log."""


def _drain(stream, tail: collections.deque) -> None:
    for line in iter(stream.readline, b""):
        tail.append(line.decode("utf-8", "replace").rstrip())
    stream.close()


def iter_video_frames(
    path: Path | str,
    *,
    gray: bool = False,
    threads: int = 1,
    info: VideoInfo | None = None,
) -> Iterator[np.ndarray]:
    """Yield the frames of a video as ``(H, W, 3)`` RGB8 (or ``(H, W)`` gray8) arrays.

    Every decoded frame is passed through (``-fps_mode passthrough``, no duplication or dropping to
    a constant rate); gray, RGBA and high-bit-depth sources are converted by ffmpeg. ``threads``
    sets ffmpeg's decoder threads. Raises :class:`DecodeError` if ffmpeg exits with an error.
    """
    path = Path(path)
    info = info or probe_source(path)
    pix_fmt = "gray" if gray else "rgb24"
    channels = _PIX_FMT_CHANNELS[pix_fmt]
    frame_bytes = info.width * info.height * channels
    cmd = (
        ffmpeg.input(str(path), threads=threads, noautorotate=None)
        .output("pipe:", format="rawvideo", pix_fmt=pix_fmt, threads=1, **passthrough_args())
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
        .compile(cmd=ffmpeg_executable())
    )
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=frame_bytes)
    tail: collections.deque = collections.deque(maxlen=20)
    drainer = threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True)
    drainer.start()
    shape = (info.height, info.width) if gray else (info.height, info.width, 3)
    finished = False
    try:
        while True:
            buf = proc.stdout.read(frame_bytes)
            if not buf:
                break
            if len(buf) < frame_bytes:  # a partial last frame: the stream ended mid-frame
                break
            yield np.frombuffer(buf, dtype=np.uint8).reshape(shape)
        finished = True
    finally:
        if not finished and proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        returncode = proc.wait()
        drainer.join(timeout=5)
    if finished and returncode != 0:
        log = " | ".join(tail) or f"exit code {returncode}"
        raise DecodeError(f"{path}: ffmpeg could not decode it ({log[-300:]})")

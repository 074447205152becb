"""H.264 mp4 encoding through an ffmpeg pipe (libx264), frames fed one at a time."""

from __future__ import annotations

import collections
import subprocess
import threading
from pathlib import Path

import ffmpeg
import numpy as np

from styleinv_data.io.color import to_rgb8
from styleinv_data.io.decode import DecodeError, _drain
from styleinv_data.io.ffmpeg_bin import ffmpeg_executable


class Mp4Encoder:
    """Write RGB8 frames to an H.264 mp4.

    ``crf=0`` with ``pix_fmt="yuv444p"`` is lossless in luma (used for mask videos); the default
    (``crf=18``, ``yuv420p``) is what players expect. Frame sizes must be even for ``yuv420p``.
    """

    def __init__(
        self,
        path: Path | str,
        width: int,
        height: int,
        fps: float = 30.0,
        *,
        crf: int = 18,
        pix_fmt: str = "yuv420p",
        preset: str = "veryfast",
        threads: int = 1,
        container_format: str | None = None,
        faststart: bool = False,
    ) -> None:
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        if pix_fmt == "yuv420p" and (self.width % 2 or self.height % 2):
            raise ValueError(f"{self.path}: yuv420p needs even frame sizes, got {self.width}x{self.height}")
        out_kwargs = dict(vcodec="libx264", pix_fmt=pix_fmt, crf=crf, preset=preset, threads=threads)
        if container_format:
            out_kwargs["format"] = container_format
        if faststart:
            out_kwargs["movflags"] = "+faststart"
        cmd = (
            ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{self.width}x{self.height}", framerate=fps)
            .output(str(self.path), **out_kwargs)
            .global_args("-nostdin", "-hide_banner", "-loglevel", "error", "-y")
            .compile(cmd=ffmpeg_executable())
        )
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self._tail: collections.deque = collections.deque(maxlen=20)
        self._drainer = threading.Thread(target=_drain, args=(self._proc.stderr, self._tail), daemon=True)
        self._drainer.start()
        self.frames_written = 0

    def write(self, frame: np.ndarray) -> None:
        frame = to_rgb8(frame)
        if frame.shape[:2] != (self.height, self.width):
            raise ValueError(f"{self.path}: frame {frame.shape[:2]} does not match {self.height}x{self.width}")
        try:
            self._proc.stdin.write(frame.tobytes())
        except BrokenPipeError as e:
            self._proc.wait()
            raise DecodeError(f"{self.path}: ffmpeg encoder stopped ({' | '.join(self._tail)})") from e
        self.frames_written += 1

    def close(self) -> None:
        if self._proc.stdin and not self._proc.stdin.closed:
            self._proc.stdin.close()
        code = self._proc.wait()
        self._drainer.join(timeout=5)
        if code != 0:
            raise DecodeError(f"{self.path}: ffmpeg encoder failed ({' | '.join(self._tail) or code})")

    def abort(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()

    def __enter__(self) -> "Mp4Encoder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_mp4(path: Path | str, frames, fps: float = 30.0, **kwargs) -> Path:
    """Encode an iterable of RGB8 frames (all the same size) to ``path``."""
    it = iter(frames)
    first = to_rgb8(next(it))
    with Mp4Encoder(path, first.shape[1], first.shape[0], fps, **kwargs) as enc:
        enc.write(first)
        for frame in it:
            enc.write(frame)
    return Path(path)

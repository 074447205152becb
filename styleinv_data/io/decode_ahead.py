"""Decode a whole short video ahead, into a temporary raw file, while the caller does other work.

``styleinv-data crop --strategy ffhq`` reads every frame twice (plan, then render) and spends its
first half second loading dlib's models, which holds the GIL: a reader thread could not fill
memory meanwhile. An ffmpeg process writing raw RGB frames to a file runs alongside instead; the
file is then memory-mapped (and unlinked at once: the mapping keeps the pages), so both passes
read the frames without a pipe, a copy or a second decode. Only videos whose raw frames fit
``max_bytes`` take this path; longer ones stream as before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from styleinv_data.io.decode import DecodeError, rawvideo_command
from styleinv_data.io.probe import VideoInfo


def scratch_dir_for(needed_bytes: int) -> str | None:
    """Where ``needed_bytes`` of scratch fit with room to spare: ``$STYLEINV_TMP`` if set, else
    ``/dev/shm`` (memory-backed; only 64 MiB in a default Docker container), else the system temp
    dir; ``None`` when none has the space."""
    chosen = os.environ.get("STYLEINV_TMP")
    candidates = [chosen] if chosen else ["/dev/shm", tempfile.gettempdir()]
    for folder in candidates:
        try:
            if os.path.isdir(folder) and os.access(folder, os.W_OK) and \
                    shutil.disk_usage(folder).free >= 1.25 * needed_bytes + (64 << 20):
                return folder
        except OSError:
            continue
    return None


def raw_rgb_bytes(info: VideoInfo) -> int:
    return int(info.width) * int(info.height) * 3 * max(int(info.num_frames or 0), 0)


class DecodedAhead:
    """An ffmpeg process decoding ``path`` to raw RGB in a scratch file; :meth:`frames` maps it."""

    def __init__(self, path: Path, info: VideoInfo, threads: int = 1, scratch_dir: str | None = None) -> None:
        self.path = Path(path)
        self.info = info
        folder = scratch_dir or scratch_dir_for(raw_rgb_bytes(info))
        if folder is None:
            raise OSError(f"no scratch space for {raw_rgb_bytes(info)} bytes of decoded frames")
        fd, name = tempfile.mkstemp(prefix="styleinv-decode-", suffix=".rgb", dir=folder)
        os.close(fd)
        self._file = Path(name)
        self._frames: np.ndarray | None = None
        try:
            self._proc = subprocess.Popen(rawvideo_command(self.path, "rgb24", threads, str(self._file)),
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except BaseException:
            self._file.unlink(missing_ok=True)
            raise

    def array(self) -> np.ndarray:
        """All frames as a read-only ``(T, H, W, 3)`` uint8 array (waits for ffmpeg the first time)."""
        if self._frames is None:
            try:
                _, err = self._proc.communicate()
                if self._proc.returncode != 0:
                    log = " | ".join(err.decode("utf-8", "replace").strip().splitlines()[-3:])
                    raise DecodeError(f"{self.path}: ffmpeg could not decode it ({log[-300:] or self._proc.returncode})")
                frame_bytes = self.info.width * self.info.height * 3
                count = self._file.stat().st_size // frame_bytes
                if count == 0:
                    self._frames = np.zeros((0, self.info.height, self.info.width, 3), np.uint8)
                else:
                    self._frames = np.memmap(self._file, dtype=np.uint8, mode="r",
                                             shape=(count, self.info.height, self.info.width, 3))
            finally:
                self._file.unlink(missing_ok=True)  # the mapping keeps the pages until it is dropped
        return self._frames

    def frames(self) -> Iterator[np.ndarray]:
        """The frames one by one (views into the mapping)."""
        frames = self.array()
        for i in range(len(frames)):
            yield frames[i]

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._file.unlink(missing_ok=True)
        self._frames = None

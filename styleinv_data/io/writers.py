"""Output sinks for one clip: a frame folder, a zip shard, or an H.264 mp4.

Every sink writes under a *partial* name and only :meth:`commit` moves the result to its final
name (an atomic rename on the same filesystem), so an interrupted run never leaves a half-written
clip under a final name.
"""

from __future__ import annotations

import io
import os
import queue
import shutil
import threading
import zipfile
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
from PIL import Image

from styleinv_data.io.encode import Mp4Encoder


def encode_image(frame_rgb: np.ndarray, image_format: str = "jpg", jpeg_quality: int = 95) -> bytes:
    """JPEG (real quality setting, 4:2:0) or PNG bytes of an RGB8 frame."""
    buf = io.BytesIO()
    image = Image.fromarray(frame_rgb, "RGB")
    if image_format in ("jpg", "jpeg"):
        image.save(buf, format="JPEG", quality=int(jpeg_quality))
    elif image_format == "png":
        image.save(buf, format="PNG", compress_level=1)
    else:
        raise ValueError(f"unknown image format {image_format!r}; use jpg or png")
    return buf.getvalue()


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


class ClipSink(Protocol):
    def write(self, frame_rgb: np.ndarray) -> None: ...
    def commit(self) -> int: ...
    def abort(self) -> None: ...


class FolderSink:
    """``<final_dir>/<frame:06d>.<ext>``, built in ``partial_dir`` then renamed."""

    def __init__(self, final_dir: Path, partial_dir: Path, image_format: str = "jpg", jpeg_quality: int = 95) -> None:
        self.final_dir, self.partial_dir = Path(final_dir), Path(partial_dir)
        self.image_format, self.jpeg_quality = image_format, jpeg_quality
        self.ext = "png" if image_format == "png" else "jpg"
        remove_path(self.partial_dir)
        self.partial_dir.mkdir(parents=True)
        self.count = 0

    def write(self, frame_rgb: np.ndarray) -> None:
        data = encode_image(frame_rgb, self.image_format, self.jpeg_quality)
        (self.partial_dir / f"{self.count:06d}.{self.ext}").write_bytes(data)
        self.count += 1

    def commit(self) -> int:
        remove_path(self.final_dir)
        os.replace(self.partial_dir, self.final_dir)
        return self.count

    def abort(self) -> None:
        remove_path(self.partial_dir)


class ZipShardSink:
    """A zip shard holding ``<out_id>/<frame:06d>.<ext>`` (stored, not deflated: JPEG/PNG are compressed)."""

    def __init__(self, final_zip: Path, partial_zip: Path, out_id: str, image_format: str = "jpg", jpeg_quality: int = 95) -> None:
        self.final_zip, self.partial_zip, self.out_id = Path(final_zip), Path(partial_zip), out_id
        self.image_format, self.jpeg_quality = image_format, jpeg_quality
        self.ext = "png" if image_format == "png" else "jpg"
        self.partial_zip.parent.mkdir(parents=True, exist_ok=True)
        self._zip = zipfile.ZipFile(self.partial_zip, "w", compression=zipfile.ZIP_STORED)
        self.count = 0

    def write(self, frame_rgb: np.ndarray) -> None:
        data = encode_image(frame_rgb, self.image_format, self.jpeg_quality)
        self._zip.writestr(f"{self.out_id}/{self.count:06d}.{self.ext}", data)
        self.count += 1

    def commit(self) -> int:
        self._zip.close()
        os.replace(self.partial_zip, self.final_zip)
        return self.count

    def abort(self) -> None:
        self._zip.close()
        remove_path(self.partial_zip)


class Mp4Sink:
    """An H.264 mp4 (``yuv420p``, ``crf``), encoded to ``partial_path`` then renamed."""

    def __init__(self, final_path: Path, partial_path: Path, size: int, fps: float | None, crf: int = 18, threads: int = 1) -> None:
        self.final_path, self.partial_path = Path(final_path), Path(partial_path)
        self.partial_path.parent.mkdir(parents=True, exist_ok=True)
        self._encoder = Mp4Encoder(self.partial_path, size, size, fps or 30.0, crf=crf, threads=threads, container_format="mp4")
        self.count = 0

    def write(self, frame_rgb: np.ndarray) -> None:
        self._encoder.write(frame_rgb)
        self.count += 1

    def commit(self) -> int:
        self._encoder.close()
        os.replace(self.partial_path, self.final_path)
        return self.count

    def abort(self) -> None:
        self._encoder.abort()
        remove_path(self.partial_path)


class ThreadedSink:
    """Run another sink's encode + write in a background thread (PIL's resize and JPEG encoder release
    the GIL). With ``transform``, the thread first maps each queued item to the frame to write (the
    pipeline queues ``(decoded frame, frame plan)`` and renders there)."""

    _STOP = object()

    def __init__(self, sink: ClipSink, max_queue: int = 8, transform: Callable[[Any], np.ndarray] | None = None) -> None:
        self.sink = sink
        self.transform = transform
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is self._STOP:
                return
            if self._error is None:
                try:
                    self.sink.write(self.transform(item) if self.transform else item)
                except BaseException as e:  # re-raised in the caller's thread
                    self._error = e

    def write(self, frame_rgb: Any) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(frame_rgb)

    def _finish(self) -> None:
        self._queue.put(self._STOP)
        self._thread.join()

    def commit(self) -> int:
        self._finish()
        if self._error is not None:
            self.sink.abort()
            raise self._error
        return self.sink.commit()

    def abort(self) -> None:
        self._finish()
        self.sink.abort()

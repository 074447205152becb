"""Streaming video decode through an ffmpeg rawvideo pipe (ffmpeg-python), one frame in memory at a time."""

from __future__ import annotations

import collections
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator

import ffmpeg
import numpy as np

from styleinv_data.io.ffmpeg_bin import ffmpeg_executable, passthrough_args
from styleinv_data.io.probe import VideoInfo, probe_source
from styleinv_data.io.yuv import (
    Yuv420Frame,
    gray_from_limited_y,
    source_matrix,
    split_yuv420,
    yuv420_fast_path,
    yuv420_frame_bytes,
)

PIX_FMTS = ("rgb24", "gray", "yuv420p")


class DecodeError(RuntimeError):
    """ffmpeg failed on a file; the message names it and carries the end of ffmpeg's log."""


def _drain(stream, tail: collections.deque) -> None:
    for line in iter(stream.readline, b""):
        tail.append(line.decode("utf-8", "replace").rstrip())
    stream.close()


def rawvideo_command(path: Path, pix_fmt: str, threads: int, target: str) -> list[str]:
    """The ffmpeg command that decodes every frame of ``path`` (passthrough, no rotation) as raw
    ``pix_fmt`` into ``target`` (``pipe:`` or a file)."""
    return (
        ffmpeg.input(str(path), threads=threads, noautorotate=None)
        .output(target, format="rawvideo", pix_fmt=pix_fmt, threads=1, **passthrough_args())
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error", "-y")
        .compile(cmd=ffmpeg_executable())
    )


def iter_video_frames(
    path: Path | str,
    *,
    gray: bool = False,
    threads: int = 1,
    info: VideoInfo | None = None,
    pix_fmt: str | None = None,
) -> Iterator[Any]:
    """Yield the frames of a video as ``(H, W, 3)`` RGB8 (or ``(H, W)`` gray8) arrays.

    Every decoded frame is passed through (``-fps_mode passthrough``, no duplication or dropping to
    a constant rate); gray, RGBA and high-bit-depth sources are converted by ffmpeg. ``threads``
    sets ffmpeg's decoder threads. ``pix_fmt="yuv420p"`` yields
    :class:`~styleinv_data.io.yuv.Yuv420Frame` planes instead (no colour conversion in ffmpeg; their
    ``to_rgb()`` is ffmpeg's RGB for :func:`~styleinv_data.io.yuv.yuv420_fast_path` sources). Raises :class:`DecodeError` if ffmpeg
    exits with an error.
    """
    path = Path(path)
    info = info or probe_source(path)
    pix_fmt = pix_fmt or ("gray" if gray else "rgb24")
    if pix_fmt not in PIX_FMTS:
        raise ValueError(f"pix_fmt {pix_fmt!r}: use one of {', '.join(PIX_FMTS)}")
    width, height = info.width, info.height
    frame_bytes = {"rgb24": width * height * 3, "gray": width * height, "yuv420p": yuv420_frame_bytes(width, height)}[pix_fmt]
    cmd = rawvideo_command(path, pix_fmt, threads, "pipe:")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=frame_bytes)
    tail: collections.deque = collections.deque(maxlen=20)
    drainer = threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True)
    drainer.start()
    shape = (height, width) if pix_fmt == "gray" else (height, width, 3)
    planar = pix_fmt == "yuv420p"
    matrix = source_matrix(info) if planar and yuv420_fast_path(info) else "bt601"
    finished = False
    try:
        while True:
            buf = proc.stdout.read(frame_bytes)
            if not buf:
                break
            if len(buf) < frame_bytes:  # a partial last frame: the stream ended mid-frame
                break
            yield split_yuv420(buf, width, height, matrix) if planar else np.frombuffer(buf, dtype=np.uint8).reshape(shape)
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


def av_decode_supported(info: VideoInfo, pix_fmt: str) -> bool:
    """True when :func:`iter_video_frames_av` gives exactly what :func:`iter_video_frames` gives for
    ``pix_fmt``: a :func:`~styleinv_data.io.yuv.yuv420_fast_path` source for ``yuv420p`` planes, and
    one with the BT.601 (or no) matrix tag for ``gray`` (for BT.709 sources ffmpeg's gray is not the
    range-expanded luma)."""
    if pix_fmt == "yuv420p":
        return yuv420_fast_path(info)
    if pix_fmt == "gray":  # ffmpeg's gray is the range-expanded luma for BT.601 / untagged sources only
        return yuv420_fast_path(info) and source_matrix(info) == "bt601"
    return False


def iter_video_frames_av(
    path: Path | str, *, pix_fmt: str, threads: int = 1, info: VideoInfo | None = None
) -> Iterator[Any]:
    """In-process decode with PyAV (libavcodec), for :func:`av_decode_supported` sources: the same
    frames as :func:`iter_video_frames` (every decoded frame, no rate conversion, no rotation), without
    the ffmpeg process, its rawvideo pipe and its copies.

    ``pix_fmt="yuv420p"`` yields :class:`~styleinv_data.io.yuv.Yuv420Frame` views of the decoder's planes
    (no copy); ``"gray"`` yields ``(H, W)`` gray8 arrays equal to ffmpeg's ``-pix_fmt gray`` output
    (the luma plane expanded from limited to full range, :data:`~styleinv_data.io.yuv.GRAY_FROM_LIMITED_Y`).
    Raises :class:`DecodeError` naming the file when libavcodec fails.
    """
    import av

    path = Path(path)
    info = info or probe_source(path)
    if not av_decode_supported(info, pix_fmt):
        raise ValueError(f"{path}: in-process decode supports yuv420p limited-range sources as yuv420p/gray, "
                         f"not {info.pix_fmt} as {pix_fmt}; use iter_video_frames")
    gray = pix_fmt == "gray"
    matrix = "bt601" if gray else source_matrix(info)
    width, height = info.width, info.height
    try:
        container = av.open(str(path))
    except Exception as e:  # noqa: BLE001 - PyAV raises several error types
        raise DecodeError(f"{path}: could not open it for decoding ({_first_line(e)})") from e
    try:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        ctx.thread_count = max(int(threads), 1)
        if threads != 1:
            ctx.thread_type = "AUTO"  # frame + slice threads, as ffmpeg's -threads N
        decoded = failed = 0
        packets = container.demux(stream)  # ends with an empty packet that flushes the decoder
        tail = False
        while not tail:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except Exception:  # noqa: BLE001 - a damaged tail ends the stream, as in ffmpeg: flush, then stop
                packet, tail = None, True
            try:
                frames = packet.decode() if packet is not None else ctx.decode(None)
            except Exception:  # noqa: BLE001 - a damaged packet: skipped, as ffmpeg does (it logs and goes on)
                failed += 1
                continue
            for frame in frames:
                if frame.format.name != "yuv420p" or frame.width != width or frame.height != height:
                    raise DecodeError(f"{path}: a frame is {frame.format.name} {frame.width}x{frame.height}, the "
                                      f"stream {info.pix_fmt} {width}x{height}; decode it with iter_video_frames")
                decoded += 1
                y_plane = _plane_view(frame.planes[0])
                if gray:
                    yield gray_from_limited_y(y_plane)
                else:
                    yield Yuv420Frame(y_plane, _plane_view(frame.planes[1]), _plane_view(frame.planes[2]), matrix)
        if failed and not decoded:
            raise DecodeError(f"{path}: libavcodec could not decode any frame ({failed} damaged packets)")
    finally:
        container.close()


def _plane_view(plane) -> np.ndarray:
    """``(height, width)`` view of a decoder plane (rows are ``line_size`` bytes apart)."""
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__

"""Probe a video file (with PyAV: the static ffmpeg has no ffprobe) or a folder of frames."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from styleinv_data.io.frames_dir import list_frame_files, read_image

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")


class ProbeError(ValueError):
    """The source cannot be read as a video or a frame folder; the message names the file."""


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    kind: str  # "video" or "frames"
    width: int
    height: int
    num_frames: int
    fps: float | None
    pix_fmt: str | None = None
    color_range: int | None = None  # FFmpeg's AVColorRange (0 unspecified, 1 limited, 2 full); None: not a video
    color_space: int | None = None  # FFmpeg's AVColorSpace (2 unspecified, 1 BT.709, 5/6 BT.601, ...)


def is_video_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS


def probe_source(path: Path | str) -> VideoInfo:
    """Size, frame count and rate of a video file or a frame folder; raise :class:`ProbeError`."""
    path = Path(path)
    if path.is_dir():
        return _probe_folder(path)
    if not path.exists():
        raise ProbeError(f"{path}: no such file; check the input path")
    return _probe_video(path)


def _probe_folder(path: Path) -> VideoInfo:
    files = list_frame_files(path)
    if not files:
        raise ProbeError(f"{path}: folder holds no .jpg/.jpeg/.png frames; point the input at frame folders or videos")
    first = read_image(files[0])
    return VideoInfo(path=path, kind="frames", width=first.shape[1], height=first.shape[0], num_frames=len(files), fps=None)


def _probe_video(path: Path) -> VideoInfo:
    if path.stat().st_size == 0:
        raise ProbeError(f"{path}: empty file (0 bytes); re-copy or remove it")
    import av

    try:
        container = av.open(str(path))
    except Exception as e:  # PyAV raises several error types (InvalidDataError, OSError, ...)
        raise ProbeError(f"{path}: not a readable video ({_short(e)}); the file may be truncated or not a video") from e
    try:
        streams = container.streams.video
        if not streams:
            raise ProbeError(f"{path}: has no video stream")
        stream = streams[0]
        ctx = stream.codec_context
        width, height = int(ctx.width), int(ctx.height)
        if width <= 0 or height <= 0:
            raise ProbeError(f"{path}: video stream has no frame size; the file may be truncated")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(Fraction(rate)) if rate else None
        num_frames = int(stream.frames or 0)
        if num_frames <= 0:
            num_frames = _count_packets(container, stream)
        pix_fmt = ctx.pix_fmt
        color_range, color_space = _int_or_none(ctx, "color_range"), _int_or_none(ctx, "colorspace")
    finally:
        container.close()
    return VideoInfo(path=path, kind="video", width=width, height=height, num_frames=num_frames, fps=fps, pix_fmt=pix_fmt,
                     color_range=color_range, color_space=color_space)


def _int_or_none(ctx, name: str) -> int | None:
    try:
        value = getattr(ctx, name)
        return None if value is None else int(value)
    except (AttributeError, TypeError, ValueError):  # an older PyAV without the attribute
        return None


def _count_packets(container, stream) -> int:
    """Frame count from the demuxer when the header has none (no decoding)."""
    count = 0
    try:
        for packet in container.demux(stream):
            if packet.size:
                count += 1
    except Exception:  # a damaged tail: count what could be read
        pass
    return count


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
